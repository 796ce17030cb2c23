"""`spector demo`: every stage that exists, end to end, on a range inside the workspace."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spector.cli.common import DemoContext, console, demo_steps
from spector.store.cli import status_table

__all__ = ["demo"]


class Scale(StrEnum):
    tiny = "tiny"
    small = "small"


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the training range.")] = 7,
    scale: Annotated[Scale, typer.Option(help="Size of the training range.")] = Scale.tiny,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="Workspace to use (made if missing; default: temp)."
        ),
    ] = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Do not serve the UI at the end.")
    ] = False,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the UI (the next free one from here).")
    ] = 8470,
) -> None:
    """Run every stage that exists on a generated training range, print a summary, then
    serve the analyst's UI on the demo workspace (URL and a login printed; Ctrl-C stops)."""
    from spector.store import CONFIG_NAME, Workspace

    root = workspace or Path(tempfile.mkdtemp(prefix="spector-demo-")) / "workspace"
    ws = (
        Workspace.open(root, write=True) if (root / CONFIG_NAME).is_file() else Workspace.init(root)
    )
    ctx = DemoContext(workspace=ws, seed=seed, scale=scale.value)
    try:
        console.print(
            f"[bold]Spector demo[/] workspace {ws.root} (seed {seed}, scale {scale.value})"
        )
        steps = demo_steps()
        try:
            for number, step in enumerate(steps, 1):
                line = step.run(ctx)
                console.print(f"[{number}/{len(steps)}] {step.name}: {line}")
            console.print(status_table(ctx.workspace))
        finally:
            for cleanup in reversed(ctx.cleanups):
                cleanup()
    finally:
        ctx.workspace.close()
    if no_serve:
        return
    from spector.cli._demo_web import serve_demo

    serve_demo(root, port=port)
