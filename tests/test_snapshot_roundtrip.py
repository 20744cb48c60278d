"""A snapshot written and read back is the model written, every field:
generated loans and holds (None optionals, due times, barcodes, money,
enums, text in any script) go into the cache and come back equal. A
snapshot of another format version, of another shape or not JSON at all is
ignored, never half read."""

from __future__ import annotations

import enum
import types
import typing
from datetime import date, time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libcli.snapshot import save_snapshot, snapshot_loans, snapshot_path
from libcli.errors import ConfigError
from libcli.model import Card, Hold, HoldStatus, Loan, Money
from libcli.text import clean

CARD = Card("kid", "heili", "10000001", url="https://heili.example.fi")
TODAY = date(2026, 3, 1)
# Text as a library may send it, once cleaned the way every written file is
# (escapes and controls removed, whitespace squashed): that text is kept as is.
TEXT = (st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
        .map(clean).filter(lambda s: clean(s) == s))


def strategy_for(tp: typing.Any) -> st.SearchStrategy:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(arg) for arg in typing.get_args(tp)))
    if tp is type(None):
        return st.none()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    simple = {str: TEXT, bool: st.booleans(), int: st.integers(-10**9, 10**9),
              date: st.dates(), time: st.times(),
              Money: st.builds(Money, st.integers(-10**9, 10**9), st.sampled_from(["EUR", "SEK"]))}
    assert tp in simple, f"no strategy for {tp}: a new field type needs one"
    return simple[tp]


def items(cls: type) -> st.SearchStrategy:
    """Instances of a model class with every field drawn, the card's own name
    and account (a snapshot belongs to one card)."""
    hints = typing.get_type_hints(cls)
    fields = {name: strategy_for(hints[name]) for name in cls.__struct_fields__}
    fields |= {"card": st.just(CARD.name), "account": st.just(CARD.key)}
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


ROUNDTRIP = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@ROUNDTRIP
@given(loans=st.lists(items(Loan), max_size=4))
def test_loans_read_back_are_the_loans_written(loans):
    save_snapshot(CARD, loans=loans, today=TODAY)
    assert snapshot_loans(CARD) == loans


@ROUNDTRIP
@given(loans=st.lists(items(Loan), max_size=3), holds=st.lists(items(Hold), max_size=3))
def test_a_snapshot_read_back_is_the_model_written(loans, holds):
    from libcli.snapshot import load_snapshot

    save_snapshot(CARD, holds=holds, today=TODAY)
    save_snapshot(CARD, loans=loans, today=TODAY)  # a write of loans keeps the holds
    snap = load_snapshot(CARD.name)
    assert (snap.card, snap.fetched, snap.loans, snap.holds) == (CARD.name, TODAY, loans, holds)


LOAN = Loan(card=CARD.name, account=CARD.key, key="r1|i1", title="Muumipeikko",
            due_date=date(2026, 3, 9), barcode="B-1", due_time=time(14, 30))
HOLD = Hold(card=CARD.name, account=CARD.key, key="r2", title="Taikatalvi",
            status=HoldStatus.WAITING, queue_position=2)


@pytest.mark.parametrize("text,warned", [
    # What version 1 wrote: the --json documents' shape, read back by hand.
    ('{"version": 1, "card": "kid", "fetched": "2026-03-01", "loans": [{"key": "r1|i1", '
     '"title": "Muumipeikko", "due_date": "2026-03-09", "due_time": "14:30"}]}', False),
    ('{"version": 99, "card": "kid", "loans": []}', False),
    ('[1, 2, 3]', False),
    ('{"version": "2"}', False),
    ('{"version": 2, "card": "kid", "loans": [', True),
    ('\x00garbage', True),
    ('', True),
])
def test_another_version_or_a_damaged_snapshot_is_ignored(text, warned, capsys):
    from libcli.snapshot import load_snapshot

    path = snapshot_path(CARD.name)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)
    assert load_snapshot(CARD.name) is None and snapshot_loans(CARD) is None
    assert ("discarded the damaged cache file" in capsys.readouterr().err) is warned
    save_snapshot(CARD, loans=[LOAN], today=TODAY)  # replaced whole at the next write
    assert snapshot_loans(CARD) == [LOAN]


def test_damaged_loans_are_the_cards_error_and_leave_the_holds_readable():
    from libcli.snapshot import saved_items

    save_snapshot(CARD, loans=[LOAN], holds=[HOLD], today=TODAY)
    path = snapshot_path(CARD.name)
    path.write_text(path.read_text().replace('"due_date": "2026-03-09"', '"due_date": 5'))
    with pytest.raises(ConfigError, match="saved loans of card 'kid' are damaged"):
        snapshot_loans(CARD)
    assert saved_items(CARD.name, "holds") == [HOLD]


def test_offline_loans_estimate_the_late_fee_of_today_not_of_the_day_they_were_saved():
    from libcli.account import with_status
    from libcli.operations import saved_loans
    from libcli.policy import estimated_late_fee, get_consortium

    heili = get_consortium("heili")
    late = Loan(card=CARD.name, account=CARD.key, key="r3|i3", title="Sinuhe",
                due_date=date(2026, 2, 20))
    saved = with_status([late], heili, TODAY)  # as `libcli loans` saves it
    save_snapshot(CARD, loans=saved, today=TODAY)
    week_later = date(2026, 3, 8)
    found = saved_loans([CARD], week_later)
    [offline] = found.loans
    expected = estimated_late_fee(heili.policy, late.material, late.due_date, week_later)
    assert found.missing == [] and offline.estimated_fee == expected != saved[0].estimated_fee
    assert found.fetched == {CARD.name: TODAY}
