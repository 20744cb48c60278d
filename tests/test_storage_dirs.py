"""Where libcli keeps its files: the LIBCLI_*_DIR overrides, else the
platform's user directories as platformdirs gives them."""

from __future__ import annotations

import pytest

from libcli import storage

KINDS = ("config", "cache", "data")


@pytest.fixture
def no_overrides(monkeypatch, tmp_path):
    for kind in KINDS:
        monkeypatch.delenv(f"LIBCLI_{kind.upper()}_DIR", raising=False)
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_directories_are_platformdirs(no_overrides):
    import platformdirs

    for kind in KINDS:
        assert str(storage._dir(kind)) == getattr(platformdirs, f"user_{kind}_dir")("libcli")
    assert storage.config_dir() == storage._dir("config")
    assert storage.cache_dir() == storage._dir("cache")
    assert storage.data_dir() == storage._dir("data")


@pytest.mark.parametrize("value", ["/srv/xdg", "relative/xdg"])
def test_a_set_xdg_variable_is_platformdirs_to_read(no_overrides, monkeypatch, value):
    import platformdirs

    monkeypatch.setenv("XDG_CACHE_HOME", value)
    assert str(storage.cache_dir()) == platformdirs.user_cache_dir("libcli")


@pytest.mark.parametrize("kind", KINDS)
def test_the_override_wins(no_overrides, monkeypatch, tmp_path, kind):
    monkeypatch.setenv(f"XDG_{kind.upper()}_HOME", "/srv/xdg")
    monkeypatch.setenv(f"LIBCLI_{kind.upper()}_DIR", str(tmp_path / "mine"))
    assert storage._dir(kind) == tmp_path / "mine"


def test_there_is_no_copy_of_the_xdg_rules():
    assert not hasattr(storage, "_XDG_DEFAULTS")
