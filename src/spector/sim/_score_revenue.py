"""``revenue.*`` of `spector sim score`: the economics estimate against the range's sales.

The issue asks for "revenue per market within ±10 % of the range's true sales given its
feedback rate". Which sales a crawl can know of, and how the estimate is read against
them, as defined here:

**The truth** (per market, what a crawl on its day can know of). Feedback is the only
trace of a sale a crawl sees, so a market is scored over:

- the markets whose pages show feedback (families escrow, walletless, hydra: the bot shop
  and the forum show none), matched to workspace markets as `linking` matches them (onion
  host, or name for a market without onions);
- a market open on the range's last day is scored as of that day; a market closed by then
  (seized, exit scam) shows nothing that day: it is scored only if the workspace holds
  feedback of it, as of the last day the workspace observed it (at most the day before it
  closed), else listed as not scored;
- the sales (``world/sales.parquet``, ``amount_usd``) made by that day by the vendor
  accounts whose pages the crawl sees then (a live listing that day: the extraction
  score's scope), each weighted by the chance its feedback, if any, had been left by the
  day: the range's own feedback delay (days from sale to feedback, over the sales old
  enough for every delay to be seen). A sale made a week before counts in full, one made
  on the day not at all (``true_usd``; ``sales_usd`` the unweighted sum, ``sales`` their
  number, ``weighted_sales`` the sum of the weights);
- less the sales of listings whose page shows a holding price that day (``holding_day``
  on or before it): the crawl sees only the placeholder, and the estimate must exclude
  such prices and count them (the issue); their true revenue is ``holding_usd``.

**Its feedback rate** (per market, ``feedback_rate``): ``r_m`` = the feedback a crawl can
see on the market (the truth's feedback rows of that market dated by its day, on listings
of the accounts in scope that do not show a holding price, shill feedback included:
``feedback``, of which ``shill_feedback``) over the true sales counted in the same window
(``weighted_sales``, the same delay weights as ``true_usd``).

**The estimate.** `spector.economics.estimate` runs at three rates: 1.0 (one sale per
feedback), the scale's uniform ``feedback_share``, and the rate it calibrates itself from
the sold counters. A counter's sales are taken as they are, so an estimate is
``C + F / rate``: the counter part ``C`` and the feedback part ``F`` (every feedback at
the price the pipeline gave it) are solved per market and per vendor from the runs at 1.0
and at the uniform rate (``counter_usd``, ``feedback_usd``).

**Figures.**

- ``max_abs_rel_error`` (the headline, the issue's floor): the largest over the scored
  markets of ``|C + F / r_m - true| / true`` (per market ``estimate_usd``, ``rel_error``):
  the pipeline (extraction, de-duplication, pricing, holding prices) with the sampling of
  how many sales got a feedback taken out, as "given its feedback rate" asks. What stays
  is the price mix of the sales that got feedback, shill's price mix, and every error of
  the pipeline;
- ``spearman``: rank correlation of estimated (at its market's ``r_m``) and true revenue
  over the vendor accounts in scope (average ranks for ties; an account with no estimate
  counts as 0);
- ``uniform``: the honest figures at one rate for every market (the scale's
  ``feedback_share``, which a crawl does not know): per market ``uniform_estimate_usd``,
  ``uniform_rel_error``, and their ``max_abs_rel_error`` and ``spearman``;
- ``calibrated``: the same at the estimate's own calibrated rate (``calibration``: the
  sold counters' feedback-to-sales ratio);
- ``bound``: an oracle that prices every feedback the workspace holds (but those of
  holding-price listings) at its listing's true price, over the uniform rate (per market
  ``bound_rel_error``: the part of the uniform error that is feedback's own sampling and
  shill, which no estimate from feedback at one rate avoids) and over ``r_m``
  (``bound_own_rate_rel_error``: the price mix alone, the floor of the headline for the
  feedback part);
- ``shill``: the share of the feedback value (each feedback at its listing's true price)
  that shill feedback (truth: feedback without a sale) accounts for, overall and per
  market (``shill_share``), and the uniform error with it taken out
  (``rel_error_without_shill``, ``max_abs_rel_error_without``);
- per market, to say where a gap comes from: ``feedback`` (truth, as above),
  ``feedback_held`` (of those, how many the workspace holds by its stable id),
  ``feedback_extra`` (feedback the workspace holds of the market that is not among them:
  out of the window, or of a listing not in scope) and ``feedback_estimated`` (the count
  the estimate's feedback part rests on).

None figures and a ``scope`` when the workspace holds no feedback of the range.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spector.sim._range import read_truth
from spector.sim._score_link import match_markets
from spector.sim._score_revenue_truth import FEEDBACK_FAMILIES, Truth, load, scored, windows
from spector.store import Workspace

__all__ = [
    "FEEDBACK_FAMILIES",
    "EstimateLike",
    "revenue_figures",
    "revenue_score",
    "spearman",
    "split_parts",
]


class EstimateLike(Protocol):
    """What the scorer reads of `spector.economics.Estimate`."""

    by_market: list[dict[str, Any]]
    by_vendor: list[dict[str, Any]]
    feedback_rate: float
    calibration: Any  # spector.economics.Calibration (``as_dict()``) or a dict, or None


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (Pearson's of the average ranks); None for fewer than
    three values or a constant side."""
    if len(x) != len(y) or len(x) < 3:
        return None
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return None if denominator == 0 else float((rx * ry).sum() / denominator)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), float)
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):  # ties share their average rank
        tied = values == v
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def split_parts(lower: float, uniform: float, rate: float) -> tuple[float, float]:
    """``(C, F)`` of an estimate ``C + F / rate`` from its values at rate 1.0 (``lower``)
    and at ``rate`` < 1 (``uniform``); at rate 1 everything is taken as feedback."""
    if rate >= 1:
        return 0.0, lower
    feedback = (uniform - lower) / (1 / rate - 1)
    feedback = min(max(feedback, 0.0), max(lower, 0.0))  # rounding: C, F >= 0
    return lower - feedback, feedback


def revenue_score(out: Path, ws: Workspace) -> dict[str, Any]:
    """The ``revenue`` part of the score (see the module doc)."""
    from spector.economics import estimate

    truth = load(out)
    if not _workspace_feedback(ws, out):
        return _none("no feedback of the range in the workspace (crawl and extract first)")
    return revenue_figures(
        out,
        ws,
        lower=estimate(ws, feedback_rate=1.0),
        uniform=estimate(ws, feedback_rate=truth.rate),
        calibrated=estimate(ws),
        truth=truth,
    )


def _none(scope: str) -> dict[str, Any]:
    return {"max_abs_rel_error": None, "spearman": None, "by_market": {}, "scope": scope}


def _workspace_feedback(ws: Workspace, out: Path) -> bool:
    markets = match_markets(ws.store.con, read_truth(out))
    row = ws.store.con.execute(
        "SELECT count(*) FROM feedback WHERE market_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(markets)],
    ).fetchone()
    return bool(row and row[0])


def revenue_figures(
    out: Path,
    ws: Workspace,
    *,
    lower: EstimateLike,
    uniform: EstimateLike,
    calibrated: EstimateLike | None,
    truth: Truth | None = None,
) -> dict[str, Any]:
    """The figures for estimates already made: ``lower`` at rate 1.0, ``uniform`` at the
    scale's ``feedback_share``, ``calibrated`` at the estimate's own rate (see the
    module doc)."""
    t = truth or load(out)
    con = ws.store.con
    ws_market = match_markets(con, read_truth(out))  # workspace market -> range market
    scored_on, skipped = scored(con, t, ws_market)
    win, true_v, visible = windows(t, scored_on)
    held = _held(con, t, ws_market, scored_on, visible)
    est_lower = _per_market(lower, ws_market)
    est_uniform = _per_market(uniform, ws_market)
    est_cal = _per_market(calibrated, ws_market) if calibrated is not None else {}
    counted = _per_market(lower, ws_market, column="feedback")
    by: dict[str, dict[str, Any]] = {}
    for rmid, w in sorted(win.items(), key=lambda i: t.markets[i[0]]["name"]):
        counter, fed = split_parts(est_lower.get(rmid, 0.0), est_uniform.get(rmid, 0.0), t.rate)
        r = w.rate
        own = counter + fed / r if r else None
        uni = est_uniform.get(rmid, 0.0)
        h = held[rmid]
        share = h["shill_usd"] / h["value_usd"] if h["value_usd"] else 0.0
        by[t.markets[rmid]["name"]] = {
            "market_id": rmid,
            "as_of_day": w.day,
            "feedback_rate": _round(r),
            "estimate_usd": None if own is None else round(own, 2),
            "true_usd": round(w.true_usd, 2),
            "rel_error": _rel(own, w.true_usd),
            "true_counter_usd": round(w.counter_usd, 2),
            "counter_sales": w.counter_sales,
            "counter_usd": round(counter, 2),
            "feedback_usd": round(fed, 2),
            "uniform_estimate_usd": round(uni, 2),
            "uniform_rel_error": _rel(uni, w.true_usd),
            "calibrated_estimate_usd": _round(est_cal.get(rmid), 2),
            "calibrated_rel_error": _rel(est_cal.get(rmid), w.true_usd),
            "bound_rel_error": _rel(h["oracle_usd"] / t.rate, w.true_usd),
            "bound_own_rate_rel_error": _rel(
                w.counter_usd + h["oracle_own_usd"] / r if r else None, w.true_usd
            ),
            "shill_share": round(share, 6),
            "rel_error_without_shill": _rel(uni * (1 - share), w.true_usd),
            "sales_usd": round(w.sales_usd, 2),
            "sales": w.sales,
            "weighted_sales": round(w.weighted_sales, 4),
            "holding_usd": round(w.holding_usd, 2),
            "feedback": w.feedback,
            "shill_feedback": w.shill_feedback,
            "feedback_held": h["held"],
            "feedback_extra": h["extra"],
            "feedback_estimated": int(counted.get(rmid, 0)),
        }
    rates = {rmid: w.rate for rmid, w in win.items()}
    vendors = _vendors(con, t, ws_market, true_v)
    own_v = _vendor_own(vendors, lower, uniform, t.rate, rates)
    total_value = sum(h["value_usd"] for h in held.values())
    names = ", ".join(f"{n} ({why})" for n, why in sorted(skipped.items()))
    scope = (
        f"revenue of {len(by)} markets showing feedback, each as of the day a crawl sees it "
        f"(the range's last, day {t.day}, for a market still open): the sales by then of the "
        "vendor accounts with a live listing that day, each weighted by the chance its "
        "feedback had been left by then (the range's feedback delay), less the sales of "
        "listings showing a holding price that day (no price to know: the estimate excludes "
        "them, as the truth does); the estimate's feedback part at each market's own rate "
        "(the feedback a crawl sees there, shill included, over those sales), its counter "
        f"part as it is; beside it one uniform rate {t.rate:g} and the calibrated rate"
        + (f"; not scored: {names}" if names else "")
    )
    return {
        "max_abs_rel_error": _max(by, "rel_error"),
        "spearman": _round(spearman(*_ranked(own_v, true_v))),
        "feedback_rates": {n: m["feedback_rate"] for n, m in by.items()},
        "by_market": by,
        "uniform": {
            "feedback_rate": t.rate,
            "max_abs_rel_error": _max(by, "uniform_rel_error"),
            "spearman": _round(spearman(*_ranked(_vendor_sum(vendors, uniform), true_v))),
        },
        "calibrated": {
            "feedback_rate": None if calibrated is None else calibrated.feedback_rate,
            "calibration": _as_dict(calibrated.calibration if calibrated else None),
            "max_abs_rel_error": _max(by, "calibrated_rel_error"),
            "spearman": _round(spearman(*_ranked(_vendor_sum(vendors, calibrated), true_v)))
            if calibrated is not None
            else None,
        },
        "bound": {
            "max_abs_rel_error": _max(by, "bound_rel_error"),
            "max_abs_rel_error_own_rate": _max(by, "bound_own_rate_rel_error"),
            "scope": "every feedback the workspace holds of the window at its listing's true "
            "price (holding-price listings left out), over the uniform rate and over each "
            "market's own rate; counters not used",
        },
        "shill": {
            "share": _round(sum(h["shill_usd"] for h in held.values()) / total_value)
            if total_value
            else None,
            "max_abs_rel_error_without": _max(by, "rel_error_without_shill"),
            "scope": "share of the estimate's feedback value (each feedback at its listing's "
            "true price) that shill feedback (no sale behind it) accounts for; the error "
            "without it is the uniform estimate's",
        },
        "scope": scope,
    }


def _rel(estimate: float | None, true: float) -> float | None:
    return None if estimate is None or not true else _round((estimate - true) / true)


def _max(by: dict[str, dict[str, Any]], key: str) -> float | None:
    values = [abs(m[key]) for m in by.values() if m[key] is not None]
    return _round(max(values)) if values else None


def _per_market(
    est: EstimateLike | None, ws_market: dict[str, str], *, column: str = "revenue_usd"
) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in est.by_market if est is not None else []:
        rmid = ws_market.get(row["market_id"])
        if rmid is not None:
            totals[rmid] += float(row.get(column) or 0)
    return dict(totals)


def _held(
    con: Any,
    t: Truth,
    ws_market: dict[str, str],
    scored: dict[str, int],
    visible: dict[tuple[str, str], bool],
) -> dict[str, dict[str, Any]]:
    """Per scored range market, of the feedback the workspace holds (by stable id): the
    true-price value of its shill feedback and of all of it matched to the truth, the
    oracle's sum (see ``bound``), how many of the visible ones it holds, and how many
    others it holds."""
    out = {
        rmid: {
            "shill_usd": 0.0,
            "value_usd": 0.0,
            "oracle_usd": 0.0,
            "oracle_own_usd": 0.0,
            "held": 0,
            "extra": 0,
        }
        for rmid in scored
    }
    rows = con.execute(
        "SELECT DISTINCT market_id, feedback_ref FROM feedback "
        "WHERE market_id IN (SELECT unnest(?::VARCHAR[])) AND feedback_ref IS NOT NULL",
        [sorted(ws_market)],
    ).fetchall()
    for mid, ref in sorted(set(rows)):
        rmid = ws_market[mid]
        if rmid not in scored:
            continue
        o = out[rmid]
        f = t.feedback.get((rmid, ref))
        if (rmid, ref) in visible:
            o["held"] += 1
        else:
            o["extra"] += 1
        if f is None:
            continue
        listing = t.listings[f["listing_id"]]
        price = float(listing["price_usd"])
        o["value_usd"] += price
        if f["sale_id"] is None:
            o["shill_usd"] += price
        shown_from = listing.get("holding_day")
        if shown_from is None or shown_from > scored[rmid]:
            o["oracle_usd"] += price
            if visible.get((rmid, ref)) is False:  # in the window, no counter counts it
                o["oracle_own_usd"] += price
    return out


def _vendors(
    con: Any, t: Truth, ws_market: dict[str, str], true_v: dict[str, float]
) -> dict[str, tuple[str, str]]:
    """Workspace vendor id -> (truth account id, range market), for the accounts in scope."""
    found: dict[str, tuple[str, str]] = {}
    for vid, mid, handle in con.execute(
        "SELECT id, market_id, handle FROM vendor_accounts "
        "WHERE market_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(ws_market)],
    ).fetchall():
        aid = t.accounts.get((ws_market[mid], handle.casefold()))
        if aid is not None and aid in true_v:
            found[vid] = (aid, ws_market[mid])
    return found


def _vendor_sum(vendors: dict[str, tuple[str, str]], est: EstimateLike | None) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in est.by_vendor if est is not None else []:
        if row["vendor_id"] in vendors:
            totals[vendors[row["vendor_id"]][0]] += float(row["revenue_usd"] or 0)
    return dict(totals)


def _vendor_own(
    vendors: dict[str, tuple[str, str]],
    lower: EstimateLike,
    uniform: EstimateLike,
    rate: float,
    rates: dict[str, float | None],
) -> dict[str, float]:
    """Per truth account: its counter part plus its feedback part at its market's rate."""
    at = {r["vendor_id"]: float(r["revenue_usd"] or 0) for r in uniform.by_vendor}
    totals: dict[str, float] = defaultdict(float)
    for row in lower.by_vendor:
        if row["vendor_id"] not in vendors:
            continue
        aid, rmid = vendors[row["vendor_id"]]
        counter, fed = split_parts(
            float(row["revenue_usd"] or 0), at.get(row["vendor_id"], 0), rate
        )
        own = rates.get(rmid)
        totals[aid] += counter + (fed / own if own else fed / rate)
    return dict(totals)


def _ranked(
    estimated: dict[str, float], true_v: dict[str, float]
) -> tuple[list[float], list[float]]:
    accounts = sorted(true_v)
    return [estimated.get(a, 0.0) for a in accounts], [true_v[a] for a in accounts]


def _as_dict(calibration: Any) -> dict[str, Any] | None:
    if calibration is None or isinstance(calibration, dict):
        return calibration
    return calibration.as_dict()  # type: ignore[no-any-return]


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)
