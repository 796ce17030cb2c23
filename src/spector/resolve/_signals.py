"""Impostor signals: what tells a scammer copying a vendor from the vendor itself.

A scammer who copies a well-known vendor on another market (its handle, its profile
text, its titles) cannot copy its key, its contact, its prices or its reputation. Each
signal below is what an analyst checks on real markets, and reads only what a crawl
shows (listings, feedback, markets), never a range's truth:

- per account (``AccountSignals``, from the workspace: ``signals_from_workspace``; from a
  training range's world files: ``signals_from_world``): the number of feedback and
  the share of 1-star ones (a rating at the bottom fifth of the market's scale), the
  median USD price of each listing title (titles folded: case, spaces, units), whether it
  shows a contact (a selector that is not an address), and when its market closed
  (status ``seized`` / ``exit_scam``: the last activity seen on it);
- per pair (``signal_features``; names in ``SIGNALS``):

  =================  ==============================================================
  title_price_gap    |median log price ratio| over the titles both list (folded):
                     an account selling the other's titles at half price gives
                     ~0.7; 0 when they share no priced title
  titles_shared      titles both list, at most 5
  low_rating_max     the larger 1-star share of the two, each shrunk towards
                     ``PRIOR_LOW`` by ``PRIOR_WEIGHT`` feedback (1 bad review of 1 is
                     not 100 %; an account without feedback, a forum member or a
                     vendor whose feedback the crawl did not reach, has the prior)
  low_rating_gap     |difference| of the two shrunk shares
  late_copy          1 when the accounts show no key in common (one at least has
                     one), near-identical profile texts, and one appeared only after
                     the other's market closed, or more than ``LATE_DAYS`` after the
                     other
  contact_dropped    1 when both are vendors and one shows a contact, the other none
  =================  ==============================================================

Missing data gives the neutral value (0, or the prior share: no signal). The number of
feedback itself is not a signal: a partial crawl reaches some vendors' feedback and not
others', where a training range shows all of it. Accounts without signals attached
(``attach``) give the neutral value on every signal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from spector.resolve._accounts import Accounts
    from spector.store import Workspace

__all__ = [
    "SIGNALS",
    "AccountSignals",
    "attach",
    "signal_features",
    "signal_sentences",
    "signals_from_workspace",
    "signals_from_world",
]

SIGNALS = (
    "title_price_gap",
    "titles_shared",
    "low_rating_max",
    "low_rating_gap",
    "late_copy",
    "contact_dropped",
)
PRIOR_LOW = 0.05  # the share of 1-star feedback of a typical vendor
PRIOR_WEIGHT = 2.0  # feedback the prior counts as
LATE_DAYS = 30.0  # an account opening this much later than the other is "late"
COPY_TEXT = 0.9  # profile text similarity (char n-gram cosine) of a copy
_KEY = "signals"
_RATING = frozenset({"low_rating_max", "low_rating_gap"})
# Units as Russian-language markets write them (Hydra's "20шт", "5г") and their English
# forms: a vendor's titles copied from a Russian market read "20pcs", "5g".
_UNITS = (
    ("pcs", ("шт", "pieces", "piece", "pcs", "pc")),
    ("g", ("гр", "г", "gr", "g")),
    ("mg", ("мг", "mg")),
    ("kg", ("кг", "kg")),
    ("ml", ("мл", "ml")),
)


def fold_sql(column: str) -> str:
    """The DuckDB expression folding a title as titles are compared across accounts:
    lower case, runs of spaces as one, trimmed, a quantity's unit in one spelling ("20
    шт" and "20pcs" both "20pcs"). The one definition: the world's titles go through it
    too."""
    out = f"trim(regexp_replace(lower({column}), '\\s+', ' ', 'g'))"
    for unit, spellings in _UNITS:
        alt = "|".join(spellings)
        out = f"regexp_replace({out}, '(\\d) ?({alt})([^\\pL\\pN_]|$)', '\\1{unit}\\3', 'g')"
    return out


def fold_title(title: str) -> str:
    """``title`` folded by ``fold_sql`` (for one title; the signals fold in bulk)."""
    import duckdb

    row = duckdb.connect().execute(f"SELECT {fold_sql('?')}", [title]).fetchone()
    return str(row[0]) if row else ""


@dataclass(frozen=True)
class AccountSignals:
    """Per-account columns (index i = account i of the ``Accounts`` they belong to)."""

    feedback: np.ndarray  # int: feedback count
    low: np.ndarray  # int: 1-star feedback count
    title_prices: list[dict[str, float]]  # folded title -> median USD price
    closed_at: list[datetime | None]  # when the account's market closed, if it did

    def low_share(self) -> np.ndarray:
        """The 1-star share shrunk towards ``PRIOR_LOW`` (the prior without feedback)."""
        n = self.feedback.astype(np.float64)
        out: np.ndarray = (self.low + PRIOR_LOW * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)
        return out


def attach(accounts: Accounts, signals: AccountSignals) -> Accounts:
    """Keep ``signals`` with ``accounts`` (in its cache) for ``signal_features``."""
    if len(signals.feedback) != len(accounts):
        raise ValueError("signals and accounts differ in length")
    accounts.cache[_KEY] = signals
    return accounts


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return (s[(n - 1) // 2] + s[n // 2]) / 2.0


def _build(
    accounts: Accounts,
    ratings: dict[str, tuple[int, int]],
    prices: dict[str, dict[str, float]],
    closed: dict[str, datetime],
) -> AccountSignals:
    ids = accounts.account_id
    return AccountSignals(
        feedback=np.array([ratings.get(a, (0, 0))[0] for a in ids], dtype=np.int64),
        low=np.array([ratings.get(a, (0, 0))[1] for a in ids], dtype=np.int64),
        title_prices=[prices.get(a, {}) for a in ids],
        closed_at=[closed.get(m) for m in accounts.market_id],
    )


_WS_RATINGS = """
WITH scale AS (SELECT market_id, max(rating) AS top FROM feedback GROUP BY market_id)
SELECT f.vendor_id, count(*),
       count(*) FILTER (WHERE f.rating <= CASE WHEN s.top <= 5 THEN 1.5 ELSE 0.3 * s.top END)
FROM feedback f JOIN scale s USING (market_id)
WHERE f.vendor_id IS NOT NULL AND f.rating IS NOT NULL GROUP BY f.vendor_id
"""
_PRICES = """
SELECT owner, title, median(price) FROM (
    SELECT owner, {fold} AS title, price FROM {source}
    WHERE owner IS NOT NULL AND title <> '' AND price > 0
) GROUP BY ALL
"""
_WS_LISTINGS = (
    "(SELECT vendor_id AS owner, title, CAST(price_usd AS DOUBLE) AS price FROM listings)"
)


def _title_prices(con: Any, source: str) -> dict[str, dict[str, float]]:
    """owner -> folded title -> median price, from ``source`` (owner, title, price)."""
    out: dict[str, dict[str, float]] = {}
    for owner, title, price in con.execute(
        _PRICES.format(fold=fold_sql("title"), source=source)
    ).fetchall():
        out.setdefault(owner, {})[title] = price
    return out


def signals_from_workspace(ws: Workspace, accounts: Accounts) -> AccountSignals:
    """The signals of ``accounts`` (``load_accounts(ws)``) from the workspace's
    feedback, listings and markets. A market is closed when its status is ``seized``
    or ``exit_scam``; it closed at the last activity seen on it (the latest last_seen
    of its accounts)."""
    con = ws.store.con
    ratings = {str(v): (int(n), int(low)) for v, n, low in con.execute(_WS_RATINGS).fetchall()}
    prices = _title_prices(con, _WS_LISTINGS)
    shut = {
        str(m)
        for (m,) in con.execute(
            "SELECT id FROM markets WHERE status IN ('seized', 'exit_scam')"
        ).fetchall()
    }
    closed: dict[str, datetime] = {}
    for market, last in zip(accounts.market_id, accounts.last_seen, strict=True):
        if market in shut and last is not None and (market not in closed or last > closed[market]):
            closed[market] = last
    return _build(accounts, ratings, prices, closed)


def signals_from_world(range_dir: Path, accounts: Accounts) -> AccountSignals:
    """The same signals from a training range's world files (what a crawl of all of it
    would show: ratings, listing titles at their prices, holding prices left out; the
    markets' close days)."""
    import pyarrow.parquet as pq

    from spector.resolve._accounts import _range_epoch

    world = Path(range_dir) / "world"
    epoch = _range_epoch(Path(range_dir))
    ratings: dict[str, tuple[int, int]] = {}
    for fb in pq.read_table(
        world / "feedback.parquet", columns=["account_id", "rating"]
    ).to_pylist():
        if fb["rating"] is None:
            continue
        n, low = ratings.get(fb["account_id"], (0, 0))
        ratings[fb["account_id"]] = (n + 1, low + (float(fb["rating"]) <= 1.5))
    import duckdb

    con = duckdb.connect()
    con.register(
        "_listings",
        pq.read_table(
            world / "listings.parquet", columns=["account_id", "title", "price_usd", "holding"]
        ),
    )
    prices = _title_prices(
        con,
        "(SELECT account_id AS owner, title, CAST(price_usd AS DOUBLE) AS price FROM _listings "
        "WHERE NOT coalesce(holding, false))",
    )
    con.close()

    closed: dict[str, datetime] = {}
    for m in pq.read_table(world / "markets.parquet").to_pylist():
        if m.get("fate") in ("seized", "exit_scam") and m.get("close_day") is not None:
            closed[m["market_id"]] = epoch + timedelta(days=int(m["close_day"]))
    return _build(accounts, ratings, prices, closed)


def _contacts(accounts: Accounts) -> np.ndarray:
    got = accounts.cache.get("has_contact")
    if got is None:
        got = np.array(
            [any("address" not in s.split(":", 1)[0] for s in sel) for sel in accounts.selectors],
            dtype=bool,
        )
        accounts.cache["has_contact"] = got
    out: np.ndarray = got
    return out


def _title_gap(sig: AccountSignals, i: int, j: int) -> tuple[float, int]:
    """(|median log price ratio| over shared titles, shared titles)."""
    ti, tj = sig.title_prices[i], sig.title_prices[j]
    if not ti or not tj:
        return 0.0, 0
    if len(ti) > len(tj):
        ti, tj = tj, ti
    logs = [math.log(p / tj[t]) for t, p in ti.items() if t in tj]
    if not logs:
        return 0.0, 0
    return min(abs(_median(logs)), 3.0), len(logs)


def _late(acc: Accounts, sig: AccountSignals, i: int, j: int) -> bool:
    """One of i, j appeared only after the other's market closed or ``LATE_DAYS`` after
    the other appeared."""
    fi, fj = acc.first_seen[i], acc.first_seen[j]
    if fi is None or fj is None:
        return False
    (first, early), (start, _) = sorted([(fi, i), (fj, j)])
    closed = sig.closed_at[early]
    if closed is not None and start >= closed:
        return True
    return (start - first) / timedelta(days=1) > LATE_DAYS


def signal_features(
    accounts: Accounts, pairs: np.ndarray, text_char: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The ``SIGNALS`` of each pair (see the module docstring). ``text_char`` (the
    profile text similarity of each pair, ``_features``'s) decides what is a copied
    profile; without it no pair is a late copy."""
    n = len(pairs)
    out = {name: np.zeros(n, dtype=np.float64) for name in SIGNALS}
    out["low_rating_max"][:] = PRIOR_LOW
    sig: AccountSignals | None = accounts.cache.get(_KEY)
    if sig is None or not n:
        return out
    a = np.asarray(pairs[:, 0], dtype=np.int64)
    b = np.asarray(pairs[:, 1], dtype=np.int64)
    share = sig.low_share()
    sa, sb = share[a], share[b]
    out["low_rating_max"] = np.maximum(sa, sb)
    out["low_rating_gap"] = np.abs(sa - sb)
    vendor = np.array([k == "vendor" for k in accounts.kind], dtype=bool)
    both = vendor[a] & vendor[b]
    contact = _contacts(accounts)
    out["contact_dropped"] = (both & (contact[a] != contact[b])).astype(np.float64)
    priced = np.array([bool(t) for t in sig.title_prices], dtype=bool)
    for k in np.flatnonzero(priced[a] & priced[b]).tolist():
        gap, shared = _title_gap(sig, int(a[k]), int(b[k]))
        out["title_price_gap"][k] = gap
        out["titles_shared"][k] = min(shared, 5)
    if text_char is not None:
        keys = accounts.pgp
        copied = np.flatnonzero(np.asarray(text_char) >= COPY_TEXT)
        for k in copied.tolist():
            i, j = int(a[k]), int(b[k])
            if (
                (keys[i] or keys[j])
                and not set(keys[i]) & set(keys[j])
                and _late(accounts, sig, i, j)
            ):
                out["late_copy"][k] = 1.0
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def signal_sentences(
    accounts: Accounts, i: int, j: int, row: Mapping[str, float]
) -> list[tuple[frozenset[str], str]]:
    """(signals owning it, sentence) for every signal pair (i, j) shows (``row``: its
    features)."""
    sig: AccountSignals | None = accounts.cache.get(_KEY)
    said: list[tuple[frozenset[str], str]] = []
    if sig is None:
        return said
    hi, hj = accounts.handle[i], accounts.handle[j]
    if row.get("title_price_gap", 0) > 0:
        gap = float(row["title_price_gap"])
        shared = int(row.get("titles_shared", 0))
        said.append((
            frozenset({"title_price_gap", "titles_shared"}),
            f"the {shared} title(s) both list are priced {_pct(1 - math.exp(-gap))} lower on one "
            "of them: how a copy undercutting a vendor looks",
        ))  # fmt: skip
    if row.get("low_rating_max", 0) > PRIOR_LOW + 1e-9:

        def one(k: int) -> str:
            n = int(sig.feedback[k])
            return f"'{accounts.handle[k]}' {int(sig.low[k])} of {n}" if n else (
                f"'{accounts.handle[k]}' no feedback")  # fmt: skip

        said.append((_RATING, f"1-star feedback: {one(i)}, {one(j)}"))
    if row.get("late_copy", 0) > 0:
        said.append((
            frozenset({"late_copy"}),
            f"'{hi}' and '{hj}' show the same profile text under other keys, one opened only "
            "after the other's market closed or much later",
        ))  # fmt: skip
    if row.get("contact_dropped", 0) > 0:
        shows, hides = (hi, hj) if _contacts(accounts)[i] else (hj, hi)
        said.append((frozenset({"contact_dropped"}), f"'{shows}' shows a contact, '{hides}' none"))
    return said
