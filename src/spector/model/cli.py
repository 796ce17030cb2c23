"""`spector selectors kinds` and `spector selectors check KIND VALUE`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from spector.cli.common import Groups, console
from spector.model import all_selector_kinds, selector_kind

__all__ = ["register"]


def kinds() -> None:
    """List the selector kinds Spector validates."""
    table = Table(title="Selector kinds")
    table.add_column("kind")
    table.add_column("what")
    for kind in all_selector_kinds():
        table.add_row(kind.name, kind.label)
    console.print(table)


def check(
    kind: Annotated[str, typer.Argument(help="A kind from `spector selectors kinds`.")],
    value: Annotated[str, typer.Argument(help="The value to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate and normalise one selector value; exit 2 with the reason if invalid."""
    normalised = selector_kind(kind).normalise(value)
    if as_json:
        print(json.dumps({"kind": kind, "value": normalised, "valid": True}))
    else:
        console.print(f"valid {kind}: {normalised}")


def register(app: typer.Typer, groups: Groups) -> None:
    groups.selectors.command()(kinds)
    groups.selectors.command()(check)
