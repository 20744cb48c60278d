"""Defense in depth for PINs: every PIN fetched in this process is registered
here, and everything libcli prints (stdout, stderr, JSON, logs, errors) or
writes (snapshots, .ics files) passes through `redact()` (text from a library
through libcli.text.clean, which calls it). A PIN should never reach those places in the first place;
this catches the case where a library echoes one back in a page or an error.
"""

from __future__ import annotations

import logging
from typing import Any

_secrets: set[str] = set()
MASK = "****"


def register(secret: str) -> str:
    if secret:
        _secrets.add(secret)
    return secret


def redact(text: str) -> str:
    # Longest first, so a PIN that contains another is masked whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def map_strings(value: Any, fn) -> Any:
    """`fn` applied to every string in a JSON-like structure (numbers left whole)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_strings(v, fn) for v in value]
    return value


def redact_data(value: Any) -> Any:
    """Every string in a JSON-like structure redacted (masking JSON text
    could cut a number in two)."""
    return map_strings(value, redact) if _secrets else value


def no_core_dumps() -> None:
    """A core dump holds the process's memory, PINs included: allow none
    (called before a PIN is read; ssh-agent and gpg-agent do the same)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    try:
        # The soft limit is what the kernel applies; the hard one is left so
        # that a test process (or an embedding program) may raise it again.
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ValueError, OSError):
        pass


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True
