"""`spector report operation NAME --out DIR`: the operation report (HTML, PNG, PDF and
totals.json) from the case store, as the acting user may see it.

Who acts and which store: the same options as `spector cases` (--workspace, --db,
--user or --token).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from spector.cases._cli_common import DbOpt, JsonOpt, TokenOpt, UserOpt, WorkspaceOpt, acting, emit
from spector.cli.common import Groups

__all__ = ["register"]


def register(app: typer.Typer, groups: Groups) -> None:
    """Add `spector report` to the root app."""
    report_app = typer.Typer(help="Reports made from the case store.", no_args_is_help=True)
    report_app.command("operation")(report_operation)
    app.add_typer(report_app, name="report")


def report_operation(
    name: Annotated[str, typer.Argument(help="The joint operation (its name).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report's files.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Write report.html, report.png, report.pdf and totals.json of an operation."""
    from spector.report._operation import write_operation_report

    store, p = acting(workspace, db, user, token)
    with store:
        paths = write_operation_report(store, p, name, out)
    totals = json.loads(paths["totals"].read_text("utf-8"))
    data = {
        "operation": name,
        **{key: str(path) for key, path in paths.items()},
        "discrepancies": totals["discrepancies"],
    }
    lines = [f"{key:<6}  {path}" for key, path in paths.items()]
    lines += [f"discrepancy: {d}" for d in totals["discrepancies"]] or [
        "every stated total adds up"
    ]
    lines.append(f"wrote the report of operation {name} ({len(paths)} files) to {out}")
    emit(data, as_json, "\n".join(lines))
