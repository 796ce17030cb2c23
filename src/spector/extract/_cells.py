"""Reading a dump's cells: sold counters ("12 sold since Mar 5, 2017") and dates.

Amounts and counts are read by ``spector.extract._values``, as page templates read them,
so a price is read the same way wherever it comes from. These readers raise
``CellError`` with a reason when the text does not hold what was asked for.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache

from spector.errors import PageError
from spector.extract._values import parse_count

__all__ = ["CellError", "read_count", "read_date", "read_sold"]


class CellError(ValueError):
    """A cell does not hold what the mapping says it holds; the message says why."""


def read_count(text: str, what: str = "count") -> int:
    """A whole count ("1,285", "12"); every separator groups thousands."""
    try:
        found = parse_count(text, what)
    except PageError as exc:
        raise CellError(exc.what) from None
    if found is None:  # parse_count is strict: only for None
        raise CellError(f"{what} holds no number")
    return found


_SINCE = (
    r"\d{4}-\d{2}-\d{2}"  # 2017-03-05
    r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}"  # 05.03.2017
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"  # Mar 5, 2017
    r"|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}"  # 5 March 2017
)
SOLD_PATTERN = re.compile(
    rf"(?P<count>\d[\d,.\u00a0]*)\s+sold(?:\s+since\s+(?P<since>{_SINCE}))?", re.IGNORECASE
)


def read_sold(
    text: str, pattern: re.Pattern[str] | None = None, languages: tuple[str, ...] = ("en",)
) -> tuple[int, datetime | None] | None:
    """(count, since) of a sold counter ("12 sold since Mar 5, 2017"), None when the text
    shows none. ``pattern`` replaces the default; its groups ``count`` and ``since``."""
    match = (pattern or SOLD_PATTERN).search(text)
    if match is None:
        return None
    groups = match.groupdict()
    count_text = groups.get("count") or (match[1] if match.re.groups else match[0])
    count = read_count(count_text, "sold counter")
    since_text = groups.get("since")
    return count, (read_date(since_text, None, languages) if since_text else None)


_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%b. %d, %Y", "%d %b %Y", "%d %B %Y", "%d.%m.%Y")


def read_date(text: str, fmt: str | None, languages: tuple[str, ...] = ("en",)) -> datetime:
    """A moment in UTC from a date as a market or a file name writes it: ``fmt``
    (strptime) when given, else ISO 8601 (also 20170509), common English forms, then
    dateparser in ``languages``. A CellError when it is none of these."""
    return _read_date(" ".join(text.split()), fmt, languages)


@lru_cache(maxsize=4096)  # a dump repeats the same few hundred dates
def _read_date(text: str, fmt: str | None, languages: tuple[str, ...]) -> datetime:
    if fmt is not None:
        try:
            return _utc(datetime.strptime(text, fmt))
        except ValueError:
            raise CellError(f"date {text!r} does not match the format {fmt!r}") from None
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _utc(datetime.combine(date.fromisoformat(text), datetime.min.time()))
    except ValueError:
        pass
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    for candidate in _FORMATS:
        try:
            return _utc(datetime.strptime(cleaned, candidate))
        except ValueError:
            continue
    if re.fullmatch(r"[\d\s:./-]+", text) and not re.search(r"[./]", text):
        raise CellError(f"date {text!r} is not a date")  # "2014-13-45": no guessing
    import dateparser

    parsed: datetime | None = dateparser.parse(
        text,
        languages=list(languages),
        settings={"TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True, "STRICT_PARSING": True},
    )
    if parsed is None:
        raise CellError(f"date {text!r} is not a date")
    return parsed.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
