"""Running the installed `libcli` command in a subprocess, as a user or a
script would: its own process, its own streams, a file keyring."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def libcli_command() -> list[str]:
    exe = shutil.which("libcli", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "libcli"]


def installed_env(tmp_path: Path) -> dict[str, str]:
    """os.environ (with the test's LIBCLI_*_DIR) plus a keyring in files."""
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "tests.helpers.filekeyring.FileKeyring",
        "TEST_KEYRING_DIR": str(tmp_path / "keyring"),
    })
    return env
