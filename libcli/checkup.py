"""`libcli library check`: what works on a card's library, as a report a
user can paste into a bug report.

It logs in afresh with the card and tries each function in turn, reading
only: login, loans, the renew form, holds, the cancel form, fines with the
payment block, and the hold form of one record the account already shows.
The report holds no PIN, no card number, no name and no titles: counts,
the library's id and system, and for what was not understood the page and
the element that was missing.
"""

from __future__ import annotations

import re
from typing import Any

from libcli.errors import ExitCode, LibcliError, PageNotUnderstood, Refused
from libcli.i18n import _, ngettext

# Quoted text (a title, a name) and long digit runs (card numbers) are
# taken out of error messages before they reach the report.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|«[^»]*»")
_DIGITS = re.compile(r"\d{5,}")


def scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "…")
    return _DIGITS.sub("…", _QUOTED.sub("'…'", text))


def _failed(function: str, exc: LibcliError, *secrets: str) -> dict[str, Any]:
    step: dict[str, Any] = {"function": function, "ok": False,
                            "exit_code": int(exc.exit_code), "error": type(exc).__name__}
    if isinstance(exc, PageNotUnderstood):
        step["page"] = exc.page
        step["missing"] = scrub(exc.missing, *secrets)
        step["detail"] = _("not understood: the {page} page lacks {missing}").format(
            page=exc.page, missing=step["missing"])
    else:
        step["detail"] = scrub(exc.message, *secrets)
    return step


async def check(backend) -> dict[str, Any]:
    """Run every read-only check on one card's backend; return the report."""
    card = backend.card
    secrets = (card.number, card.name)
    steps: list[dict[str, Any]] = []

    async def attempt(function: str, coro):
        try:
            return await coro
        except LibcliError as exc:
            steps.append(_failed(function, exc, *secrets))
            return None

    # A fresh login: a saved session would hide a PIN that no longer works.
    backend.client.cookies.clear()
    backend.session.clear()
    await attempt("login", backend.relogin(None))
    if steps:  # the login failed: nothing else can be tried
        return _report(backend, steps)
    steps.append({"function": "login", "ok": True, "detail": _("logged in")})

    loans = await attempt("loans", backend.loans())
    if loans is not None:
        _listed(steps, "loans", loans, "renew form", "renewable")
    holds = await attempt("holds", backend.holds())
    if holds is not None:
        _listed(steps, "holds", holds, "cancel form", "cancellable")
    balance = await attempt("fines", backend.fees())
    if balance is not None:
        block = _("payable online") if balance.online_payment_offered else (
            balance.site_reason or _("not payable online"))
        steps.append({"function": "fines", "ok": True, "count": len(balance.items),
                      "total_cents": balance.total.cents,
                      "online_payment_offered": balance.online_payment_offered,
                      "payment_in_progress": balance.payment_in_progress,
                      "detail": ngettext("{n} fee read; {payable}", "{n} fees read; {payable}",
                                         len(balance.items)).format(
                          n=len(balance.items), payable=scrub(block, *secrets))})
    # The hold form of a record the account shows: the library may decline
    # one it already lends or holds for the patron, so up to three are tried.
    records = list(dict.fromkeys(x.record_id for x in [*(loans or []), *(holds or [])]
                                 if x.record_id))[:3]
    declined = None
    for record in records:
        try:
            places = await backend.pickup_locations(record)
        except Refused as exc:
            declined = exc
            continue
        except LibcliError as exc:
            steps.append(_failed("hold form", exc, *secrets))
            break
        steps.append({"function": "hold form", "ok": True, "count": len(places),
                      "detail": ngettext("{n} pickup location offered",
                                         "{n} pickup locations offered", len(places)).format(
                          n=len(places))})
        break
    else:
        detail = (_("not tried: the account shows no record to try it on") if not records else
                  _("read, but the library declined every record tried: {reason}").format(
                      reason=scrub(declined.message, *secrets)))
        steps.append({"function": "hold form", "ok": None, "detail": detail})
    return _report(backend, steps)


def _report(backend, steps: list[dict[str, Any]]) -> dict[str, Any]:
    from urllib.parse import urlsplit

    from libcli import __version__

    order = ["login", "loans", "renew form", "holds", "cancel form", "fines", "hold form"]
    steps.sort(key=lambda s: order.index(s["function"]))
    return {
        "libcli": __version__,
        "library": backend.consortium.id,
        "system": backend.consortium.backend,
        "host": urlsplit(str(backend.client.base_url)).hostname,
        "checks": steps,
    }


def exit_code(report: dict[str, Any]) -> int:
    """0 when nothing failed; else the first failure's code (6: not understood)."""
    for step in report["checks"]:
        if step["ok"] is False:
            return step.get("exit_code", int(ExitCode.ERROR))
    return int(ExitCode.OK)


# What _listed says of each list, whole sentences (the words change form in
# Finnish and Swedish): the list read, and how many of its rows offer the form.
LISTED = {
    "loans": (lambda n: ngettext("{n} loan read", "{n} loans read", n),
              lambda n: ngettext("{n} of {total} loan offers renewal",
                                 "{n} of {total} loans offer renewal", n)),
    "holds": (lambda n: ngettext("{n} hold read", "{n} holds read", n),
              lambda n: ngettext("{n} of {total} hold can be cancelled",
                                 "{n} of {total} holds can be cancelled", n)),
}


def _listed(steps: list[dict], kind: str, items: list, form: str, able: str) -> None:
    """A list read, and how many of its rows offer their form (a list whose
    rows all lack it may be a page whose form libcli does not find)."""
    count = sum(1 for item in items if getattr(item, able))
    read, offered = LISTED[kind]
    steps.append({"function": kind, "ok": True, "count": len(items),
                  "detail": read(len(items)).format(n=len(items))})
    steps.append({"function": form, "ok": True if count or not items else None, "count": count,
                  "detail": offered(len(items)).format(n=count, total=len(items))})
