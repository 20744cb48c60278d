"""The one cleaner for text that came from a library (or anything else
outside libcli's control) at the point where it is printed or written: the
terminal, an error message, `remind`'s mail, an .ics file, a snapshot.

A title or a refusal reason is data, not terminal commands: escape
sequences (CSI such as clear-screen, OSC such as the clipboard write OSC 52
or a window title, DCS/APC strings), C0 and C1 controls, bidi overrides and
zero-width characters (which make text read differently than it is) are
removed whole, payload included; a PIN a library echoes back is masked
(libcli.redact). JSON output keeps the data and escapes these characters
instead (`escape_invisible`).
"""

from __future__ import annotations

import re
from typing import Any

# Order matters: whole sequences first, then any lone control left over.
_SEQUENCES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]?"                   # CSI (ECMA-48), also when cut short
    r"|\x9b[0-?]*[ -/]*[@-~]?"                    # CSI as one C1 byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"  # OSC, DCS, SOS, PM, APC ...
    r"[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"     # ... up to BEL or ST (or the end)
    r"|\x1b[ -/]*[0-~]?"                          # any other ESC sequence (nF, Fp, Fe, Fs)
)
# C0 but tab and newline (handled by the caller), DEL, C1; and the invisible
# format characters: zero-width space/joiners, LRM/RLM, bidi embeddings and
# overrides (U+202A-E), isolates (U+2066-9), word joiner and invisible
# operators, the Arabic letter mark, BOM/ZWNBSP.
_INVISIBLE = r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u061c\ufeff]"
_UNSAFE = re.compile(_SEQUENCES + r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]|" + _INVISIBLE)
_UNSAFE_JSON = re.compile(r"[\x7f-\x9f]|" + _INVISIBLE)


def squash(text: str | None) -> str:
    """Collapse all kinds of whitespace (incl. no-break spaces) to one space, and strip."""
    return " ".join((text or "").split())  # str.split() knows U+00A0 and U+202F


def strip_unsafe(text: str) -> str:
    """`text` without escape sequences, controls (but tab and newline) and
    invisible format characters."""
    return _UNSAFE.sub("", text)


def clean(text: Any) -> str:
    """One line of text fit for a terminal or a file: unsafe characters
    removed, whitespace squashed, PINs masked. None is ''."""
    if text is None:
        return ""
    from libcli.redact import redact

    return redact(squash(strip_unsafe(str(text))))


def clean_multiline(text: Any) -> str:
    """As `clean`, but line breaks and indentation are kept (hints, lists)."""
    from libcli.redact import redact

    lines = (strip_unsafe(line).replace("\t", " ").rstrip()
             for line in str(text or "").splitlines())
    return redact("\n".join(lines))


def escape_invisible(json_text: str) -> str:
    """JSON text with C1 controls, DEL and invisible format characters written
    as \\uXXXX escapes (json escapes C0 itself): the same data, still valid JSON,
    harmless on a terminal."""
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def clean_data(value: Any) -> Any:
    """Every string in a JSON-like structure cleaned (for files libcli writes
    that a person may `cat`: snapshots)."""
    from libcli.redact import map_strings

    return map_strings(value, clean)
