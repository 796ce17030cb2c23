"""`spector chain trace|path` and `spector chain traces list|show|export|delete`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from spector.cli.common import WorkspaceOpt, console, open_workspace

__all__ = ["register"]

traces_app = typer.Typer(help="Saved traces: list, show, export, delete.", no_args_is_help=True)


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A Rich bar for the graph load and the trace's steps (none with --json)."""
    if quiet or not console.is_terminal:  # no bar, and no stray newline, when piped
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bars.add_task("loading the chain", total=None)

    def update(stage: str, done: int, total: int) -> None:
        bars.update(task, description=stage, completed=done, total=total)

    with bars:
        yield update


def _sat(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e8:,.8f}"


def _num(header: str) -> Any:
    """A column of figures: right-aligned and never cut short (other columns wrap)."""
    from rich.table import Column

    return Column(header, justify="right", no_wrap=True)


def _text(header: str) -> Any:
    """A column of names or times: folded onto more lines when narrow, never cut short."""
    from rich.table import Column

    return Column(header, overflow="fold")


def _print_trace(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        _text("service"),
        _text("category"),
        _num("BTC"),
        _num("share"),
        _text("first"),
        _text("last"),
        _num("outputs"),
        title=f"reached ({result['policy']}, {result['direction']})",
    )
    for r in result["reached"]:
        table.add_row(
            r["label"],
            r["category"],
            _sat(r["amount_sat"]),
            f"{r['share']:.2%}",
            r["first_time"],
            r["last_time"],
            str(r["outputs"]),
        )
    console.print(table)
    rest = Table("untraced", _num("BTC"), _num("share"), _num("outputs"))
    for kind, r in result["untraced"].items():
        rest.add_row(kind, _sat(r["amount_sat"]), f"{r['share']:.2%}", str(r["outputs"]))
    if result["untraced"]:
        console.print(rest)
    for m in result.get("mixer_hops", []):
        best = m["candidates"][0]
        console.print(
            f"mixer hop at {m['at']}: {len(m['candidates'])} candidates, best "
            f"{best['txid']} (weight {best['weight']:.2f})",
            highlight=False,
        )
    for note in result.get("notes", []):
        console.print(f"note: {note}", highlight=False, markup=False)


def _summary(result: dict[str, Any]) -> str:
    from spector.chain._trace_result import TraceResult

    if result.get("kind") == "path":
        return _path_summary(result)
    return TraceResult(result).summary()


def _path_summary(result: dict[str, Any]) -> str:
    level = "cluster" if result["cluster"] else "address"
    if not result["paths"]:
        return (
            f"no {level}-level path from {result['source']} to {result['target']} within "
            f"{result['hops']} hops ({result['searched']:,} outputs searched)"
        )
    best = result["paths"][0]
    return (
        f"{result['found']} {level}-level paths from {result['source']} to "
        f"{result['target']}; shortest {best['length']} hops "
        f"({result['searched']:,} outputs searched)"
    )


def _print_path(result: dict[str, Any]) -> None:
    for i, p in enumerate(result["paths"], 1):
        chain = p.get("clusters") or p["nodes"]
        console.print(f"{i}. {p['length']} hops: " + " → ".join(chain), highlight=False)
        for e in p["edges"]:
            console.print(
                f"     {e['time']}  {e['txid']}  {_sat(e['amount_sat'])} BTC  "
                f"{e['from']} → {e['to']}",
                highlight=False,
            )


def _save(ws: Any, name: str | None, result: dict[str, Any], replace: bool) -> str:
    if not name:
        return ""
    from spector.chain._trace_store import save

    save(ws, name, result, replace=replace)
    return f"; saved as {name}"


def trace_cmd(
    source: Annotated[
        list[str],
        typer.Argument(
            help="An address, cluster:<id>, <txid>:<vout>, vendor:<account id> or "
            "listing:<listing id> (several: traced together).",
            show_default=False,
        ),
    ],
    policy: Annotated[str, typer.Option(help="fifo | haircut | poison.")] = "haircut",
    hops: Annotated[
        int, typer.Option(help="Transactions to follow at most (a peel chain counts as one).")
    ] = 5,
    to_tags: Annotated[
        str,
        typer.Option(
            "--to-tags",
            help="Stop at services of these tag "
            "categories (comma-separated; mixer = "
            "mixing_service).",
        ),
    ] = "exchange,mixing_service,market",
    backward: Annotated[
        bool, typer.Option("--backward", help="Where the money came from.")
    ] = False,
    dust: Annotated[int, typer.Option(help="Taint below this many sat is not followed.")] = 546,
    no_peels: Annotated[
        bool, typer.Option("--no-peels", help="Count every peel-chain step as a hop.")
    ] = False,
    save: Annotated[str | None, typer.Option(help="Keep the result under this name.")] = None,
    replace: Annotated[
        bool, typer.Option(help="With --save: replace a trace of that name.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Follow money from a source over N hops to tagged services (exchanges, mixers, markets)."""
    from spector.chain._trace import trace

    with open_workspace(workspace, write=bool(save)) as ws, _progress(as_json) as progress:
        result = trace(
            ws,
            source,
            policy=policy,
            hops=hops,
            to_tags=to_tags.split(","),
            direction="backward" if backward else "forward",
            dust=dust,
            follow_peels=not no_peels,
            progress=progress,
        ).as_dict()
        saved = _save(ws, save, result, replace)
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    _print_trace(result)
    console.print(_summary(result) + saved, highlight=False, soft_wrap=True)


def path_cmd(
    source: Annotated[
        str,
        typer.Argument(
            help="FROM: an address, cluster:<id>, <txid>:<vout>, "
            "vendor:<id> or listing:<id> (comma-separated for "
            "several).",
            show_default=False,
        ),
    ],
    target: Annotated[
        str,
        typer.Argument(
            help="TO: the same kinds, or category:<concept> (e.g. category:exchange).",
            show_default=False,
        ),
    ],
    hops: Annotated[int, typer.Option(help="Transactions to search at most.")] = 8,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="Cluster level: moves inside a cluster are free.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Paths to list at most (one per target).")] = 10,
    save: Annotated[str | None, typer.Option(help="Keep the result under this name.")] = None,
    replace: Annotated[
        bool, typer.Option(help="With --save: replace a result of that name.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Shortest money paths from one set of addresses to another (address or cluster level)."""
    from spector.chain._trace_path import path

    with open_workspace(workspace, write=bool(save)) as ws, _progress(as_json) as progress:
        result = path(
            ws,
            source.split(","),
            target.split(","),
            hops=hops,
            cluster=cluster,
            limit=limit,
            progress=progress,
        )
        saved = _save(ws, save, result, replace)
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    _print_path(result)
    console.print(_path_summary(result) + saved, highlight=False, soft_wrap=True)


@traces_app.command("list")
def list_cmd(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The saved traces and path searches, newest first."""
    from rich.table import Column, Table

    from spector.chain._trace_store import list_traces

    with open_workspace(workspace) as ws:
        rows = list_traces(ws)
    if as_json:
        print(json.dumps(rows, sort_keys=True, default=str))
        return
    table = Table(
        _text("name"),
        Column("kind", no_wrap=True),
        _text("source"),
        Column("policy", no_wrap=True),
        _num("hops"),
        _num("BTC"),
        _num("reached"),
        _num("edges"),
        _text("saved"),
    )
    for r in rows:
        reached = "-" if r["traced_share"] is None else f"{r['traced_share']:.1%}"
        table.add_row(
            r["name"],
            r["kind"],
            r["source"],
            r["policy"] or "-",
            str(r["hops"]),
            _sat(r["total_sat"]),
            reached,
            f"{r['edges']:,}",
            str(r["created_at"])[:19],
        )
    console.print(table)
    console.print(f"{len(rows)} saved", highlight=False)


@traces_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="A saved trace's name.", show_default=False)],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """A saved trace, as `trace` printed it."""
    from spector.chain._trace_store import load

    with open_workspace(workspace) as ws:
        result = load(ws, name)
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    if result.get("kind") == "path":
        _print_path(result)
    else:
        _print_trace(result)
    console.print(_summary(result), highlight=False, soft_wrap=True)


@traces_app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="A saved trace's name.", show_default=False)],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="json | graphml | csv (nodes.csv + edges.csv in the --out folder)."
        ),
    ] = "json",
    out: Annotated[
        Path | None,
        typer.Option(
            help="The file to write (a folder for csv); default NAME.json, NAME.graphml or "
            "the folder NAME, here.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write a saved trace's graph for Gephi, Maltego, i2 or any JSON reader."""
    from spector.chain._trace_store import export

    if out is None:
        out = Path(name + {"json": ".json", "graphml": ".graphml"}.get(fmt, ""))
    with open_workspace(workspace) as ws:
        written = export(ws, name, fmt, out)
    console.print(
        f"exported {name} as {fmt}: " + ", ".join(str(p) for p in written), highlight=False
    )


@traces_app.command("delete")
def delete_cmd(
    name: Annotated[str, typer.Argument(help="A saved trace's name.", show_default=False)],
    workspace: WorkspaceOpt = None,
) -> None:
    """Forget a saved trace."""
    from spector.chain._trace_store import delete

    with open_workspace(workspace, write=True) as ws:
        delete(ws, name)
    console.print(f"deleted {name}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `spector chain` group."""
    app.command("trace")(trace_cmd)
    app.command("path")(path_cmd)
    app.add_typer(traces_app, name="traces")
