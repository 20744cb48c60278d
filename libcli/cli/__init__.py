"""The libcli command line: parse, call the library, render.

Start-up is kept light: this module and the command modules import only
click and libcli's own light modules; httpx, keyring, selectolax and
tabulate are imported inside the commands that use them, so `--help`,
`--version` and shell completion start fast.
"""

from __future__ import annotations

import os
import sys

import click

from libcli import __version__, i18n
from libcli.errors import ExitCode, LibcliError
from libcli.i18n import H_, N_, _

EXIT_CODES = N_("""\b
Exit codes:
  0  done
  1  error (bad config, no PIN, no keyring, ...)
  2  usage error (unknown option, card, library or ID)
  3  partly done (some items not renewed or cancelled)
  4  login refused by the library
  5  library unreachable
  6  a library page was not understood
  130  interrupted (Ctrl-C)""")

ROOT_HELP = H_("""Library cards, loans, renewals, holds and fees from the command line.

\b
Try it on the built-in demo library first:
  libcli demo
\b
Then with your own card (the PIN is asked for, hidden, and kept in the keyring):
  libcli card add mine --library helmet --number 1234567
  libcli loans
  libcli renew --due-within 2
""")

COMMANDS = {
    # name: (module, attribute)
    "card": ("libcli.cli.card", "card"),
    "libraries": ("libcli.cli.info", "libraries"),
    "library": ("libcli.cli.library", "library"),
    "doctor": ("libcli.cli.info", "doctor"),
    "loans": ("libcli.cli.loans", "loans"),
    "renew": ("libcli.cli.loans", "renew"),
    "holds": ("libcli.cli.holds", "holds"),
    "hold": ("libcli.cli.holds", "hold"),
    "search": ("libcli.cli.holds", "search"),
    "fees": ("libcli.cli.money", "fees"),
    "pay": ("libcli.cli.money", "pay"),
    "status": ("libcli.cli.digest", "status"),
    "remind": ("libcli.cli.digest", "remind"),
    "calendar": ("libcli.cli.digest", "calendar"),
    "demo": ("libcli.cli.demo", "demo"),
}


# The first paragraph of each command's help, so that `libcli --help` lists
# the commands without importing their modules (a test keeps them in sync).
SUMMARIES = {
    "card": "Add, list, rename and remove library cards.",
    "libraries": "List the known libraries and their main rules.",
    "library": "Add, list and remove your own libraries (Finna, WebPAC or Primo VE sites).",
    "doctor": "Show the keyring in use, libcli's paths and each card's PIN source.",
    "loans": "List the loans of every card, by due date.",
    "renew": "Renew loans by ID (unique prefixes work), all of them, or those due soon.",
    "holds": "List holds: waiting (queue position), in transit, or ready with the last pickup day.",
    "hold": "Place and cancel holds (reservations).",
    "search": "Search a library's catalogue for titles to place holds on.",
    "fees": "Show each card's fees, the total, and whether it can be paid online now.",
    "pay": "Pay a card's whole fee balance online, where the library allows it.",
    "status": "One line per card: loans, due soon, overdue, holds ready, balance.",
    "remind": "Print what needs attention; print nothing when nothing does (for cron).",
    "calendar": "Write an iCalendar file of due dates and pickup deadlines.",
    "demo": "Set up demo cards on the built-in demo library and show their loans.",
}


class SuggestingGroup(click.Group):
    """A group that answers a mistyped command with the close ones (difflib)."""

    def resolve_command(self, ctx, args):
        name = click.utils.make_str(args[0])
        known = self.list_commands(ctx)
        if not ctx.resilient_parsing and not name.startswith("-") and name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            hint = (" " + _("Did you mean {commands}?").format(
                commands=_(" or ").join(repr(c) for c in close))) if close else ""
            ctx.fail(_("No such command '{name}'.").format(name=name) + hint)
        return super().resolve_command(ctx, args)


class LazyGroup(SuggestingGroup):
    """Loads a command's module only when that command is used."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def main(self, args=None, **kwargs):
        # Each command line starts from the locale (tests run many in one
        # process); `--lang` is looked for before click parses anything, so
        # that `libcli loans --help --lang fi` is Finnish too.
        i18n.reset()
        argv = list(sys.argv[1:] if args is None else args)
        for i, arg in enumerate(argv):
            if arg == "--":
                break
            if arg == "--lang" and i + 1 < len(argv) and argv[i + 1] in i18n.LANGUAGES:
                i18n.choose(argv[i + 1])
            elif arg.startswith("--lang=") and arg[7:] in i18n.LANGUAGES:
                i18n.choose(arg[7:])
        if "_LIBCLI_COMPLETE" not in os.environ:  # completion never opens the catalogue
            i18n.install_in_click()
            i18n.localize_command(self)
            # The exit codes are one table, translated whole.
            self.epilog = _(EXIT_CODES)
        return super().main(args, **kwargs)

    def format_commands(self, ctx, formatter):
        # As click's, but from SUMMARIES: `--help` imports no command module.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.Command(name, help=_(SUMMARIES[name])).get_short_help_str(limit))
                for name in COMMANDS]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        import importlib

        module, attr = COMMANDS[name]
        command = getattr(importlib.import_module(module), attr)
        _accept_global_options(command)
        if not ctx.resilient_parsing:  # completion: English, no catalogue
            i18n.localize_command(command)
        return command

    def invoke(self, ctx):
        # The one place errors become messages and exit codes, so that the
        # installed command and tests driving `cli` through CliRunner agree.
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except LibcliError as exc:
            print_error(exc)
            from libcli.cli import output

            if output.json_pending():
                output.emit_json(output.error_document(exc))
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("\nlibcli: " + _("interrupted"), err=True)
            ctx.exit(130)
        except Exception as exc:  # the last line of defence: no traceback for users
            if os.environ.get("LIBCLI_RAISE_ERRORS"):
                raise
            from libcli.text import clean

            click.echo(_("libcli: unexpected error: {kind}: {message}").format(
                kind=type(exc).__name__, message=clean(exc)), err=True)
            click.echo(_("This is a bug in libcli. Rerun with LIBCLI_RAISE_ERRORS=1 for the "
                         "traceback."), err=True)
            ctx.exit(int(ExitCode.ERROR))


class State:
    """The run's settings: colour ("auto", "always" or "never"; output.color_on
    decides per stream) and verbosity."""

    def __init__(self, color: str, verbose: int):
        self.color = color
        self.verbose = 0
        self.log_handler = None
        self.set_verbose(verbose)

    def set_verbose(self, verbose: int) -> None:
        self.verbose = max(self.verbose, verbose)
        if not self.verbose:
            return
        import logging

        root = logging.getLogger()
        if self.log_handler is None:
            from libcli.redact import RedactingFilter

            self.log_handler = logging.StreamHandler(sys.stderr)
            self.log_handler.addFilter(RedactingFilter())
            self.log_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            root.addHandler(self.log_handler)
        root.setLevel(logging.DEBUG)
        for noisy in ("httpx", "httpcore", "hpack", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING if self.verbose < 2 else logging.NOTSET)


def _set_color(ctx: click.Context, choice: str) -> None:
    ctx.find_root().obj.color = choice
    # click.echo strips styles off a stream that is not a terminal, unless
    # the context says otherwise; `always` must survive a pipe.
    while ctx is not None:
        ctx.color = {"always": True, "never": False}.get(choice)
        ctx = ctx.parent


def _late_color(ctx, param, value):
    if value:
        _set_color(ctx, "never" if value is True else value)


def _late_verbose(ctx, param, value):
    if value:
        ctx.find_root().obj.set_verbose(value)


def _set_lang(ctx, param, value):
    i18n.choose(value)


def _lang_option(hidden: bool = False) -> click.Option:
    return click.Option(["--lang"], type=click.Choice(i18n.LANGUAGES), hidden=hidden,
                        expose_value=False, is_eager=True, callback=_set_lang,
                        help=N_("Language of libcli's own messages (default: from the locale, "
                                "LANGUAGE, LC_ALL, LC_MESSAGES or LANG)."))


def _accept_global_options(command: click.Command) -> None:
    """`libcli loans --no-color` and `libcli loans -v` work as they do before
    the command: each command also takes the global flags (hidden in its
    help and completion, which show them once, on `libcli`)."""
    if getattr(command, "_libcli_globals", False):
        return
    command._libcli_globals = True
    taken = {opt for p in command.params for opt in getattr(p, "opts", ())}
    extra = [
        click.Option(["--color"], type=click.Choice(["auto", "always", "never"]), hidden=True,
                     expose_value=False, callback=_late_color),
        click.Option(["--no-color"], is_flag=True, hidden=True, expose_value=False,
                     callback=_late_color),
        click.Option(["-v", "--verbose"], count=True, hidden=True, expose_value=False,
                     callback=_late_verbose),
        _lang_option(hidden=True),
    ]
    command.params.extend(o for o in extra if not taken & set(o.opts))
    for sub in getattr(command, "commands", {}).values():
        _accept_global_options(sub)


@click.group(cls=LazyGroup, help=ROOT_HELP, epilog=EXIT_CODES,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="libcli")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour output (auto: only on a terminal; NO_COLOR is honoured).")
@click.option("--no-color", is_flag=True, help="Same as --color never.")
@click.option("-v", "--verbose", count=True, help="Log what happens on stderr (-vv: HTTP too). PINs never appear.")
@click.pass_context
def cli(ctx, color, no_color, verbose):
    from libcli.cli.output import setup_streams

    setup_streams()
    ctx.obj = State(color="auto", verbose=verbose)
    _set_color(ctx, "never" if no_color else color)
    from libcli.cli import progress

    # A waiting line on stderr while libraries are slow, for the command's runs.
    ctx.with_resource(progress.on_stderr())


cli.params.append(_lang_option())


def print_error(exc: LibcliError, prefix: str = N_("error")) -> None:
    # Messages quote libraries (a search error, a refused payment): cleaned
    # of terminal escapes and PINs like any text from a library.
    from libcli.demo import typed
    from libcli.text import clean, clean_multiline

    click.echo(f"libcli: {_(prefix)}: {clean(typed(exc.message))}", err=True)
    for problem in exc.problems:
        click.echo(f"  - {clean(problem)}", err=True)
    if exc.hint:
        click.echo(clean_multiline(typed(exc.hint)), err=True)


def main() -> None:
    if "_LIBCLI_COMPLETE" in os.environ:
        _fish_completion_keeps_commas()
    cli.main(prog_name="libcli")


def _fish_completion_keeps_commas() -> None:
    """click's fish script splits each completion at every comma, so a help
    text ("Add, list, rename ...") was cut at its first: split once."""
    from click.shell_completion import FishComplete, add_completion_class

    class Fish(FishComplete):
        source_template = FishComplete.source_template.replace(
            'string split "," $completion', 'string split --max 1 "," $completion')

    add_completion_class(Fish, "fish")
