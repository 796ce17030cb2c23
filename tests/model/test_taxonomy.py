"""The taxonomies load from their data files and hang together."""

from __future__ import annotations

import pytest

from spector.errors import UsageError
from spector.model import (
    categories,
    category,
    countries,
    country,
    currency,
    resolve_country,
    resolve_currency,
)


def test_every_iso_country_and_the_regions():
    iso = [c for c in countries() if not c.is_region]
    assert len(iso) == 249
    assert len({c.code for c in iso}) == 249
    assert {c.code for c in countries() if c.is_region} >= {"WW", "EU"}


def test_region_members_are_countries():
    codes = {c.code for c in countries() if not c.is_region}
    for region in (c for c in countries() if c.is_region):
        assert set(region.members) <= codes, region.code
    assert len(country("EU").members) == 27


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("UK", "GB"),
        ("Holland", "NL"),
        ("Worldwide", "WW"),
        ("Россия", "RU"),
        ("germany", "DE"),
        ("USA", "US"),
        ("NLD", "NL"),
        ("eu", "EU"),
    ],
)
def test_market_country_names_resolve(text, code):
    found = resolve_country(text)
    assert found is not None
    assert found.code == code


def test_unknown_country_is_none_or_error():
    assert resolve_country("Narnia") is None
    assert resolve_country("  ") is None
    with pytest.raises(UsageError, match="unknown country"):
        country("QQ")


def test_category_tree_is_closed():
    codes = {c.code for c in categories()}
    for c in categories():
        assert c.parent is None or c.parent in codes, c.code
    assert category("fraud.bots").parent == "fraud"
    for top in ("drugs", "medicines", "weapons", "fraud", "counterfeit", "services", "digital"):
        assert top in codes


def test_currencies():
    assert currency("BTC").decimals == 8
    assert currency("XMR").decimals == 12
    assert resolve_currency("₽").code == "RUB"
    assert resolve_currency("$").code == "USD"
    assert resolve_currency("doubloons") is None
    with pytest.raises(UsageError):
        currency("$")
