"""[G]'s last demo step: the top vendors' revenue traced to their cash-out exchanges.

After the cluster (50) and tags (55) steps, ``spector demo`` takes the three vendor
accounts with the most on-chain revenue (by the range's truth), traces each one's
received outputs forward under haircut to the tagged exchanges, and prints what the
truth says (the exchange that got most of its cash-out) beside what the trace says
(the exchange most of the traced money reached) and the share of the true cash-out the
trace attributed to the right exchanges (``spector.sim._score_chain_trace`` defines
both). This module adds no `spector chain` command.
"""

from __future__ import annotations

import typer

from spector.cli.common import DemoContext, console, demo_step
from spector.errors import InputError

__all__ = ["register"]

TOP = 3


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `spector chain` group: it has none."""


def _handles(ctx: DemoContext) -> dict[str, str]:
    import pyarrow.parquet as pq

    path = ctx.workspace.range_dir / "world" / "accounts.parquet"
    if not path.is_file():
        return {}
    rows = pq.read_table(path, columns=["account_id", "handle"]).to_pylist()
    return {r["account_id"]: r["handle"] for r in rows}


@demo_step(60, "trace the top vendors' revenue")
def _demo_trace(ctx: DemoContext) -> str:
    from rich.table import Table

    from spector.chain._query import ensure_views
    from spector.sim._score_chain_trace import (
        TRACE_HOPS,
        cashout_truth,
        session_tracer,
        trace_vendor,
    )

    out = ctx.workspace.range_dir
    truth = out / "chain" / "addresses.parquet"
    if not truth.is_file():
        raise InputError("the range has no chain truth", where=truth)
    ws = ctx.workspace
    ensure_views(ws)
    vendors = [v for v in cashout_truth(ws.store.con, out).values() if v.received_sat > 0]
    top = sorted(vendors, key=lambda v: (-v.received_sat, v.account_id))[:TOP]
    if not top:
        return "no vendor has on-chain revenue"
    handles = _handles(ctx)
    table = Table(title=f"top {len(top)} vendors' revenue, traced (haircut, {TRACE_HOPS} hops)")
    table.add_column("vendor (cash-out method, revenue)")
    for name in ("true cash-out exchange", "traced exchange", "share traced"):
        table.add_column(name, no_wrap=True)
    right = 0
    shares = []
    tracer = session_tracer(ws)
    for v in top:
        attributed, error = trace_vendor(ws, v, "haircut", tracer=tracer)
        traced = max(attributed, key=lambda e: (attributed[e], e)) if attributed else None
        correct = sum(min(a, v.true_sat.get(e, 0.0)) for e, a in attributed.items())
        share = correct / v.cashout_sat if v.cashout_sat else None
        right += traced is not None and traced == v.true_exchange
        shares.append("—" if share is None else f"{share:.0%}")
        table.add_row(
            f"{handles.get(v.account_id, v.account_id)} ({v.method}, "
            f"{v.received_sat / 1e8:,.4f} BTC)",
            v.true_exchange or "none (not cashed out)",
            traced or (f"none ({error})" if error else "none"),
            shares[-1],
        )
    console.print(table)
    return (
        f"{right} of {len(top)} top vendors traced to their true cash-out exchange "
        f"(shares {', '.join(shares)})"
    )
