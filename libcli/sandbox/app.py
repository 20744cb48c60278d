"""The app factory and the contract between the demo library and its faces.

A *face* speaks one library system's dialect (Finna, WebPAC, Primo VE) over the shared
circulation model. It is a module with ``routes(ctx: FaceContext) ->
list[starlette.routing.BaseRoute]``; ``create_app`` picks it from the
consortium's ``backend`` kind (``FACES``). The face gets everything through
``ctx``: the library, the view, the runtime ``Options``, a Jinja2 environment
over ``sandbox/templates`` and server-side sessions under a cookie name the
face chooses.

State is saved after every request that changed the library (the library's
``revision`` moved), so a renewal made now is still there next run.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response


from .circulation import Clock, Library
from .misbehave import Misbehave
from .rules import Site, sites
from .seed import build_library
from .store import Store

FACES = {"finna": "libcli.sandbox.finna_face", "webpac": "libcli.sandbox.webpac_face",
         "primo": "libcli.sandbox.primo_face"}
TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class Options:
    """Runtime switches; mutate them on a running app (``app.state.options``).

    ``finna_variant``: the Finna face's markup, "2024" (bootstrap 3 finna2)
    or "bs5" (bootstrap 5; "2025" is an alias). ``finna_driver``: "koha",
    "alma" or "sierra" overrides the ILS driver behaviour of the view;
    ``finna_hold_form``: "plain", "terms" or "request-groups";
    ``finna_login_first``: "MultiILS" or "Database" (which login tab comes
    first); ``refuse_login_once``: the next login is answered with
    ``authentication_error_technical``. The Finna face's docstring has the
    details. ``webpac_variant`` is the WebPAC face's equivalent (its author
    documents the values).
    """

    latency_ms: int = 0
    error_rate: float = 0.0  # share of requests answered 500
    drop_rate: float = 0.0  # share of requests whose connection is dropped
    session_ttl: float | None = 600.0  # seconds of inactivity; None = never
    refuse_csrf_once: bool = False  # the next CSRF check fails, then the flag clears
    language: str = "fi"  # default UI language when the request names none
    finna_variant: str = "2024"
    finna_driver: str | None = None  # None: the view's own driver
    finna_hold_form: str = "plain"
    finna_login_first: str = "MultiILS"
    refuse_login_once: bool = False
    webpac_variant: str = "2024"
    seed: int = 0  # drives misbehaviour's dice (and the generated demo data)
    # Primo VE face: the view offers only single sign-on (no password profile);
    # an expired or revoked patron token answers HTTP 401 instead of 0002.
    primo_sso_only: bool = False
    primo_expired_401: bool = False
    # Targeted faults (``misbehave.Fault``): only the requests they match.
    faults: list = field(default_factory=list)


class Session:
    """One server-side session. ``data`` is the face's own dictionary."""

    def __init__(self, sid: str, *, new: bool, expired: bool = False):
        self.id = sid
        self.data: dict[str, Any] = {}
        self.new = new
        self.expired = expired  # the client sent a cookie whose session had timed out
        self.last_seen = time.monotonic()

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def pop(self, key: str, default: Any = None) -> Any:
        return self.data.pop(key, default)


class Sessions:
    """Server-side sessions keyed by one cookie; idle ones expire after ``session_ttl``."""

    def __init__(self, cookie: str, options: Options, path: str = "/",
                 now: Callable[[], float] = time.monotonic):
        self.cookie = cookie
        self.options = options
        self.path = path
        self._now = now
        self._by_id: dict[str, Session] = {}

    def load(self, request: Request) -> Session:
        session, expired = self._live(request.cookies.get(self.cookie))
        if session is None:
            # PHP keeps the id the browser sent only if it exists; otherwise a new one.
            session = Session(secrets.token_hex(13), new=True, expired=expired)
            self._by_id[session.id] = session
        else:
            session.new = False
        session.last_seen = self._now()
        return session

    def _live(self, sid: str | None) -> tuple[Session | None, bool]:
        """The session ``sid`` unless it idled past ``session_ttl``; True when it just expired."""
        session = self._by_id.get(sid) if sid else None
        ttl = self.options.session_ttl
        if session is not None and ttl is not None and self._now() - session.last_seen > ttl:
            del self._by_id[sid]
            return None, True
        return session, False

    def create(self) -> Session:
        """A session whose id travels in a token rather than a cookie (Primo's JWT)."""
        session = Session(secrets.token_hex(13), new=True)
        self._by_id[session.id] = session
        return session

    def find(self, sid: str) -> Session | None:
        """The live session ``sid`` (touched), or None when unknown or idle past the TTL."""
        session, _ = self._live(sid)
        if session is not None:
            session.last_seen = self._now()
        return session

    def commit(self, session: Session, response: Response) -> Response:
        """Send the cookie when the session is new (or was regenerated)."""
        if session.new:
            response.set_cookie(self.cookie, session.id, path=self.path, httponly=True,
                                samesite="lax")
        return response

    def regenerate(self, session: Session) -> Session:
        """A new id for the same data (done at login, as PHP's session_regenerate_id)."""
        self._by_id.pop(session.id, None)
        fresh = Session(secrets.token_hex(13), new=True)
        fresh.data = session.data
        self._by_id[fresh.id] = fresh
        return fresh

    def destroy(self, session: Session) -> None:
        self._by_id.pop(session.id, None)

    def expire_all(self) -> None:
        self._by_id.clear()


@dataclass
class FaceContext:
    library: Library
    view: str
    consortium: Site  # the view's registry entry (rules.Site)
    options: Options
    templates: jinja2.Environment
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    _sessions: dict[str, Sessions] = field(default_factory=dict)

    def sessions(self, cookie: str, path: str = "/") -> Sessions:
        """The session store under ``cookie`` (created on first use)."""
        if cookie not in self._sessions:
            self._sessions[cookie] = Sessions(cookie, self.options, path)
        return self._sessions[cookie]

    def take_csrf_refusal(self) -> bool:
        """True once after ``options.refuse_csrf_once`` was set: the face refuses that token."""
        if self.options.refuse_csrf_once:
            self.options.refuse_csrf_once = False
            return True
        return False

    def sign(self, *parts: str) -> str:
        """An HMAC over the parts, for URLs the server must be able to trust back."""
        return hmac.new(self.secret, "|".join(parts).encode(), hashlib.sha1).hexdigest()

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        html = self.templates.get_template(template).render(**context)
        return Response(html, status_code=status_code, media_type="text/html; charset=UTF-8")


def templates_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class _Persist:
    """Save the library after any request that changed it."""

    def __init__(self, app, library: Library, store: Store):
        self.app = app
        self.library = library
        self.store = store
        self.saved = library.revision

    async def __call__(self, scope, receive, send):
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and self.library.revision != self.saved:
                self.saved = self.library.revision
                self.store.save_library(self.library)


def load_or_seed(view: str, store: Store, *, clock: Clock | None = None, seed: int = 0,
                 keep_fresh: bool = True) -> Library:
    """The saved library for a view, or a freshly seeded one (saved at once).

    With ``keep_fresh`` the demo's calendar stands still while nobody uses
    it: a state saved N days ago has all its dates moved N days forward on
    load, so a month-old demo still shows loans due soon rather than a wall
    of overdue ones, and everything the user changed is kept.
    """
    library = store.load_library(view, clock=clock)
    if library is None:
        library = build_library(view, clock, seed=seed)
        store.save_library(library)
    elif keep_fresh and library.saved_on and library.today() > library.saved_on:
        library.shift_dates((library.today() - library.saved_on).days)
        store.save_library(library)
    return library


def create_app(
    view: str,
    *,
    library: Library | None = None,
    options: Options | None = None,
    state_file: Path | None = None,
    store: Store | None = None,
) -> Starlette:
    """The demo library for one view, with the face its consortium's system speaks."""
    consortium = sites()[view]
    options = options or Options()
    store = store or Store(state_file)
    if library is None:
        library = load_or_seed(view, store, seed=options.seed)
    ctx = FaceContext(library, view, consortium, options, templates_env())
    face = importlib.import_module(FACES[consortium.backend])
    app = Starlette(routes=face.routes(ctx))
    app.state.library = library
    app.state.options = options
    app.state.ctx = ctx
    app.state.store = store
    app.add_middleware(_Persist, library=library, store=store)
    app.add_middleware(Misbehave, options=options, ctx=ctx)
    return app
