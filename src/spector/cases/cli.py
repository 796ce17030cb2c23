"""`spector cases ...`: the case store's command group.

Each part of the case store adds its commands to the group with its own
``register(cases_app)`` (who, records, deconfliction, evidence, operations).
"""

from __future__ import annotations

import importlib

import typer

from spector.cli.common import Groups

__all__ = ["PARTS", "build_cases_app", "register"]

#: The modules whose ``register(cases_app)`` add commands, in help order.
PARTS: tuple[str, ...] = (
    "spector.cases._cli_who",
    "spector.cases._cli_records",
    "spector.cases._cli_deconflict",
    "spector.cases._cli_evidence",
    "spector.cases._cli_ops",
)


def build_cases_app() -> typer.Typer:
    """A new `cases` group with every part's commands (a part not there yet is skipped)."""
    cases_app = typer.Typer(
        help="The joint investigation: agencies, users, cases, targets, deconfliction, "
        "evidence, arrests and seizures (SQLite in the workspace, or PostgreSQL with --db).",
        no_args_is_help=True,
    )
    for name in PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(cases_app)
    return cases_app


def register(app: typer.Typer, groups: Groups) -> None:
    """Add `spector cases` to the root app."""
    app.add_typer(build_cases_app(), name="cases")
