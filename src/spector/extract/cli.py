"""`spector selectors scan FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from spector.cli.common import (
    DemoContext,
    Groups,
    WorkspaceOpt,
    console,
    demo_step,
    open_workspace,
)
from spector.errors import InputError

__all__ = ["register"]


def scan(
    file: Annotated[Path, typer.Argument(help="A text file (any encoding; decoded leniently).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Every selector in FILE: kind, normalised value, start and end (character offsets)."""
    from spector.extract._selectors import scan_text

    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=file) from exc
    found = scan_text(raw.decode("utf-8", errors="replace"))
    for item in found:
        if as_json:
            print(
                json.dumps(
                    {"kind": item.kind, "value": item.value, "start": item.start, "end": item.end},
                    ensure_ascii=False,
                )
            )
        else:
            console.print(
                f"{item.start:>8}-{item.end:<8} {item.kind:<16} {item.value}",
                highlight=False,
                markup=False,
            )
    if not as_json:
        console.print(f"{len(found)} selectors")


def import_csv_cmd(
    file: Annotated[Path, typer.Argument(help="A CSV file of listings.")],
    mapping: Annotated[str, typer.Option(help="A ready mapping (agora-2014) or a mapping file.")],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import listings, vendors and feedback from a CSV dump with a column mapping."""
    from spector.extract._csv import import_csv, load_mapping

    loaded = load_mapping(mapping)
    with open_workspace(workspace, write=True) as ws, console.status(f"importing {file.name}"):
        report = import_csv(ws.store, file, loaded).as_dict()
    if as_json:
        print(json.dumps(report, sort_keys=True))
        return
    console.print(
        f"imported {report['imported']:,} of {report['rows']:,} rows from {file.name}: "
        f"{report['vendors']:,} vendors, {report['listings']:,} listings, "
        f"{report['feedback']:,} feedback; {report['errors']} rows in `spector extract errors`"
    )


def import_jsonl_cmd(
    file: Annotated[Path, typer.Argument(help="A JSON-lines file of listings.")],
    mapping: Annotated[
        str, typer.Option(help="A ready mapping or a mapping file (keys as columns).")
    ],
    workspace: WorkspaceOpt = None,
) -> None:
    """Import listings, vendors and feedback from JSON lines with a mapping."""
    from spector.extract._csv import import_jsonl, load_mapping

    loaded = load_mapping(mapping)
    with open_workspace(workspace, write=True) as ws:
        report = import_jsonl(ws.store, file, loaded).as_dict()
    console.print(
        f"imported {report['imported']:,} of {report['rows']:,} lines from {file.name}: "
        f"{report['vendors']:,} vendors, {report['listings']:,} listings; "
        f"{report['errors']} lines in `spector extract errors`"
    )


def import_rates_cmd(
    file: Annotated[Path, typer.Argument(help="Parquet or CSV: currency, usd_per_unit, date|day.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Import exchange rates (USD per unit and day) used to price listings in USD."""
    from spector.extract._rates import import_rates

    with open_workspace(workspace, write=True) as ws:
        n = import_rates(ws.store, file)
    console.print(f"imported {n:,} rates from {file.name}")


def import_seized_cmd(
    folder: Annotated[
        Path, typer.Argument(help="A seized market's export: users/listings/orders/messages CSV.")
    ],
    market: Annotated[str, typer.Option(help="The market's name.")],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a seized market's database export; orders' pay-to addresses become selectors."""
    from spector.extract._seized import import_seized

    with open_workspace(workspace, write=True) as ws:
        report = import_seized(ws.store, folder, market)
    if as_json:
        print(json.dumps(report, sort_keys=True))
    else:
        console.print(
            f"imported {market}: {report['vendors']} vendors, {report['listings']} listings, "
            f"{report['orders']} orders ({report['orders_with_payto']} with a pay-to address), "
            f"{report['messages']} messages counted; {report['errors']} errors"
        )


extract_app = typer.Typer(help="Extraction: records from captures and dumps.")


@extract_app.callback(invoke_without_command=True)
def extract(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    processes: Annotated[
        int, typer.Option(help="Processes parsing pages (default: all cores).")
    ] = 0,
) -> None:
    """Extract every capture not yet extracted with its template's current version."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    from spector.extract._run import extract_captures

    with open_workspace(workspace, write=True) as ws, console.status("extracting captures"):
        report = extract_captures(ws, processes=processes or os.cpu_count() or 1)
    console.print(
        f"extracted {report.extracted:,} of {report.captures:,} new captures into "
        f"{report.records:,} records; {report.skipped:,} pages no template covers; "
        f"{report.errors} errors (`spector extract errors`)"
    )


@extract_app.command("errors")
def errors(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """What extraction could not read: the capture or row, and why."""
    with open_workspace(workspace) as ws:
        rows = ws.store.con.execute(
            "SELECT source, ref, stage, reason FROM extraction_errors ORDER BY source, ref"
        ).fetchall()
    for source, ref, stage, reason in rows:
        if as_json:
            print(json.dumps({"source": source, "ref": ref, "stage": stage, "reason": reason}))
        else:
            console.print(f"{source} {ref} [{stage}] {reason}", markup=False, highlight=False)
    if not as_json:
        console.print(f"{len(rows)} extraction errors")


@extract_app.command("selectors")
def extract_selectors(workspace: WorkspaceOpt = None) -> None:
    """Scan every captured page for selectors and store them with where they were seen."""
    from spector.extract._captures import scan_captures

    with open_workspace(workspace, write=True) as ws, console.status("scanning captures"):
        kinds = scan_captures(ws)
    console.print(
        f"{sum(kinds.values()):,} selector sightings: "
        + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common())
    )


@demo_step(35, "import the seized server")
def _demo_seized(ctx: DemoContext) -> str:
    import json as _json

    from spector.extract._seized import import_seized

    truth = _json.loads((ctx.workspace.range_dir / "truth.json").read_text(encoding="utf-8"))
    seized = truth.get("seized_export")
    if not seized:
        return "the range has no seized export"
    name = next(m["name"] for m in truth["markets"] if m["market_id"] == seized["market_id"])
    report = import_seized(ctx.workspace.store, ctx.workspace.range_dir / seized["folder"], name)
    return (
        f"{name}: {report['orders']} orders, {report['orders_with_payto']} pay-to "
        f"addresses now selectors for the chain; {report['vendors']} vendors"
    )


@demo_step(30, "extract the captures")
def _demo_extract(ctx: DemoContext) -> str:
    from spector.extract._captures import scan_captures
    from spector.extract._rates import import_rates
    from spector.extract._run import extract_captures

    import_rates(ctx.workspace.store, ctx.workspace.range_dir / "world" / "rates.parquet")
    report = extract_captures(ctx.workspace)
    kinds = scan_captures(ctx.workspace)
    found = ", ".join(f"{k} {n:,}" for k, n in kinds.most_common())
    return (
        f"{report.extracted:,} pages into {report.records:,} records, {report.errors} errors; "
        f"{sum(kinds.values()):,} selector sightings ({found})"
    )


def register(app: typer.Typer, groups: Groups) -> None:
    groups.selectors.command()(scan)
    groups.import_.command("csv")(import_csv_cmd)
    groups.import_.command("seized")(import_seized_cmd)
    groups.import_.command("jsonl")(import_jsonl_cmd)
    groups.import_.command("rates")(import_rates_cmd)
    app.add_typer(extract_app, name="extract")
