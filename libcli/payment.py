"""Paying the fee balance: the verdict, the checks before a payment starts,
and the bank-transfer instructions for libraries without online payment.

The library's page is authoritative; the consortium's rules add the checks
a page may not show (Tampere University's replacement-fee rule, Heili's
e-mail requirement) and explain a refusal in words.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
from msgspec import Struct

from libcli.errors import Refused, UnsafeAddress
from libcli.i18n import _
from libcli.model import Balance, Money
from libcli.policy import BankTransfer, Consortium, Payability, minimum_online, payability


class Verdict(Struct, frozen=True):
    payable: bool
    reason: str | None
    message: str | None
    minimum: Money | None


def verdict(consortium: Consortium, balance: Balance) -> Verdict:
    policy = consortium.policy
    check = payability(
        policy, balance.total, [f.fee_type for f in balance.items],
        email_on_file=balance.email_on_file, site_minimum=balance.minimum_online,
        nonpayable_items=any(not f.payable_online for f in balance.items),
    )
    minimum = minimum_online(policy, balance.minimum_online)
    if check.payable and balance.payment_in_progress:
        check = Payability(False, "payment_in_progress",
                           _("a payment is already in progress; finish it or wait until it expires"))
    elif check.payable and not balance.online_payment_offered:
        # The rules allow it but the page offers no payment: the page wins.
        check = Payability(False, "not_offered",
                           balance.site_reason or _("the library does not offer online payment now"))
    return Verdict(check.payable, check.reason, check.message, minimum)


def ensure_payable(consortium: Consortium, balance: Balance, expected: Money | None) -> Verdict:
    """Raise Refused unless a payment of the whole balance may start now."""
    v = verdict(consortium, balance)
    if expected is not None and expected != balance.total:
        raise Refused(
            _("the balance changed from {before} to {now} since it was shown; "
              "no payment was started").format(before=expected, now=balance.total),
            hint=_("check it with: libcli fees"),
        )
    if not v.payable:
        raise Refused(_("cannot pay online: {reason}").format(reason=v.message))
    return v


def host_matches(host: str, allowed: str) -> bool:
    """`allowed` itself or a subdomain of it (case-insensitive, no trailing dot)."""
    host, allowed = host.lower().rstrip("."), allowed.lower().rstrip(".")
    return bool(allowed) and (host == allowed or host.endswith("." + allowed))


def check_payment_url(url: str, *, backend_url: str | None = None,
                      consortium: Consortium | None = None) -> str:
    """The address `pay` opens or prints, judged as a browser will read it.

    Parsed by the WHATWG URL standard (ada-url), as browsers parse it, not by
    urllib: `https://evil.example\\@paytrail.com/` is paytrail.com to
    urlsplit and evil.example to a browser. Refused: anything but https (plain
    http only to this machine: the demo library), backslashes, user info,
    control, space or invisible characters (which browsers drop or rewrite
    before parsing), an address without a host. Given the library's address
    and consortium, the host must also be the library's own or a payment
    provider the registry names (`payment_hosts`, the host or a subdomain).
    The error names the reason, never the address (it may be an attack)."""
    from libcli.http import is_loopback_host
    from libcli.text import strip_unsafe

    if ("\\" in url or url != url.strip() or any(ch.isspace() for ch in url)
            or strip_unsafe(url) != url):
        _refuse(_("it contains a backslash, a space or control characters"))
    parts = _whatwg(url)
    if parts is None:
        _refuse(_("it is not a valid address"))
    scheme, host = parts["protocol"].rstrip(":"), parts["hostname"].rstrip(".")
    if not host or not (scheme == "https" or (scheme == "http" and is_loopback_host(host))):
        _refuse(_("not an https address"))
    if parts["username"] or parts["password"]:
        _refuse(_("it carries a user name or password (`user@host`)"))
    if backend_url is None and consortium is None:
        return url
    library = _whatwg(backend_url) if backend_url else None
    if library and host == library["hostname"].rstrip("."):
        return url
    allowed = consortium.payment_hosts if consortium is not None else ()
    if any(host_matches(host, a) for a in allowed):
        return url
    known = ", ".join(allowed) if allowed else _("none")
    raise UnsafeAddress(
        _("refusing to open the payment address on {host}: it is neither the library's "
          "host nor a known payment provider (known: {known})").format(host=host, known=known),
        hint=_("nothing was paid; if the library changed its provider, report it to libcli"))


def _whatwg(url: str) -> dict | None:
    import ada_url

    try:
        return ada_url.parse_url(url)
    except ValueError:
        return None


def _refuse(why: str):
    raise UnsafeAddress(_("refusing to open the payment address the library sent: {why}").format(
        why=why), hint=_("nothing was paid; report it to the library and to libcli"))


def bank_transfer_text(transfer: BankTransfer, amount: Money | None, library_name: str) -> str:
    fields = [(_("Amount:"), amount)] if amount is not None else []
    fields += [(_("Recipient:"), transfer.recipient), (_("Reference number:"), transfer.reference),
               (_("Explanation:"), transfer.explanation)]
    width = max(len(label) for label, _value in fields)
    lines = [_("{library} takes no online payments. Pay by bank transfer:").format(
        library=library_name), ""]
    lines += [f"  {label:<{width}} {value}" for label, value in fields]
    lines += [
        "",
        "  " + _("Bank accounts (IBAN, and SWIFT/BIC for transfers from abroad):"),
    ]
    for acc in transfer.accounts:
        lines.append(f"    {acc.bank:<13} {acc.iban}  {acc.bic}")
    if transfer.note:
        lines += ["", f"  {transfer.note}"]
    return "\n".join(lines)


def bank_transfer_json(transfer: BankTransfer, amount: Money | None) -> dict:
    return {
        "amount_cents": amount.cents if amount else None,
        "currency": amount.currency if amount else "EUR",
        "recipient": transfer.recipient,
        "reference": transfer.reference,
        "explanation": transfer.explanation,
        "accounts": [{"bank": a.bank, "iban": a.iban, "bic": a.bic} for a in transfer.accounts],
        "note": transfer.note,
    }


def registered(before: Money, balance: Balance) -> bool:
    """Has a payment of `before` been registered on the account?"""
    return balance.payment_registered or balance.total.cents < before.cents


# --- a payment this libcli started ------------------------------------------------
#
# The library's page says only that a payment is open; the address to finish
# it at is in libcli's hands once, when the payment starts. It is kept (0600,
# with the session cache) until the account shows the payment registered or
# the library's open time has passed, so a stopped `pay` can be resumed.


class PendingPayment(Struct, frozen=True):
    url: str
    amount: Money
    started: datetime
    expires: datetime | None = None  # None: the library does not say


def _pending_path(card) -> Path:
    import hashlib

    from libcli import storage

    key = hashlib.sha1(card.key.encode()).hexdigest()[:16]
    return storage.cache_dir() / "payments" / f"{card.library}-{key}.json"


def remember_payment(card, url: str, amount: Money, open_minutes: int | None,
                     now: datetime | None = None) -> PendingPayment:
    from libcli import storage

    started = now or datetime.now(timezone.utc)
    pending = PendingPayment(url, amount, started,
                             started + timedelta(minutes=open_minutes) if open_minutes else None)
    storage.write_cache(_pending_path(card), msgspec.to_builtins(pending))
    return pending


def pending_payment(card, now: datetime | None = None) -> PendingPayment | None:
    """The payment this libcli started for the card, unless it has expired."""
    from libcli import storage

    path = _pending_path(card)
    data = storage.read_cache(path)
    if data is None:
        return None
    try:
        pending = msgspec.convert(data, PendingPayment)
    except msgspec.ValidationError:
        forget_payment(card)
        return None
    if pending.expires is not None and pending.expires <= (now or datetime.now(timezone.utc)):
        forget_payment(card)
        return None
    return pending


def forget_payment(card) -> None:
    import contextlib

    with contextlib.suppress(OSError):
        _pending_path(card).unlink()


def payment_open_error(card, pending: PendingPayment | None) -> Refused:
    """The library shows an open payment: say where to finish it and until when."""
    if pending is None:
        return Refused(_("a payment is already in progress at the library (not started by this "
                         "libcli, or its address was not kept); finish it, or wait until it "
                         "expires"), hint=_("check with: libcli fees --card {card}").format(
            card=card.name))
    until = (_("; the library keeps it open until about {time}").format(
        time=pending.expires.astimezone().strftime("%H:%M")) if pending.expires else "")
    return Refused(_("a payment of {amount} started at {time} is still open{until}: {url}").format(
        amount=pending.amount, time=pending.started.astimezone().strftime("%H:%M"), until=until,
        url=pending.url),
                   hint=_("finish it at that address, or open it again with: "
                          "libcli pay --card {card} --resume").format(card=card.name))
