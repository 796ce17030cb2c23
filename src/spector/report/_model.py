"""What an operation report shows, as plain values (no store, no drawing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "ReconRow",
    "ReportData",
    "TimelineEvent",
    "fmt_amount",
    "human_amount",
    "reconciliation_rows",
]


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One dated thing that happened in the operation."""

    day: date
    label: str
    kind: str  # announced | arrest | seizure | case | custody


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything a report draws: the operation's metadata, the principal's totals
    (``totals``: the totals.json dict), what was stated, and the timeline."""

    name: str
    totals: dict[str, Any]
    stated: dict[str, Any] = field(default_factory=dict)
    announced: date | None = None
    description: str | None = None
    source: str | None = None
    agencies: tuple[tuple[str, str], ...] = ()  # (name, country)
    timeline: tuple[TimelineEvent, ...] = ()
    other_seizures: tuple[tuple[str, int | None], ...] = ()  # (description, count)
    seizure_records: dict[str, int] = field(default_factory=dict)  # kind -> rows
    generated_at: datetime | None = None
    generated_for: str | None = None  # "username (agency)": whose view the figures are


@dataclass(frozen=True, slots=True)
class ReconRow:
    """One stated figure against the records: ``ok`` when they agree."""

    figure: str
    stated: str
    records: str
    difference: str
    ok: bool


def fmt_amount(value: object, unit: str = "") -> str:
    """``850`` -> "850", ``Decimal("10.500")`` -> "10.5", with thousands separators."""
    number = (_dec(value) or Decimal(0)).normalize()
    text = f"{int(number):,}" if number == number.to_integral_value() else f"{number:,f}"
    return f"{text} {unit}".strip() if unit else text


def _dec(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str | Decimal):
        return Decimal(value)
    return None


def human_amount(value: object, unit: str = "") -> str:
    """850 -> "850", 50800000 -> "50.8 million", 1250000000 -> "1.25 billion"."""
    number = _dec(value) or Decimal(0)
    for size, word in ((Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million")):
        if abs(number) >= size:
            scaled = (number / size).quantize(Decimal("0.01")).normalize()
            text = f"{scaled:f} {word}"
            break
    else:
        text = fmt_amount(number)
    return f"{text} {unit}".strip() if unit else text


def reconciliation_rows(data: ReportData) -> list[ReconRow]:
    """Every stated total beside what the records add up to (the report's table)."""
    totals, stated = data.totals, data.stated
    rows: list[ReconRow] = []

    def add(figure: str, want: Decimal | None, have: Decimal, unit: str = "") -> None:
        if want is None:
            return
        diff = want - have
        if diff == 0:
            text = "adds up"
        elif diff > 0:
            text = f"{fmt_amount(diff, unit)} not itemised"
        else:
            text = f"{fmt_amount(-diff, unit)} more than stated"
        rows.append(
            ReconRow(figure, fmt_amount(want, unit), fmt_amount(have, unit), text, diff == 0)
        )

    add("Arrests", _dec(stated.get("arrests")), Decimal(totals["arrests"]))
    by_country = totals.get("arrests_by_country", {})
    for code, count in sorted((stated.get("arrests_by_country") or {}).items()):
        add(f"Arrests in {code}", _dec(count), Decimal(by_country.get(code, 0)))
    add("Firearms", _dec(stated.get("firearms")), Decimal(totals["firearms"]))
    add("Drugs", _dec(stated.get("drugs_kg")), _dec(totals["drugs_kg"]) or Decimal(0), "kg")
    cash = stated.get("cash_crypto")
    if isinstance(cash, dict):
        currency = str(cash.get("currency") or "?")
        have = sum(
            (
                _dec(c["amount"]) or Decimal(0)
                for c in totals["cash_crypto"]
                if c["currency"] == currency
            ),
            Decimal(0),
        )
        add(f"Cash and crypto ({currency})", _dec(cash.get("amount")), have)
    return rows
