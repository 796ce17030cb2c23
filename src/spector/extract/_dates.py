"""Relative dates ("5 days ago", "3 недели назад") resolved against when a page was seen.

A market that says "5 days ago" on a page captured at some moment T means: between 5 and
6 days before T. When T itself is only known to the day, the interval widens by that day.
The result is always an interval (after, before): the uncertainty is kept, not rounded.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

__all__ = ["resolve_relative"]

_UNITS: dict[str, timedelta] = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
_RU = {
    "секунд": "second",
    "минут": "minute",
    "час": "hour",
    "день": "day",
    "дня": "day",
    "дней": "day",
    "недел": "week",
    "месяц": "month",
    "год": "year",
    "лет": "year",
}
_EN = re.compile(r"(\d+|an?|one)\s+(second|minute|hour|day|week|month|year)s?\s+ago", re.I)
_RU_RE = re.compile(
    r"(\d+)?\s*(секунд\w*|минут\w*|час\w*|день|дня|дней|недел\w*|месяц\w*|год\w*|лет)\s+назад", re.I
)


def resolve_relative(
    text: str, seen_from: datetime, seen_to: datetime
) -> tuple[datetime, datetime] | None:
    """(earliest, latest) moment ``text`` can mean for a page seen between ``seen_from`` and
    ``seen_to``; None when ``text`` holds no relative date."""
    lowered = text.strip().lower()
    if lowered in ("today", "сегодня", "just now"):
        return seen_from - timedelta(days=1), seen_to
    if lowered in ("yesterday", "вчера"):
        return seen_from - timedelta(days=2), seen_to - timedelta(days=1)
    match = _EN.search(lowered)
    if match:
        count = 1 if match[1] in ("a", "an", "one") else int(match[1])
        unit = _UNITS[match[2]]
    else:
        ru = _RU_RE.search(lowered)
        if not ru:
            return None
        count = int(ru[1]) if ru[1] else 1
        unit = _UNITS[next(v for k, v in _RU.items() if ru[2].startswith(k))]
    return seen_from - (count + 1) * unit, seen_to - count * unit
