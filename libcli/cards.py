"""The card store: card records in a config file, PINs in the OS keyring.

The config file (``cards.json`` in the config dir) holds only what is not
secret. A PIN lives in the keyring under service ``libcli`` and the user name
``<library>:<card number>`` (stable when a card is renamed), or comes from
the card's ``pin_command``, whose standard output is the PIN (as msmtp's
passwordeval and vdirsyncer's fetch do) for machines with no keyring.

Every change is a locked read-modify-write with an atomic replace, so
concurrent libcli processes never corrupt the file or lose a card.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from msgspec import structs

from libcli import storage
from libcli.errors import ConfigError, NoKeyringError, PinError, UsageError
from libcli.i18n import _
from libcli.model import Card

SERVICE = "libcli"
CONFIG_VERSION = 1
# Letters of any language (`äiti`, `Åsa`), digits, '.', '_' and '-' (\w is
# Unicode-aware); a new name is kept in NFC, as a terminal usually types it.
NAME_RE = re.compile(r"^[^\W_][\w.-]{0,39}$")
PIN_COMMAND_TIMEOUT = 30
# A keyring that does not answer (a locked Secret Service waiting for an
# unlock prompt nobody sees, a hung D-Bus) fails its card after this long.
KEYRING_TIMEOUT = 10.0

NO_KEYRING_HINT = (
    "There is no usable keyring on this machine (a server, a container, or cron "
    "without a D-Bus session). Either:\n"
    "  - give the card a PIN command instead: libcli card add ... --pin-command 'pass show library/card'\n"
    "  - install a keyring backend, e.g. `pip install keyrings.alt` (an encrypted or plain file keyring),\n"
    "    or run a Secret Service (GNOME Keyring, KeePassXC) and export DBUS_SESSION_BUS_ADDRESS"
)


def config_path() -> Path:
    return storage.config_dir() / "cards.json"


def keyring_user(card: Card) -> str:
    return f"{card.library}:{card.number}"


def validate_name(name: str) -> str:
    import unicodedata

    name = unicodedata.normalize("NFC", name)
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            _("invalid card name {name}: use letters, digits, '.', '_' or '-' "
              "(at most 40, starting with a letter or digit)").format(name=repr(name))
        )
    return name


# --- the config file ---------------------------------------------------------


def _card_from(data: dict[str, Any], path: Path) -> Card:
    fields = {f.name for f in structs.fields(Card)}
    try:
        return Card(**{k: v for k, v in data.items() if k in fields})
    except TypeError as exc:
        raise ConfigError(f"the config file {path} has a malformed card entry: {exc}") from None


def _load(path: Path) -> dict[str, Card]:
    raw = storage.read_json(path, what="config file")
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("cards"), list):
        raise ConfigError(
            f"the config file {path} does not look like a libcli config (no 'cards' list); "
            "it was left untouched"
        )
    version = raw.get("meta", {}).get("version", 1)
    if version > CONFIG_VERSION:
        raise ConfigError(
            f"the config file {path} was written by a newer libcli (format {version}); "
            "upgrade libcli"
        )
    cards: dict[str, Card] = {}
    for entry in raw["cards"]:
        if not isinstance(entry, dict):
            raise ConfigError(f"the config file {path} has a malformed card entry")
        card = _card_from(entry, path)
        cards[card.name] = card
    return cards


def _save(path: Path, cards: dict[str, Card]) -> None:
    # Written through a symbolic link to its target (a config kept in a
    # dotfiles repository stays a link).
    try:
        storage.write_json(
            path,
            {
                "meta": {"version": CONFIG_VERSION, "note": "PINs are not stored here"},
                "cards": [c.to_dict() for c in cards.values()],
            },
            follow_symlink=True,
        )
    except OSError as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc.strerror or exc}; "
                          "nothing was changed",
                          hint="check that the disk has room and the directory is writable"
                          ) from None



class CardStore:
    def __init__(self, path: Path | None = None):
        self.path = path or config_path()

    def cards(self) -> list[Card]:
        return list(_load(self.path).values())

    def get(self, name: str) -> Card:
        cards = _load(self.path)
        try:
            return cards[name]
        except KeyError:
            raise UsageError(_unknown(name, cards)) from None

    def select(self, names: tuple[str, ...] | list[str] = ()) -> list[Card]:
        """The named cards, or all cards when none are named."""
        cards = _load(self.path)
        if not names:
            if not cards:
                raise UsageError(
                    _("no cards yet"),
                    hint=_("add one with: libcli card add NAME --library ID --number CARD "
                           "(or try the demo library: libcli demo)"),
                )
            return list(cards.values())
        out = []
        for name in dict.fromkeys(names):
            if name not in cards:
                raise UsageError(_unknown(name, cards))
            out.append(cards[name])
        return out

    def add(self, card: Card, *, store_pin: Callable[[Card], None] | None = None,
            forget_pin: Callable[[Card], None] | None = None) -> Card:
        """Add a card; the PIN is stored first and removed again if the config write fails."""
        validate_name(card.name)
        with storage.locked(self.path):
            cards = _load(self.path)
            if card.name in cards:
                raise UsageError(_("a card named '{card}' already exists").format(card=card.name),
                                 hint=_("pick another name or: libcli card remove {card}").format(
                                     card=card.name))
            for other in cards.values():
                # A card is the library, the number and the site: the same
                # number on another address (a local demo library) is another card.
                if (other.library, other.number, other.url or None) == (
                        card.library, card.number, card.url or None):
                    raise UsageError(
                        f"card {card.number} at {card.library} is already stored as '{other.name}'"
                    )
            if not cards:
                card = structs.replace(card, default=True)
            if store_pin:
                store_pin(card)
            try:
                cards[card.name] = card
                _save(self.path, cards)
            except BaseException:
                if forget_pin:
                    forget_pin(card)
                raise
        return card

    def remove(self, name: str, *, forget_pin: Callable[[Card], None] | None = None) -> Card:
        with storage.locked(self.path):
            cards = _load(self.path)
            if name not in cards:
                raise UsageError(_unknown(name, cards))
            card = cards.pop(name)
            if card.default and cards:
                first = next(iter(cards))
                cards[first] = structs.replace(cards[first], default=True)
            _save(self.path, cards)
            # Only once the config no longer names the card is its PIN dropped
            # (a failed write never leaves a card without its PIN), and still
            # under the lock, so a concurrent re-add of the same card keeps
            # the PIN it just stored.
            if forget_pin:
                forget_pin(card)
        return card

    def update(self, name: str, /, **changes: Any) -> Card:
        with storage.locked(self.path):
            cards = _load(self.path)
            if name not in cards:
                raise UsageError(_unknown(name, cards))
            new_name = changes.get("name", name)
            if new_name != name:
                validate_name(new_name)
                if new_name in cards:
                    raise UsageError(f"a card named '{new_name}' already exists")
            card = structs.replace(cards[name], **changes)
            cards = {(new_name if k == name else k): (card if k == name else v)
                     for k, v in cards.items()}
            _save(self.path, cards)
        return card

    def set_default(self, name: str) -> Card:
        with storage.locked(self.path):
            cards = _load(self.path)
            if name not in cards:
                raise UsageError(_unknown(name, cards))
            cards = {k: structs.replace(v, default=(k == name)) for k, v in cards.items()}
            _save(self.path, cards)
        return cards[name]

    def default(self) -> Card | None:
        cards = self.cards()
        return next((c for c in cards if c.default), cards[0] if len(cards) == 1 else None)


def _unknown(name: str, cards: dict[str, Card]) -> str:
    known = ", ".join(sorted(cards)) or _("none yet")
    return _("unknown card '{card}' (cards: {known})").format(card=name, known=known)


# --- PIN sources -------------------------------------------------------------


def keyring_backend():
    """The usable keyring backend, or raise NoKeyringError with the ways out."""
    try:
        import keyring
        import keyring.backends.fail

        backend = keyring.get_keyring()
    except Exception as exc:  # e.g. PYTHON_KEYRING_BACKEND names a missing module
        raise NoKeyringError(f"the keyring could not be loaded ({type(exc).__name__}: {exc})",
                             hint=NO_KEYRING_HINT) from None
    names = {type(backend).__module__ + "." + type(backend).__name__}
    chained = getattr(backend, "backends", None)
    if chained is not None and not chained:
        raise NoKeyringError("no keyring backend is available", hint=NO_KEYRING_HINT)
    if isinstance(backend, keyring.backends.fail.Keyring) or any(
        n.startswith("keyring.backends.null") for n in names
    ):
        raise NoKeyringError("no keyring backend is available", hint=NO_KEYRING_HINT)
    return backend


def keyring_description() -> str:
    try:
        backend = keyring_backend()
    except NoKeyringError:
        return "none (use --pin-command, or install a keyring backend)"
    return f"{type(backend).__module__}.{type(backend).__name__}"


def store_pin(card: Card, pin: str) -> None:
    backend = keyring_backend()
    # Noted before it is stored: a process killed right after storing it
    # leaves a PIN that the index still names, so the next card command
    # removes it if no card uses it (the keyring cannot list its entries).
    _index_update(add=keyring_user(card))
    try:
        backend.set_password(SERVICE, keyring_user(card), pin)
    except Exception as exc:  # keyring backends raise many kinds
        raise NoKeyringError(
            f"the keyring refused to store the PIN ({exc.__class__.__name__})",
            hint=NO_KEYRING_HINT,
        ) from None


def forget_pin(card: Card) -> None:
    if card.demo:
        return
    _forget(keyring_user(card))


def _forget(user: str) -> None:
    import keyring.errors

    try:
        backend = keyring_backend()
        _with_deadline(lambda: backend.delete_password(SERVICE, user), "remove a PIN from")
    except keyring.errors.PasswordDeleteError:
        pass  # already gone
    except Exception:  # a locked or hung keyring: the index keeps the name, a later run retries
        return
    _index_update(remove=user)


# --- the index of PINs libcli stored ------------------------------------------


def index_path() -> Path:
    return storage.config_dir() / "keyring-index.json"


def _index_read() -> list[str]:
    try:
        raw = storage.read_json(index_path(), what="keyring index")
    except ConfigError:
        return []
    users = raw.get("users") if isinstance(raw, dict) else None
    return [u for u in users if isinstance(u, str)] if isinstance(users, list) else []


def _index_update(*, add: str | None = None, remove: str | None = None) -> None:
    """Names only (library:card number, as cards.json has them), never PINs."""
    path = index_path()
    try:
        with storage.locked(path):
            users = [u for u in _index_read() if u != remove]
            if add and add not in users:
                users.append(add)
            storage.write_json(path, {"version": 1, "note": "keyring entries libcli stored; "
                                      "no PINs here", "users": users})
    except (ConfigError, OSError) as exc:
        if add:  # without the note, a kill could leave a PIN nobody removes
            raise ConfigError(f"cannot note the PIN in {path}: "
                              f"{getattr(exc, 'message', None) or exc}") from None


def clean_orphan_pins(path: Path | None = None) -> list[str]:
    """Remove keyring PINs libcli stored for cards no longer in the config
    (a `card add` killed between storing the PIN and writing the config, a
    removal whose keyring call failed). Under the config lock, so a `card
    add` in progress (which holds it) keeps its PIN. Returns the names removed."""
    if not index_path().exists():
        return []
    path = path or config_path()
    # The common case, no orphan, is answered without taking the lock.
    if set(_index_read()) <= {keyring_user(c) for c in _load(path).values()}:
        return []
    with storage.locked(path):
        configured = {keyring_user(c) for c in _load(path).values() if not c.demo}
        orphans = [u for u in _index_read() if u not in configured]
        for user in orphans:
            _forget(user)
    return orphans


def _with_deadline(fn: Callable[[], Any], what: str, timeout: float | None = None) -> Any:
    """Call a keyring function in a daemon thread, giving up after a timeout
    (a daemon thread: a keyring that never answers cannot hold up exit)."""
    import concurrent.futures
    import threading

    future: concurrent.futures.Future = concurrent.futures.Future()

    def work():
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to the caller
            future.set_exception(exc)

    threading.Thread(target=work, name="libcli-keyring", daemon=True).start()
    limit = KEYRING_TIMEOUT if timeout is None else timeout
    try:
        return future.result(timeout=limit)
    except concurrent.futures.TimeoutError:
        raise PinError(f"the keyring did not answer in {limit:g} s when asked to {what} it",
                       hint="unlock the keyring, or give the card a --pin-command") from None


def pin_for(card: Card) -> str:
    """Fetch the card's PIN from its source. Called only when a login is needed."""
    if card.demo:  # the demo's service brings its own PINs (libcli.demo.account_service)
        raise PinError(f"card '{card.name}' belongs to the demo library",
                       hint="use it through: libcli demo COMMAND")
    from libcli.redact import no_core_dumps, register

    no_core_dumps()

    if card.pin_command:
        return register(_run_pin_command(card))
    backend = keyring_backend()
    try:
        pin = _with_deadline(lambda: backend.get_password(SERVICE, keyring_user(card)),
                             f"read card '{card.name}''s PIN from")
    except PinError:
        raise
    except Exception as exc:
        raise PinError(f"the keyring could not be read for card '{card.name}' "
                       f"({exc.__class__.__name__})", hint=NO_KEYRING_HINT) from None
    if not pin:
        raise PinError(
            _("no PIN stored for card '{card}'").format(card=card.name),
            hint=_("store it with: libcli card pin {card}").format(card=card.name),
        )
    return register(pin)


async def pin_for_async(card: Card) -> str:
    """`pin_for` without holding up the event loop: a PIN command may take
    seconds (pass asking gpg-agent), a keyring may hang; the other cards'
    requests go on meanwhile."""
    import asyncio

    return await asyncio.to_thread(pin_for, card)


def _run_pin_command(card: Card) -> str:
    import subprocess  # only here: most runs reuse a session and need no PIN

    try:
        done = subprocess.run(
            card.pin_command, shell=True, capture_output=True,
            timeout=PIN_COMMAND_TIMEOUT, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise PinError(f"the PIN command of card '{card.name}' did not finish in "
                       f"{PIN_COMMAND_TIMEOUT} s") from None
    if done.returncode != 0:
        # Its output is not shown: it might be the PIN.
        raise PinError(f"the PIN command of card '{card.name}' failed "
                       f"(exit status {done.returncode})")
    try:
        out = done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise PinError(f"the PIN command of card '{card.name}' printed something that is "
                       "not UTF-8 text") from None
    pin = out.splitlines()[0].strip() if out.strip() else ""
    if not pin:
        raise PinError(f"the PIN command of card '{card.name}' printed nothing")
    return pin


def check_pin(pin: str) -> str:
    pin = pin.strip("\r\n")
    if not pin.strip():
        raise PinError("the PIN is empty")
    if any(ord(ch) < 32 for ch in pin):
        raise PinError("the PIN contains control characters")
    return pin
