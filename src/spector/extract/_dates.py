"""Dates as markets show them, resolved against when a page was seen.

* Relative times: "5 days ago", "3 недели назад", and durations without "ago" ("3 days,
  12 hours", "1 week", "5 years, 10 months"), which a market shows for how long ago
  something was (or, for a member, how long they have been one). "N units" means at least
  N and less than N + 1 of its smallest unit: a page captured at some moment T that says
  "3 days, 12 hours" means between 3 d 12 h and 3 d 13 h before T. When T itself is only
  known to the day, the interval widens by that day. Months and years are taken both as
  30 / 365 days (as Django's and Rails' "time since" count them) and as calendar months
  and years; the interval covers both.
* Absolute dates: ISO 8601 first, then dotted day-first dates ("05.01.2023"), then any
  common format by ``dateparser`` in the page's language ("Mar 5, 2017", "5 марта 2017").
  The interval is what the text shows: a day, a minute, a second, a month, a year.

The result is always an interval (after, before): the uncertainty is kept, not rounded.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

__all__ = [
    "Duration",
    "absolute_interval",
    "check_locale",
    "parse_duration",
    "resolve_relative",
    "resolve_when",
]

_FIXED: dict[str, timedelta] = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
_ORDER = ("second", "minute", "hour", "day", "week", "month", "year")
_WORDS: dict[str, str] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "second"),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), "minute"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hour"),
    **dict.fromkeys(("d", "day", "days"), "day"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "week"),
    **dict.fromkeys(("mo", "mos", "month", "months"), "month"),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), "year"),
}
_RU_STEMS = (
    ("секунд", "second"),
    ("минут", "minute"),
    ("час", "hour"),
    ("день", "day"),
    ("дня", "day"),
    ("дней", "day"),
    ("недел", "week"),
    ("месяц", "month"),
    ("год", "year"),
    ("лет", "year"),
)
_UNIT = (
    r"(?:seconds?|secs?|s|minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|mo"
    r"|years?|yrs?|y|секунд\w*|минут\w*|час\w*|день|дня|дней|недел\w*|месяц\w*|год\w*|лет)"
)
_RU_BARE = r"(?:секунд\w*|минут\w*|час\w*|день|недел\w*|месяц\w*|год\w*)"  # "час назад"
_NUM = r"(?<![^\W_])(?:\d+|(?:an?|one)(?=\s))"
_PART = rf"(?:{_NUM}\s*{_UNIT}|(?<![^\W_]){_RU_BARE})(?![^\W\d_])"
_PART_RE = re.compile(
    rf"(?:(?P<n>{_NUM})\s*(?P<u>{_UNIT})|(?<![^\W_])(?P<ru>{_RU_BARE}))(?![^\W\d_])",
    re.IGNORECASE,
)
_SEP = r"\s*(?:,|and|и|&)?\s*"
_AGO = re.compile(rf"{_PART}(?:{_SEP}{_PART})*\s+(?:ago|назад)", re.IGNORECASE)
_BARE = re.compile(rf"\s*{_PART}(?:{_SEP}{_PART})*\s*\.?\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time as a page shows it: its parts, largest first ((3, "day"), (12,
    "hour")). Its smallest unit is how precisely it was shown."""

    parts: tuple[tuple[int, str], ...]

    @property
    def smallest(self) -> str:
        return min((u for _, u in self.parts), key=_ORDER.index)

    def before(self, moment: datetime, *, extra: int = 0, latest: bool) -> datetime:
        """``moment`` minus this duration (plus ``extra`` of its smallest unit): the latest
        (or earliest) result under the two ways of counting months and years."""
        parts = [*self.parts, (extra, self.smallest)]
        fixed = moment - sum((_FIXED[u] * n for n, u in parts), timedelta())
        months = sum(n * (12 if u == "year" else 1) for n, u in parts if u in ("month", "year"))
        rest = sum((_FIXED[u] * n for n, u in parts if u not in ("month", "year")), timedelta())
        calendar_moment = _minus_months(moment, months) - rest
        return max(fixed, calendar_moment) if latest else min(fixed, calendar_moment)


def _minus_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _unit(word: str) -> str:
    lowered = word.casefold()
    if lowered in _WORDS:
        return _WORDS[lowered]
    return next(unit for stem, unit in _RU_STEMS if lowered.startswith(stem))


def _duration(text: str) -> Duration:
    parts = []
    for match in _PART_RE.finditer(text):
        n = match["n"]
        count = 1 if n is None or n.casefold() in ("a", "an", "one") else int(n)
        parts.append((count, _unit(match["u"] or match["ru"])))
    return Duration(tuple(parts))


def parse_duration(text: str) -> Duration | None:
    """The duration ``text`` is, all of it ("5 years, 10 months", "3 days, 12 hours",
    "1 week", "2 weeks, 1 day", "3 дня 5 часов"); None when the text is anything else."""
    if not _BARE.fullmatch(text):
        return None
    return _duration(text)


def resolve_relative(
    text: str, seen_from: datetime, seen_to: datetime
) -> tuple[datetime, datetime] | None:
    """(earliest, latest) moment ``text`` can mean for a page seen between ``seen_from`` and
    ``seen_to``: "N units ago" anywhere in the text, or the whole text a duration without
    "ago"; None when ``text`` holds no relative date."""
    lowered = text.strip().lower()
    if lowered in ("today", "сегодня", "just now"):
        return seen_from - timedelta(days=1), seen_to
    if lowered in ("yesterday", "вчера"):
        return seen_from - timedelta(days=2), seen_to - timedelta(days=1)
    match = _AGO.search(lowered)
    if match is not None:
        duration = _duration(match[0])
    else:
        bare = parse_duration(lowered)
        if bare is None:
            return None
        duration = bare
    return (
        duration.before(seen_from, extra=1, latest=False),
        duration.before(seen_to, latest=True),
    )


_DAY, _MINUTE, _SECOND = timedelta(days=1), timedelta(minutes=1), timedelta(seconds=1)
_DOTTED = re.compile(
    r"(?<!\d)(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
_ISO_IN_TEXT = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2})?)?(?!\d)")
_TIME = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")


def _shown(moment: datetime, text: str, period: str = "day") -> tuple[datetime, datetime]:
    """The interval a moment covers as ``text`` shows it (to the second, minute, day...)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    time = _TIME.search(text)
    if time:
        return moment, moment + (timedelta(seconds=1) if time[1] else timedelta(minutes=1))
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "year":
        start = start.replace(month=1, day=1)
        return start, start.replace(year=start.year + 1)
    if period == "month":
        start = start.replace(day=1)
        return start, _minus_months(start, -1)
    return start, start + timedelta(days=1)


@cache
def _dateparser(locale: str | None, date_order: str | None) -> Any:
    from dateparser.date import DateDataParser

    settings: dict[str, Any] = {
        "PARSERS": ["absolute-time"],
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DAY_OF_MONTH": "first",
    }
    if date_order:
        settings["DATE_ORDER"] = date_order
    if not locale:
        return DateDataParser(settings=settings)
    tag = locale.replace("_", "-")
    if "-" in tag:  # a region dateparser knows ("en-GB"), else the language alone ("pt")
        try:
            parser = DateDataParser(locales=[tag], settings=settings)
            parser.get_date_data("2000-01-31")
            return parser
        except ValueError:
            pass
    return DateDataParser(languages=[tag.split("-")[0].lower()], settings=settings)


def check_locale(locale: str | None, date_order: str | None) -> None:
    """Raise ValueError when dateparser does not know ``locale`` (or ``date_order``)."""
    _dateparser(locale, date_order).get_date_data("2000-01-31")


def absolute_interval(
    text: str, *, locale: str | None = None, date_order: str | None = None
) -> tuple[datetime, datetime] | None:
    """The interval an absolute date or time in ``text`` covers; None when there is none.
    ISO 8601 (the whole text, or a date in it), dotted day-first dates, then ``dateparser``
    on the whole text in the page's ``locale``."""
    stripped = text.strip()
    try:
        return _shown(datetime.fromisoformat(stripped), stripped)
    except ValueError:
        pass
    iso = _ISO_IN_TEXT.search(stripped)
    if iso:
        try:
            return _shown(datetime.fromisoformat(iso[0].replace(" ", "T")), iso[0])
        except ValueError:
            pass
    dotted = _DOTTED.search(stripped)
    if dotted:
        day, month, year, hour, minute, second = dotted.groups()
        try:
            moment = datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
            )
        except ValueError:
            return None
        return _shown(moment, dotted[0])
    if not any(c.isdigit() for c in stripped) or len(stripped) > 80:
        return None  # dateparser reads "today" and loose words; a date shows a number
    data = _dateparser(locale, date_order).get_date_data(stripped)
    if data.date_obj is None:
        return None
    return _shown(data.date_obj, stripped, data.period or "day")


def resolve_when(
    text: str | None,
    seen_from: datetime,
    seen_to: datetime,
    *,
    locale: str | None = None,
    date_order: str | None = None,
) -> tuple[datetime | None, datetime | None]:
    """(after, before) of a date a page shows: relative to when the page was seen ("5 days
    ago", "3 days, 12 hours"), else absolute; (None, None) when the text shows no date (or
    is None)."""
    if not text:
        return None, None
    if text[:1].isdigit() and text[4:5] == "-":  # ISO 8601, as most pages show times
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None and "+" not in text:
                moment = moment.replace(tzinfo=UTC)
                colons = text.count(":")
                if colons == 0 and len(text) == 10:
                    return moment, moment + _DAY
                if colons in (1, 2) and "." not in text:
                    return moment, moment + (_SECOND if colons == 2 else _MINUTE)
            return _shown(moment, text)
    relative = resolve_relative(text, seen_from, seen_to)
    if relative is not None:
        return relative
    absolute = absolute_interval(text, locale=locale, date_order=date_order)
    return absolute if absolute is not None else (None, None)
