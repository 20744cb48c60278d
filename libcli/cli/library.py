"""`libcli library ...`: libraries the user adds, on a system libcli speaks."""

from __future__ import annotations

import click

from libcli.cli import output
from libcli.cli.options import json_option
from libcli.demo import typed
from libcli.i18n import N_, _


@click.group()
def library():
    """Add, list and remove your own libraries (Finna, WebPAC or Primo VE sites).

    \b
    Examples:
      libcli library add kirjasto --backend finna --url https://kirjasto.finna.fi
      libcli library add mtl --backend webpac --url https://nelligan.ville.montreal.qc.ca --date-order ymd
      libcli library add uef --backend primo --url https://uef.primo.exlibrisgroup.com --view 358FIN_UEF:VU1
      libcli library list
    """


@library.command("add")
@click.argument("library_id", metavar="ID")
@click.option("--backend", "backend", required=True,
              type=click.Choice(["finna", "webpac", "primo"]), help="The library's system.")
@click.option("--url", required=True, metavar="URL", help="The library's address (https).")
@click.option("--name", metavar="NAME", help="A name to show (default: the ID).")
@click.option("--login-target", metavar="T", help="Finna: the library posted with the login.")
@click.option("--date-order", type=click.Choice(["dmy", "mdy", "ymd"]),
              help="WebPAC: how the site prints dates (default dmy).")
@click.option("--language", metavar="CODE", help="The site's language for libcli (fi, sv, en, eng, est...).")
@click.option("--view", metavar="VID", help="Primo VE: the view id, e.g. 358FIN_UEF:VU1.")
@click.option("--no-check", is_flag=True, help="Keep it without asking the site first.")
@json_option
def library_add(library_id, backend, url, name, login_target, date_order, language, view,
                no_check, as_json):
    """Add a library on a system libcli speaks; the site is checked first.

    Cards then use it with `libcli card add NAME --library ID ...`. No rules
    are known for it: renewability, counts and the online-payment minimum are
    what the library's own pages say.

    \b
    Examples:
      libcli library add vaski2 --backend finna --url https://vaski.finna.fi --login-target vaski
      libcli library add nypl --backend webpac --url https://catalog.nypl.org --date-order mdy
    """
    import asyncio

    from libcli import libraries
    from libcli.policy import consortium_from

    entry = libraries.entry_for(library_id, backend=backend, url=url, name=name,
                                login_target=login_target, date_order=date_order,
                                language=language, view=view)
    if not no_check:
        asyncio.run(libraries.check_site(consortium_from(library_id, entry, source="user")))
    libraries.save(library_id, entry)
    if as_json:
        output.emit_json({"library": {"id": library_id, **entry}, "checked": not no_check})
        return
    checked = "" if no_check else _(" (the site answered as a {system} site)").format(
        system=_system(backend))
    click.echo(_("Added library {id}{checked}. "
                 "Add a card with: libcli card add NAME --library {id} --number CARD").format(
        id=library_id, checked=checked))


@library.command("list")
@json_option
def library_list(as_json):
    """List the libraries you added.

    \b
    Examples:
      libcli library list
      libcli library list --json
    """
    from libcli.libraries import user_libraries

    mine = list(user_libraries().values())
    if as_json:
        output.emit_json({"libraries": [c.to_dict() for c in mine]})
        return
    if not mine:
        click.echo(typed(_("You have added no libraries (libcli library add --help).")))
        return
    output.table([N_("ID"), N_("Name"), N_("System"), N_("Address")],
                 [[c.id, c.name, _system(c.backend), c.url] for c in mine],
                 drop=("Address",), squeeze=("Name",))


@library.command("remove")
@click.argument("library_id", metavar="ID")
def library_remove(library_id):
    """Remove a library you added (cards on it must be removed first).

    \b
    Examples:
      libcli library remove nypl
    """
    from libcli import libraries
    from libcli.cards import CardStore
    from libcli.errors import UsageError

    users = [c.name for c in CardStore().cards() if c.library == library_id]
    if users:
        raise UsageError(_("cards use the library {id}: {cards}").format(
            id=library_id, cards=", ".join(users)),
                         hint=_("remove them first: libcli card remove NAME"))
    libraries.remove(library_id)
    click.echo(_("Removed library {id}.").format(id=library_id))


@library.command("check")
@click.option("--card", "card_name", metavar="NAME", help="The card to check with (default: the default card).")
@json_option
def library_check(card_name, as_json):
    """Check what works on a card's library: a report to paste into a bug report.

    Logs in afresh and reads, without changing anything: login, loans, the
    renew form, holds, the cancel form, fines and the payment block, and one
    record's hold form. The report holds no PIN, card number, name or title.

    \b
    Examples:
      libcli library check --card mine
      libcli library check --card mine --json > report.json
    """
    from libcli import checkup
    from libcli.cli import common

    chosen = common.one_card(card_name)

    report = common.service([chosen]).check_library(chosen)
    if as_json:
        output.emit_json(report)
    else:
        click.echo(_("libcli {version}, library {id} ({system}, {host})").format(
            version=report["libcli"], id=report["library"], system=_system(report["system"]),
            host=report["host"]))
        marks = {True: _("ok"), False: _("FAILED"), None: "-"}
        output.table([N_("Function"), N_("Result"), N_("Detail")],
                     [[s["function"], marks[s["ok"]], s["detail"]] for s in report["checks"]],
                     wrap=("Detail",))
    raise SystemExit(checkup.exit_code(report))


def _system(backend: str) -> str:
    return {"finna": "Finna", "webpac": "WebPAC", "primo": "Primo VE"}.get(backend, backend)
