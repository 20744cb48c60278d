"""Defense in depth for PINs: every PIN fetched in this process is registered
here, and everything libcli prints on stderr, in logs or in an error passes
through `redact()`. A PIN should never reach those places in the first place;
this catches the case where a library echoes one back in a page or an error.
"""

from __future__ import annotations

import logging

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


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True
