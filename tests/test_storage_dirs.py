"""Where libcli keeps its files: the LIBCLI_*_DIR overrides, else the
platform's user directories. On Linux with no XDG variable set, libcli
answers without importing platformdirs, and must answer exactly as it does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from libcli import storage

KINDS = ("config", "cache", "data")


@pytest.fixture
def plain_linux_home(monkeypatch, tmp_path):
    for kind in KINDS:
        monkeypatch.delenv(f"LIBCLI_{kind.upper()}_DIR", raising=False)
        monkeypatch.delenv(storage._XDG_DEFAULTS[kind][0], raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG defaults are Linux's")
def test_the_xdg_defaults_are_what_platformdirs_says(plain_linux_home):
    import platformdirs

    for kind in KINDS:
        assert str(storage._dir(kind)) == getattr(platformdirs, f"user_{kind}_dir")("libcli")
    assert storage.cache_dir() == plain_linux_home / ".cache" / "libcli"


@pytest.mark.parametrize("value", ["/srv/xdg", "relative/xdg"])
def test_a_set_xdg_variable_is_left_to_platformdirs(plain_linux_home, monkeypatch, value):
    import platformdirs

    monkeypatch.setenv("XDG_CACHE_HOME", value)
    assert str(storage.cache_dir()) == platformdirs.user_cache_dir("libcli")


def test_the_override_wins(plain_linux_home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", "/srv/xdg")
    monkeypatch.setenv("LIBCLI_CONFIG_DIR", str(tmp_path / "mine"))
    assert storage.config_dir() == tmp_path / "mine"


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG defaults are Linux's")
def test_the_common_case_does_not_import_platformdirs(plain_linux_home):
    code = ("import sys\nfrom libcli import storage\n"
            "print(storage.config_dir(), storage.cache_dir(), 'platformdirs' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [str(plain_linux_home / ".config" / "libcli"),
                   str(plain_linux_home / ".cache" / "libcli"), "False"]
