"""What every stage's cli.py shares: the workspace option, console, demo step registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported where used: the `spector` command starts without duckdb
    from spector.store import Workspace

__all__ = [
    "DemoContext",
    "DemoStep",
    "Groups",
    "WorkspaceOpt",
    "console",
    "demo_step",
    "demo_steps",
    "err_console",
    "find_workspace",
    "open_workspace",
]

console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $SPECTOR_WORKSPACE, or the nearest one above here).",
        show_default=False,
    ),
]


def find_workspace(explicit: Path | None = None) -> Path:
    """``spector.store.find_workspace``, imported when a command runs."""
    from spector.store import find_workspace as find

    return find(explicit)


def open_workspace(path: Path | None, *, write: bool = False) -> Workspace:
    """Find and open the workspace for a command (``--workspace`` or the one we are in)."""
    from spector.store import Workspace

    return Workspace.open(find_workspace(path), write=write)


@dataclass
class Groups:
    """Command groups several stages add to (``spector import csv``, ``import parquet``)."""

    import_: typer.Typer
    export: typer.Typer
    selectors: typer.Typer


@dataclass
class DemoContext:
    """What `spector demo` hands each step: the open workspace and the demo's options."""

    workspace: Workspace
    seed: int
    scale: str
    shared: dict[str, object] = field(default_factory=dict)  # what a step leaves for later ones
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run when the demo ends

    def reopen(self) -> None:
        """Open the workspace again after a step closed it (to let other processes write)."""
        from spector.store import Workspace

        self.workspace.close()
        self.workspace = Workspace.open(self.workspace.root, write=True)


@dataclass(frozen=True)
class DemoStep:
    order: int  # pipeline position: sim 10, collect 20, extract 30, chain 40, ...
    name: str
    run: Callable[[DemoContext], str]  # returns a one-line summary of what it did


_STEPS: dict[str, DemoStep] = {}


def demo_step(order: int, name: str) -> Callable[[Callable[[DemoContext], str]], DemoStep]:
    """Register a stage's step in `spector demo` (decorator)."""

    def wrap(fn: Callable[[DemoContext], str]) -> DemoStep:
        step = DemoStep(order, name, fn)
        _STEPS[name] = step
        return step

    return wrap


def demo_steps() -> list[DemoStep]:
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.name))
