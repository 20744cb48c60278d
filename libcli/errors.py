"""One exception hierarchy; each class carries its exit code.

Exit codes are part of the interface for scripts (README, `libcli --help`).
Messages here are what a person reads: they never contain a PIN.
"""

from __future__ import annotations

import enum

from libcli.i18n import N_, _


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    LOGIN_REFUSED = 4
    UNREACHABLE = 5
    NOT_UNDERSTOOD = 6


class LibcliError(Exception):
    exit_code = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems = problems or []

    def __str__(self) -> str:
        return self.message


class UsageError(LibcliError):
    exit_code = ExitCode.USAGE


class ConfigError(LibcliError):
    """The config or a cache file is unreadable; names the file."""


class NoKeyringError(LibcliError):
    pass


class PinError(LibcliError):
    pass


class LoginRefused(LibcliError):
    exit_code = ExitCode.LOGIN_REFUSED


class Unreachable(LibcliError):
    exit_code = ExitCode.UNREACHABLE


CHECK_HINT = N_("the library's site may have changed: run `libcli library check --card NAME` "
                "and paste its report (it holds no PIN, card number or title) into a bug report")


class PageNotUnderstood(LibcliError):
    """A page whose markup the backend could not read.

    Names the page and the missing part, so a changed site is reported as
    such instead of as a wrong number.
    """

    exit_code = ExitCode.NOT_UNDERSTOOD

    def __init__(self, page: str, missing: str, *, hint: str | None = None):
        super().__init__(_("could not understand the {page} page: {missing}").format(
            page=page, missing=missing), hint=hint or _(CHECK_HINT))
        self.page = page
        self.missing = missing


class Refused(LibcliError):
    """The library refused an action (a hold it will not take, a payment)."""


class TermsNotAccepted(Refused):
    """The library takes the request only with its terms accepted; ``terms``
    is their text as the library shows it."""

    def __init__(self, message: str, terms: str, **kwargs):
        super().__init__(message, **kwargs)
        self.terms = terms


class NotSupported(LibcliError):
    """The library system offers no such function online."""


class UnsafeAddress(LibcliError):
    """An address libcli will not talk to or open (plain http off loopback,
    a redirect to another host during login, a javascript: payment link)."""
