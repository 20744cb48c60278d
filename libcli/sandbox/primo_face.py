"""The Primo VE face of the demo library: Andor (andor.tuni.fi) as JSON.

Follows /work/shared/reference/primo-ve.md (the sections are named below;
the public clients each shape was seen in are named after it: OPY = omnis-py,
OMOB = omnis-mobile, LCLI/LHA = leitir-cli/-ha, BSB = the BSB librarian CLI,
EZL = Ez.LeitirAPI, JAB, SUST, UNESP, CFG = the configuration dumps). Every
account answer is the envelope ``{beaconO22, status, reply-code, reply-text,
data}``; login, the JWT endpoints, ``delivery``, ``getPhysicalService``,
``itemQueue`` and the request form answer bare JSON (§1).

The patron JWT (§3.4) carries the claims real tokens carry, ``exp = iat +
86400`` on the library's clock, a header shaped as Ex Libris's (``ES256``,
``kid primaPrivateKey-<inst>``) and an HMAC signature: clients never verify
it. Its ``jti`` names a server-side session (``ctx.sessions("primo-jwt")``),
so ``session_ttl`` and the ``expire_sessions`` fault revoke tokens as they
expire the other faces' cookies.

Where the reference marks a behaviour inferred [INF] or unseen, the face
does what is written here:

* No ``Authorization: Bearer`` at all: HTTP 401. A guest token, a token
  past ``exp``, a revoked or unreadable one: HTTP 200 with ``status:
  failed``, ``reply-code 0002`` (§7); with ``Options.primo_expired_401`` an
  expired or revoked patron token gets 401 instead (clients must handle both).
* ``renew_loans`` / ``renew_all_loans`` answer the loans envelope with the
  loans they tried, each with its ``duedate`` (new when renewed) and a
  localised ``renewstatuses.renewstatus[]`` message; a refused renewal is
  still ``status: ok``: only an unchanged due date, ``renew: "N"`` and the
  message tell it apart. An unknown loan id is ``status: failed``.
* ``cancel_requests`` takes ``{"request_id","request_type":"holds"}`` (OPY,
  captured), ``{"id"}`` (LCLI) or ``{"requestIds":[…]}`` (BSB). When none
  can be cancelled: ``status: failed`` with the reason; otherwise ``ok``
  with one ``{"requestid", "note": {"type": "info"|"error"}}`` per id.
* Ready holds carry ``endholddate`` (the CFG display field ``end_hold_date``
  with its underscores dropped).
* Fines: ``finesum`` / ``originalfinesum`` are ``"3,50 €"`` in fi and sv,
  ``"€3.50"`` in en; ``finestatus`` ``ACTIVE``. No fines: ``data: {}`` (OPY).
* The pay-fine link (EXLPAY's Library Card Links ``online_payment_url``
  with "Use jwt Token") is in the configuration under
  ``mapping-tables["Library Card Links"]``: that key's name and layout are
  invented; it points to ``/discovery/payfine`` here, an invented payment
  service (Andor's real payment flow is unknown, §9): the patron logs in
  with card number and PIN, pays the whole balance at a simulated provider,
  and the library registers it (``PrimoFace.payfine``).
* A placed hold shows in ``requests`` at once (the real one takes seconds).
* ``delivery`` answers a top-level array of ``{"pnxId", "delivery"}``
  (EZL: an array of entries with ``delivery``; the id's key is invented).
* Failures other than 0002 use ``reply-code 0001``.
* ``Fault("refuse", path=…)`` answers ``status: failed`` without acting.
* ``Options.primo_sso_only``: the configuration offers only the SAML
  profile and ``suprimaLogin`` refuses every password login (401).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
from datetime import date
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from libcli.model import FeeType, HoldStatus

from . import circulation as circ
from .app import FaceContext, Session

LANGS = ("fi", "en", "sv")
PRIV = "/primaws/rest/priv"
PUB = "/primaws/rest/pub"
TOKEN_LIFETIME = 86400  # §3.4: exp - iat
SCOPES = {"MyInst_and_CI": "Everything", "MyInstitution": "LibraryCatalog"}  # CFG, BSB
MAX_LIMIT = 50  # BSB: the search answers at most about 50 a page
FAILED = "0001"
INVALID_PATRON = ("0002", "The patron ID is invalid")  # §7, the real body

# Localised strings, (fi, en, sv). Our own wording; Alma's is not public.
TEXT: dict[str, tuple[str, str, str]] = {
    "loaned": ("Lainassa", "Loaned", "Utlånad"),
    "loan_overdue": ("Myöhässä", "Overdue", "Försenad"),
    "open_stacks": ("Avokokoelma", "Open stacks", "Öppna samlingar"),
    "in_place": ("Hyllyssä", "Item in place", "På plats"),
    "loaned_until": ("Lainassa {date} asti", "Loaned until {date}", "Utlånad till {date}"),
    "queue": ("(varauksia: {n})", "(requests: {n})", "(reservationer: {n})"),
    "renewed": ("Laina uusittu", "Loan renewed", "Lånet förnyat"),
    circ.RENEW_NO: ("Aineistoa ei voi uusia", "Item cannot be renewed",
                    "Exemplaret kan inte förnyas"),
    circ.RENEW_LIMIT: ("Uusintakerrat on käytetty", "Renewal limit reached",
                       "Förnyelsegränsen har nåtts"),
    circ.RENEW_REQUESTED: ("Niteestä on varaus", "Item is requested by another patron",
                           "Exemplaret är reserverat"),
    circ.RENEW_DEBT: ("Maksuja on yli sallitun rajan", "Fines exceed the limit",
                      "Avgifterna överskrider gränsen"),
    circ.RENEW_DENIED: ("Lainausoikeus on estetty", "Borrowing is blocked",
                        "Lånerätten är spärrad"),
    circ.RENEW_NOT_FOUND: ("Lainaa ei löydy", "Loan not found", "Lånet hittades inte"),
    HoldStatus.WAITING: ("Käsittelyssä", "In process", "Under behandling"),
    HoldStatus.IN_TRANSIT: ("Kuljetuksessa", "In transit", "Under transport"),
    HoldStatus.READY: ("Noudettavissa", "On hold shelf", "Kan hämtas"),
    circ.CANCEL_NOT_CANCELLABLE: ("Varausta ei voi perua", "The request cannot be cancelled",
                                  "Reservationen kan inte avbokas"),
    circ.CANCEL_NOT_FOUND: ("Varausta ei löydy", "Request not found",
                            "Reservationen hittades inte"),
    circ.HOLD_NOT_FOUND: ("Varaus epäonnistui", "The request failed", "Reservationen misslyckades"),
    circ.HOLD_NOT_RESERVABLE: ("Aineistoa ei voi varata", "Item cannot be requested",
                               "Exemplaret kan inte reserveras"),
    circ.HOLD_LIMIT: ("Varausten enimmäismäärä on täynnä", "Request limit reached",
                      "Reservationsgränsen har nåtts"),
    circ.HOLD_DUPLICATE: ("Sinulla on jo varaus tähän", "You already have a request for this title",
                          "Du har redan en reservation på titeln"),
    circ.HOLD_ON_LOAN: ("Aineisto on jo lainassasi", "You already have this title on loan",
                        "Du har redan titeln på lån"),
    circ.HOLD_BLOCKED: ("Lainausoikeus on estetty", "Borrowing is blocked",
                        "Lånerätten är spärrad"),
    circ.HOLD_INVALID_PICKUP: ("Virheellinen noutopaikka", "Invalid pickup location",
                               "Ogiltigt avhämtningsställe"),
    circ.HOLD_NOT_ONLINE: ("Verkkovaraukset eivät ole käytössä",
                           "Online requests are not available",
                           "Webbreservationer är inte tillgängliga"),
    FeeType.OVERDUE: ("Myöhästymismaksu", "Overdue fine", "Förseningsavgift"),
    FeeType.UNCOLLECTED_HOLD: ("Noutamaton varaus", "Uncollected hold", "Oavhämtad reservation"),
    FeeType.REPLACEMENT: ("Korvausmaksu", "Lost item replacement fee", "Ersättningsavgift"),
    FeeType.NOTICE: ("Muistutusmaksu", "Notice fee", "Påminnelseavgift"),
    FeeType.OTHER: ("Muu maksu", "Other fee", "Annan avgift"),
    "book": ("Kirja", "Book", "Bok"),
    "material": ("Aineisto", "Item", "Material"),
}
# pnx resource types by the catalogue's format facet.
RTYPES = {"Book": "book", "Journal": "journal", "Sound": "audio", "Video": "video"}


def t(key: str, lang: str, **tokens: Any) -> str:
    text = TEXT[key][LANGS.index(lang)] if key in TEXT else key
    return text.format(**tokens) if tokens else text


def ymd(d: date | None) -> str:
    """§1: dates are YYYYMMDD strings."""
    return d.strftime("%Y%m%d") if d else ""


def money(cents: int, lang: str) -> str:
    """A fine's amount as the fines list prints it (§4.5: localised, currency inside)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}€{whole}.{part:02d}" if lang == "en" else f"{sign}{whole},{part:02d} €"


def plain_amount(cents: int) -> str:
    """The counters' dot-decimal amount with no currency (§4.1, OPY)."""
    whole, part = divmod(cents, 100)
    return f"{whole}.{part:02d}"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Refusal(Exception):
    """An answer a handler gives up with (401, or an envelope with status failed)."""

    def __init__(self, response: Response):
        self.response = response


class PrimoFace:
    def __init__(self, ctx: FaceContext):
        self.ctx = ctx
        self.lib = ctx.library
        c = ctx.consortium
        self.vid = c.view or f"{ctx.view.upper()}:VU1"
        self.inst = c.institution or self.vid.split(":", 1)[0]
        self.tokens = ctx.sessions("primo-jwt")  # no cookie: the id travels in the JWT's jti
        self._beacon = itertools.count(101)
        # Alma library ids for the pickup keys `<libraryId>$$LIBRARY` (§5 step 4).
        self.library_ids = {p.code: f"{31000 + 17 * n}0005973"
                            for n, p in enumerate(self.lib.pickup_locations, start=1)}

    # --- plumbing --------------------------------------------------------

    def lang(self, request: Request) -> str:
        asked = (request.query_params.get("lang") or "").lower()
        if asked[:2] in LANGS:
            return asked[:2]
        default = self.ctx.options.language[:2]
        return default if default in LANGS else "fi"

    def json(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), status_code=status,
                        media_type="application/json;charset=UTF-8")

    def envelope(self, data: Any, *, status: str = "ok", code: str = "0000",
                 text: str = "OK") -> Response:
        return self.json({"beaconO22": str(next(self._beacon)), "status": status,
                          "reply-code": code, "reply-text": text, "data": data})

    def failed(self, text: str, code: str = FAILED) -> Response:
        return self.envelope(None, status="failed", code=code, text=text)

    def base(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    async def body_json(self, request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            raise Refusal(self.failed("Malformed JSON body"))

    # --- tokens (§3) -----------------------------------------------------

    def now(self) -> int:
        return int(self.lib.clock.now().timestamp())

    def sign(self, signing_input: str) -> str:
        return b64url(hmac.new(self.ctx.secret, signing_input.encode(), hashlib.sha256).digest())

    def issue(self, request: Request, *, patron: circ.Patron | None, profile: str,
              lang: str, session: Session | None) -> str:
        iat = self.now()
        # Claim names and their string-typed flags: EXLPAY's example, UNESP's token,
        # BSB's JWTClaims.
        claims = {
            "iss": "Prima",
            "jti": f"{session.id if session else secrets.token_hex(13)}"
                   ".app03.eu00.prod.alma.dc05.hosted.exlibrisgroup.com:1801",
            "exp": iat + TOKEN_LIFETIME,
            "iat": iat,
            "userName": patron.card if patron else "",
            "displayName": patron.name if patron else "",
            "user": patron.patron_id if patron else "",
            "userGroup": "STUDENT" if patron else "GUEST",
            "institution": self.inst,
            "userIp": request.client.host if request.client else "127.0.0.1",
            "authenticationProfile": profile,
            "authenticationSystem": "ALMA" if patron else "",
            "language": lang,
            "samlSessionIndex": "",
            "samlNameId": "",
            "onCampus": "false",
            "signedIn": "true" if patron else "false",
            "viewId": self.vid,
        }
        header = {"kid": f"primaPrivateKey-{self.inst}", "alg": "ES256"}
        signing_input = f"{b64url(compact(header))}.{b64url(compact(claims))}"
        return f"{signing_input}.{self.sign(signing_input)}"

    def claims_of(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3 or not hmac.compare_digest(
                parts[2], self.sign(f"{parts[0]}.{parts[1]}")):
            return None
        try:
            return json.loads(unb64url(parts[1]))
        except ValueError:
            return None

    def signed_in(self, request: Request) -> tuple[circ.Patron, Session]:
        """The patron and server-side session of the request's token, or Refusal."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # SPA-style clients send the token with its quotes (§1): both forms work.
        token = token.strip().strip('"')
        if scheme.lower() != "bearer" or not token:
            raise Refusal(Response("Unauthorized", status_code=401, media_type="text/plain"))
        claims = self.claims_of(token)
        if claims is None or claims.get("signedIn") != "true":
            raise Refusal(self.failed(INVALID_PATRON[1], INVALID_PATRON[0]))
        session = self.tokens.find(str(claims.get("jti", "")).split(".", 1)[0])
        patron = self.lib.patrons.get(session.get("card")) if session else None
        if patron is None or claims.get("exp", 0) <= self.now():
            if self.ctx.options.primo_expired_401:
                raise Refusal(Response("Unauthorized", status_code=401, media_type="text/plain"))
            raise Refusal(self.failed(INVALID_PATRON[1], INVALID_PATRON[0]))
        return patron, session

    def account(self, method: Callable[..., Awaitable[Response]]):
        """A /priv endpoint: needs a signed-in patron; honours the ``refuse`` fault."""
        async def endpoint(request: Request) -> Response:
            try:
                patron, session = self.signed_in(request)
                if getattr(request.state, "refused", False):
                    return self.failed("General error")
                return await method(request, patron, session, self.lang(request))
            except Refusal as refusal:
                return refusal.response

        endpoint.__name__ = method.__name__
        return endpoint

    def public(self, method: Callable[..., Awaitable[Response]]):
        async def endpoint(request: Request) -> Response:
            try:
                return await method(request, self.lang(request))
            except Refusal as refusal:
                return refusal.response

        endpoint.__name__ = method.__name__
        return endpoint

    # --- configuration and login -----------------------------------------

    def profiles(self) -> list[dict[str, str]]:
        """§2 `authentication[]` (CFG, OMOB): a password profile and a SAML one."""
        alma = {"profile-name": "Alma", "authentication-system": "ALMA",
                "silent-login-enabled": "false"}
        saml = {"profile-name": "HAKA", "authentication-system": "SAML",
                "silent-login-enabled": "true"}
        return [saml] if self.ctx.options.primo_sso_only else [alma, saml]

    async def configuration(self, request: Request, lang: str) -> Response:
        if request.path_params["vid"] != self.vid:
            return self.json({"error": f"view {request.path_params['vid']} not found"}, 404)
        base = self.base(request)
        tables: dict[str, Any] = {
            "Bulk Definition": [{"source1": "OvP - Loans Paging", "target": "100"}],  # CFG
        }
        if self.lib.rules.online_payment is not None:
            # [INF] EXLPAY names the setting, not its place in this JSON.
            tables["Library Card Links"] = [{
                "source1": "online_payment_url", "target": f"{base}/discovery/payfine",
                "source2": "Use jwt Token", "target2": "true"}]
        body = {
            "vid": self.vid,
            "beaconO22": str(next(self._beacon)),
            "backend_system": "suprima",
            "IsViewNdeEnabled": False,
            "authentication": self.profiles(),
            "primo-view": {
                "institution": {"institution-code": self.inst,
                                "institution-name": self.ctx.consortium.name,
                                "description": self.ctx.consortium.name,
                                "id": f"{self.inst}_ID"},
                "attributes-map": {"interfaceLanguage": "fi",
                                   "interfaceLanguageOptions": ",".join(LANGS)},
                "available-tabs": list(SCOPES.values()),
                "scopes": [{"scope-id": scope, "tab": tab, "locations": [],
                            "types": [], "contains-central-index-scope": scope.endswith("_CI")}
                           for scope, tab in SCOPES.items()],
                "scopes-context-map": {"MyInst_and_CI": "B", "MyInstitution": "L"},
            },
            "mapping-tables": tables,
        }
        return self.json(body)

    async def login(self, request: Request, lang: str) -> Response:
        form = await request.form()
        profile = form.get("authenticationProfile") or ""
        passwords = {p["profile-name"] for p in self.profiles()
                     if p["authentication-system"] in ("ALMA", "LDAP")}
        unauthorized = Response("", status_code=401)
        if profile not in passwords or form.get("institution") not in (None, "", self.inst):
            return unauthorized
        if form.get("view") not in (None, "", self.vid):
            return unauthorized
        patron = self.lib.authenticate(str(form.get("username") or "").strip(),
                                       str(form.get("password") or ""))
        if patron is None:
            return unauthorized
        session = self.tokens.create()
        session["card"] = patron.card
        token = self.issue(request, patron=patron, profile=profile, lang=lang, session=session)
        # §3.1: the JWT is itself a JSON string inside jwtData, quotes and all.
        return self.json({"jwtData": json.dumps(token)})

    async def guest_jwt(self, request: Request, lang: str) -> Response:
        if request.path_params["inst"] != self.inst:
            return self.json({"error": "institution not found"}, 404)
        token = self.issue(request, patron=None, profile="", lang=lang, session=None)
        return self.json(token)  # §3.3: a bare JSON string

    # --- account (§4) ----------------------------------------------------

    async def counters(self, request, patron, session, lang) -> Response:
        card = patron.card
        actions = [{"type": "Loans", "value": str(len(self.lib.loans_of(card)))},
                   {"type": "Requests", "value": str(len(self.lib.holds_of(card)))},
                   {"type": "Fines", "value": plain_amount(self.lib.balance_cents(card))}]
        return self.envelope({"listofactions": {"action": actions}})

    def loan_json(self, loan: circ.Loan, lang: str,
                  statuses: list[str] | None = None) -> dict[str, Any]:
        """§4.2's fields (OPY, JAB, LCLI, ISHARE, SUST)."""
        lib = self.lib
        item = lib.item_of(loan)
        title = lib.title_of(loan)
        loc = lib.pickup_location(item.location)
        out = {
            "loanid": loan.loan_id,
            "mmsid": item.record_id,
            "title": title.title if title else "",
            "author": title.author if title else "",
            "duedate": ymd(loan.due_date),
            "duehour": "2359",
            "loandate": ymd(loan.checkout_date),
            "loanstatus": t("loan_overdue" if loan.due_date < lib.today() else "loaned", lang),
            "renew": "Y" if lib.renew_check(loan.card, loan.loan_id) is None else "N",
            "itembarcode": item.barcode,
            "itemid": item.item_id,
            "mainlocationname": loc.name if loc else item.location,
            "secondarylocationname": t("open_stacks", lang),
            "callnumber": item.call_number,
            "itemcategoryname": t(item.material.value if item.material.value in TEXT
                                  else "material", lang),
            "year": str(title.year) if title and title.year else "",
            "ilsinstitutionname": self.ctx.consortium.name,
            "alerts": [],
        }
        if statuses is not None:
            out["renewstatuses"] = {"renewstatus": statuses}  # OMOB Models.kt
        return out

    async def loans(self, request, patron, session, lang) -> Response:
        q = request.query_params
        try:
            bulk = max(1, int(q.get("bulk", "100")))
            offset = max(1, int(q.get("offset", "1")))
        except ValueError:
            return self.failed("Invalid paging parameters")
        # We keep no loan history: type=history is an empty list.
        loans = self.lib.loans_of(patron.card) if q.get("type", "active") != "history" else []
        shown = loans[offset - 1: offset - 1 + bulk]  # §4.2: offset is 1-based
        more = offset - 1 + bulk < len(loans)
        return self.envelope({"loans": {"loan": [self.loan_json(l, lang) for l in shown],
                                        "showmore": ["Y" if more else "N"]}})

    def renewed(self, patron: circ.Patron, loan_ids: list[str], lang: str) -> Response:
        outcomes = self.lib.renew(patron.card, loan_ids)
        rows = []
        for o in outcomes:
            loan = self.lib.loans.get(o.loan_id)
            if loan is None or loan.card != patron.card:
                continue
            rows.append(self.loan_json(loan, lang, [t("renewed" if o.ok else o.reason, lang)]))
        if not rows:
            return self.failed(t(circ.RENEW_NOT_FOUND, lang))
        return self.envelope({"loans": {"loan": rows}})

    async def renew_loans(self, request, patron, session, lang) -> Response:
        body = await self.body_json(request)
        ids = body.get("id") if isinstance(body, dict) else None
        ids = [ids] if isinstance(ids, str) else ids
        if not ids or not all(isinstance(i, str) for i in ids):
            return self.failed("Missing loan id")
        return self.renewed(patron, ids, lang)

    async def renew_all_loans(self, request, patron, session, lang) -> Response:
        ids = [l.loan_id for l in self.lib.loans_of(patron.card)]
        if not ids:
            return self.envelope({"loans": {"loan": []}})
        return self.renewed(patron, ids, lang)

    def hold_json(self, hold: circ.Hold, lang: str) -> dict[str, Any]:
        """§4.4's hold fields (OPY live test, LCLI types)."""
        title = self.lib.titles.get(hold.record_id)
        loc = self.lib.pickup_location(hold.pickup)
        out = {
            "requestid": hold.hold_id,
            "title": title.title if title else "",
            "author": title.author if title else "",
            "mmsid": hold.record_id,
            "holdstatus": t(hold.status, lang),
            "requestdate": ymd(hold.created),
            "pickuplocationname": loc.name if loc else hold.pickup,
            "available": "Y" if hold.status is HoldStatus.READY else "N",
            "cancel": "Y" if self.lib.hold_cancellable(hold) else "N",
            "ilsinstitutionname": self.ctx.consortium.name,
            "ilsinstitutioncode": self.inst,
        }
        end = self.lib.pickup_by(hold)
        if end is not None:
            out["endholddate"] = ymd(end)  # [INF] CFG's end_hold_date
        return out

    async def requests(self, request, patron, session, lang) -> Response:
        holds = [self.hold_json(h, lang) for h in self.lib.holds_of(patron.card)]
        return self.envelope({"holds": {"hold": holds}, "photocopies": {"photocopy": []},
                              "bookings": {"booking": []}, "cdls": {"cdl": []},
                              "ills": {"ill": []}, "acqs": {"acq": []}})

    async def cancel_requests(self, request, patron, session, lang) -> Response:
        body = await self.body_json(request)
        body = body if isinstance(body, dict) else {}
        if "requestIds" in body:  # BSB
            ids = body["requestIds"]
        elif "request_id" in body:  # OPY, captured from the UI
            if body.get("request_type", "holds") != "holds":
                return self.failed(f"Unsupported request type {body.get('request_type')}")
            ids = body["request_id"]
        else:  # LCLI
            ids = body.get("id")
        ids = [ids] if isinstance(ids, str) else ids
        if not ids or not all(isinstance(i, str) for i in ids):
            return self.failed("Missing request id")
        outcomes = self.lib.cancel_holds(patron.card, ids)
        if not any(o.ok for o in outcomes):
            return self.failed(t(outcomes[0].reason, lang))
        notes = [{"requestid": o.hold_id, "note": {"type": "info"}} if o.ok else
                 {"requestid": o.hold_id, "note": {"type": "error", "value": t(o.reason, lang)}}
                 for o in outcomes]
        return self.envelope({"holds": {"hold": notes}})

    async def fines(self, request, patron, session, lang) -> Response:
        fees = self.lib.fees_of(patron.card)
        if not fees:
            return self.envelope({})  # OPY: no `fines` key at all
        home = self.lib.pickup_location(patron.home_location or "")
        rows = []
        for f in fees:
            row = {
                "fineid": f.fee_id,
                "finestatus": "ACTIVE",
                "finesum": money(f.amount_cents, lang),
                "originalfinesum": money(f.amount_cents, lang),
                "finedate": ymd(f.created),
                "finemainlocation": home.name if home else self.ctx.consortium.name,
                "type": "debit",
                "description": t(f.fee_type, lang),
                "isAlert": False,
            }
            if f.title:
                row["title"] = f.title
            rows.append(row)
        return self.envelope({"fines": {"fine": rows}})

    async def personal_settings(self, request, patron, session, lang) -> Response:
        def field(value: str, usage: str = "") -> dict[str, str]:
            return {"value": value, "maxlen": "255", "uimandatory": "N", "usage": usage}

        first, _, last = patron.name.partition(" ")
        return self.envelope({
            "editable": "Y",
            "firstname": field(first), "lastname": field(last),
            "email": field(patron.email or "", "preferred"),
            "telephone1": field(""), "address1": field(""), "city": field(""), "zip": field(""),
        })

    # --- search (§6) -----------------------------------------------------

    def clause_matches(self, clause: str) -> set[str]:
        """Record ids matching one `field,operator,value` clause of `q`."""
        field, op, value = (clause.split(",", 2) + ["", ""])[:3]
        value = re.sub(r",(AND|OR|NOT)$", "", value).strip()
        if op == "contains":
            kind = {"title": "Title", "creator": "Author", "sub": "Subject"}.get(field, "AllFields")
            if field == "isbn":
                return {r for r, ti in self.lib.titles.items() if value in (ti.isbn or "")}
            return {ti.record_id for ti in self.lib.search(value, kind)}
        out = set()
        for rid, ti in self.lib.titles.items():
            haystacks = {"title": [ti.title], "creator": [ti.author], "sub": ti.subjects,
                         "isbn": [ti.isbn or ""]}.get(
                field, [ti.title, ti.author, *ti.subjects, ti.isbn or ""])
            for h in haystacks:
                h, v = h.lower(), value.lower()
                if (op == "exact" and h == v) or (op == "begins_with" and h.startswith(v)):
                    out.add(rid)
        return out

    def facet_matches(self, title: circ.Title, q_include: str) -> bool:
        """`qInclude=facet_<name>,exact,<value>` filters joined by `|,|` (§6)."""
        for part in filter(None, q_include.split("|,|")):
            name, _, value = (part.split(",", 2) + ["", ""])[:3]
            facets = self.facets(title)
            key = name.removeprefix("facet_")
            if key == "rtype":
                key = "rsrctype"
            wanted = value[:-1] if key == "rsrctype" and value.endswith("s") else value
            if key in facets and wanted not in facets[key]:
                return False
        return True

    def search_results(self, request: Request) -> list[circ.Title]:
        q = request.query_params
        scope = q.get("scope") or "MyInst_and_CI"
        if scope not in SCOPES:
            raise Refusal(self.json({"error": f"unknown scope {scope}"}, 400))  # OMOB: 400
        ids: set[str] | None = None
        for clause in filter(None, (q.get("q") or "").split(";")):
            found = self.clause_matches(clause)
            ids = found if ids is None else ids & found
        titles = [ti for ti in self.lib.titles.values()
                  if (ids is None or ti.record_id in ids)
                  and self.facet_matches(ti, q.get("qInclude") or "")]
        sort = q.get("sort", "rank")
        if sort.startswith("date"):
            titles.sort(key=lambda ti: (ti.year or 0, ti.record_id), reverse=sort == "date_d")
        elif sort == "title":
            titles.sort(key=lambda ti: ti.title.lower())
        elif sort == "author":
            titles.sort(key=lambda ti: ti.author.lower())
        return titles

    def paging(self, request: Request) -> tuple[int, int]:
        try:
            offset = max(0, int(request.query_params.get("offset", "0")))  # 0-based here
            limit = min(MAX_LIMIT, max(1, int(request.query_params.get("limit", "10"))))
        except ValueError:
            raise Refusal(self.json({"error": "invalid offset or limit"}, 400))
        return offset, limit

    def facets(self, ti: circ.Title) -> dict[str, list[str]]:
        frbr = str(int(hashlib.sha1(ti.title.lower().encode()).hexdigest()[:10], 16))
        return {"frbrgroupid": [frbr], "rsrctype": [RTYPES.get(ti.format, "book")],
                "language": [ti.language], "creationdate": [str(ti.year or "")],
                "creatorcontrib": [ti.author] if ti.author else []}

    def pnx(self, ti: circ.Title) -> dict[str, Any]:
        """A local record's PNX (§6, OPY and BSB). `creator` carries a `$$Q`
        marker and `creationdate` is a bare string, as real ones sometimes are."""
        mms = ti.record_id
        rtype = RTYPES.get(ti.format, "book")
        display: dict[str, Any] = {"title": [ti.title], "type": [rtype], "language": [ti.language],
                                   "mms": [mms], "subject": list(ti.subjects)}
        if ti.author:
            display["creator"] = [f"{ti.author}$$Q{ti.author}"]
        if ti.year:
            display["creationdate"] = str(ti.year)
        if ti.isbn:
            display["identifier"] = [f"$$CISBN$$V{ti.isbn}"]
        return {
            "display": display,
            "control": {"recordid": [f"alma{mms}"], "sourcerecordid": [mms],
                        "originalsourceid": [mms], "sourceid": ["alma"],
                        "sourcesystem": ["ILS"], "sourceformat": ["MARC21"]},
            "addata": {"isbn": [ti.isbn] if ti.isbn else [], "au": [ti.author] if ti.author else [],
                       "btitle": [ti.title], "date": [str(ti.year or "")], "format": [rtype]},
            "search": {"title": [ti.title], "creator": [ti.author], "isbn": [ti.isbn or ""]},
            "sort": {"title": [ti.title], "author": [ti.author],
                     "creationdate": [str(ti.year or "")]},
            "facets": self.facets(ti),
        }

    def holding_id(self, record_id: str, code: str) -> str:
        digits = "".join(ch for ch in record_id if ch.isdigit())
        n = [p.code for p in self.lib.pickup_locations].index(code) + 1
        return f"22{digits[-12:-5] or digits}{n}0005973"

    def holdings(self, ti: circ.Title, lang: str) -> list[dict[str, Any]]:
        """One holding per branch that has items (§5 step 1: `delivery.holding[]`)."""
        out = []
        for loc in self.lib.pickup_locations:
            items = [i for i in self.lib.items_of(ti.record_id) if i.location == loc.code]
            if not items:
                continue
            hold_id = self.holding_id(ti.record_id, loc.code)
            free = any(self.lib.item_on_loan(i.item_id) is None for i in items)
            out.append({
                "mainLocation": loc.name, "subLocation": t("open_stacks", lang),
                "subLocationCode": "AVO", "libraryCode": loc.code.upper(),
                "availabilityStatus": "available" if free else "unavailable",
                "holdId": hold_id, "ilsApiId": hold_id, "callNumber": items[0].call_number,
                "organization": self.inst,
                # OPY and OMOB found the holdings call needs this key verbatim (§8.7).
                "holKey": f"HoldingResultKey [mid={hold_id}, libraryId="
                          f"{self.library_ids[loc.code]}, locationCode=AVO, "
                          f"callNumber={items[0].call_number}]",
            })
        return out

    def delivery(self, ti: circ.Title, lang: str) -> dict[str, Any]:
        holding = self.holdings(ti, lang)
        best = next((h for h in holding if h["availabilityStatus"] == "available"),
                    holding[0] if holding else None)
        available = best is not None and best["availabilityStatus"] == "available"
        return {"bestlocation": best, "holding": holding, "deliveryCategory": ["Alma-P"],
                "availability": ["available_in_library" if available else "unavailable"],
                "displayLocation": True, "almaInstitutionsList": []}

    def doc(self, request: Request, ti: circ.Title, lang: str, *, delivery: bool) -> dict:
        out = {"context": "L", "adaptor": "Local Search Engine",
               "@id": f"{self.base(request)}{PUB}/pnxs/L/alma{ti.record_id}", "pnx": self.pnx(ti)}
        if delivery:
            out["delivery"] = self.delivery(ti, lang)
        return out

    async def pnxs(self, request: Request, lang: str) -> Response:
        titles = self.search_results(request)
        offset, limit = self.paging(request)
        shown = titles[offset: offset + limit]
        with_delivery = request.query_params.get("skipDelivery", "N") != "Y"
        return self.json({
            "beaconO22": str(next(self._beacon)),
            "info": {"total": len(titles), "totalResultsLocal": len(titles), "totalResultsPC": 0,
                     "first": offset + 1 if shown else 0, "last": offset + len(shown)},
            "docs": [self.doc(request, ti, lang, delivery=with_delivery) for ti in shown],
            "facets": [], "highlights": {}, "did_u_mean": "", "timelog": {},
        })

    def title_or_404(self, mms: str) -> circ.Title:
        title = self.lib.titles.get(mms)
        if title is None:
            raise Refusal(self.json({"error": f"record {mms} not found"}, 404))
        return title

    async def record(self, request: Request, lang: str) -> Response:
        docid = request.path_params["docid"]
        if request.path_params["context"] != "L" or not docid.startswith("alma"):
            return self.json({"error": f"record {docid} not found"}, 404)
        ti = self.title_or_404(docid.removeprefix("alma"))
        return self.json(self.doc(request, ti, lang, delivery=True))

    async def delivery_endpoint(self, request: Request, lang: str) -> Response:
        if "qInclude" not in request.query_params:
            return Response("Internal Server Error", status_code=500)  # EZL
        asked = await self.body_json(request)
        if not isinstance(asked, list):
            return self.json({"error": "the body is a JSON array of record ids"}, 400)
        offset, limit = self.paging(request)
        # OPY: the query runs again and only ids on that page get an answer.
        page = {f"alma{ti.record_id}": ti
                for ti in self.search_results(request)[offset: offset + limit]}
        return self.json([{"pnxId": rid, "delivery": self.delivery(page[rid], lang)}
                          for rid in asked if rid in page])

    # --- placing a hold (§5) -----------------------------------------------

    async def physical_service(self, request: Request, lang: str) -> Response:
        ti = self.title_or_404(request.path_params["mms"])
        psid = str(secrets.randbelow(10**17) + 10**17)
        # The id belongs to the login asking (OPY: it changes between logins).
        try:
            _, session = self.signed_in(request)
            session.data.setdefault("services", {})[psid] = ti.record_id
        except Refusal:
            pass
        return self.json({"physicalServiceId": psid})

    async def holdings_items(self, request, patron, session, lang) -> Response:
        mms = session.get("services", {}).get(request.path_params["psid"])
        if mms is None:
            return self.failed("Unknown physical service")
        body = await self.body_json(request)
        locations = body.get("locations") if isinstance(body, dict) else None
        ti = self.lib.titles[mms]
        holding = None
        # OPY and OMOB bisected it: exactly one holding, with its holKey, or no items.
        if isinstance(locations, list) and len(locations) == 1 and isinstance(locations[0], dict):
            key = locations[0].get("holKey")
            holding = next((h for h in self.holdings(ti, lang) if h["holKey"] == key), None)
        items = []
        if holding is not None:
            code = holding["libraryCode"].lower()
            for item in self.lib.items_of(mms):
                if item.location == code:
                    items.append(self.item_json(session, ti, item, holding, lang))
        location = {"holdId": holding["holdId"] if holding else "", "items": items,
                    "totalItems": len(items)}
        return self.envelope({"itemInfo": {"locations": [location]}})

    def item_json(self, session: Session, ti: circ.Title, item: circ.Item,
                  holding: dict[str, Any], lang: str) -> dict[str, Any]:
        loan = self.lib.item_on_loan(item.item_id)
        status = (t("loaned_until", lang, date=loan.due_date.strftime("%d/%m/%Y")) if loan
                  else t("in_place", lang))
        svc = secrets.token_hex(6)
        session.data.setdefault("item_services", {})[svc] = [ti.record_id, item.item_id]
        link = (f"{PRIV}/ILSServices/itemServices/{ti.record_id}/item/{item.item_id}/{svc}"
                f"/AlmaItemRequest?institution={self.inst}&hasHold=true&hasBooking=false")
        reservable = self.lib.rules.of(ti.material).reservable
        return {
            "itemid": item.item_id, "mmsid": ti.record_id, "itembarcode": item.barcode,
            "itemstatusname": status, "itemcategoryname": t("book", lang),
            "itempolicy": "28", "itemmaterial": item.material.value.upper(),
            "callnumber": item.call_number, "callnumber2": "",
            "mainlocationname": holding["mainLocation"],
            "secondarylocationname": holding["subLocation"],
            "listofservices": {"service": [{"type": "AlmaItemRequest",
                                            "allowed": "Y" if reservable else "N",
                                            "link-to-service": link}]},
        }

    async def item_queue(self, request, patron, session, lang) -> Response:
        item = self.lib.items.get(request.path_params["item_id"])
        if item is None:
            return self.json({"error": "item not found"}, 404)
        n = len(self.lib.queue(item.record_id))
        return self.json({"itemId": item.item_id, "itemQueueString": t("queue", lang, n=n)})

    def service_of(self, request: Request, session: Session) -> tuple[str, str] | None:
        p = request.path_params
        known = session.get("item_services", {}).get(p["svc"])
        return (p["mms"], p["item_id"]) if known == [p["mms"], p["item_id"]] else None

    async def request_form(self, request, patron, session, lang) -> Response:
        if self.service_of(request, session) is None:
            return self.failed("Unknown service")
        pickups = [{"key": f"{self.library_ids[p.code]}$$LIBRARY", "value": p.name}
                   for p in self.lib.pickup_locations]
        group = {"requestType": "hold", "materialType": {"key": "BOOK", "value": t("book", lang)},
                 "pickupLocation": pickups}
        return self.json({"services-arr": {"services": [{"groups-list-map": [group]}]}})

    async def submit_request(self, request, patron, session, lang) -> Response:
        service = self.service_of(request, session)
        if service is None:
            return self.failed("Unknown service")
        body = await self.body_json(request)
        body = body if isinstance(body, dict) else {}
        wanted = str(body.get("pickupLibraryId") or body.get("pickupLocation")
                     or body.get("pickUpLocation") or "").split("$$", 1)[0]
        code = next((c for c, lid in self.library_ids.items() if lid == wanted), wanted)
        outcome = self.lib.place_hold(patron.card, service[0], code)
        if not outcome.ok:
            return self.json({"beaconO22": str(next(self._beacon)), "status": "failed",
                              "reply-code": FAILED, "reply-text": t(outcome.reason, lang)})
        # OPY, captured: no request id in the answer.
        return self.json({"beaconO22": str(next(self._beacon)), "reply-text": "ok",
                          "status": "ok"})

    # --- pages for people ---------------------------------------------------

    async def search_page(self, request: Request, lang: str) -> Response:
        """The page the SPA loads (clients GET it to prime cookies, §3.1)."""
        from .seed import demo_patrons

        cards = "".join(f"<li>{html.escape(p.card)} / {html.escape(p.pin)}: "
                        f"{html.escape(p.note)}</li>" for p in demo_patrons(self.ctx.view))
        page = (f"<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.ctx.consortium.name)}</title></head><body>"
                f"<primo-explore></primo-explore><h1>{html.escape(self.ctx.consortium.name)}"
                f" (demo, Primo VE view {html.escape(self.vid)})</h1><ul>{cards}</ul>"
                "</body></html>")
        response = Response(page, media_type="text/html;charset=UTF-8")
        response.set_cookie("JSESSIONID", secrets.token_hex(16).upper(), httponly=True)
        return response

    # --- the Pay Fine link's payment service (§9) -------------------------
    #
    # Andor's real flow is unknown (§9), so the demo's is invented, kept to
    # what §9 does say: the link is opened without the patron's token (the
    # parameter Primo would append it under is not known), so the service
    # asks the patron to log in (form#payment-login: card number and PIN),
    # shows the whole balance at a simulated provider (form#provider-form,
    # as the Finna face's, with Pay and Cancel) and registers the payment in
    # the library (the fines then read empty).

    def page(self, title: str, body: str, status: int = 200) -> Response:
        name = html.escape(self.ctx.consortium.name)
        return Response(f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}"
                        f" - {name}</title></head><body><h1>{title}</h1>"
                        f"<p class=\"demo-notice\">Demo payment service of {name}: no money "
                        f"moves.</p>{body}</body></html>",
                        status_code=status, media_type="text/html;charset=UTF-8")

    async def payfine(self, request: Request, lang: str) -> Response:
        login = ('<form method="post" action="/discovery/payfine" id="payment-login">'
                 '<label>Library card number <input name="username"></label>'
                 '<label>Password <input name="password" type="password"></label>'
                 '<button type="submit">Log in</button></form>')
        if request.method != "POST":
            return self.page("Pay fines", login)
        form = await request.form()
        patron = self.lib.authenticate(str(form.get("username") or "").strip(),
                                       str(form.get("password") or ""))
        if patron is None:
            return self.page("Pay fines", '<p class="error">Wrong card number or password.</p>'
                             + login, 401)
        reason = self.lib.payment_check(patron.card)
        if reason == circ.PAY_IN_PROGRESS:  # started anew: the earlier one is abandoned
            self.lib.finish_payment(self.lib.open_payment(patron.card).payment_id, paid=False)
        outcome = self.lib.start_payment(patron.card)
        if not outcome.ok:
            return self.page("Pay fines", f'<p class="error" data-reason="{outcome.reason}">'
                             "The fines cannot be paid online.</p>", 409)
        payment = outcome.payment
        signature = self.ctx.sign("primo-pay", payment.payment_id, str(payment.amount_cents))
        return self.page("Demo payment provider", (
            f'<p>Amount: <strong class="amount" data-raw="{payment.amount_cents}">'
            f"{plain_amount(payment.amount_cents)} €</strong></p>"
            '<form method="post" action="/discovery/payfine/provider" id="provider-form">'
            f'<input type="hidden" name="payment" value="{payment.payment_id}">'
            f'<input type="hidden" name="signature" value="{signature}">'
            '<button type="submit" name="action" value="pay" id="provider-pay">Pay</button>'
            '<button type="submit" name="action" value="cancel" id="provider-cancel">Cancel'
            "</button></form>"))

    async def payfine_provider(self, request: Request, lang: str) -> Response:
        form = await request.form()
        payment = self.lib.payments.get(str(form.get("payment") or ""))
        expected = self.ctx.sign("primo-pay", payment.payment_id,
                                 str(payment.amount_cents)) if payment else ""
        if payment is None or not hmac.compare_digest(str(form.get("signature") or ""),
                                                      expected):
            return Response("Unknown or tampered transaction", status_code=400,
                            media_type="text/plain")
        outcome = self.lib.finish_payment(payment.payment_id, paid=form.get("action") == "pay")
        done = "Payment registered." if outcome.ok else "Payment cancelled."
        return self.page("Pay fines", f'<p class="result">{done}</p>')

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"/discovery/search?vid={self.vid}", status_code=302)


def routes(ctx: FaceContext) -> list[Route]:
    face = PrimoFace(ctx)
    pub, acc = face.public, face.account
    my = f"{PRIV}/myaccount"
    item_service = (f"{PRIV}/ILSServices/itemServices/{{mms}}/item/{{item_id}}/{{svc}}"
                    "/AlmaItemRequest")
    return [
        Route("/", face.home),
        Route("/discovery/search", pub(face.search_page)),
        Route("/discovery/payfine", pub(face.payfine), methods=["GET", "POST"]),
        Route("/discovery/payfine/provider", pub(face.payfine_provider), methods=["POST"]),
        Route(f"{PUB}/configuration/vid/{{vid}}", pub(face.configuration)),
        Route("/primaws/suprimaLogin", pub(face.login), methods=["POST"]),
        Route(f"{PUB}/institution/{{inst}}/guestJwt", pub(face.guest_jwt)),
        Route(f"{my}/counters", acc(face.counters)),
        Route(f"{my}/loans", acc(face.loans)),
        Route(f"{my}/renew_loans", acc(face.renew_loans), methods=["POST"]),
        Route(f"{my}/renew_all_loans", acc(face.renew_all_loans), methods=["GET", "POST"]),
        Route(f"{my}/requests", acc(face.requests)),
        Route(f"{my}/cancel_requests", acc(face.cancel_requests), methods=["POST"]),
        Route(f"{my}/fines", acc(face.fines)),
        Route(f"{my}/personal_settings", acc(face.personal_settings)),
        Route(f"{PUB}/pnxs", pub(face.pnxs)),
        Route(f"{PUB}/pnxs/{{context}}/{{docid}}", pub(face.record)),
        Route(f"{PUB}/delivery", pub(face.delivery_endpoint), methods=["POST"]),
        Route(f"{PUB}/getPhysicalService/{{mms}}", pub(face.physical_service)),
        Route(f"{PRIV}/ILSServices/holdings/{{psid}}", acc(face.holdings_items), methods=["POST"]),
        Route(f"{PRIV}/ILSServices/itemQueue/{{item_id}}", acc(face.item_queue)),
        Route(item_service, acc(face.request_form), methods=["GET"]),
        Route(item_service, acc(face.submit_request), methods=["POST"]),
    ]
