"""The dates Liveloop accepts from users, producers and files (docs/decisions.md, "Accepted dates").

Pure: no Django. Python's datetime stops at years 1 and 9999: an aware time near either end
(`9999-12-31T23:59:59-14:00`) cannot even be converted to UTC, and one that can may still fail
converting to the organisation's zone or adding a week for a calendar. Every date that comes in
is therefore held to a window far inside those ends, where every offset (±14:00), every zone and
the few days of arithmetic the pages do are safe; outside it the answer is a refusal with a
reason, never an OverflowError deep in a page.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# Event and file times: the platform did not exist before 2000, and nothing we keep runs to 2100.
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)  # exclusive
FIRST_DAY = EARLIEST.date()
LAST_DAY = (LATEST - timedelta(days=1)).date()  # 2099-12-31
# A live is announced for a real evening: not more than two years ahead of now.
ANNOUNCE_AHEAD = timedelta(days=731)
# A new live is announced for now or later. The form takes whole minutes and a person needs a
# moment to press Save, so "now" entered a few minutes ago is still accepted; a live for
# 2020-01-01 (then listed as upcoming) is not (docs/decisions.md "A new live's time").
PAST_GRACE = timedelta(minutes=10)


class DateRangeError(ValueError):
    """The time is outside what Liveloop accepts; the message says the range."""


def to_utc(value: datetime) -> datetime:
    """An aware time in UTC, refused unless within [EARLIEST, LATEST).

    A naive time is refused too: its meaning depends on a zone the caller did not give."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise DateRangeError("needs a UTC offset, e.g. +08:00")
    try:
        utc = value.astimezone(timezone.utc)
    except (OverflowError, ValueError):  # beyond year 1 or 9999 once the offset is applied
        raise DateRangeError(_range_text()) from None
    if not EARLIEST <= utc < LATEST:
        raise DateRangeError(_range_text())
    return utc


def check_announced(value: datetime, now: datetime) -> datetime:
    """A live's announced time: within the event window and at most ANNOUNCE_AHEAD after now."""
    utc = to_utc(value)
    if utc > now + ANNOUNCE_AHEAD:
        raise DateRangeError(f"at most {ANNOUNCE_AHEAD.days // 365} years ahead")
    return utc


class PastTimeError(DateRangeError):
    """A new (or moved) live announced for a time already gone."""


def check_not_past(value: datetime, now: datetime, *, unchanged_from: datetime | None = None) -> datetime:
    """A live's announced time that is not in the past. Editing a live may keep its time as
    it was (`unchanged_from`, compared to the minute the form shows) even if that is past:
    correcting the title of a late live must not force a new time on it."""
    utc = to_utc(value)
    if unchanged_from is not None and _minute(utc) == _minute(to_utc(unchanged_from)):
        return utc
    if utc < now - PAST_GRACE:
        raise PastTimeError("is in the past: a new live is announced for now or later")
    return utc


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def day_in_range(day: date) -> bool:
    """A calendar day a page may be asked for (a ?date=, a From/To field)."""
    return FIRST_DAY <= day <= LAST_DAY


def _range_text() -> str:
    return f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()} (UTC)"
