"""[H]'s demo step: vendor resolution and market economics on the demo's workspace.

After the chain steps (40-60), ``spector demo`` links the extracted vendor accounts and
forum members into actors (``spector.resolve.resolve``), estimates every market's sales
and revenue from its feedback (``spector.economics.estimate``, calibrated on the markets
that show "N sold" counters), writes the economics report into the workspace
(``reports/econ``, as `spector econ report` does) and prints the three actors with the
most estimated revenue, with their accounts. The score step (90) then measures both.
"""

from __future__ import annotations

from typing import Any

from spector.cli.common import DemoContext, console, demo_step

__all__: list[str] = []

TOP = 3


def _money(value: object) -> str:
    return "—" if value is None else f"${float(str(value)):,.0f}"


@demo_step(70, "resolve vendors and estimate their revenue")
def _demo_resolve(ctx: DemoContext) -> str:
    from rich.table import Table

    from spector.economics import estimate, write_report
    from spector.resolve import actor_package, resolve

    ws = ctx.workspace
    result = resolve(ws)
    summary = result.summary()
    econ = estimate(ws)
    out = ws.root / "reports" / "econ"
    write_report(ws, out, estimate=econ)
    actors: list[dict[str, Any]] = sorted(
        econ.by_actor or [],
        key=lambda a: (-float(str(a["revenue_usd"] or 0)), str(a["actor_id"])),
    )[:TOP]
    ctx.shared["top_actors"] = [str(a["actor_id"]) for a in actors]  # for the cases step (80)
    table = Table(title=f"top {len(actors)} actors by estimated revenue")
    for name in ("actor", "accounts (market: handle)", "revenue (interval)"):
        table.add_column(name)
    for row in actors:
        package = actor_package(ws, str(row["actor_id"]))
        accounts = "\n".join(f"{a['market']}: {a['handle']}" for a in package["accounts"])
        interval = f"{_money(row['revenue_low'])}–{_money(row['revenue_high'])}"
        table.add_row(str(row["actor_id"]), accounts, f"{_money(row['revenue_usd'])} ({interval})")
    console.print(table)
    rate = econ.feedback_rate
    return (
        f"{summary['accounts']:,} accounts, {summary['candidate_pairs']:,} candidate pairs of "
        f"{summary['all_pairs']:,}; {summary['links']:,} links into {summary['actors']:,} actors "
        f"({summary['multi_account_actors']:,} with several accounts); revenue estimated at "
        f"{rate:.2f} feedback per sale ({econ.feedback_rate_source}); report in {out}"
    )
