"""lazyre: the parsers' patterns compile on first use and then behave as re's."""

from __future__ import annotations

import re
import subprocess
import sys

from libcli import lazyre


def test_a_pattern_answers_as_re_does():
    source, flags = r"(\d+)\s*/\s*(\d+)", re.I
    lazy, real = lazyre.compile(source, flags), re.compile(source, flags)
    text = "Uusittu 2 / 5, jäljellä 3 /4"
    assert lazy.search(text).groups() == real.search(text).groups()
    assert lazy.match(text) is None and real.match(text) is None
    assert lazy.fullmatch("1/2").groups() == ("1", "2")
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
    assert lazy.findall(text) == real.findall(text)
    assert lazy.sub("#", text) == real.sub("#", text)
    assert lazy.split(text) == real.split(text)
    assert lazy.pattern == source


def test_importing_the_parsers_compiles_none_of_their_patterns():
    code = ("from libcli import lazyre\n"
            "import libcli.backends.finna_pages as f, libcli.backends.webpac_pages as w\n"
            "ps = [v for m in (f, w) for v in vars(m).values() if isinstance(v, lazyre.Pattern)]\n"
            "print(len(ps), sum(p._compiled is not None for p in ps))")
    total, compiled = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout.split()
    assert int(total) > 30 and int(compiled) == 0
