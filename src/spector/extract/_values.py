"""Numbers as markets write them: thousands separators, decimal commas, currencies and
text around them, ratings, counters.

The rule for separators (docs/templates.md repeats it):

* Spaces (also no-break and thin spaces) and apostrophes between groups of three digits
  are thousands separators: "1 234,56", "1'234.56".
* When both "." and "," occur, the last one is the decimal separator: "1.234,56" is
  1234.56, "1,234.56" is 1234.56.
* One kind occurring more than once groups thousands: "1,234,567", "1.234.567".
* One occurrence followed by anything but exactly three digits is decimal: "12,50" is
  12.50, "0,5" is 0.5, "1.2345" is 1.2345. After a lone "0" it is decimal too: "0.006".
* Exactly three digits after a single separator ("1,234", "1.234") is ambiguous: the
  template's ``locale`` decides (its decimal separator), else the currency's convention
  (EUR, RUB, UAH write a decimal comma; USD, GBP and crypto a decimal point), else the
  decimal point (English).

A decimal comma is never dropped: "12,50" is never 1250.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from spector.errors import PageError
from spector.model import resolve_currency

__all__ = [
    "Amount",
    "choose_price",
    "decimal_separator",
    "parse_amounts",
    "parse_count",
    "parse_number",
    "parse_plus_minus",
    "parse_rating",
]

_SPACES = " \u00a0\u202f\u2009'’"  # thousands separators that are never decimal
# A grouped number ("1 234", "1.234.567", "1,234.56") or a plain one ("12,50", "0.3376").
# A grouped number may not run on into digits or letters ("2 100g" is 2 and 100).
_NUMBER = re.compile(
    r"(?<![\d.,])(?:"
    r"(?P<grouped>\d{1,3}(?P<sep>[,. \u00a0\u202f\u2009'’])\d{3}(?:(?P=sep)\d{3})*"
    r"(?:(?P<dec>[.,])\d+)?)(?!\w)"
    r"|(?P<plain>\d+(?:[.,]\d+)?)"
    r")"
)
# Languages (and locales) that write a decimal point; every other language is taken to
# write a decimal comma (most of Europe, Latin America, Russia and its neighbours).
# fmt: off
_POINT_LANGUAGES = frozenset({
    "en", "zh", "ja", "ko", "th", "he", "hi", "ms", "tl", "ga", "mt", "sw", "ur", "bn", "ta",
    "te", "my", "km", "lo", "si", "ne", "pa", "gu", "mr", "kn", "ml",
})
_POINT_LOCALES = frozenset({
    "de-ch", "it-ch", "fr-ch", "rm-ch", "de-li", "es-mx", "es-us", "es-pr", "es-do", "es-gt",
    "es-hn", "es-ni", "es-pa", "es-sv", "es-pe", "pt-mo",
})
# fmt: on
_COMMA_LOCALES = frozenset(["en-za"])  # South Africa writes 1 234,56
_COMMA_CURRENCIES = frozenset(["EUR", "RUB", "UAH"])


@dataclass(frozen=True, slots=True)
class Amount:
    """One amount a text shows, with the currency written beside it (if any)."""

    value: Decimal
    currency: str | None


def decimal_separator(locale: str | None) -> str | None:
    """The decimal separator of a locale ("de", "de-CH", "en_US"); None for no locale."""
    if not locale:
        return None
    tag = locale.replace("_", "-").casefold()
    if tag in _POINT_LOCALES:
        return "."
    if tag in _COMMA_LOCALES:
        return ","
    return "." if tag.split("-")[0] in _POINT_LANGUAGES else ","


def _currency_separator(currency: str | None) -> str | None:
    if currency is None:
        return None
    return "," if currency in _COMMA_CURRENCIES else "."


def _value(match: re.Match[str], decimal: str | None) -> Decimal:
    """The number a match of _NUMBER writes, by the rule in the module docstring."""
    if match["plain"] is not None:
        return Decimal(match["plain"].replace(",", "."))
    text, sep, dec = match["grouped"], match["sep"], match["dec"]
    if sep in _SPACES:
        whole, _, frac = text.partition(dec) if dec else (text, "", "")
        digits = "".join(c for c in whole if c.isdigit())
        return Decimal(f"{digits}.{frac}" if frac else digits)
    if dec is not None and dec == sep:
        raise InvalidOperation  # "1.234.5": a separator cannot group and end a number
    if dec is None and text.count(sep) == 1:  # "1,234" or "1.234": ambiguous
        head = text.split(sep)[0]
        if head == "0" or (decimal or ".") == sep:
            return Decimal(text.replace(sep, "."))
    whole, _, frac = text.partition(dec) if dec else (text, "", "")
    digits = whole.replace(sep, "")
    return Decimal(f"{digits}.{frac}" if frac else digits)


def parse_number(
    text: str | None, what: str = "number", *, locale: str | None = None
) -> Decimal | None:
    """The first number in ``text`` (None for None); PageError naming ``what`` when the text
    holds none. ``locale`` decides "1,234" (see the module docstring)."""
    if text is None:
        return None
    match = _NUMBER.search(text)
    if match is None:
        raise PageError(f"{what} {text!r} holds no number")
    try:
        return _value(match, decimal_separator(locale))
    except InvalidOperation:
        raise PageError(f"{what} {text!r} is not a number as written") from None


def parse_count(text: str | None, what: str = "count", *, strict: bool = True) -> int | None:
    """A whole count ("Sales: 1,234", "1 234 sold", "Transactions: 12"): every separator
    groups thousands. None for None, and, unless ``strict``, for text without a number."""
    if text is None:
        return None
    match = _NUMBER.search(text)
    if match is None:
        if strict:
            raise PageError(f"{what} {text!r} holds no number")
        return None
    if match["plain"] is not None:
        if not match["plain"].isdigit():
            raise PageError(f"{what} {text!r} is not a whole number")
        return int(match["plain"])
    if match["dec"]:
        raise PageError(f"{what} {text!r} is not a whole number")
    return int("".join(c for c in match["grouped"] if c.isdigit()))


# A currency written beside a number: a code or word ("USD", "руб."), a symbol, "C$".
_CURRENCY_WORD = re.compile(r"[A-Z]{1,3}\$|[^\W\d_]{1,5}\.?|[$€£₽₿฿₴Ξɱ]")


def _currency_before(text: str, start: int) -> tuple[str, int] | None:
    """The currency written right before text[start:] (spaces between allowed), and where
    its word starts."""
    head = text[:start].rstrip()
    window = max(0, len(head) - 8)
    words = list(_CURRENCY_WORD.finditer(head, window))
    if words and words[-1].end() == len(head):
        found = resolve_currency(words[-1][0])
        return (found.code, words[-1].start()) if found else None
    return None


def _currency_after(text: str, end: int) -> tuple[str, int] | None:
    """The currency written right after text[:end], and where its word ends."""
    tail = text[end:]
    gap = len(tail) - len(tail.lstrip())
    word = _CURRENCY_WORD.match(tail, gap)
    if word is None:
        return None
    found = resolve_currency(word[0]) or (
        resolve_currency(word[0][:-1]) if word[0].endswith(".") else None
    )
    return (found.code, end + word.end()) if found else None


def parse_amounts(
    text: str | None, *, locale: str | None = None, currency: str | None = None
) -> list[Amount]:
    """Every amount ``text`` shows, in order, each with the currency written right before
    or after it ("USD 449.24 (0.3376 BTC)" is 449.24 USD and 0.3376 BTC; in "10 USD 20
    EUR" a currency after one number is not also taken before the next). A number with no
    currency beside it takes ``currency``. Each number is read by the separator rule with
    ``locale``, else its currency's convention. PageError for a text without a number."""
    if not text:
        return []
    hint = decimal_separator(locale)
    out: list[Amount] = []
    taken_until = -1  # the end of the currency word the last number took after it
    for match in _NUMBER.finditer(text):
        code = None
        before = _currency_before(text, match.start())
        if before is not None and before[1] >= taken_until:
            code = before[0]
        elif (after := _currency_after(text, match.end())) is not None:
            code, taken_until = after
        code = code or currency
        try:
            value = _value(match, hint or _currency_separator(code))
        except InvalidOperation:
            raise PageError(f"price {text!r} is not a number as written") from None
        out.append(Amount(value, code))
    if not out:
        raise PageError(f"price {text!r} holds no number")
    return out


def choose_price(
    amounts: list[Amount], currency: str | None = None
) -> tuple[Decimal | None, str | None, Decimal | None]:
    """(price, currency, price_usd) of a listing from the amounts its price shows: the
    amount in ``currency`` (the template's listing currency) if given and shown, else the
    first amount; price_usd is the amount shown in USD, if any."""
    if not amounts:
        return None, None, None
    chosen = next((a for a in amounts if currency and a.currency == currency), amounts[0])
    usd = next((a.value for a in amounts if a.currency == "USD"), None)
    return chosen.value, chosen.currency, usd


_SCALE = re.compile(r"^\s*(?:/|out\s+of|of|из|von|sur)\s*", re.IGNORECASE)


def parse_rating(
    text: str | None, what: str = "rating", *, locale: str | None = None
) -> tuple[float | None, int | None]:
    """(rating, count) a rating text shows: "4.77 / 5.0" is 4.77, "5/5" is 5, "95.4%" is
    95.4, "Rating 4.25 (20 feedback)" is 4.25 with a count of 20. A number in parentheses
    is the count; the rating is the first number outside them ("нет (отзывов: 0)" is no
    rating, a count of 0). A text with no number at all is a PageError."""
    if text is None:
        return None, None
    outside, inside = text, ""
    if "(" in text:
        outside = re.sub(r"\([^)]*\)", " ", text)
        inside = " ".join(re.findall(r"\(([^)]*)\)", text))
    rating = None
    match = _NUMBER.search(outside)
    if match is not None:
        try:
            rating = float(_value(match, decimal_separator(locale)))
        except InvalidOperation:
            raise PageError(f"{what} {text!r} is not a number as written") from None
    count = parse_count(inside, what, strict=False) if inside.strip() else None
    if rating is None and count is None and not inside.strip():
        raise PageError(f"{what} {text!r} holds no number")
    return rating, count


_PLUS_MINUS = re.compile(r"\+\s*(\d[\d,. \u00a0]*)[^\d+]*?[-−–]\s*(\d[\d,. \u00a0]*)")


def parse_plus_minus(text: str | None, what: str = "feedback") -> tuple[int, int] | None:
    """(positive, negative) of "+62 | -0" (also "+62 / -1", "+ 1,204 − 3"); None for None;
    PageError for a text without both."""
    if text is None:
        return None
    match = _PLUS_MINUS.search(text)
    if match is None:
        raise PageError(f"{what} {text!r} is not written as +N | -M")
    positive = parse_count(match[1], what)
    negative = parse_count(match[2], what)
    if positive is None or negative is None:  # never: both groups start with a digit
        raise PageError(f"{what} {text!r} is not written as +N | -M")
    return positive, negative
