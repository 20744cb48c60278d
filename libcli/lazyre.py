"""Regular expressions compiled when first used.

The page parsers keep some eighty patterns, most for pages a run never sees
(a `loans` reads no fines, holds or payment pages). Compiled at import, they
cost about 10 ms of every start; compiled on first use, only the ones a run
needs do. A `Pattern` offers the methods the parsers call."""

from __future__ import annotations

import re
from typing import Any, Iterator


class Pattern:
    __slots__ = ("_source", "_flags", "_compiled")

    def __init__(self, source: str, flags: int = 0):
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    @property
    def pattern(self) -> str:
        return self._source

    def search(self, string: str, *args: Any) -> re.Match[str] | None:
        return self.compiled.search(string, *args)

    def match(self, string: str, *args: Any) -> re.Match[str] | None:
        return self.compiled.match(string, *args)

    def fullmatch(self, string: str, *args: Any) -> re.Match[str] | None:
        return self.compiled.fullmatch(string, *args)

    def finditer(self, string: str, *args: Any) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(string, *args)

    def findall(self, string: str, *args: Any) -> list[Any]:
        return self.compiled.findall(string, *args)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        return self.compiled.sub(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str]:
        return self.compiled.split(string, maxsplit)

    def __repr__(self) -> str:
        return f"lazyre.Pattern({self._source!r}, {self._flags!r})"


def compile(source: str, flags: int = 0) -> Pattern:  # noqa: A001 (mirrors re.compile)
    return Pattern(source, flags)
