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
def no_real_libraries(monkeypatch):
    """No test reaches a real library: a name that is not this machine is
    not even looked up (the command then meets an unreachable library)."""
    import socket

    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if name and name not in ("localhost", "127.0.0.1", "::1") \
                and not name.endswith(".localhost") and not name.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach no real host ({name})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for name in ("config", "cache", "data"):
        path = tmp_path / name
        monkeypatch.setenv(f"LIBCLI_{name.upper()}_DIR", str(path))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("LIBCLI_RAISE_ERRORS", raising=False)
    # libcli speaks the locale's language: tests read English unless they
    # ask for another (tests/test_i18n.py), whatever the machine's locale.
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
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


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 that no CA signed: (cert.pem, key.pem)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return str(d / "cert.pem"), str(d / "key.pem")
