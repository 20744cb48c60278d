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

from libcli import __version__
from libcli.errors import ExitCode, LibcliError

EXIT_CODES = """\b
Exit codes:
  0  done
  1  error (bad config, no PIN, no keyring, ...)
  2  usage error (unknown option, card, library or ID)
  3  partly done (some items not renewed or cancelled)
  4  login refused by the library
  5  library unreachable
  6  a library page was not understood"""

ROOT_HELP = """Library cards, loans, renewals, holds and fees from the command line.

\b
Try it on the built-in demo library first:
  libcli demo
\b
Then with your own card (the PIN is asked for, hidden, and kept in the keyring):
  libcli card add mine --library helmet --number 1234567
  libcli loans
  libcli renew --due-within 2
"""

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


class LazyGroup(click.Group):
    """Loads a command's module only when that command is used."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def format_commands(self, ctx, formatter):
        # As click's, but from SUMMARIES: `--help` imports no command module.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit))
                for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        import importlib

        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx):
        # The one place errors become messages and exit codes, so that the
        # installed command and tests driving `cli` through CliRunner agree.
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except LibcliError as exc:
            print_error(exc)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("\nlibcli: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # the last line of defence: no traceback for users
            if os.environ.get("LIBCLI_RAISE_ERRORS"):
                raise
            from libcli.redact import redact

            click.echo(redact(f"libcli: unexpected error: {type(exc).__name__}: {exc}"), err=True)
            click.echo("This is a bug in libcli. Rerun with LIBCLI_RAISE_ERRORS=1 for the "
                       "traceback.", err=True)
            ctx.exit(int(ExitCode.ERROR))


class State:
    def __init__(self, color: bool, verbose: int):
        self.color = color
        self.verbose = verbose


def _color_wanted(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


@click.group(cls=LazyGroup, help=ROOT_HELP, epilog=EXIT_CODES,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="libcli")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour output (auto: only on a terminal; NO_COLOR is honoured).")
@click.option("--no-color", is_flag=True, help="Same as --color never.")
@click.option("-v", "--verbose", count=True, help="Log what happens on stderr (-vv: HTTP too). PINs never appear.")
@click.pass_context
def cli(ctx, color, no_color, verbose):
    ctx.obj = State(color=_color_wanted("never" if no_color else color), verbose=verbose)
    # click.echo strips styles off a non-terminal unless the context says so.
    ctx.color = ctx.obj.color
    if verbose:
        import logging

        from libcli.redact import RedactingFilter

        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(RedactingFilter())
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        if verbose < 2:
            for noisy in ("httpx", "httpcore", "hpack", "asyncio"):
                logging.getLogger(noisy).setLevel(logging.WARNING)


def print_error(exc: LibcliError, prefix: str = "error") -> None:
    from libcli.redact import redact

    click.echo(redact(f"libcli: {prefix}: {exc.message}"), err=True)
    for problem in exc.problems:
        click.echo(redact(f"  - {problem}"), err=True)
    if exc.hint:
        click.echo(redact(exc.hint), err=True)


def main() -> None:
    cli.main(prog_name="libcli")
