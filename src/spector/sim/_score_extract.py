"""Field-by-field comparison of the store's records with the truth, and the figures.

For one record kind: every row the store holds for the range's markets is matched to the
truth by the market's own key (listing ref, handle, feedback id, thread and post id,
order id). Figures, each with the counts behind it:

- ``recall``: truth records in scope that the store holds (``found / truth``);
- ``precision``: store rows that are truth records, each counted once (``true / stored``):
  a row the truth does not have, or a second row for one record, lowers it; a real record
  outside the scope (a listing crawled before it ended) does not;
- ``field_accuracy``: of the records found, the shown fields whose stored value is right
  (``correct / scored``), also per field, with a few of the wrong values; a time is right
  when the truth's lies inside the stored interval, and how wide the right intervals are
  is reported beside (``median_width_hours``: "5 days ago" is known to a day, not a minute).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any

from spector.model import Listing, VendorAccount
from spector.sim._score_truth import Expected, KindTruth
from spector.store import Store

__all__ = ["KindRows", "Tally", "figures", "read_rows", "tally_kind"]

EXAMPLES = 3  # wrong values kept per field, to show why a figure fell


def _same(want: Any, got: Any, _: str) -> bool:
    return bool(want == got)


def _list(want: Any, got: Any, _: str) -> bool:
    return sorted(want or []) == sorted(got or [])


def _float(want: Any, got: Any, _: str) -> bool:
    if want is None or got is None:
        return want is None and got is None
    return abs(float(want) - float(got)) < 1e-9


def _approx(want: Any, got: Any, _: str) -> bool:
    value, tolerance = want
    return got is not None and abs(Decimal(got) - value) <= tolerance


def _vendor(want: Any, got: Any, market_id: str) -> bool:
    return got is not None and got == VendorAccount(market_id=market_id, handle=want).id


def _listing(want: Any, got: Any, market_id: str) -> bool:
    return got is not None and got == Listing(market_id=market_id, listing_ref=want).id


def _within(want: Any, got: Any, _: str) -> bool:
    """The truth's time (or the span it is known to: a post's day) lies in the stored
    interval, ends included."""
    (start, end), (after, before) = want, got
    return after is not None and before is not None and after <= start and end <= before


def _instant(want: Any, got: Any, _: str) -> bool:
    """The stored instant lies in the truth's span (an order placed on a day)."""
    start, end = want
    return got is not None and start <= got < end


Rule = Callable[[Any, Any, str], bool]
RULES: dict[str, dict[str, Rule]] = {
    "listing": {"price_usd": _approx, "ships_to": _list, "vendor": _vendor},
    "vendor_account": {"rating": _float, "pgp_fingerprints": _list, "contacts": _list},
    "feedback": {"rating": _float, "time": _within, "vendor": _vendor, "listing": _listing},
    "post": {"time": _within, "media": _list},
    "order": {"listing": _listing, "vendor": _vendor, "created_at": _instant},
}

# kind -> (table, key columns, {field: column or (columns...)}); a tuple is read as one
# value (an interval). The latest row first, so a duplicate's fields are its newest's.
COLUMNS: dict[str, tuple[str, tuple[str, ...], dict[str, str | tuple[str, ...]]]] = {
    "listing": (
        "listings",
        ("listing_ref",),
        {
            **{f: f for f in ("title", "price", "currency", "price_usd", "quantity", "unit")},
            **{f: f for f in ("ships_from", "ships_to", "category", "sold_count", "sold_since")},
            "vendor": "vendor_id",
        },
    ),
    "vendor_account": (
        "vendor_accounts",
        ("handle",),
        {
            f: f
            for f in (
                "handle",
                "joined",
                "rating",
                "feedback_count",
                "sales_count",
                "profile_text",
                "pgp_fingerprints",
                "contacts",
            )
        },
    ),
    "feedback": (
        "feedback",
        ("feedback_ref",),
        {
            **{f: f for f in ("rating", "text", "buyer", "item")},
            "time": ("left_after", "left_before"),
            "vendor": "vendor_id",
            "listing": "listing_id",
        },
    ),
    "post": (
        "posts",
        ("thread_ref", "post_ref"),
        {
            **{f: f for f in ("text", "author", "thread_title", "board", "media")},
            "time": ("posted_after", "posted_before"),
        },
    ),
    "order": (
        "orders",
        ("order_ref",),
        {
            **{f: f for f in ("buyer", "amount", "currency", "amount_usd", "payto_address")},
            **{f: f for f in ("created_at", "status")},
            "listing": "listing_id",
            "vendor": "vendor_id",
        },
    ),
}


@dataclass
class KindRows:
    """The store's rows of one kind for the matched markets: (truth key, workspace market
    id, field values)."""

    kind: str
    rows: list[tuple[tuple[str, ...], str, dict[str, Any]]]


def read_rows(
    store: Store, kind: str, markets: dict[str, str], only_ids: str | None = None
) -> KindRows:
    """Rows of ``kind`` in the workspace markets ``markets`` (workspace id -> range market
    id); with ``only_ids`` (a SQL query of ids), only those rows."""
    table, key, fields = COLUMNS[kind]
    columns: list[str] = []
    for spec in fields.values():
        columns += [spec] if isinstance(spec, str) else list(spec)
    where = "market_id IN (SELECT unnest(?::VARCHAR[]))"
    if only_ids:
        where += f" AND id IN ({only_ids})"
    query = (
        f"SELECT market_id, {', '.join(key)}, {', '.join(columns)} FROM {table} "
        f"WHERE {where} ORDER BY last_seen DESC, id"
    )
    out: list[tuple[tuple[str, ...], str, dict[str, Any]]] = []
    for row in store.con.execute(query, [sorted(markets)]).fetchall():
        mid, keys, rest = row[0], row[1 : 1 + len(key)], list(row[1 + len(key) :])
        got: dict[str, Any] = {}
        for name, spec in fields.items():
            if isinstance(spec, str):
                got[name] = rest.pop(0)
            else:
                got[name] = tuple(rest.pop(0) for _ in spec)
        if any(k is None for k in keys):  # no key of the market's own: matches nothing
            truth_key: tuple[str, ...] = (markets[mid], "\0no key", str(len(out)))
        else:
            folded = tuple(k.casefold() if kind == "vendor_account" else k for k in keys)
            truth_key = (markets[mid], *folded)
        out.append((truth_key, mid, got))
    return KindRows(kind, out)


@dataclass
class FieldTally:
    correct: int = 0
    scored: int = 0
    wrong: list[dict[str, str]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)  # hours, of right time intervals


@dataclass
class Tally:
    """The counts behind one kind's figures (for one family, or all)."""

    truth: int = 0
    truth_ever: int = 0
    excluded_closed: int = 0
    found: int = 0
    stored: int = 0
    true: int = 0
    not_in_truth: int = 0
    duplicates: int = 0
    out_of_scope: int = 0
    fields: dict[str, FieldTally] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for name in (
            "truth",
            "truth_ever",
            "excluded_closed",
            "found",
            "stored",
            "true",
            "not_in_truth",
            "duplicates",
            "out_of_scope",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name, ft in other.fields.items():
            mine = self.fields.setdefault(name, FieldTally())
            mine.correct += ft.correct
            mine.scored += ft.scored
            mine.wrong += ft.wrong[: max(0, EXAMPLES - len(mine.wrong))]
            mine.widths += ft.widths


def tally_kind(
    truth: KindTruth, rows: KindRows, market_family: dict[str, str]
) -> tuple[Tally, dict[str, Tally]]:
    """Match ``rows`` to ``truth``; the tally of the kind and of each family that has
    records of the kind (``market_family``: range market id -> family)."""
    by_family: dict[str, Tally] = {}
    for fam in truth.known.values():
        by_family.setdefault(fam, Tally()).truth_ever += 1
    for expected in truth.want.values():
        by_family[expected.family].truth += 1
    for fam, n in truth.excluded_closed.items():
        by_family.setdefault(fam, Tally()).excluded_closed += n
    rules = RULES.get(truth.kind, {})
    seen: Counter[tuple[str, ...]] = Counter()
    for key, mid, got in rows.rows:
        family = truth.known.get(key) or truth.accepted.get(key)
        t = by_family.setdefault(family or market_family.get(key[0], "unknown"), Tally())
        t.stored += 1
        if family is None:
            t.not_in_truth += 1
            continue
        seen[key] += 1
        if seen[key] > 1:
            t.duplicates += 1
            continue
        t.true += 1
        if key not in truth.want:
            t.out_of_scope += 1
            continue
        t.found += 1
        _compare(t, key, truth.want[key], got, mid, rules)
    total = Tally()
    for t in by_family.values():
        total.add(t)
    return total, by_family


def _compare(
    t: Tally,
    key: tuple[str, ...],
    expected: Expected,
    got: dict[str, Any],
    market_id: str,
    rules: dict[str, Rule],
) -> None:
    for name, want in expected.values.items():
        ft = t.fields.setdefault(name, FieldTally())
        ft.scored += 1
        rule = rules.get(name, _same)
        if rule(want, got[name], market_id):
            ft.correct += 1
            if rule is _within:  # how precisely the time is known
                after, before = got[name]
                ft.widths.append((before - after).total_seconds() / 3600)
        elif len(ft.wrong) < EXAMPLES:
            ft.wrong.append(
                {"key": "/".join(key[1:]), "want": _show(want), "got": _show(got[name])}
            )


def _show(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], datetime | Decimal):
        return f"{value[0]} .. {value[1]}" if isinstance(value[0], datetime) else f"{value[0]}"
    return str(value)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def figures(t: Tally, scope: str, *, examples: bool = True) -> dict[str, Any]:
    """The figures of a tally, with its counts, scope and per-field accuracy."""
    correct = sum(f.correct for f in t.fields.values())
    scored = sum(f.scored for f in t.fields.values())
    return {
        "recall": _ratio(t.found, t.truth),
        "precision": _ratio(t.true, t.stored),
        "field_accuracy": _ratio(correct, scored),
        "scope": scope,
        "counts": {
            "truth": t.truth,
            "truth_ever": t.truth_ever,
            "excluded_closed": t.excluded_closed,
            "found": t.found,
            "missed": t.truth - t.found,
            "stored": t.stored,
            "true": t.true,
            "not_in_truth": t.not_in_truth,
            "duplicates": t.duplicates,
            "out_of_scope": t.out_of_scope,
            "fields_scored": scored,
            "fields_correct": correct,
        },
        "fields": {
            name: {
                "accuracy": _ratio(f.correct, f.scored),
                "correct": f.correct,
                "scored": f.scored,
                **({"wrong": f.wrong} if examples and f.wrong else {}),
                **(
                    {
                        "median_width_hours": round(median(f.widths), 3),
                        "max_width_hours": round(max(f.widths), 3),
                    }
                    if f.widths
                    else {}
                ),
            }
            for name, f in sorted(t.fields.items())
        },
    }
