"""`spector init`, `status`, `export parquet`, `import parquet`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from spector.cli.common import Groups, WorkspaceOpt, console, open_workspace

if TYPE_CHECKING:  # imported where used: the `spector` command starts without duckdb
    from spector.store import Workspace

__all__ = ["register", "status_table"]


def status_table(ws: Workspace) -> Table:
    """A Rich table of what the workspace holds."""
    table = Table(title=f"Workspace {ws.root} (schema v{ws.store.schema_version})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in ws.store.counts().items():
        table.add_row(name, f"{rows:,}")
    return table


def init(path: Annotated[Path, typer.Argument(help="Folder to make a workspace of.")]) -> None:
    """Create a workspace: spector.toml, store.duckdb, warc/, parquet/, reports/."""
    from spector.store import Workspace

    with Workspace.init(path) as ws:
        console.print(f"initialised workspace {ws.root} (schema v{ws.store.schema_version})")


def status(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show what the workspace holds: schema version and rows per table."""
    with open_workspace(workspace) as ws:
        if as_json:
            print(
                json.dumps(
                    {
                        "workspace": str(ws.root),
                        "schema_version": ws.store.schema_version,
                        "tables": ws.store.counts(),
                    },
                    sort_keys=True,
                )
            )
        else:
            console.print(status_table(ws))


def export_parquet_cmd(
    folder: Annotated[
        Path | None, typer.Argument(help="Target folder (default: WORKSPACE/parquet).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Export every table to Parquet, with a manifest of row counts and SHA-256."""
    from spector.store import export_parquet

    with open_workspace(workspace) as ws:
        target = folder or ws.parquet_dir
        with Progress(console=console, transient=True) as progress:
            progress.add_task("exporting tables", total=None)
            rows = export_parquet(ws.store, target)
        console.print(f"exported {len(rows)} tables, {sum(rows.values()):,} rows to {target}")


def import_parquet_cmd(
    folder: Annotated[Path, typer.Argument(help="A folder written by `spector export parquet`.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Merge a Parquet export into the workspace (idempotent; all or nothing)."""
    from spector.store import import_parquet

    with open_workspace(workspace, write=True) as ws:
        with Progress(console=console, transient=True) as progress:
            progress.add_task("importing tables", total=None)
            counts = import_parquet(ws.store, folder)
        inserted = sum(c.inserted for c in counts.values())
        updated = sum(c.updated for c in counts.values())
        console.print(
            f"imported {len(counts)} tables from {folder}: {inserted:,} new rows, "
            f"{updated:,} merged"
        )


def register(app: typer.Typer, groups: Groups) -> None:
    app.command()(init)
    app.command()(status)
    groups.export.command("parquet")(export_parquet_cmd)
    groups.import_.command("parquet")(import_parquet_cmd)
