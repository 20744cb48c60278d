"""Regular expressions compiled when first used.

The page parsers keep some eighty patterns, most for pages a run never sees
(a `loans` reads no fines, holds or payment pages). Compiled at import, they
cost about 10 ms of every start; compiled on first use, only the ones a run
needs do. After that first use a Pattern holds the compiled pattern's own
bound methods, so a parser's hot loop pays nothing for the laziness."""

from __future__ import annotations

import re
from typing import Any

_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "split")


class Pattern:
    __slots__ = ("pattern", "flags", "_compiled") + _METHODS

    def __init__(self, source: str, flags: int = 0):
        self.pattern = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        # Reached only while a method slot is still empty: the first use.
        if name not in _METHODS:
            raise AttributeError(name)
        self._compiled = compiled = re.compile(self.pattern, self.flags)
        for method in _METHODS:
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazyre.Pattern({self.pattern!r}, {self.flags!r})"


def compile(source: str, flags: int = 0) -> Pattern:  # noqa: A001 (mirrors re.compile)
    return Pattern(source, flags)
