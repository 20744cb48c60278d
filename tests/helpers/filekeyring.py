"""A keyring backend for tests that run libcli in subprocesses: one file per
entry in $TEST_KEYRING_DIR, written atomically, so concurrent processes
cannot corrupt each other's entries (unlike a single shared file)."""

import hashlib
import os
from pathlib import Path

import keyring.backend
import keyring.errors


class FileKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def _path(self, service, username):
        root = Path(os.environ["TEST_KEYRING_DIR"])
        root.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha1(f"{service}\0{username}".encode()).hexdigest()
        return root / name

    def get_password(self, service, username):
        try:
            return self._path(service, username).read_text().split("\n", 1)[1]
        except FileNotFoundError:
            return None

    def set_password(self, service, username, password):
        path = self._path(service, username)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(f"{username}\n{password}")
        os.replace(tmp, path)

    def delete_password(self, service, username):
        try:
            self._path(service, username).unlink()
        except FileNotFoundError:
            raise keyring.errors.PasswordDeleteError(username) from None


def entries(root):
    return {p.read_text().split("\n", 1)[0] for p in Path(root).iterdir() if not p.name.endswith(".tmp")}
