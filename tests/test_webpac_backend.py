"""The WebPAC backend against the demo library's WebPAC face, in process
(httpx.ASGITransport), across the face's variants: markup (classic / Sierra
5.1 / Sierra 5.3), login (form / CAS), language (est / eng), charset (UTF-8 /
ISO-8859-1), renew flow (one-step / two-step) and date order (day-, month-
or year-first, with a registry row that says so). Expected values come from
the demo library's own circulation state, not from copies of the page."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import msgspec
import pytest

from libcli import http
from libcli.backends.webpac import WebPACBackend
from libcli.errors import ExitCode, LoginRefused, NotSupported, PageNotUnderstood
from libcli.model import Card, DueStatus, HoldStatus, Material
from libcli.policy import consortia
from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock
from libcli.sandbox.seed import build_library
from libcli.sandbox.store import Store
from libcli.sandbox.webpac_face import webpac_variant

TODAY = date(2026, 11, 23)
CARD, PIN = "30000001", "1234"  # public demo data (libcli.sandbox.seed)
CARD2, PIN2 = "30000002", "2345"
BASE = "http://127.0.0.1"

# A pairwise cover of the five two-valued switches: every pair of values
# appears in some row. The server's own default language is the other one,
# so the backend's *est / *eng in the URL is what decides.
VARIANTS = [
    dict(markup="classic", login="form", language="est", charset="utf-8", flow="one-step"),
    dict(markup="sierra53", login="cas", language="eng", charset="iso-8859-1", flow="two-step"),
    dict(markup="classic", login="cas", language="est", charset="iso-8859-1", flow="one-step"),
    dict(markup="sierra53", login="form", language="eng", charset="utf-8", flow="one-step"),
    dict(markup="classic", login="form", language="eng", charset="iso-8859-1", flow="two-step"),
    dict(markup="sierra53", login="cas", language="est", charset="utf-8", flow="two-step"),
    # Sierra 5.1, and sites that print month-first (NYPL, Waterloo) or
    # year-first (Montréal) dates, end to end.
    dict(markup="sierra51", login="form", language="eng", charset="utf-8", flow="one-step",
         dates="mdy"),
    dict(markup="classic", login="form", language="eng", charset="iso-8859-1", flow="two-step",
         dates="ymd"),
    dict(markup="sierra53", login="cas", language="est", charset="utf-8", flow="one-step",
         dates="mdy"),
    dict(markup="sierra51", login="cas", language="est", charset="iso-8859-1", flow="two-step",
         dates="ymd"),
]


def site(dates: str | None):
    """Tallinn's registry row, or the same row for a site printing its dates
    in another order: a test-local registry entry (the demo prints what the
    variant's date token says)."""
    tallinn = consortia()["tallinn"]
    return msgspec.structs.replace(tallinn, date_order=dates) if dates else tallinn


def _id(v):
    return "-".join(v.values())


class Demo:
    """One demo library app plus a way to make backends for it."""

    def __init__(self, variant: dict):
        self.variant = variant
        self.lang = variant["language"]
        self.library = build_library("tallinn", Clock(TODAY))
        server_default = "eng" if self.lang == "est" else "est"
        self.options = Options(webpac_variant=webpac_variant(**{**variant,
                                                                "language": server_default}))
        self.app = create_app("tallinn", library=self.library, options=self.options,
                              store=Store(None))
        self.pins = 0

    def client(self) -> httpx.AsyncClient:
        return http.make_client(BASE, transport=httpx.ASGITransport(app=self.app))

    def backend(self, card=CARD, pin=PIN, *, client=None, session=None) -> WebPACBackend:
        def give_pin():
            self.pins += 1
            return pin

        return WebPACBackend(Card("mari", "tallinn", card), site(self.variant.get("dates")),
                             client=client or self.client(), pin=give_pin, session=session,
                             today=TODAY, language=self.lang)

    def loans_of(self, card=CARD):
        return self.library.loans_of(card)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(params=VARIANTS, ids=_id)
def demo(request) -> Demo:
    return Demo(request.param)


LOGIN_REQUESTS = {"form": 2, "cas": 4}


# --- login --------------------------------------------------------------------------


def test_login_keeps_the_record_path_never_the_pin(demo):
    b = demo.backend()
    run(b.login())
    patron = demo.library.patrons[CARD]
    assert b.session == {"patron_path": f"/patroninfo~S8*{demo.lang}/{patron.patron_id}"}
    assert b.requests == LOGIN_REQUESTS[demo.variant["login"]]
    assert demo.pins == 1
    # Data only: object reprs carry memory addresses, which may contain "1234".
    data = [v for v in vars(b).values() if isinstance(v, (str, bytes, dict, list, tuple))]
    assert PIN not in repr(b.session) and PIN not in repr(data)
    assert "III_SESSION_ID" in b.client.cookies


def test_saved_session_needs_no_pin(demo):
    async def go():
        first = demo.backend()
        await first.login()
        again = demo.backend(client=first.client, session=dict(first.session))
        loans = await again.loans()
        return again, loans

    again, loans = run(go())
    assert demo.pins == 1 and again.requests == 1 and len(loans) == len(demo.loans_of())


def test_refused_login_carries_the_sites_words(demo):
    b = demo.backend(pin="0000")
    with pytest.raises(LoginRefused) as err:
        run(b.loans())
    assert err.value.exit_code == ExitCode.LOGIN_REFUSED == 4
    words = {"est": "Vabandame, sisestatud andmed on vigased",
             "eng": "Sorry, the information you submitted was invalid"}[demo.lang]
    assert words in str(err.value)
    assert "0000" not in str(err.value) and "patron_path" not in b.session


def test_lost_session_logs_in_again_once(demo):
    async def go():
        b = demo.backend()
        await b.login()
        demo.app.state.ctx.sessions("III_SESSION_ID").expire_all()
        return await b.loans()

    loans = run(go())
    assert len(loans) == len(demo.loans_of()) and demo.pins == 2


# --- loans -------------------------------------------------------------------------------


def test_loans_match_the_library(demo):
    b = demo.backend()
    loans = run(b.loans())
    lib = demo.library
    expected = demo.loans_of()
    assert [l.key for l in loans] == [lib.item_of(x).item_id for x in expected]
    for loan, want in zip(loans, expected):
        item = lib.item_of(want)
        title = lib.titles[item.record_id]
        assert (loan.title, loan.author, loan.record_id) == (title.title, title.author,
                                                             title.record_id)
        assert (loan.barcode, loan.call_number) == (item.barcode, item.call_number)
        assert loan.due_date == want.due_date and loan.renewals_used == want.renewals
        assert loan.material is item.material
        assert loan.reserved_by_others == lib.reserved_by_others(want)
        assert b._renew_marks[loan.key]  # the renew checkbox's name, kept in the backend
    by_title = {l.title: l for l in loans}
    assert by_title["Puhdistus"].status is DueStatus.OVERDUE
    assert by_title["Puhdistus"].estimated_fee.cents == 6 * 3  # 6 days at 0.03 €
    assert by_title["Kalevala"].status is DueStatus.DUE_SOON
    assert not by_title["Tiede 2025:4"].renewable  # magazines are never renewed
    assert not by_title["Helsingin Sanomat 1.3.2025"].renewable
    assert by_title["Looming 2024 (köide)"].material is Material.BOUND_MAGAZINE
    assert by_title["Looming 2024 (köide)"].renewals_limit == 3
    assert not by_title["Sinuhe egyptiläinen"].renewable  # reserved by another patron
    assert not by_title["The Pragmatic Programmer"].renewable  # 3 of 3 renewals used
    assert by_title["Tuntematon sotilas"].renewable
    assert b.requests == LOGIN_REQUESTS[demo.variant["login"]] + 1


def test_a_patron_without_holds_or_fees(demo):
    b = demo.backend(CARD2, PIN2)

    async def go():
        return await b.loans(), await b.holds(), await b.fees()

    loans, holds, balance = run(go())
    assert len(loans) == 2 and holds == []
    assert balance.total.cents == 0 and balance.items == ()


# --- renewing ------------------------------------------------------------------------------


def test_renew_selected(demo):
    async def go():
        b = demo.backend()
        loans = {l.title: l for l in await b.loans()}
        before = b.requests
        chosen = [loans["Tuntematon sotilas"], loans["Sinuhe egyptiläinen"],
                  loans["Tiede 2025:4"], loans["The Pragmatic Programmer"]]
        results = await b.renew(chosen)
        return chosen, results, b.requests - before

    chosen, results, requests = run(go())
    assert [r.loan_id for r in results] == [l.id for l in chosen]
    ok, reserved, magazine, limit = results
    assert ok.renewed and ok.new_due_date == date(2026, 12, 14)  # 21 days from today
    assert not reserved.renewed and "reserved by another patron" in reserved.message
    assert not magazine.renewed and "renewal not allowed" in magazine.message
    assert not limit.renewed and "renewal limit reached" in limit.message
    assert requests == (1 if demo.variant["flow"] == "one-step" else 2)
    lib = demo.library
    renewed = [l for l in lib.loans_of(CARD) if lib.titles[lib.item_of(l).record_id].title
               == "Tuntematon sotilas"][0]
    assert renewed.due_date == date(2026, 12, 14) and renewed.renewals == 1


def test_renew_every_loan(demo):
    b = demo.backend()
    results = run(b.renew(run(b.loans())))
    by_title = {r.title: r for r in results}
    assert len(results) == len(demo.loans_of())
    assert {t for t, r in by_title.items() if not r.renewed} == {
        "Sinuhe egyptiläinen", "The Pragmatic Programmer", "Tiede 2025:4",
        "Helsingin Sanomat 1.3.2025"}
    assert by_title["Sibelius: Sinfoniat 1-7"].new_due_date == date(2026, 11, 30)  # AV: 7 days
    # Renewing the overdue loan charged its late fee, which the fines page now shows.
    assert run(b.fees()).total.cents == 90 + 18 + 12


def test_renew_nothing_sends_nothing(demo):
    b = demo.backend()
    assert run(b.renew([])) == [] and b.requests == 0


# --- holds -----------------------------------------------------------------------------------


def test_holds_match_the_library(demo):
    b = demo.backend()
    holds = run(b.holds())
    lib = demo.library
    expected = lib.holds_of(CARD)
    markup = demo.variant["markup"]
    # Classic pages print an item in transit without cancel box or title link
    # (Waterloo): only its title tells it apart.
    plain = {"Oneiron"} if markup == "classic" else set()
    assert [h.key for h in holds] == [
        f"title:{lib.titles[h.record_id].title}" if lib.titles[h.record_id].title in plain
        else h.record_id for h in expected]
    assert [h.record_id for h in holds] == [
        None if lib.titles[h.record_id].title in plain else h.record_id for h in expected]
    by_title = {h.title: h for h in holds}
    ready = by_title["Mielensäpahoittaja"]
    # ready yesterday, held for two days (Tallinn's rule)
    assert ready.status is HoldStatus.READY and ready.pickup_by == date(2026, 11, 24)
    assert not ready.cancellable
    # Sierra 5.3 prints a ready hold's pickup select empty (NYPL's capture).
    assert ready.pickup_location == (None if markup == "sierra53" else "TlnRK Keskraamatukogu")
    assert by_title["Oneiron"].status is HoldStatus.IN_TRANSIT
    assert by_title["Oneiron"].cancellable == (markup != "classic")
    queued = by_title["Designing Data-Intensive Applications"]
    assert (queued.status, queued.queue_position, queued.queue_length) == (
        HoldStatus.WAITING, 3, 4)
    assert queued.expires == date(2027, 11, 13)
    assert by_title["Suomen historia"].pickup_location == "TlnRK Nõmme"
    assert all(h.key in b._cancel_names for h in holds if h.status is not HoldStatus.READY
               and h.title not in plain)


def test_cancel_holds(demo):
    async def go():
        b = demo.backend()
        holds = {h.title: h for h in await b.holds()}
        chosen = [holds["Suomen historia"], holds["Mielensäpahoittaja"], holds["Oneiron"]]
        before = b.requests
        results = await b.cancel_holds(chosen)
        return chosen, results, b.requests - before

    chosen, results, requests = run(go())
    assert [r.hold_id for r in results] == [h.id for h in chosen]
    done, ready, transit = results
    assert done.cancelled
    assert not ready.cancelled and "ready" in ready.message and "contact the library" in ready.message
    assert not transit.cancelled and ("no way to cancel" if demo.variant["markup"] == "classic"
                                      else "kept") in transit.message
    titles = {demo.library.titles[h.record_id].title for h in demo.library.holds_of(CARD)}
    assert "Suomen historia" not in titles and {"Oneiron", "Mielensäpahoittaja"} <= titles
    # fresh read + post (+ confirmation) + verifying read
    assert requests == (3 if demo.variant["flow"] == "one-step" else 4)


# --- fees and holds placing ---------------------------------------------------------------------


def test_fees_in_integer_cents_without_online_payment(demo):
    balance = run(demo.backend().fees())
    assert balance.total.cents == 90 and type(balance.total.cents) is int
    assert not balance.online_payment_offered
    (fee,) = balance.items
    assert fee.title == "Kalevipoeg" and fee.amount.cents == 90 and not fee.payable_online
    assert fee.fee_type.value == "overdue"
    due = demo.library.fees_of(CARD)[0].due_date
    assert due is not None and fee.created == due  # the charge's due-date row


def test_place_hold_points_to_the_librarys_own_channels(demo):
    b = demo.backend()
    with pytest.raises(NotSupported) as err:
        run(b.place_hold("b1000013", None))
    assert "in person, by e-mail or by phone" in str(err.value)
    with pytest.raises(NotSupported):
        run(b.pickup_locations("b1000013"))


def test_search_points_to_esters_own_search_for_the_query(demo):
    b = demo.backend()
    with pytest.raises(NotSupported) as err:
        run(b.search("Tõde ja õigus"))
    # Scope 8 (Tallinn's libraries) in the card's language, keyword search,
    # the query percent-encoded as UTF-8.
    assert (f"https://www.ester.ee/search~S8*{b.lang}/?searchtype=X&searcharg="
            "T%C3%B5de%20ja%20%C3%B5igus") in str(err.value)
    assert b.requests == 0


def test_a_live_cookie_without_the_saved_path_needs_no_pin(demo):
    async def go():
        first = demo.backend()
        await first.login()
        again = demo.backend(client=first.client, session={})
        await again.login()
        return again

    again = run(go())
    assert demo.pins == 1 and again.session["patron_path"].endswith("/1000001")


class LoseAnswerToRenewPost(httpx.AsyncBaseTransport):
    """The library renews, then the connection drops before the answer arrives."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.posts = 0

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/items"):
            self.posts += 1
            await response.aread()
            raise httpx.ReadError("connection reset after the library acted", request=request)
        return response


@pytest.mark.parametrize("demo", [VARIANTS[0], VARIANTS[3]], ids=_id, indirect=True)
def test_renewal_whose_answer_was_lost_is_read_back_not_reposted(demo):
    transport = LoseAnswerToRenewPost(httpx.ASGITransport(app=demo.app))

    async def go():
        b = demo.backend(client=http.make_client(BASE, transport=transport))
        loans = {l.title: l for l in await b.loans()}
        return await b.renew([loans["Tuntematon sotilas"], loans["Sinuhe egyptiläinen"]])

    ok, reserved = run(go())
    assert transport.posts == 1
    assert ok.renewed and ok.new_due_date == date(2026, 12, 14)
    assert not reserved.renewed and "did not answer" in reserved.message


def test_a_busy_record_is_waited_out():
    demo = Demo(VARIANTS[0])
    demo.options.webpac_variant += ",busy"
    b = demo.backend()
    b.busy_wait = 0
    loans = run(b.loans())
    assert len(loans) == len(demo.loans_of())
    assert b.requests == LOGIN_REQUESTS["form"] + 2  # the "in use" page, then the items


def test_saying_no_on_the_confirmation_renews_nothing():
    demo = Demo(VARIANTS[1])  # two-step

    async def go():
        b = demo.backend()
        await b.loans()
        path = b.session["patron_path"]
        first = await http.request(b.client, "POST", f"{path}/items",
                                   data={"renewall": "YES"})
        assert "confirmationprompt" in first.text
        await http.request(b.client, "POST", f"{path}/items", data={"donothing": "NO"})
        # the next renew is asked for again, not carried out on the old confirmation
        again = await http.request(b.client, "POST", f"{path}/items", data={"renewall": "YES"})
        return again

    before = [(l.loan_id, l.renewals, l.due_date) for l in demo.loans_of()]
    again = run(go())
    assert "confirmationprompt" in again.text
    assert [(l.loan_id, l.renewals, l.due_date) for l in demo.loans_of()] == before


def test_hold_request_after_the_saved_session_expired_logs_in_again(demo):
    async def go():
        first = demo.backend()
        await first.login()
        # A new run: the saved record path, but the library forgot the session.
        later = demo.backend(session=dict(first.session))
        await later.place_hold("b1000013", None)

    with pytest.raises(NotSupported) as err:
        run(go())
    site = {"est": "Tellimine ei ole võimalik", "eng": "Request denied"}[demo.lang]
    assert site in str(err.value) and "in person, by e-mail or by phone" in str(err.value)
    assert demo.pins == 2


def test_concurrent_reads_of_one_card_share_one_login(demo):
    async def go():
        b = demo.backend()
        loans, holds, fees = await asyncio.gather(b.loans(), b.holds(), b.fees())
        first = b.requests
        demo.app.state.ctx.sessions("III_SESSION_ID").expire_all()
        again = await asyncio.gather(b.loans(), b.holds(), b.fees())
        return b, (loans, holds, fees), again, first

    b, before, after, first = run(go())
    loans, holds, fees = before
    assert len(loans) == 10 and len(holds) == 4 and fees.total.cents == 90
    assert after[0] == loans and after[1] == holds and after[2] == fees
    assert demo.pins == 2  # one login at the start, one after the session expired
    login = LOGIN_REQUESTS[demo.variant["login"]]
    assert first == login + 3
    # at most three reads that met a login page, one login, three reads again
    login_page = 1 if demo.variant["login"] == "form" else 2
    assert b.requests - first <= 3 * login_page + login + 3


def test_a_refused_login_is_not_repeated_by_concurrent_reads(demo):
    async def go():
        b = demo.backend(pin="0000")
        return await asyncio.gather(b.loans(), b.holds(), b.fees(), return_exceptions=True)

    results = run(go())
    assert all(isinstance(r, LoginRefused) for r in results)
    assert demo.pins == 1


def test_a_site_read_in_another_date_order_is_an_error_not_a_guess():
    demo = Demo(VARIANTS[6])  # the demo prints month-first dates
    b = WebPACBackend(Card("mari", "tallinn", CARD), site("dmy"), client=demo.client(),
                      pin=lambda: PIN, today=TODAY, language=demo.lang)
    with pytest.raises(PageNotUnderstood) as err:
        run(b.loans())
    assert "dd-mm-yy date" in str(err.value) and "due date of" in str(err.value)


def test_a_ready_hold_printed_with_a_blank_status():
    # Montréal's shape: year-first dates and a ready hold's status cell blank.
    demo = Demo(dict(markup="classic", login="form", language="eng", charset="utf-8",
                     flow="one-step", dates="ymd"))
    demo.options.webpac_variant += ",blank-ready"
    holds = {h.title: h for h in run(demo.backend().holds())}
    ready = holds["Mielensäpahoittaja"]
    assert ready.status is HoldStatus.READY and ready.pickup_by is None and not ready.cancellable
    assert holds["Designing Data-Intensive Applications"].expires == date(2027, 11, 13)
