"""`libcli holds`, `libcli hold place|cancel|pickups` and `libcli search`."""

from __future__ import annotations

from datetime import date

import click
from msgspec.structs import replace

from libcli.cli import SuggestingGroup, common, output
from libcli.cli.options import (card_option, complete_ids, json_option, library_option,
                                single_card_option, yes_option)
from libcli.demo import command
from libcli.errors import UsageError
from libcli.model import CancelResult, Hold, HoldStatus


def hold_state(h: Hold) -> str:
    if h.status is HoldStatus.READY:
        return f"ready, pick up by {output.day(h.pickup_by)}" if h.pickup_by else "ready for pickup"
    if h.status is HoldStatus.IN_TRANSIT:
        return "in transit"
    if h.queue_position:
        of = f" of {h.queue_length}" if h.queue_length else ""
        return f"waiting, #{h.queue_position}{of} in queue"
    return "waiting"


async def fetch_holds(run, today: date):
    from libcli.account import save_snapshot

    results = await run.gather(lambda b: b.holds())
    for r in results:
        if r.ok:
            save_snapshot(r.card, holds=r.value, today=today)
    return results


@click.command()
@card_option
@click.option("--ready", is_flag=True, help="Only holds ready for pickup.")
@json_option
def holds(cards, ready, as_json):
    """List holds: waiting (queue position), in transit, or ready with the last pickup day.

    \b
    Examples:
      libcli holds
      libcli holds --ready
      libcli holds --json | jq -r '.holds[] | select(.status=="ready") | .pickup_by'
    """
    from libcli.account import AccountService

    today = common.today()
    selected = common.select_cards(cards)

    async def main():
        async with AccountService(today=today).open(selected) as run:
            return await fetch_holds(run, today)

    results = common.run(main)
    errors = common.report(results)
    shown = [h for r in results if r.ok for h in r.value]
    if ready:
        shown = [h for h in shown if h.status is HoldStatus.READY]
    order = {HoldStatus.READY: 0, HoldStatus.IN_TRANSIT: 1, HoldStatus.WAITING: 2}
    shown.sort(key=lambda h: (order[h.status], h.pickup_by or date.max, h.queue_position or 0, h.title))
    if as_json:
        output.emit_json({"holds": [h.to_dict() for h in shown], "errors": errors})
    elif shown:
        output.table(
            ["ID", "Card", "Title", "Status", "Pickup at", "Expires"],
            [[h.id, output.clean(h.card), output.clean(h.title),
              output.styled(hold_state(h), output.STATUS_COLOURS.get(h.status)),
              output.clean(h.pickup_location), output.day(h.expires)] for h in shown],
            drop=("Expires", "Card", "Pickup at"), squeeze=("Title", "Pickup at"),
        )
    elif not errors:
        output.info("No holds ready for pickup." if ready else "No holds.")
    common.finish(results)


@click.group(cls=SuggestingGroup)
def hold():
    """Place and cancel holds (reservations).

    \b
    Examples:
      libcli search "tove jansson" --library helmet
      libcli hold place helmet.1234567 --card mine --pickup Oodi
      libcli hold cancel 5be0a1
    """


@hold.command("pickups")
@click.argument("record")
@single_card_option(required=False)
@json_option
def hold_pickups(record, card, as_json):
    """List the pickup locations the library offers for a record.

    \b
    Example:
      libcli hold pickups helmet.1234567 --card mine
    """
    from libcli.account import AccountService

    chosen = common.one_card(card)
    [result] = AccountService().run([chosen], lambda b: b.pickup_locations(record))
    if result.error:
        raise result.error
    if as_json:
        output.emit_json({"pickup_locations": [p.to_dict() for p in result.value]})
        return
    output.table(["Code", "Name", "Default"],
                 [[output.clean(p.code), output.clean(p.name), "*" if p.default else ""]
                  for p in result.value], squeeze=("Name",))


@hold.command("place")
@click.argument("record")
@single_card_option(required=False)
@click.option("--pickup", metavar="LOCATION", help="Pickup location, by code or name (a unique prefix will do).")
@click.option("--accept-terms", is_flag=True,
              help="Accept the library's terms for the hold, where it asks (they are shown otherwise).")
@json_option
def hold_place(record, card, pickup, accept_terms, as_json):
    """Place a hold on a record (IDs come from `libcli search`).

    Without --pickup: the card's default pickup location, or on a terminal a
    choice from the library's list; in a script, an error that lists them.

    \b
    Examples:
      libcli hold place helmet.1234567 --card mine --pickup Oodi
      libcli hold place heili.998877 --card kid
    """
    from libcli.account import AccountService
    from libcli.errors import NotSupported, TermsNotAccepted

    chosen = common.one_card(card)
    pickup = pickup or chosen.pickup

    async def main():
        async with AccountService().open([chosen]) as run:
            nonlocal pickup
            if pickup is None:
                [locs] = await run.gather(lambda b: b.pickup_locations(record))
                if locs.error:
                    return locs
                # One choice is no choice; otherwise ask, or in a script list them.
                pickup = locs.value[0].code if len(locs.value) == 1 else _ask_pickup(locs.value)
            async def place(b):
                async with run.exclusive(b.card):  # one writer per account across processes
                    return await b.place_hold(record, pickup, accept_terms=accept_terms)

            [placed] = await run.gather(place)
            return placed

    result = common.run(main)
    if result.error:
        if isinstance(result.error, NotSupported):
            raise result.error
        if isinstance(result.error, TermsNotAccepted) and not result.error.hint:
            result.error.hint = ("The library's terms:\n  " + output.clean(result.error.terms)
                                 + "\nTo accept them, run the command again with --accept-terms.")
        common.card_failed(chosen, result.error)
    placed = replace(result.value, card=chosen.name)
    if as_json:
        output.emit_json(placed.to_dict())
    elif placed.placed:
        where = f" for pickup at {output.clean(placed.pickup_location)}" if placed.pickup_location else ""
        output.info(f"Hold placed on {record}{where}.")
    else:
        output.info(f"The library did not place the hold: {output.clean(placed.message)}")
    click.get_current_context().exit(0 if placed.placed else 3)


def _ask_pickup(locations) -> str:
    names = "\n".join(f"  {p.code}: {p.name}" for p in locations)
    if not output.isatty_stdin():
        raise UsageError("which pickup location? there is no terminal to ask; add --pickup LOCATION",
                         hint=f"the library offers:\n{output.clean_multiline(names)}")
    for i, p in enumerate(locations, 1):
        click.echo(f"  {i:2d}. {output.clean(p.name)} ({output.clean(p.code)})", err=True)
    choice = output.ask("Pickup location", type=click.IntRange(1, len(locations)))
    return locations[choice - 1].code


@hold.command("cancel")
@click.argument("ids", nargs=-1, required=True, shell_complete=complete_ids("holds"))
@card_option
@yes_option("Do not ask for confirmation on a terminal.")
@json_option
def hold_cancel(ids, cards, yes, as_json):
    """Cancel holds by ID (from `libcli holds`; unique prefixes work).

    On a terminal it asks first (--yes does not); a script is not asked.
    A hold already waiting for you at the library cannot be cancelled
    online: contact the pickup library. Exits 3 when some were not cancelled.

    \b
    Examples:
      libcli hold cancel 5be0a1
      libcli hold cancel 5be 91c --json
    """
    from libcli.account import AccountService

    today = common.today()
    selected = common.select_cards(cards)

    async def main():
        async with AccountService(today=today).open(selected) as run:
            fetched = await fetch_holds(run, today)
            holds_ = [h for r in fetched if r.ok for h in r.value]
            failed = [r.card.name for r in fetched if not r.ok]
            chosen = common.resolve_ids(holds_, ids, "hold", failed)
            by_card: dict[str, list[Hold]] = {}
            for h in chosen:
                if h.cancellable:
                    by_card.setdefault(h.card, []).append(h)
            going = [h for hs in by_card.values() for h in hs]
            if going and not yes and output.isatty_stdin():
                listed = "".join(f"\n  {h.id}  {output.clean(h.title)} ({output.clean(h.card)})"
                                 for h in going)
                if not output.confirm(f"Cancel {len(going)} hold{'s' if len(going) > 1 else ''}?"
                                      f"{listed}\n"):
                    raise click.exceptions.Abort()

            async def cancel(b):
                # One writer per account across processes; holds another
                # process cancelled meanwhile are not posted again.
                async with run.exclusive(b.card) as changed:
                    mine, gone = by_card[b.card.name], []
                    if changed:
                        now = {h.id for h in await b.holds()}
                        gone = [CancelResult(h.id, h.title, True, "already cancelled")
                                for h in mine if h.id not in now]
                        mine = [h for h in mine if h.id in now]
                    return (await b.cancel_holds(mine) if mine else []) + gone

            posted = await run.gather(cancel, cards=[c for c in selected if c.name in by_card])
            return fetched, chosen, posted

    fetched, chosen, posted = common.run(main)
    errors = common.report(fetched + posted)
    got = {res.hold_id: res for r in posted if r.ok for res in r.value}
    rows = []
    for h in chosen:
        res = got.get(h.id)
        if res is None:
            if not h.cancellable:
                msg = ("already waiting at the library: it cannot be cancelled online; "
                       "contact the pickup library" if h.status is HoldStatus.READY else
                       "the library does not allow cancelling this hold online")
            else:
                msg = "not attempted: the card's library failed (see above)"
            res = CancelResult(h.id, h.title, False, msg)
        rows.append(replace(res, card=h.card))
    if as_json:
        output.emit_json({"results": [r.to_dict() for r in rows], "errors": errors})
    else:
        output.table(["ID", "Card", "Title", "Result"],
                     [[r.hold_id, r.card, output.clean(r.title),
                       output.styled("cancelled", "green") if r.cancelled
                       else output.styled(f"not cancelled: {output.clean(r.message)}", "red")]
                      for r in rows],
                     drop=("Card",), squeeze=("Title",), wrap=("Result",))
    common.finish(fetched + posted, partial=any(not r.cancelled for r in rows))


@click.command()
@click.argument("query")
@library_option(help="Search this library's catalogue (default: the default card's library).")
@single_card_option(required=False)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
def search(query, library, card, limit, as_json):
    """Search a library's catalogue for titles to place holds on.

    \b
    Examples:
      libcli search "muumipeikko" --library helmet
      libcli search "dune" --library heili --json | jq -r '.results[0].record_id'
    """
    from libcli.account import AccountService
    from libcli.cards import CardStore
    from libcli.model import Card
    from libcli.policy import get_consortium

    store = CardStore()
    if card:
        chosen = store.get(card)
    else:
        if library is None:
            default = store.default()
            if default is None:
                raise UsageError(f"which library? add --library ID (see `{command('libraries')}`)")
            library = default.library
        get_consortium(library)
        # A stored card of that library tells its address (e.g. a demo library).
        chosen = next((c for c in store.cards() if c.library == library), None) \
            or Card(name=f"({library})", library=library, number="-")

    def no_pin():
        raise UsageError("searching needs no login")

    [result] = AccountService(pin_source=lambda c: no_pin()).run(
        [chosen], lambda b: b.search(query, limit=limit))
    if result.error:
        raise result.error
    if as_json:
        output.emit_json({"results": [r.to_dict() for r in result.value]})
        return
    if not result.value:
        output.info("No titles found.")
        return
    output.table(["Record", "Title", "Author", "Year", "Format"],
                 [[output.clean(r.record_id), output.clean(r.title),
                   output.clean(", ".join(r.authors)), output.clean(r.year),
                   output.clean(", ".join(r.formats))] for r in result.value],
                 drop=("Format", "Year", "Author"), squeeze=("Title", "Author", "Format"))
