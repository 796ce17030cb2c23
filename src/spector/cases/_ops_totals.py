"""An operation's totals and their reconciliation with the published ("stated") totals.

Works on plain values, so the arithmetic is testable without a store:
:func:`compute_totals` takes the arrests and seizures a principal may see and the
operation's ``stated_totals`` and returns the ``totals.json`` shape of issue [I]::

    {"arrests": N, "arrests_by_country": {"US": N, ...}, "firearms": N,
     "drugs_kg": X, "drugs_kg_by_substance": {...},
     "cash_crypto": [{"amount": X, "currency": "EUR"}], "discrepancies": ["...", ...]}

kg and money are summed as :class:`~decimal.Decimal` (no float drift); they become
JSON numbers only at the end (an int when whole). ``discrepancies`` holds one plain
sentence for every stated total the records do not add up to, and nothing otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["ArrestFact", "SeizureFact", "compute_totals", "fmt_amount", "json_number"]


@dataclass(frozen=True, slots=True)
class ArrestFact:
    """One arrest record as the totals see it."""

    country: str
    count: int


@dataclass(frozen=True, slots=True)
class SeizureFact:
    """One seizure record as the totals see it (the fields its kind does not use are None)."""

    kind: str
    amount: Decimal | None = None
    currency: str | None = None
    count: int | None = None
    substance: str | None = None
    kg: Decimal | None = None


def json_number(value: Decimal | int) -> int | float:
    """A JSON number for ``value``: an int when it is whole, else the shortest float that
    prints as the same decimal digits."""
    if isinstance(value, int):
        return value
    if value == value.to_integral_value():
        return int(value)
    return float(value.normalize())


def fmt_amount(value: Decimal | int, unit: str = "") -> str:
    """``850`` -> "850", ``Decimal("10.500")`` -> "10.5", with thousands separators."""
    number = Decimal(value).normalize() if isinstance(value, Decimal) else Decimal(value)
    text = f"{number:,f}" if number != number.to_integral_value() else f"{int(number):,}"
    return f"{text} {unit}".strip() if unit else text


def _gap(stated: Decimal | int, found: Decimal | int, unit: str = "") -> str:
    diff = Decimal(stated) - Decimal(found)
    if diff > 0:
        return f"{fmt_amount(diff, unit)} not itemised"
    return f"{fmt_amount(-diff, unit)} more than stated"


def _money(amount: Decimal | int, currency: str) -> str:
    return f"{currency} {fmt_amount(amount)}"


def _decimal(value: object) -> Decimal | None:
    """A stored stated total (int, decimal string, float from old JSON) as Decimal."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return None


def compute_totals(
    arrests: Iterable[ArrestFact],
    seizures: Iterable[SeizureFact],
    stated: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The totals.json dict of these records, reconciled against ``stated``."""
    by_country: dict[str, int] = {}
    for arrest in arrests:
        by_country[arrest.country] = by_country.get(arrest.country, 0) + arrest.count
    firearms = 0
    drugs: dict[str, Decimal] = {}
    cash: dict[str, Decimal] = {}
    for seizure in seizures:
        if seizure.kind == "firearms" and seizure.count is not None:
            firearms += seizure.count
        elif seizure.kind == "drugs" and seizure.kg is not None:
            name = seizure.substance or "unspecified"
            drugs[name] = drugs.get(name, Decimal(0)) + seizure.kg
        elif seizure.kind == "cash_crypto" and seizure.amount is not None:
            currency = seizure.currency or "?"
            cash[currency] = cash.get(currency, Decimal(0)) + seizure.amount
    arrests_total = sum(by_country.values())
    drugs_kg = sum(drugs.values(), Decimal(0))
    discrepancies = _reconcile(stated or {}, arrests_total, by_country, firearms, drugs_kg, cash)
    return {
        "arrests": arrests_total,
        "arrests_by_country": dict(sorted(by_country.items(), key=lambda kv: (-kv[1], kv[0]))),
        "firearms": firearms,
        "drugs_kg": json_number(drugs_kg),
        "drugs_kg_by_substance": {
            k: json_number(v) for k, v in sorted(drugs.items(), key=lambda kv: (-kv[1], kv[0]))
        },
        "cash_crypto": [{"amount": json_number(v), "currency": k} for k, v in sorted(cash.items())],
        "discrepancies": discrepancies,
    }


def _reconcile(
    stated: Mapping[str, Any],
    arrests_total: int,
    by_country: Mapping[str, int],
    firearms: int,
    drugs_kg: Decimal,
    cash: Mapping[str, Decimal],
) -> list[str]:
    out: list[str] = []
    want = stated.get("arrests")
    if isinstance(want, int) and want != arrests_total:
        out.append(
            f"arrests: {want:,} stated, {arrests_total:,} in the per-country records"
            f" ({_gap(want, arrests_total)})"
        )
    for country, count in sorted((stated.get("arrests_by_country") or {}).items()):
        found = by_country.get(country, 0)
        if isinstance(count, int) and count != found:
            out.append(
                f"arrests in {country}: {count:,} stated, {found:,} in the per-country records"
            )
    want = stated.get("firearms")
    if isinstance(want, int) and want != firearms:
        out.append(
            f"firearms: {want:,} stated, {firearms:,} in the seizure records"
            f" ({_gap(want, firearms)})"
        )
    want_kg = _decimal(stated.get("drugs_kg"))
    if want_kg is not None and want_kg != drugs_kg:
        out.append(
            f"drugs: {fmt_amount(want_kg, 'kg')} stated, {fmt_amount(drugs_kg, 'kg')} itemised"
            f" ({_gap(want_kg, drugs_kg, 'kg')})"
        )
    want_cash = stated.get("cash_crypto")
    if isinstance(want_cash, Mapping):
        currency = str(want_cash.get("currency") or "?")
        amount = _decimal(want_cash.get("amount"))
        found_cash = cash.get(currency, Decimal(0))
        if amount is not None and amount != found_cash:
            gap = Decimal(amount) - found_cash
            tail = (
                f"{_money(gap, currency)} not itemised"
                if gap > 0
                else f"{_money(-gap, currency)} more than stated"
            )
            out.append(
                f"cash and crypto: {_money(amount, currency)} stated,"
                f" {_money(found_cash, currency)} itemised ({tail})"
            )
    return out
