"""`spector econ report`: sales and revenue estimated from feedback and sold counters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from spector.cli.common import Groups, WorkspaceOpt, console, open_workspace

__all__ = ["econ_app", "register"]

econ_app = typer.Typer(help="Market economics: sales and revenue estimates.", no_args_is_help=True)


def report(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder to write (default: WORKSPACE/reports/economics)."),
    ] = None,
    feedback_rate: Annotated[
        str | None,
        typer.Option(
            "--feedback-rate",
            help="Feedback per sale in (0, 1] (default: calibrated from sold counters, else 1.0).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Estimate sales and revenue and write charts (PNG, SVG), CSV tables and index.html."""
    from spector.economics import estimate, write_report
    from spector.economics._report import _json_default
    from spector.errors import InputError, UsageError

    rate = _rate(feedback_rate)
    with open_workspace(workspace) as ws:
        est = estimate(ws, feedback_rate=rate)
        if not est.by_market:
            raise InputError(
                "nothing to estimate: no feedback and no listing with an 'N sold' counter",
                where=ws.root,
                hint="crawl and `spector extract`, or `spector import csv`, first",
            )
        target = out or ws.reports_dir / "economics"
        if target.exists() and not target.is_dir():
            raise UsageError("--out is a file, not a folder", where=target)
        written = write_report(est, target, workspace=ws.config.name)
    if as_json:
        summary = {**est.summary(), "out": str(target), "files": sorted(written)}
        print(json.dumps(summary, sort_keys=True, default=_json_default))
        return
    from spector.economics._charts import label

    t = est.totals
    basis = (
        f"feedback per sale {est.feedback_rate:.3f} ({est.rate_basis})"
        if t["feedback"]
        else "every sale from the markets' 'N sold' counters"
    )
    say = [
        f"estimated {t['sales']:,.0f} sales, ${t['revenue_usd']:,.0f} "
        f"(${t['revenue_low']:,.0f} – ${t['revenue_high']:,.0f}) on {len(est.by_market)} "
        f"market(s), {len(est.by_vendor)} vendor(s); {basis}"
    ]
    for i, r in enumerate(est.top_vendors[:3], 1):  # scraped names: printable, cut short
        say.append(
            f"  {i}. {label(r['handle'])} on {label(r['market'])}: "
            f"${r['revenue_usd']:,.0f} ({r['sales']:,.0f} sales)"
        )
    excluded = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in est.excluded.items() if v)
    if excluded:
        say.append(f"  set aside or estimated: {excluded}")
    say.append(f"wrote {len(written)} files to {target}")
    for line in say:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _rate(text: str | None) -> float | None:
    """--feedback-rate as a number in (0, 1]; anything else is a UsageError."""
    from spector.errors import UsageError

    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:  # NaN fails too
        raise UsageError(
            f"--feedback-rate {text!r} is not a share of sales",
            expected="a number in (0, 1]: feedback per sale, e.g. 0.7",
        )
    return value


def register(app: typer.Typer, groups: Groups) -> None:
    econ_app.command("report")(report)
    app.add_typer(econ_app, name="econ")
