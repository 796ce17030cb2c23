"""Exchange rates: importing a rate table, and pricing listings in USD with it."""

from __future__ import annotations

import bisect
import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow.parquet as pq

from spector.errors import InputError
from spector.model import Listing, Record
from spector.store import Store

__all__ = ["Rates", "import_rates"]

RANGE_EPOCH = date(2023, 1, 1)  # the training range counts days from here


def import_rates(store: Store, path: Path) -> int:
    """Import a Parquet or CSV table with columns currency, usd_per_unit and date (ISO) or
    day (days since the range's epoch). Returns rows stored; replaces same (currency, day)."""
    try:
        table = pq.read_table(path) if path.suffix == ".parquet" else _csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable rate table: {exc}", where=path) from exc
    names = set(table.column_names)
    if not {"currency", "usd_per_unit"} <= names or not names & {"date", "day"}:
        raise InputError(
            "missing columns", where=path, expected="currency, usd_per_unit and date or day"
        )
    rows = []
    for row in table.to_pylist():
        day = (
            date.fromisoformat(str(row["date"]))
            if "date" in row
            else RANGE_EPOCH + timedelta(days=int(row["day"]))
        )
        rows.append(
            (
                str(row["currency"]).upper(),
                day,
                Decimal(str(row["usd_per_unit"])),
                f"rates:{path.name}",
            )
        )
    with store.transaction():
        store.con.executemany("INSERT OR REPLACE INTO rates VALUES (?, ?, ?, ?)", rows)
    return len(rows)


def _csv(path: Path):  # type: ignore[no-untyped-def]
    import pyarrow.csv as pacsv

    return pacsv.read_csv(path)


class Rates:
    """The workspace's rates, looked up by currency and day (the last rate on or before)."""

    def __init__(self, store: Store) -> None:
        self.days: dict[str, list[date]] = {}
        self.values: dict[str, list[Decimal]] = {}
        for currency, day, value in store.con.execute(
            "SELECT currency, day, usd_per_unit FROM rates ORDER BY currency, day"
        ).fetchall():
            self.days.setdefault(currency, []).append(day)
            self.values.setdefault(currency, []).append(value)

    def usd(self, amount: Decimal, currency: str, when: datetime) -> Decimal | None:
        if currency == "USD":
            return amount
        days = self.days.get(currency)
        if not days:
            return None
        i = bisect.bisect_right(days, when.astimezone(UTC).date()) - 1
        if i < 0:
            return None
        value = amount * self.values[currency][i]
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def price(self, records: list[Record], when: datetime) -> list[Record]:
        """The records with each listing's price_usd filled in where a rate is known."""
        out: list[Record] = []
        for r in records:
            if (
                isinstance(r, Listing)
                and r.price is not None
                and r.currency
                and r.price_usd is None
            ):
                r = dataclasses.replace(r, price_usd=self.usd(r.price, r.currency, when))
            out.append(r)
        return out
