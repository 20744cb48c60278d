"""`libcli holds`, `libcli hold place|cancel|pickups` and `libcli search`."""

from __future__ import annotations

from datetime import date

import click

from libcli.cli import SuggestingGroup, common, output
from libcli.cli.options import (card_option, complete_ids, json_option, library_option,
                                single_card_option, yes_option)
from libcli.demo import typed
from libcli.errors import UsageError
from libcli.i18n import N_, _, ngettext
from libcli.model import Hold, HoldStatus


def hold_state(h: Hold) -> str:
    if h.status is HoldStatus.READY:
        return (_("ready, pick up by {date}").format(date=output.day(h.pickup_by)) if h.pickup_by
                else _("ready for pickup"))
    if h.status is HoldStatus.IN_TRANSIT:
        return _("in transit")
    if h.queue_position and h.queue_length:
        return _("waiting, #{position} of {length} in queue").format(
            position=h.queue_position, length=h.queue_length)
    if h.queue_position:
        return _("waiting, #{position} in queue").format(position=h.queue_position)
    return _("waiting")


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
    selected = common.select_cards(cards)
    results = common.service(selected).read_holds(selected)
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
            [N_("ID"), N_("Card"), N_("Title"), N_("Status"), N_("Pickup at"), N_("Expires")],
            [[h.id, output.clean(h.card), output.clean(h.title),
              output.styled(hold_state(h), output.STATUS_COLOURS.get(h.status)),
              output.clean(h.pickup_location), output.day(h.expires)] for h in shown],
            drop=("Expires", "Card", "Pickup at"), squeeze=("Title", "Pickup at"),
        )
    elif not errors:
        output.info(_("No holds ready for pickup.") if ready else _("No holds."))
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
    chosen = common.one_card(card)
    [result] = common.service([chosen]).run([chosen], lambda b: b.pickup_locations(record))
    if result.error:
        raise result.error
    if as_json:
        output.emit_json({"pickup_locations": [p.to_dict() for p in result.value]})
        return
    output.table([N_("Code"), N_("Name"), N_("Default")],
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
    from libcli.errors import NotSupported, TermsNotAccepted

    chosen = common.one_card(card)
    result = common.service([chosen]).place_hold(
        chosen, record, pickup or chosen.pickup, accept_terms=accept_terms,
        choose_pickup=_ask_pickup)
    if result.error:
        if isinstance(result.error, NotSupported):
            raise result.error
        if isinstance(result.error, TermsNotAccepted) and not result.error.hint:
            result.error.hint = _("The library's terms:\n  {terms}\nTo accept them, run the "
                                  "command again with --accept-terms.").format(
                terms=output.clean(result.error.terms))
        common.card_failed(chosen, result.error)
    placed = result.value
    if as_json:
        output.emit_json(placed.to_dict())
    elif placed.placed:
        output.info(_placed_text(placed, record))
    else:
        output.info(_("The library did not place the hold: {reason}").format(
            reason=output.clean(placed.message)))
    click.get_current_context().exit(0 if placed.placed else 3)


def _placed_text(placed, record: str) -> str:
    what = f"{output.clean(placed.title)} ({record})" if placed.title else record
    hold_id = _(", ID {id}").format(id=placed.hold_id) if placed.hold_id else ""
    where = (_(", for pickup at {place}").format(place=output.clean(placed.pickup_location))
             if placed.pickup_location else "")
    return _("Hold placed on {what}{id}{where}.").format(what=what, id=hold_id, where=where)


def _ask_pickup(locations) -> str:
    """On a terminal: the library's list, answered by number, code, name or a
    unique start of one (as --pickup takes it); Enter takes the library's
    default. In a script: an error that lists them."""
    from libcli.backends.shared import choose_pickup

    names = "\n".join(f"  {p.code}: {p.name}" for p in locations)
    if not output.isatty_stdin():
        raise UsageError(_("which pickup location? there is no terminal to ask; add --pickup LOCATION"),
                         hint=_("the library offers:") + "\n" + output.clean_multiline(names))
    for i, p in enumerate(locations, 1):
        mark = "  " + _("(default)") if p.default else ""
        click.echo(f"  {i:2d}. {output.clean(p.name)} ({output.clean(p.code)}){mark}", err=True)
    default = next((p.name for p in locations if p.default), None)
    while True:
        answer = output.ask(_("Pickup location (number or name)"), default=default).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(locations):
            return locations[int(answer) - 1].code
        try:
            return choose_pickup(locations, answer).code
        except UsageError as exc:  # not one of them, or several: ask again
            output.warn(output.clean(exc.message))


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
    selected = common.select_cards(cards)
    confirm = None if yes or not output.isatty_stdin() else _confirm_cancel
    report = common.service(selected).cancel_holds(selected, ids, confirm=confirm)
    errors = common.report(report.results)
    if as_json:
        output.emit_json({"results": [r.to_dict() for r in report.rows], "errors": errors})
    else:
        output.table([N_("ID"), N_("Card"), N_("Title"), N_("Result")],
                     [[r.hold_id, r.card, output.clean(r.title),
                       output.styled(_("cancelled"), "green") if r.cancelled
                       else output.styled(_("not cancelled: {reason}").format(
                           reason=output.clean(typed(r.message))), "red")]
                      for r in report.rows],
                     drop=("Card",), squeeze=("Title",), wrap=("Result",))
    common.finish(report.results, partial=report.partial)


def _confirm_cancel(holds: list[Hold]) -> bool:
    listed = "".join(f"\n  {h.id}  {output.clean(h.title)} ({output.clean(h.card)})" for h in holds)
    question = ngettext("Cancel {n} hold?", "Cancel {n} holds?", len(holds)).format(n=len(holds))
    if not output.confirm(f"{question}{listed}\n"):
        raise click.exceptions.Abort()
    return True


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
    chosen = _catalogue_card(card, library)

    def no_pin():
        raise UsageError(_("searching needs no login"))

    [result] = common.service([chosen], pin_source=lambda c: no_pin()).run(
        [chosen], lambda b: b.search(query, limit=limit))
    if result.error:
        raise result.error
    if as_json:
        output.emit_json({"results": [r.to_dict() for r in result.value]})
        return
    if not result.value:
        output.info(_("No titles found."))
        return
    output.table([N_("Record"), N_("Title"), N_("Author"), N_("Year"), N_("Format")],
                 [[output.clean(r.record_id), output.clean(r.title),
                   output.clean(", ".join(r.authors)), output.clean(r.year),
                   output.clean(", ".join(r.formats))] for r in result.value],
                 drop=("Format", "Year", "Author"), squeeze=("Title", "Author", "Format"))


def _catalogue_card(card: str | None, library: str | None):
    """The card whose library's catalogue to search: the named card, else a
    stored card of the library (it tells the address, e.g. a demo's), else
    the default card's library."""
    from libcli.cards import CardStore
    from libcli.model import Card
    from libcli.policy import get_consortium

    store = CardStore()
    if card:
        return store.get(card)
    if library is None:
        default = store.default()
        if default is None:
            raise UsageError(_("which library? add --library ID (see `libcli libraries`)"))
        library = default.library
    get_consortium(library)
    return next((c for c in store.cards() if c.library == library), None) \
        or Card(name=f"({library})", library=library, number="-")
