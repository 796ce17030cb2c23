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


extract_app = typer.Typer(help="Extraction: records from captures and dumps.")


@extract_app.callback(invoke_without_command=True)
def extract(ctx: typer.Context, workspace: WorkspaceOpt = None) -> None:
    """Extract every capture not yet extracted with its template's current version."""
    if ctx.invoked_subcommand is not None:
        return
    from spector.extract._run import extract_captures

    with open_workspace(workspace, write=True) as ws, console.status("extracting captures"):
        report = extract_captures(ws)
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


@demo_step(30, "extract the captures")
def _demo_extract(ctx: DemoContext) -> str:
    from spector.extract._captures import scan_captures
    from spector.extract._run import extract_captures

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
    app.add_typer(extract_app, name="extract")
