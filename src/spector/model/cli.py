"""`spector selectors kinds` and `spector selectors check KIND VALUE`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from spector.cli.common import Groups, console

__all__ = ["register"]


def kinds(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the selector kinds Spector validates; historical kinds are marked as such."""
    from spector.model import all_selector_kinds

    if as_json:
        for kind in all_selector_kinds():
            row = {"kind": kind.name, "label": kind.label, "historical": kind.historical}
            print(json.dumps({**row, "note": kind.note} if kind.note else row))
        return
    table = Table(title="Selector kinds")
    table.add_column("kind")
    table.add_column("what")
    table.add_column("status")
    for kind in all_selector_kinds():
        status = f"historical: {kind.note}" if kind.historical else "current"
        table.add_row(kind.name, kind.label, status)
    console.print(table)


def check(
    kind: Annotated[str, typer.Argument(help="A kind from `spector selectors kinds`.")],
    value: Annotated[str, typer.Argument(help="The value to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate and normalise one selector value; exit 2 with the reason if invalid."""
    from spector.model import selector_kind

    normalised = selector_kind(kind).normalise(value)
    if as_json:
        print(json.dumps({"kind": kind, "value": normalised, "valid": True}))
    else:
        console.print(f"valid {kind}: {normalised}")


def register(app: typer.Typer, groups: Groups) -> None:
    groups.selectors.command()(kinds)
    groups.selectors.command()(check)
