"""iCalendar output: an all-day event per loan's due date and per ready
hold's pickup deadline.

Every text from a library is cleaned (libcli.text.clean): a calendar app
shows SUMMARY and DESCRIPTION, and `cat` shows the whole file.

UIDs derive from the card and the item, not the date, so re-importing after
a renewal moves the event instead of adding a second one; SEQUENCE grows
with each renewal so calendar apps accept the update.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from libcli.demo import command
from libcli.model import Hold, HoldStatus, Loan
from libcli.text import clean

PRODID = "-//libcli//libcli//EN"


def build_calendar(loans: list[Loan], holds: list[Hold], *, now: datetime | None = None,
                   alarm_days: int = 1) -> bytes:
    from icalendar import Alarm, Calendar, Event

    now = now or datetime.now(timezone.utc)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Library due dates")
    for loan in sorted(loans, key=lambda l: (l.due_date, l.id)):
        ev = Event()
        ev.add("uid", f"loan-{clean(loan.id)}@libcli")
        ev.add("sequence", loan.renewals_used or 0)
        ev.add("dtstamp", now)
        ev.add("dtstart", loan.due_date)
        ev.add("dtend", loan.due_date + timedelta(days=1))
        ev.add("summary", f"Due: {clean(loan.title)}")
        how = "can be renewed: " + command("renew " + loan.id) if loan.renewable else \
            f"must be returned ({loan.not_renewable_reason or 'cannot be renewed'})"
        ev.add("description", clean(f"Card {loan.card}. {how}."))
        ev.add("transp", "TRANSPARENT")
        ev.add_component(_alarm(Alarm, f"Library loan due: {clean(loan.title)}", alarm_days))
        cal.add_component(ev)
    for hold in holds:
        if hold.status is not HoldStatus.READY or hold.pickup_by is None:
            continue
        ev = Event()
        ev.add("uid", f"hold-{hold.id}@libcli")
        ev.add("dtstamp", now)
        ev.add("dtstart", hold.pickup_by)
        ev.add("dtend", hold.pickup_by + timedelta(days=1))
        ev.add("summary", f"Pick up: {clean(hold.title)}")
        where = f" at {hold.pickup_location}" if hold.pickup_location else ""
        ev.add("description", clean(f"Card {hold.card}. Last day to pick up{where}."))
        if hold.pickup_location:
            ev.add("location", clean(hold.pickup_location))
        ev.add("transp", "TRANSPARENT")
        ev.add_component(_alarm(Alarm, f"Pick up: {clean(hold.title)}", alarm_days))
        cal.add_component(ev)
    return cal.to_ical()


def _alarm(Alarm, text: str, days: int):
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", text)
    alarm.add("trigger", timedelta(days=-days, hours=9))  # 09:00 the day before
    return alarm
