"""Every test runs with its own config, cache and data directories and an
in-memory keyring: no test touches the user's real files or OS keyring."""

from __future__ import annotations

import pytest


class MemoryKeyring:
    """A keyring backend that keeps passwords in a dict (tests only)."""

    priority = 1

    def __init__(self):
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        import keyring.errors

        try:
            del self.store[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for name in ("config", "cache", "data"):
        path = tmp_path / name
        monkeypatch.setenv(f"LIBCLI_{name.upper()}_DIR", str(path))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("LIBCLI_RAISE_ERRORS", raising=False)
    yield tmp_path


@pytest.fixture
def memory_keyring(monkeypatch):
    """Install an in-memory keyring backend for the duration of a test."""
    import keyring
    import keyring.backend

    class Backend(MemoryKeyring, keyring.backend.KeyringBackend):
        def __init__(self):
            MemoryKeyring.__init__(self)

    backend = Backend()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
