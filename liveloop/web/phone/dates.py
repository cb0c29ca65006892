"""The announced time as a phone shows it: the organisation's zone, a Chinese-style date."""
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import translation

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local(value: datetime, org) -> datetime:
    return value.astimezone(ZoneInfo(org.timezone))


def when_text(value: datetime, org, language: str | None = None) -> str:
    """11月30日 周日 20:00 (or Sun 30 Nov 20:00 in English), in the organisation's zone.

    Written out rather than through Django's date filter: its zh-hans formats give
    "2026年11月30日" without the weekday people use to place a live in their week.
    """
    at = local(value, org)
    language = language or translation.get_language() or "zh-hans"
    if language.startswith("zh"):
        return f"{at.month}月{at.day}日 周{_WEEKDAYS_ZH[at.weekday()]} {at:%H:%M}"
    return f"{_WEEKDAYS_EN[at.weekday()]} {at.day} {_MONTHS_EN[at.month - 1]} {at:%H:%M}"
