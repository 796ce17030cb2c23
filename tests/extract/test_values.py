"""Numbers, prices, ratings, counters, durations and dates as markets write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spector.errors import PageError
from spector.extract._dates import absolute_interval, parse_duration, resolve_relative
from spector.extract._values import (
    Amount,
    choose_price,
    decimal_separator,
    parse_amounts,
    parse_count,
    parse_number,
    parse_plus_minus,
    parse_rating,
)

D = Decimal


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12,50", D("12.50")),
        ("0,5", D("0.5")),
        ("1,2345", D("1.2345")),
        ("1.234,56", D("1234.56")),
        ("1,234.56", D("1234.56")),
        ("1 234,56", D("1234.56")),
        ("1\u00a0234,56", D("1234.56")),
        ("1\u202f234\u202f567,5", D("1234567.5")),
        ("1'234.56", D("1234.56")),
        ("1.234.567", D("1234567")),
        ("1,234,567.89", D("1234567.89")),
        ("0.006", D("0.006")),  # after a lone 0 a separator is decimal
        ("0,006", D("0.006")),
        ("1234,567", D("1234.567")),  # four digits before: never a thousands group
        ("Price: 12,50 EUR incl.", D("12.50")),
    ],
)
def test_a_decimal_comma_is_never_read_as_nothing(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "locale", "value"),
    [
        ("1,234", None, D("1234")),  # no locale, no currency: the English convention
        ("1.234", None, D("1.234")),
        ("1,234", "en", D("1234")),
        ("1,234", "de", D("1.234")),
        ("1.234", "de", D("1234")),
        ("1,234", "ru_RU", D("1.234")),
        ("1.234", "de-CH", D("1.234")),  # Switzerland writes a decimal point
        ("1,234", "en-ZA", D("1.234")),
    ],
)
def test_an_ambiguous_number_is_decided_by_the_locale(text, locale, value):
    assert parse_number(text, locale=locale) == value


def test_an_ambiguous_number_is_decided_by_the_currency_without_a_locale():
    assert parse_amounts("1,234 EUR") == [Amount(D("1.234"), "EUR")]
    assert parse_amounts("1.234 €") == [Amount(D("1234"), "EUR")]
    assert parse_amounts("$1,234") == [Amount(D("1234"), "USD")]
    assert parse_amounts("0.006 BTC") == [Amount(D("0.006"), "BTC")]
    # the locale comes before the currency's convention
    assert parse_amounts("1,234 EUR", locale="en") == [Amount(D("1234"), "EUR")]


_STYLES = {  # how a locale writes 1234567.89: thousands separator, decimal separator
    "en": (",", "."),
    "de": (".", ","),
    "ru": ("\u00a0", ","),
    "fr": ("\u202f", ","),
    "de-CH": ("'", "."),
}


@given(
    cents=st.integers(min_value=0, max_value=10**12),
    style=st.sampled_from(sorted(_STYLES)),
)
def test_every_written_price_reads_back(cents, style):
    """Any amount with two decimals, written with any locale's separators, reads back
    exactly (a dropped decimal comma would multiply it by 100)."""
    value = Decimal(cents) / 100
    thousands, decimal = _STYLES[style]
    written = f"{value:,.2f}".replace(",", "\x00").replace(".", decimal).replace("\x00", thousands)
    assert parse_number(written, locale=style) == value
    assert parse_amounts(f"{written} €", locale=style) == [Amount(value, "EUR")]


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Buy price USD 449.24 (0.3376 BTC)", [(D("449.24"), "USD"), (D("0.3376"), "BTC")]),
        ("1.234,56 €", [(D("1234.56"), "EUR")]),
        ("1 234,56 ₽", [(D("1234.56"), "RUB")]),
        ("2&nbsp;587,00 ₽".replace("&nbsp;", "\u00a0"), [(D("2587.00"), "RUB")]),
        ("฿0.0060", [(D("0.0060"), "BTC")]),
        ("US$6.10", [(D("6.10"), "USD")]),
        ("C$10", [(D("10"), "CAD")]),
        ("10 руб.", [(D("10"), "RUB")]),
        ("10 USD 20 EUR", [(D("10"), "USD"), (D("20"), "EUR")]),
        ("USD 10 EUR 20", [(D("10"), "USD"), (D("20"), "EUR")]),
        ("2 100g", [(D("2"), None), (D("100"), None)]),  # a space before "100g" groups nothing
    ],
)
def test_amounts_with_text_around_them(text, amounts):
    assert parse_amounts(text) == [Amount(v, c) for v, c in amounts]


def test_one_price_per_currency_when_a_page_shows_two():
    shown = parse_amounts("Buy price USD 449.24 (0.3376 BTC)")
    assert choose_price(shown) == (D("449.24"), "USD", D("449.24"))
    assert choose_price(shown, "BTC") == (D("0.3376"), "BTC", D("449.24"))
    assert choose_price(parse_amounts("฿0.0060"), "BTC") == (D("0.0060"), "BTC", None)
    # a number without a currency takes the listing currency
    assert parse_amounts("0.0060", currency="BTC") == [Amount(D("0.0060"), "BTC")]


@pytest.mark.parametrize("text", ["price on request", "1.234.5 €", "free"])
def test_a_price_that_is_not_a_number_is_an_error(text):
    with pytest.raises(PageError, match="price"):
        parse_amounts(text)


def test_counts():
    assert parse_count("Sales: 1,234") == 1234
    assert parse_count("1 234 sold") == 1234
    assert parse_count("Transactions: 1.234") == 1234
    assert parse_count("12 sold since Mar 5, 2017") == 12
    assert parse_count("Unlimited", strict=False) is None
    with pytest.raises(PageError, match="not a whole number"):
        parse_count("12,5 sold")
    with pytest.raises(PageError, match="holds no number"):
        parse_count("none")


def test_ratings():
    assert parse_rating("4.77 / 5.0") == (4.77, None)
    assert parse_rating("4,77 / 5") == (4.77, None)
    assert parse_rating("5/5") == (5.0, None)
    assert parse_rating("95.4") == (95.4, None)
    assert parse_rating("4.9 out of 5") == (4.9, None)
    assert parse_rating("Rating 4.25 (20 feedback)") == (4.25, 20)
    assert parse_rating("Рейтинг: нет (отзывов: 0)") == (None, 0)
    with pytest.raises(PageError, match="holds no number"):
        parse_rating("★★★★☆")
    assert parse_plus_minus("+62 | -0") == (62, 0)
    assert parse_plus_minus("+ 1,204 / − 3") == (1204, 3)
    with pytest.raises(PageError, match=r"\+N \| -M"):
        parse_plus_minus("62 good")


def test_decimal_separator_of_locales():
    assert decimal_separator("en_US") == "."
    assert decimal_separator("pt-BR") == ","
    assert decimal_separator("de-ch") == "."
    assert decimal_separator(None) is None


SEEN = datetime(2019, 9, 11, tzinfo=UTC)
DAY = SEEN + timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "after", "before"),
    [
        # "3 days, 12 hours": at least 3 d 12 h and less than 3 d 13 h before the page
        ("3 days, 12 hours", timedelta(days=3, hours=13), timedelta(days=3, hours=12)),
        ("3\u00a0days, 12\u00a0hours", timedelta(days=3, hours=13), timedelta(days=3, hours=12)),
        ("1 week", timedelta(weeks=2), timedelta(weeks=1)),
        ("2 weeks, 1 day", timedelta(days=16), timedelta(days=15)),
        ("3d 12h", timedelta(days=3, hours=13), timedelta(days=3, hours=12)),
        ("5 days ago", timedelta(days=6), timedelta(days=5)),
        ("3 дня 5 часов", timedelta(days=3, hours=6), timedelta(days=3, hours=5)),
        ("an hour ago", timedelta(hours=2), timedelta(hours=1)),
    ],
)
def test_relative_times_with_and_without_ago(text, after, before):
    assert resolve_relative(text, SEEN, DAY) == (SEEN - after, DAY - before)


def test_months_and_years_cover_both_ways_of_counting():
    after, before = resolve_relative("5 years, 10 months", SEEN, SEEN)
    # 30-day months and 365-day years, or calendar ones: the interval covers both
    assert after <= datetime(2013, 10, 11, tzinfo=UTC)  # calendar: 5 y 11 m before
    assert after <= SEEN - timedelta(days=5 * 365 + 11 * 30)
    assert before >= datetime(2013, 11, 11, tzinfo=UTC)  # calendar: 5 y 10 m before
    assert before >= SEEN - timedelta(days=5 * 365 + 10 * 30)
    assert before - after < timedelta(days=40)


@pytest.mark.parametrize(
    "text", ["Delivery 9days", "5 sold", "extra day ago", "1 week and", "long ago", "and 2"]
)
def test_text_that_is_not_a_duration(text):
    assert parse_duration(text) is None
    assert resolve_relative(text, SEEN, SEEN) is None


def test_a_duration_is_its_parts():
    assert parse_duration("5 years, 10 months").parts == ((5, "year"), (10, "month"))
    assert parse_duration("1 week and 2 days").parts == ((1, "week"), (2, "day"))


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "locale", "interval"),
    [
        ("2023-01-26", None, (_utc(2023, 1, 26), _utc(2023, 1, 27))),
        ("2023-01-30 07:18", None, (_utc(2023, 1, 30, 7, 18), _utc(2023, 1, 30, 7, 19))),
        ("2023-01-26T14:05:33", None, (_utc(2023, 1, 26, 14, 5, 33), _utc(2023, 1, 26, 14, 5, 34))),
        ("Member since 2023-01-04", None, (_utc(2023, 1, 4), _utc(2023, 1, 5))),
        ("На площадке с 05.01.2023", None, (_utc(2023, 1, 5), _utc(2023, 1, 6))),
        ("Mar 5, 2017", None, (_utc(2017, 3, 5), _utc(2017, 3, 6))),
        ("March 2017", None, (_utc(2017, 3, 1), _utc(2017, 4, 1))),
        ("11 September 2019 14:02", None, (_utc(2019, 9, 11, 14, 2), _utc(2019, 9, 11, 14, 3))),
        ("5 марта 2017", "ru", (_utc(2017, 3, 5), _utc(2017, 3, 6))),
        ("01/02/2019", "en-GB", (_utc(2019, 2, 1), _utc(2019, 2, 2))),
        ("01/02/2019", "en-US", (_utc(2019, 1, 2), _utc(2019, 1, 3))),
    ],
)
def test_absolute_dates_in_common_formats(text, locale, interval):
    assert absolute_interval(text, locale=locale) == interval


def test_words_without_a_date_are_no_date():
    assert absolute_interval("yesterday") is None
    assert absolute_interval("no date here") is None
