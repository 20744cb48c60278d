"""Option bundles shared by commands, and their shell completion."""

from __future__ import annotations

import click

from libcli.i18n import N_


def _complete_cards(ctx, param, incomplete):
    from click.shell_completion import CompletionItem

    from libcli.cards import CardStore
    from libcli.errors import LibcliError

    try:
        cards = CardStore().cards()
    except LibcliError:
        return []
    return [CompletionItem(c.name, help=f"{c.library} {c.number}") for c in cards
            if c.name.startswith(incomplete)]


def _complete_libraries(ctx, param, incomplete):
    from click.shell_completion import CompletionItem

    from libcli.policy import consortia

    return [CompletionItem(cid, help=c.name) for cid, c in consortia().items()
            if cid.startswith(incomplete)]


def complete_ids(kind: str):
    """Complete loan or hold IDs from the last snapshot, with titles as help."""

    def complete(ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        from libcli import storage
        from libcli.snapshot import saved_items

        items = []
        folder = storage.cache_dir() / "snapshots"
        try:
            names = sorted(p.stem for p in folder.glob("*.json"))
        except OSError:
            return []
        for name in names:
            try:
                entries = saved_items(name, kind) or []
            except ValueError:  # damaged: `libcli loans` says so; completion stays quiet
                continue
            for entry in entries:
                if entry.id.startswith(incomplete):
                    items.append(CompletionItem(entry.id, help=f"{name}: {entry.title}"[:60]))
        return items

    return complete


def card_option(f):
    return click.option(
        "--card", "cards", multiple=True, metavar="NAME", shell_complete=_complete_cards,
        help="Only this card (repeatable). Default: all cards.",
    )(f)


def single_card_option(required: bool = True):
    return click.option("--card", "card", required=required, metavar="NAME",
                        shell_complete=_complete_cards, help="The card to use.")


def _json_wanted(ctx, param, value):
    if value:
        from libcli import i18n
        from libcli.cli.output import JSON_WANTED

        ctx.meta[JSON_WANTED] = True
        # A JSON document reads the same whatever the locale.
        i18n.neutral()
    return value


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, callback=_json_wanted,
                        help="Print one JSON document on stdout, nothing else.")(f)


def yes_option(help: str = N_("Do not ask for confirmation (needed in scripts).")):
    return click.option("--yes", "-y", is_flag=True, help=help)


def library_option(required: bool = False, **kw):
    return click.option("--library", "library", required=required, metavar="ID",
                        shell_complete=_complete_libraries, **kw)
