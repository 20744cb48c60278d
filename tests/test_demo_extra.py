"""The demo library is an extra: the client never needs a web framework, and
without the extra `libcli demo` says how to get it."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from libcli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WEB = ("starlette", "jinja2", "python-multipart", "uvicorn")


def test_a_plain_install_needs_no_web_framework():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    plain = " ".join(project["dependencies"]).lower()
    assert not [w for w in WEB if w in plain]
    demo = " ".join(project["optional-dependencies"]["demo"]).lower()
    assert all(w in demo for w in WEB)


def test_only_the_bridge_imports_the_demo_library():
    pattern = re.compile(r"^\s*(from|import)\s+libcli\.sandbox", re.M)
    users = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "libcli").rglob("*.py")
                   if pattern.search(p.read_text("utf-8"))
                   and "sandbox" not in p.relative_to(ROOT).parts)
    assert users == []  # libcli/demo.py imports it by name, through importlib


def test_libcli_demo_without_the_extra_says_how_to_get_it(monkeypatch):
    for name in list(sys.modules):
        if name.startswith("libcli.sandbox"):
            monkeypatch.delitem(sys.modules, name)
        elif name == "starlette" or name.startswith("starlette."):
            monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.setitem(sys.modules, "starlette", None)
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 1, result.output
    assert "demo library is not installed" in result.stderr
    assert "libcli[demo]" in result.stderr
    assert "Traceback" not in result.output
