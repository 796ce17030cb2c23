"""Sales and revenue per market, vendor, actor, category, ships-from country and ISO week.

``estimate(ws)`` turns the sales evidence (``_sales``) into estimates. A feedback stands
for 1 / rate sales, where the rate (feedback per sale) is the one given, else the pooled
calibration of the sold counters (``_calibrate``), else 1.0: one sale per feedback, the
lower bound (``Estimate.rate_basis`` says which). A counter's sales are taken as they are.

Intervals: ``revenue_low``/``revenue_high`` (and ``sales_low``/``sales_high``) take the
feedback part at the rate interval's ends (sales = feedback / rate_high ... feedback /
rate_low; a given rate and the 1.0 lower bound have no interval of their own), and an
estimated price at its own interval's ends (a feedback without its listing: the vendor's
cheapest to dearest listing; an imputed holding price: its peers'). Per week,
a sale dated in an interval is shared among the weeks the interval overlaps, in
proportion (``sales``, ``revenue_usd``: the expected values); ``low`` counts only the
sales whose whole interval lies in the week, ``high`` every sale that may fall in it.
Counter sales are spread evenly over their window, and that share is taken as known.

Holding prices with no ordinary price ever seen (``_sales``) are left out of the tables
and counted: ``excluded["holding_prices"]`` (sales evidence: feedback and counter sales),
``excluded["holding_prices_usd"]`` (their revenue at the imputed price and the rate),
and per market ``holding_imputed_usd``. ``estimate(ws, impute_holding=True)`` puts them in
every table at that price instead (``revenue_usd`` then includes them).

Every table sums to the same totals (markets = vendors = categories = countries = weeks),
rows with an unknown key (no category, no country) included under ``None``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from spector.economics._calibrate import Calibration, calibrate
from spector.economics._sales import Evidence, Sale, read_sales
from spector.economics._shill import shill_signs
from spector.errors import UsageError
from spector.store import Workspace

__all__ = ["Estimate", "estimate"]

Row = dict[str, object]
_GROWTH_MIN_WEEKS = 3


@dataclass
class Estimate:
    """The estimate of a workspace; the table attributes are lists of dicts (see the
    module docstring for the columns), sorted by revenue, largest first (weeks by week)."""

    feedback_rate: float
    rate_low: float
    rate_high: float
    rate_basis: str  # "given", "calibrated", "lower bound"
    calibration: Calibration | None
    excluded: dict[str, float]
    shill: dict[str, object]
    totals: Row
    by_market: list[Row]
    by_vendor: list[Row]
    by_actor: list[Row] | None
    by_category: list[Row]
    by_country: list[Row]
    by_week: list[Row]
    by_category_week: list[Row]
    by_market_week: list[Row]
    lifecycle: list[Row]
    notes: list[str] = field(default_factory=list)

    @property
    def feedback_rate_source(self) -> str:
        """Where ``feedback_rate`` comes from: ``rate_basis`` ("given", "calibrated" or
        "lower bound")."""
        return self.rate_basis

    @property
    def top_vendors(self) -> list[Row]:
        return self.by_vendor[:10]

    def summary(self) -> dict[str, object]:
        """A JSON-ready summary (the `econ report --json` output)."""
        return {
            "feedback_rate": self.feedback_rate,
            "rate_low": self.rate_low,
            "rate_high": self.rate_high,
            "rate_basis": self.rate_basis,
            "calibration": self.calibration.as_dict() if self.calibration else None,
            "excluded": self.excluded,
            "shill": self.shill,
            "totals": self.totals,
            "by_market": self.by_market,
            "top_vendors": self.top_vendors,
            "lifecycle": self.lifecycle,
            "notes": self.notes,
        }


def estimate(
    ws: Workspace, *, feedback_rate: float | None = None, impute_holding: bool = False
) -> Estimate:
    """The estimate of ``ws`` (see the module docstring). ``feedback_rate`` is feedback per
    sale, in (0, 1]; a value outside raises ``UsageError``. ``impute_holding`` adds the
    sales of holding-price listings at their imputed price. Reads only; idempotent."""
    if feedback_rate is not None and not (
        isinstance(feedback_rate, int | float) and 0 < feedback_rate <= 1
    ):
        raise UsageError(
            f"feedback rate {feedback_rate!r} is not a share of sales",
            expected="a number in (0, 1]: feedback per sale, e.g. 0.7",
        )
    evidence = read_sales(ws.store)
    calibration = calibrate(evidence)
    notes: list[str] = []
    if feedback_rate is not None:
        rate = low = high = float(feedback_rate)
        basis = "given"
    elif calibration is not None and calibration.ratio > 0:
        rate, low, high = calibration.ratio, max(calibration.low, 1e-9), calibration.high
        basis = "calibrated"
    else:
        rate = low = high = 1.0
        basis = "lower bound"
        notes.append(
            "no sold counters on a market with feedback: one sale per feedback, a lower bound"
        )
    if any(s.kind == "counter" for s in evidence.sales):
        notes.append("listings with 'N sold' counters count their sales from the counter")
    weights = (1 / rate, 1 / high, 1 / low)
    held = _accumulate(evidence.held, weights, lambda s: s.market_id)
    excluded: dict[str, float] = {**evidence.excluded}
    excluded["holding_prices_usd"] = round(sum(a[3] for a in held.values()), 2)
    if impute_holding:
        evidence.sales = evidence.sales + evidence.held
        notes.append("holding prices imputed from the vendor's (or market's) peers: included")
    elif evidence.held:
        notes.append(
            f"{evidence.excluded['holding_prices']:,} sales at a holding price with no "
            f"ordinary price seen, worth ${excluded['holding_prices_usd']:,.0f} at an imputed "
            "price, left out"
        )
    actors = _actor_map(ws)
    result = Estimate(
        feedback_rate=rate,
        rate_low=low,
        rate_high=high,
        rate_basis=basis,
        calibration=calibration,
        excluded=dict(sorted(excluded.items())),
        shill=shill_signs(evidence),
        totals=_totals(evidence.sales, weights),
        by_market=_markets(evidence, weights, {} if impute_holding else held),
        by_vendor=_vendors(evidence, weights, actors),
        by_actor=_actors(ws, evidence, weights, actors) if actors is not None else None,
        by_category=_group(evidence.sales, weights, "category", lambda s: s.category),
        by_country=_group(evidence.sales, weights, "ships_from", lambda s: s.ships_from),
        by_week=_weeks(evidence.sales, weights, None),
        by_category_week=_weeks(evidence.sales, weights, ("category", lambda s: s.category)),
        by_market_week=_weeks(evidence.sales, weights, ("market_id", lambda s: s.market_id)),
        lifecycle=[],
        notes=notes,
    )
    result.lifecycle = _lifecycle(evidence, result.by_market_week)
    return result


def _weights(sale: Sale, weights: tuple[float, float, float]) -> tuple[float, float, float]:
    if sale.kind == "counter":
        return (sale.count, sale.count, sale.count)
    return (sale.count * weights[0], sale.count * weights[1], sale.count * weights[2])


def _row(key: str, value: object, acc: list[float]) -> Row:
    sales, low, high, revenue, rlow, rhigh, feedback, counted = acc
    return {
        key: value,
        "sales": sales,
        "sales_low": low,
        "sales_high": high,
        "revenue_usd": revenue,
        "revenue_low": rlow,
        "revenue_high": rhigh,
        "feedback": int(feedback),
        "counter_sales": int(counted),
    }


def _accumulate(
    sales: Iterable[Sale], weights: tuple[float, float, float], key: Callable[[Sale], object]
) -> dict[object, list[float]]:
    acc: dict[object, list[float]] = defaultdict(lambda: [0.0] * 8)
    for s in sales:
        mid, lo, hi = _weights(s, weights)
        a = acc[key(s)]
        a[0] += mid
        a[1] += lo
        a[2] += hi
        a[3] += mid * s.price_usd
        a[4] += lo * s.low
        a[5] += hi * s.high
        if s.kind == "counter":
            a[7] += s.count
        else:
            a[6] += s.count
    return acc


def _f(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _by_revenue(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (-_f(r["revenue_usd"]), str(next(iter(r.values())))))


def _group(
    sales: list[Sale], weights: tuple[float, float, float], name: str, key: Callable[[Sale], object]
) -> list[Row]:
    return _by_revenue([_row(name, k, a) for k, a in _accumulate(sales, weights, key).items()])


def _totals(sales: list[Sale], weights: tuple[float, float, float]) -> Row:
    acc = _accumulate(sales, weights, lambda s: "all").get("all", [0.0] * 8)
    row = _row("scope", "all", acc)
    row.pop("scope")
    return row


def _markets(
    evidence: Evidence, weights: tuple[float, float, float], held: dict[object, list[float]]
) -> list[Row]:
    """Per market; ``holding_imputed_usd``: the revenue at an imputed price of its sales
    at a holding price (left out of ``revenue_usd``; 0 when imputed into it)."""
    rows = _group(evidence.sales, weights, "market_id", lambda s: s.market_id)
    for r in rows:
        name, status = evidence.markets.get(str(r["market_id"]), (str(r["market_id"]), None))
        r["market"], r["status"] = name, status
        r["holding_imputed_usd"] = held.get(r["market_id"], [0.0] * 8)[3]
    return rows


def _vendors(
    evidence: Evidence, weights: tuple[float, float, float], actors: dict[str, str] | None
) -> list[Row]:
    rows = _group(evidence.sales, weights, "vendor_id", lambda s: s.vendor_id)
    for r in rows:
        vid = r["vendor_id"]
        market_id, handle, _ = evidence.vendors.get(str(vid), (None, None, None))
        r["handle"], r["market_id"] = handle, market_id
        r["market"] = evidence.markets.get(str(market_id), (None, None))[0]
        r["actor_id"] = actors.get(str(vid)) if actors is not None else None
    return rows


def _actor_map(ws: Workspace) -> dict[str, str] | None:
    """vendor account id -> actor id, from ``actor_accounts`` (None without that table)."""
    if "actor_accounts" not in ws.store.tables():
        return None
    rows = ws.store.con.execute("SELECT account_id, actor_id FROM actor_accounts").fetchall()
    return {str(a): str(b) for a, b in rows}


def _actors(
    ws: Workspace, evidence: Evidence, weights: tuple[float, float, float], actors: dict[str, str]
) -> list[Row]:
    labels = dict(ws.store.con.execute("SELECT actor_ref, label FROM actors").fetchall())
    rows = _group(evidence.sales, weights, "actor_id", lambda s: actors.get(s.vendor_id or ""))
    accounts: dict[str, set[str]] = defaultdict(set)
    for s in evidence.sales:
        if s.vendor_id and s.vendor_id in actors:
            accounts[actors[s.vendor_id]].add(s.vendor_id)
    for r in rows:
        r["label"] = labels.get(r["actor_id"])
        r["accounts"] = len(accounts.get(str(r["actor_id"]), ()))
    return rows


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _week_start(moment: datetime) -> datetime:
    day = moment.date() - timedelta(days=moment.weekday())
    return datetime(day.year, day.month, day.day)


def _shares(start: datetime, end: datetime) -> list[tuple[datetime, float, bool]]:
    """(week start, share of [start, end] in that week, whole interval inside it)."""
    first, last = _week_start(start), _week_start(end)
    if first == last:
        return [(first, 1.0, True)]
    span = (end - start).total_seconds()
    result = []
    week = first
    while week <= last:
        lo, hi = max(start, week), min(end, week + timedelta(days=7))
        result.append((week, max(0.0, (hi - lo).total_seconds()) / span, False))
        week += timedelta(days=7)
    return result


def _weeks(
    sales: list[Sale],
    weights: tuple[float, float, float],
    by: tuple[str, Callable[[Sale], object]] | None,
) -> list[Row]:
    acc: dict[tuple[object, datetime], list[float]] = defaultdict(lambda: [0.0] * 8)
    for s in sales:
        mid, lo, hi = _weights(s, weights)
        group = by[1](s) if by else None
        for week, share, inside in _shares(s.start, s.end):
            a = acc[(group, week)]
            known = s.kind == "counter" or inside
            a[0] += mid * share
            a[1] += lo * (share if s.kind == "counter" else 1.0 if inside else 0.0)
            a[2] += hi * (share if known else 1.0)
            a[3] += mid * share * s.price_usd
            a[4] += lo * s.low * (share if s.kind == "counter" else 1.0 if inside else 0.0)
            a[5] += hi * s.high * (share if known else 1.0)
            a[7 if s.kind == "counter" else 6] += s.count * share
    rows = []
    for (group, week), a in sorted(acc.items(), key=lambda kv: (kv[0][1], str(kv[0][0]))):
        row = _row("week", iso_week(week.date()), a)
        row["week_start"] = week.date().isoformat()
        row["feedback"], row["counter_sales"] = a[6], a[7]  # shared: fractions
        if by:
            row[by[0]] = group
        rows.append(row)
    return rows


def _growth(weekly: list[tuple[date, float]]) -> float | None:
    """Weekly revenue growth: exp of the least-squares slope of log revenue against the
    week, less one, over the weeks with revenue (None with fewer than three)."""
    if not weekly:
        return None
    origin = weekly[0][0]
    points = [((d - origin).days / 7, math.log(v)) for d, v in weekly if v > 0]
    if len(points) < _GROWTH_MIN_WEEKS:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / var
    return math.exp(slope) - 1


_ENDS = {"seized": "takedown", "exit_scam": "exit scam", "active": "active"}


def _lifecycle(evidence: Evidence, market_weeks: list[Row]) -> list[Row]:
    """Per market: first and last activity, weeks active, peak week, weekly growth, and
    how it ended (takedown: status seized; exit scam: status exit_scam; else active or
    the status the store has)."""
    weeks: dict[str, list[Row]] = defaultdict(list)
    for r in market_weeks:
        weeks[str(r["market_id"])].append(r)
    span: dict[str, tuple[datetime, datetime]] = {}
    for s in evidence.sales:
        lo, hi = span.get(s.market_id, (s.start, s.end))
        span[s.market_id] = (min(lo, s.start), max(hi, s.end))
    rows = []
    for market_id, (name, status) in sorted(evidence.markets.items(), key=lambda kv: kv[1][0]):
        if market_id not in span:
            continue
        mine = sorted(weeks[market_id], key=lambda r: str(r["week_start"]))
        peak = max(mine, key=lambda r: _f(r["revenue_usd"]))
        first, last = span[market_id]
        rows.append(
            {
                "market_id": market_id,
                "market": name,
                "status": status,
                "end": _ENDS.get(status or "", status or "unknown"),
                "first_activity": first.isoformat(),
                "last_activity": last.isoformat(),
                "weeks": len(mine),
                "peak_week": peak["week"],
                "peak_revenue_usd": peak["revenue_usd"],
                "weekly_growth": _growth(
                    [(date.fromisoformat(str(r["week_start"])), _f(r["revenue_usd"])) for r in mine]
                ),
            }
        )
    return rows
