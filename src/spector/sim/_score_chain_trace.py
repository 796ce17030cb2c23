"""`spector sim score`'s ``tracing`` figures: vendors' money traced to the exchanges.

The truth, per vendor account ``v`` (owners as ``(owner_kind, owner_id)`` of the range's
``chain/addresses.parquet``):

- its *received outputs*: outputs paid to addresses ``v`` owns in the roles ``payout``
  (a market paid it) and ``payto`` (a buyer paid its walletless pay-to address); their
  sum is its on-chain revenue. The vendor's other addresses (peel change, post-mix
  outputs, coinjoin change) only hold money it already received.
- its *true cash-out* to exchange ``E``: for every transaction spending at least one
  output ``v`` owns, ``v``'s share of its input value times the value of its outputs at
  addresses ``E`` owns (deposit or hot wallet), summed; a transaction spending only
  ``v``'s coins (a direct cash-out, a peel-chain hop, a post-mix output's cash-out) thus
  counts whole. Money ``v`` sends into the mixer is the mixer's by ownership; what the
  mixer paid out for ``v`` (``chain/mixer_payouts.parquet``: every ``mixer_out`` with
  the vendor it answers) counts as ``v``'s cash-out to the exchange it paid.

The trace: ``spector.chain._trace.trace`` (every trace of one score made with one
``Tracer``, ``session_tracer``) from all of ``v``'s received outputs at once
(``<txid>:<vout>`` sources), forward, ``TRACE_HOPS`` hops, stopping at addresses tagged
``exchange`` only (so a hop into the mixer is followed to its candidate payouts instead
of stopping there); the amount reaching each service labelled ``E`` (category exchange)
is the amount attributed to ``E``.

Per vendor, ``share = sum over E of min(attributed to E, true cash-out to E) / true
cash-out`` (vendors without a true cash-out, e.g. still unspent at the end, are not
scored). ``traced_share`` is the mean over vendors (vendor-weighted);
``amount_weighted`` divides the summed correct amounts by the summed true cash-outs.
``by_method`` groups vendors by their actor's cash-out method (direct, peel, mixer,
coinjoin) in ``world/actors.parquet``; an actor missing there (a market operator selling
as a vendor) cashes out directly, as the range's chain was built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from spector.errors import UserError
from spector.sim._score_chain import registered, table_columns
from spector.store import Workspace

__all__ = [
    "METHODS",
    "POLICIES",
    "TRACE_HOPS",
    "VendorCashout",
    "cashout_truth",
    "session_tracer",
    "trace_vendor",
    "tracing_score",
]

POLICIES = ("fifo", "haircut", "poison")
METHODS = ("direct", "peel", "mixer", "coinjoin")
TRACE_HOPS = 5
TO_TAGS = ("exchange",)
TOP_VENDORS = 10  # vendors listed one by one in the result, by revenue


@dataclass
class VendorCashout:
    """One vendor account's revenue and true cash-out (see the module docstring)."""

    account_id: str
    actor_id: str | None
    method: str
    received_sat: int = 0
    sources: list[str] = field(default_factory=list)  # "<txid>:<vout>" of received outputs
    true_sat: dict[str, float] = field(default_factory=dict)  # exchange -> sat

    @property
    def cashout_sat(self) -> float:
        return sum(self.true_sat.values())

    @property
    def true_exchange(self) -> str | None:
        """The exchange that got most of its cash-out (None without one)."""
        return max(self.true_sat, key=lambda e: (self.true_sat[e], e)) if self.true_sat else None


def _methods(out: Path) -> dict[str, str]:
    path = out / "world" / "actors.parquet"
    if not path.is_file():
        return {}
    rows = pq.read_table(path, columns=["actor_id", "cashout"]).to_pylist()
    return {r["actor_id"]: r["cashout"] for r in rows}


def cashout_truth(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, VendorCashout]:
    """Every vendor account with on-chain revenue, from range ``out``'s truth and the
    workspace's chain views (``inputs``, ``outputs``); by account id, in account order."""
    chain_dir = out / "chain"
    table = pq.read_table(
        chain_dir / "addresses.parquet",
        columns=["address", "owner_kind", "owner_id", "actor_id", "role"],
    )
    truth = table.drop_columns(["actor_id"])
    methods = _methods(out)
    kinds, ids, actor_ids = (
        table.column(c).to_pylist() for c in ("owner_kind", "owner_id", "actor_id")
    )
    actors = {o: a for k, o, a in zip(kinds, ids, actor_ids, strict=True) if k == "vendor"}
    vendors: dict[str, VendorCashout] = {}

    def vendor(account: str) -> VendorCashout:
        if account not in vendors:
            actor = actors.get(account)
            # an actor the world's actors table does not list (a market operator selling
            # as a vendor) cashes out directly, as _generate._write_chain builds the chain
            method = methods.get(actor, "direct") if actor and methods else "unknown"
            vendors[account] = VendorCashout(account, actor, method)
        return vendors[account]

    with registered(con, truth) as t:
        received = con.execute(
            f"""
            SELECT t.owner_id, o.txid, o.vout, o.value FROM outputs o JOIN {t} t USING (address)
            WHERE t.owner_kind = 'vendor' AND t.role IN ('payout', 'payto')
            ORDER BY t.owner_id, o.height, o.txid, o.vout
            """
        ).fetchall()
        flows = con.execute(
            f"""
            WITH vin AS (
                SELECT i.txid, t.owner_id AS v, sum(i.value) AS val
                FROM inputs i JOIN {t} t USING (address)
                WHERE t.owner_kind = 'vendor' AND NOT i.coinbase GROUP BY ALL
            ), tin AS (
                SELECT txid, sum(value) AS total FROM inputs
                WHERE txid IN (SELECT txid FROM vin) GROUP BY txid
            ), xout AS (
                SELECT o.txid, t.owner_id AS ex, sum(o.value) AS val
                FROM outputs o JOIN {t} t USING (address)
                WHERE t.owner_kind = 'exchange' AND o.txid IN (SELECT txid FROM vin) GROUP BY ALL
            )
            SELECT vin.v, xout.ex, sum(xout.val * vin.val / tin.total)
            FROM vin JOIN tin USING (txid) JOIN xout USING (txid) GROUP BY ALL ORDER BY ALL
            """
        ).fetchall()
    for account, txid, vout, value in received:
        v = vendor(account)
        v.received_sat += int(value)
        v.sources.append(f"{txid}:{vout}")
    for account, exchange, sat in flows:
        v = vendor(account)
        v.true_sat[exchange] = v.true_sat.get(exchange, 0.0) + float(sat)
    mixed = chain_dir / "mixer_payouts.parquet"
    if mixed.is_file():
        for row in pq.read_table(mixed).to_pylist():
            v = vendor(row["account_id"])
            v.true_sat[row["exchange"]] = v.true_sat.get(row["exchange"], 0.0) + row["value_sat"]
    return dict(sorted(vendors.items()))


def session_tracer(ws: Workspace) -> Callable[..., Any]:
    """A tracer with ``trace``'s calling convention (``tracer(ws, sources, *, policy,
    hops, to_tags)``) that makes every trace with one ``spector.chain._trace.Tracer`` of
    ``ws``: the graph, services and tags are built once for all of them, and each result
    has the figures only (``detail=False``: ``reached`` as ``trace`` gives it, no graph)."""
    from spector.chain._trace import Tracer

    session = Tracer(ws)

    def run(on: Workspace, sources: Any, **options: Any) -> Any:
        if on is not ws:
            from spector.chain._trace import trace

            return trace(on, sources, **options)
        return session.trace(sources, detail=False, **options)

    return run


def trace_vendor(
    ws: Workspace,
    vendor: VendorCashout,
    policy: str,
    *,
    hops: int = TRACE_HOPS,
    tracer: Callable[..., Any] | None = None,
) -> tuple[dict[str, float], str | None]:
    """The amounts a trace of ``vendor``'s received outputs attributes to each exchange
    label, and the error message if the trace could not run (then nothing is attributed).
    ``tracer`` (``trace``'s calling convention) defaults to ``spector.chain._trace.trace``;
    pass one ``session_tracer(ws)`` to trace many vendors."""
    run = tracer
    if run is None:
        from spector.chain._trace import trace

        run = trace
    if not vendor.sources:
        return {}, "no received outputs"
    try:
        result = run(ws, vendor.sources, policy=policy, hops=hops, to_tags=TO_TAGS)
    except UserError as exc:
        return {}, str(exc)
    attributed: dict[str, float] = defaultdict(float)
    for row in result.as_dict()["reached"]:
        if row["category"] == "exchange":
            attributed[row["label"]] += float(row["amount_sat"])
    return dict(attributed), None


def _correct(attributed: dict[str, float], truth: dict[str, float]) -> float:
    return sum(min(amount, truth.get(label, 0.0)) for label, amount in attributed.items())


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def tracing_score(
    ws: Workspace,
    out: Path,
    *,
    policies: Sequence[str] = POLICIES,
    hops: int = TRACE_HOPS,
    tracer: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """The ``tracing`` figures of workspace ``ws`` against range ``out``'s truth.
    Every trace runs through ``tracer`` (default: one ``session_tracer(ws)``).

    Needs the chain views and the workspace's tags (``chain_tags``); without them every
    figure is None and ``scope`` says why.
    """
    con = ws.store.con
    empty: dict[str, Any] = {"traced_share": None, "by_policy": {}}
    if not table_columns(con, "outputs"):
        return {**empty, "scope": "no chain in the workspace (run `spector chain ingest`)"}
    if not table_columns(con, "chain_tags"):
        return {**empty, "scope": "no tags in the workspace (run `spector chain tags import`)"}
    every = cashout_truth(con, out)
    vendors = [v for v in every.values() if v.cashout_sat > 0]
    unscored = len(every) - len(vendors)
    by_policy: dict[str, Any] = {}
    listed: list[dict[str, Any]] = []
    top = sorted(vendors, key=lambda v: (-v.received_sat, v.account_id))[:TOP_VENDORS]
    if tracer is None and vendors:
        tracer = session_tracer(ws)
    for policy in policies:
        shares: dict[str, list[float]] = defaultdict(list)
        correct_sum = true_sum = 0.0
        errors = 0
        per_vendor: dict[str, tuple[dict[str, float], float]] = {}
        for v in vendors:
            attributed, error = trace_vendor(ws, v, policy, hops=hops, tracer=tracer)
            errors += error is not None
            correct = _correct(attributed, v.true_sat)
            share = correct / v.cashout_sat
            shares[v.method].append(share)
            shares["all"].append(share)
            correct_sum += correct
            true_sum += v.cashout_sat
            per_vendor[v.account_id] = (attributed, share)
        by_policy[policy] = {
            "traced_share": _mean(shares["all"]),
            "amount_weighted": round(correct_sum / true_sum, 6) if true_sum else None,
            "by_method": {m: _mean(shares[m]) for m in METHODS},
            "vendors_by_method": {m: len(shares[m]) for m in METHODS},
            "trace_errors": errors,
        }
        if policy == "haircut":
            for v in top:
                attributed, share = per_vendor[v.account_id]
                listed.append(
                    {
                        "account_id": v.account_id,
                        "method": v.method,
                        "received_sat": v.received_sat,
                        "cashout_sat": round(v.cashout_sat),
                        "true_exchange": v.true_exchange,
                        "traced_exchange": max(attributed, key=lambda e: (attributed[e], e))
                        if attributed
                        else None,
                        "share": round(share, 6),
                    }
                )
    haircut = by_policy.get("haircut", {})
    return {
        "traced_share": haircut.get("traced_share"),
        "amount_weighted": haircut.get("amount_weighted"),
        "by_policy": by_policy,
        "top_vendors": listed,
        "scope": (
            f"{len(vendors):,} vendor accounts with a true cash-out to an exchange "
            f"({unscored:,} more with revenue but none), traced from their received outputs "
            f"over {hops} hops to tagged exchanges; share = correctly attributed / true "
            "cash-out, mean over vendors"
        ),
    }
