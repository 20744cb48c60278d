"""The small interface every library system's backend implements, and the
one session object they all talk through.

A backend is a translator between one library system and the model: it turns
pages into model objects and model requests into HTTP. It knows nothing of
the CLI, the config file or the keyring: it gets an httpx client (with the
card's cookie jar), a callable that yields the PIN only when a login is
really needed, and a dict of session state it may keep between runs.

Every request of a backend goes through its :class:`SiteSession`
(``self.site``): the HTTP rules of :mod:`libcli.http`, the request count the
tests and the benchmark read, and the one login-once mechanism. Several
concurrent reads of one card (``status`` reads loans, holds and fees at once)
that all find the session expired log in once: each notes
``site.generation`` before its request, and ``site.relogin(seen)`` logs in
only if nobody has done so since; the others wait on the lock and reuse the
new session. Finna, WebPAC and Primo VE share this; what differs is only how
each recognises an expired session and how it logs in.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
from datetime import date
from typing import Any, Awaitable, Callable, Mapping

import httpx

from libcli import http
from libcli.errors import NotSupported
from libcli.model import (
    Balance, CancelResult, Card, Hold, Loan, PaymentStart, PickupLocation,
    PlaceHoldResult, RenewResult, SearchResult,
)
from libcli.policy import Consortium

# Backends by the registry's `backend` key, imported only when first used.
BACKENDS = {
    "finna": "libcli.backends.finna:FinnaBackend",
    "webpac": "libcli.backends.webpac:WebPACBackend",
    "primo": "libcli.backends.primo:PrimoBackend",
}


def backend_class(kind: str) -> type["Backend"]:
    module, _, name = BACKENDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


class SiteSession:
    """One card's conversation with its library during a run."""

    def __init__(self, client: httpx.AsyncClient, login: Callable[[], Awaitable[None]]):
        self.client = client
        self.requests = 0  # every HTTP exchange, redirects included
        self.lock = asyncio.Lock()
        self.generation = 0  # how many logins this run has made
        self._login = login

    async def send(self, method: str, url: str, *, data: Any = None, json: Any = None,
                   params: Any = None, headers: Mapping[str, str] | None = None,
                   follow: bool = True) -> http.Page:
        """One request under libcli.http's rules (reads retried, posts never)."""
        try:
            page = await http.request(self.client, method, url, data=data, json=json,
                                      params=params, headers=headers, follow=follow)
        except BaseException:
            self.requests += 1
            raise
        self.requests += 1 + len(page.history)
        return page

    async def relogin(self, seen_generation: int | None = None) -> None:
        """Log in once, even when several concurrent reads of one card found
        the session expired at the same moment: the first logs in, the others
        wait and reuse that session. Pass the ``generation`` read before the
        request that found the session expired (None: log in regardless)."""
        async with self.lock:
            if seen_generation is None or seen_generation == self.generation:
                await self._login()
                self.generation += 1

    def logged_in(self) -> None:
        """Count a login made by hand under ``lock`` (Finna's cold read logs
        in with the form its first page carries, without a separate GET)."""
        self.generation += 1


class Backend(abc.ABC):
    name: str = ""
    # How long the library keeps a started online payment open (minutes);
    # None: the site does not say. `libcli pay` shows it with the address.
    payment_open_minutes: int | None = None

    def __init__(
        self,
        card: Card,
        consortium: Consortium,
        *,
        client: httpx.AsyncClient,
        pin: Callable[[], str],
        session: dict[str, Any] | None = None,
        today: date | None = None,
        language: str | None = None,
    ):
        self.card = card
        self.consortium = consortium
        self.policy = consortium.policy
        self.client = client
        self._pin = pin
        # Kept between runs by the caller (cookies live in the client's jar);
        # e.g. the WebPAC patron record path. Never holds the PIN.
        self.session: dict[str, Any] = session if session is not None else {}
        self.today = today or date.today()
        self.language = language or consortium.language
        self.site = SiteSession(client, self.login)

    @property
    def requests(self) -> int:
        """HTTP exchanges so far (the tests and the benchmark count them)."""
        return self.site.requests

    @requests.setter
    def requests(self, value: int) -> None:  # tests reset the count between phases
        self.site.requests = value

    async def relogin(self, seen_generation: int | None = None) -> None:
        await self.site.relogin(seen_generation)

    @property
    def login_generation(self) -> int:
        return self.site.generation

    # -- reading ---------------------------------------------------------
    async def identify(self) -> None:
        """Check, without logging in, that the site speaks this backend's
        system (``libcli library add``); raise PageNotUnderstood naming what
        the site's page lacked, or Unreachable."""
        raise NotSupported(f"{self.name}: checking a site is not supported")

    @abc.abstractmethod
    async def login(self) -> None:
        """Log in with card number and PIN. Raises LoginRefused (exit 4)."""

    @abc.abstractmethod
    async def loans(self) -> list[Loan]: ...

    @abc.abstractmethod
    async def holds(self) -> list[Hold]: ...

    @abc.abstractmethod
    async def fees(self) -> Balance: ...

    # -- acting (optional) -------------------------------------------------
    async def renew(self, loans: list[Loan]) -> list[RenewResult]:
        """Renew these loans in one post; one result per loan, in order."""
        raise NotSupported(f"{self.consortium.name}: renewing online is not supported")

    async def cancel_holds(self, holds: list[Hold]) -> list[CancelResult]:
        raise NotSupported(f"{self.consortium.name}: cancelling holds online is not supported")

    async def search(self, query: str, *, limit: int = 20) -> list[SearchResult]:
        raise NotSupported(f"{self.consortium.name}: searching is not supported")

    async def pickup_locations(self, record_id: str) -> list[PickupLocation]:
        raise NotSupported(f"{self.consortium.name}: placing holds online is not supported")

    async def place_hold(self, record_id: str, pickup: str | None, *,
                         accept_terms: bool = False) -> PlaceHoldResult:
        raise NotSupported(f"{self.consortium.name}: placing holds online is not supported")

    async def start_payment(self, balance: Balance) -> PaymentStart:
        raise NotSupported(f"{self.consortium.name}: online payment is not offered")
