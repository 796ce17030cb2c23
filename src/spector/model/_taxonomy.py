"""Taxonomies declared as data files: product categories, countries and regions, currencies.

The files live in ``spector/model/data``; this module loads each once and answers
look-ups by code or by any alias (case-insensitive).
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from spector.errors import UsageError

__all__ = [
    "Category",
    "Country",
    "Currency",
    "categories",
    "category",
    "countries",
    "country",
    "currencies",
    "currency",
    "resolve_category",
    "resolve_country",
    "resolve_currency",
]


@dataclass(frozen=True, slots=True)
class Category:
    code: str  # dotted: "drugs.stimulants"
    label: str
    aliases: tuple[str, ...]

    @property
    def parent(self) -> str | None:
        return self.code.rsplit(".", 1)[0] if "." in self.code else None


@dataclass(frozen=True, slots=True)
class Country:
    """An ISO 3166-1 country, or a shipping pseudo-region (``is_region``)."""

    code: str  # alpha-2, or the region's code (WW, EU, ...)
    name: str
    alpha3: str | None
    numeric: str | None
    aliases: tuple[str, ...]
    is_region: bool = False
    members: tuple[str, ...] = ()  # for regions; empty for WW (everywhere)


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    name: str
    kind: str  # fiat or crypto
    decimals: int
    symbols: tuple[str, ...]


def _data(name: str) -> str:
    return resources.files("spector.model").joinpath("data", name).read_text("utf-8")


def _toml(name: str) -> dict[str, Any]:
    return tomllib.loads(_data(name))


@cache
def categories() -> tuple[Category, ...]:
    """Every product category, parents before children."""
    rows = _toml("categories.toml")["category"]
    return tuple(Category(r["code"], r["label"], tuple(r.get("aliases", ()))) for r in rows)


@cache
def _categories_by_code() -> dict[str, Category]:
    return {c.code: c for c in categories()}


def category(code: str) -> Category:
    """The category with ``code``; a UsageError if there is none."""
    try:
        return _categories_by_code()[code]
    except KeyError:
        raise UsageError(f"unknown product category {code!r}") from None


@cache
def countries() -> tuple[Country, ...]:
    """Every ISO 3166-1 country, then the pseudo-regions (WW, EU, ...)."""
    reader = csv.DictReader(_data("countries.tsv").splitlines(), delimiter="\t")
    result = [
        Country(
            r["alpha2"],
            r["name"],
            r["alpha3"],
            r["numeric"],
            tuple(a for a in r["aliases"].split("|") if a),
        )
        for r in reader
    ]
    for r in _toml("regions.toml")["region"]:
        result.append(
            Country(
                r["code"],
                r["name"],
                None,
                None,
                tuple(r.get("aliases", ())),
                is_region=True,
                members=tuple(r.get("members", ())),
            )
        )
    return tuple(result)


@cache
def _country_index() -> tuple[dict[str, Country], dict[str, Country]]:
    by_code: dict[str, Country] = {}
    by_name: dict[str, Country] = {}
    for c in countries():
        by_code[c.code] = c
        if c.alpha3:
            by_code.setdefault(c.alpha3, c)
        for name in (c.name, *c.aliases):
            by_name.setdefault(name.casefold(), c)
    return by_code, by_name


def country(code: str) -> Country:
    """The country or region with alpha-2 / alpha-3 / region ``code``; UsageError if none."""
    found = _country_index()[0].get(code.upper())
    if found is None:
        raise UsageError(f"unknown country code {code!r}", expected="ISO 3166-1 or WW/EU")
    return found


def resolve_country(text: str) -> Country | None:
    """The country or region a market's text names ("UK", "Holland", "Worldwide"), or None."""
    cleaned = text.strip()
    if not cleaned:
        return None
    by_code, by_name = _country_index()
    return by_name.get(cleaned.casefold()) or (
        by_code.get(cleaned.upper()) if len(cleaned) in (2, 3) else None
    )


@cache
def currencies() -> tuple[Currency, ...]:
    return tuple(
        Currency(r["code"], r["name"], r["kind"], int(r["decimals"]), tuple(r.get("symbols", ())))
        for r in _toml("currencies.toml")["currency"]
    )


@cache
def _currency_index() -> dict[str, Currency]:
    index: dict[str, Currency] = {}
    for c in currencies():
        index[c.code.casefold()] = c
        for s in c.symbols:
            index.setdefault(s.casefold(), c)
    return index


def currency(code: str) -> Currency:
    """The currency with ``code``; a UsageError if it is not in the table."""
    found = _currency_index().get(code.casefold())
    if found is None or found.code != code.upper():
        raise UsageError(f"unknown currency {code!r}")
    return found


def resolve_currency(text: str) -> Currency | None:
    """The currency a code or symbol names ("$", "руб", "btc"), or None."""
    return _currency_index().get(text.strip().casefold())


@cache
def _category_aliases() -> dict[str, list[Category]]:
    index: dict[str, list[Category]] = {}
    for c in categories():
        for alias in (c.label.casefold(), *(a.casefold() for a in c.aliases)):
            index.setdefault(alias, []).append(c)
    return index


def resolve_category(path: list[str]) -> str | None:
    """The taxonomy code for a market's own category path, most general first
    (["Drugs", "Cannabis", "Weed"] -> "drugs.cannabis"), or None.

    The top of the path fixes the branch; a deeper name counts only inside that branch,
    so "Services / Other" does not become "drugs.other".
    """
    names = [p.strip().casefold() for p in path if p and p.strip() and p.strip() != "NA"]
    if not names:
        return None
    index = _category_aliases()
    top = next(iter(index.get(names[0], [])), None)
    best = top.code if top else None
    for name in names[1:]:
        for candidate in index.get(name, []):
            if best is None or candidate.code.startswith(best + ".") or candidate.code == best:
                best = candidate.code
                break
    return best
