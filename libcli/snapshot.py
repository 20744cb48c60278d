"""The last successful view of each card's loans and holds, kept in the
cache for shell completion and ``loans --offline``.

A snapshot is the model's own Structs (libcli.model) written with msgspec's
JSON encoder and read back with its decoder: what is read is what was
written, every field. A file of another format version or of another shape
is ignored (and replaced at the next write); a file that is not JSON is
discarded with a warning (storage.read_cache); loans or holds of the wrong
shape are the card's ConfigError when they are asked for.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from libcli import storage
from libcli.errors import ConfigError
from libcli.model import Card, Hold, Loan

# 2: the model's Structs whole (1 was the --json documents' shape, which lost
# barcode, due_time, the estimated fee ... on the way back).
SNAPSHOT_VERSION = 2
# The item's identity and the card's account are kept as written: the IDs
# scripts pass back derive from them.
_IDENTITY = frozenset({"key", "account"})
_KINDS = {"loans": list[Loan], "holds": list[Hold]}


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One card's snapshot, read back whole (None: that kind was never saved)."""

    card: str
    fetched: date | None = None
    loans: list[Loan] | None = None
    holds: list[Hold] | None = None


class _File(msgspec.Struct, omit_defaults=True):
    """The file itself. Loans and holds stay raw JSON until asked for: a
    write of loans keeps the saved holds as they are, and damaged loans do
    not hide good holds."""

    version: int
    card: str = ""
    fetched: date | None = None
    loans: msgspec.Raw = msgspec.Raw()
    holds: msgspec.Raw = msgspec.Raw()


def snapshot_path(card_name: str) -> Path:
    return storage.cache_dir() / "snapshots" / f"{card_name}.json"


def _decode(raw: bytes) -> _File | None:
    try:
        found = msgspec.json.decode(raw, type=_File)
    except msgspec.ValidationError:
        return None  # valid JSON of another shape: ignored, replaced at the next write
    return found if found.version == SNAPSHOT_VERSION else None


def _encode(file: _File) -> str:
    return msgspec.json.format(msgspec.json.encode(file), indent=2).decode() + "\n"


def _read(card_name: str) -> _File | None:
    return storage.read_cache(snapshot_path(card_name), decode=_decode)


def _items(raw: msgspec.Raw, kind: str) -> list[Any] | None:
    """Raises msgspec.ValidationError (a ValueError) when they are damaged."""
    return None if len(raw) == 0 else msgspec.json.decode(raw, type=_KINDS[kind])


def _cleaned(item: Any) -> Any:
    """What a library wrote (titles, reasons) cleaned of escapes and PINs, as
    in every file libcli writes. Only text fields: a date or an enum is
    never text from the page."""
    from libcli.text import clean

    changes = {name: clean(value) for name in item.__struct_fields__
               if name not in _IDENTITY and type(value := getattr(item, name)) is str}
    return msgspec.structs.replace(item, **changes) if changes else item


def save_snapshot(card: Card, *, loans: list[Loan] | None = None,
                  holds: list[Hold] | None = None, today: date | None = None) -> None:
    """Keep the last successful view of an account, for completion and --offline.
    A snapshot that cannot be written is a warning: the command's result stands."""
    path = snapshot_path(card.name)
    try:
        storage.check_cache_dirs(path)
        with storage.locked(path):
            _update(path, card, loans, holds, today)
    except ConfigError as exc:
        storage.warn(exc.message)


def _update(path: Path, card: Card, loans, holds, today: date | None) -> None:
    before = _read(card.name)
    old = before or _File(SNAPSHOT_VERSION)

    def encoded(items, kept: msgspec.Raw) -> msgspec.Raw:
        if items is None:
            return kept
        return msgspec.Raw(msgspec.json.encode([_cleaned(i) for i in items]))

    new = _File(SNAPSHOT_VERSION, card=card.name, fetched=today or date.today(),
                loans=encoded(loans, old.loans), holds=encoded(holds, old.holds))
    if before is not None and _encode(new) == _encode(before):
        return  # nothing new since the last run: no write (and no fsync)
    storage.write_cache(path, new, encode=_encode)


def load_snapshot(card_name: str) -> Snapshot | None:
    """The card's snapshot whole (None: none of this version). Raises
    msgspec.ValidationError (a ValueError) when its loans or holds are damaged."""
    found = _read(card_name)
    if found is None:
        return None
    return Snapshot(card=found.card, fetched=found.fetched,
                    loans=_items(found.loans, "loans"), holds=_items(found.holds, "holds"))


def saved_items(card_name: str, kind: str) -> list[Any] | None:
    """The saved "loans" or "holds" of a card, as written (None: none saved).
    Raises msgspec.ValidationError (a ValueError) when they are damaged."""
    found = _read(card_name)
    return None if found is None else _items(getattr(found, kind), kind)


def fetched_on(card_name: str) -> date | None:
    """The day the card's snapshot was last written (None: no snapshot)."""
    found = _read(card_name)
    return found.fetched if found is not None else None


def snapshot_loans(card: Card) -> list[Loan] | None:
    """The loans the card's snapshot holds (None: no snapshot with loans).
    A snapshot whose loans have the wrong shape is the card's ConfigError."""
    try:
        loans = saved_items(card.name, "loans")
    except ValueError as exc:
        raise ConfigError(f"the saved loans of card '{card.name}' are damaged "
                          f"({type(exc).__name__}); run `libcli loans` once online") from None
    if loans is None:
        return None
    # A renamed card's snapshot moved with it (card rename) but names it as it was.
    return [msgspec.structs.replace(loan, card=card.name, account=card.key) for loan in loans]
