"""`spector selectors scan FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from spector.cli.common import Groups, console
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


def register(app: typer.Typer, groups: Groups) -> None:
    groups.selectors.command()(scan)
