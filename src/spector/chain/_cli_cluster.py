"""`spector chain cluster|cluster-of|merge|unmerge`, and the demo's clustering step.

The work is done by ``spector.chain._cluster`` (the functions the web app and the
tracer call too); this module parses arguments and prints.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from spector.cli.common import DemoContext, WorkspaceOpt, console, demo_step, open_workspace

__all__ = ["register"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def cluster_cmd(
    heuristic: Annotated[
        list[str] | None,
        typer.Option(
            "--heuristic",
            help="A change heuristic to switch on (repeatable): one_time_change, "
            "address_type, round_value, peel_chain, fingerprint. multi_input is always on.",
            show_default=False,
        ),
    ] = None,
    guard_factor: Annotated[
        float,
        typer.Option(
            help="Hold back a transaction that makes a cluster more than this many "
            "times its largest part (0: no guard)."
        ),
    ] = 10.0,
    guard_min_size: Annotated[
        int, typer.Option(help="... once the cluster it makes holds this many addresses.")
    ] = 1_000,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cluster the chain's addresses into wallets (only blocks not clustered yet).

    Changing the heuristics or the guard recomputes from zero (the summary says so).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeElapsedColumn as Elapsed

    from spector.chain._cluster import cluster

    bars = Progress(
        TextColumn("[bold]clustering"), BarColumn(), MofNCompleteColumn(),
        TextColumn("blocks"), Elapsed(), console=console, transient=True,
        disable=as_json or not console.is_terminal,
    )  # fmt: skip
    with open_workspace(workspace, write=True) as ws, bars:
        task = bars.add_task("blocks", total=None)
        report = cluster(
            ws, heuristics=heuristic or (), guard_factor=guard_factor,
            guard_min_size=guard_min_size,
            progress=lambda done, total: bars.update(task, completed=done, total=total),
        )  # fmt: skip
    if as_json:
        print(json.dumps(report.as_dict(), sort_keys=True, default=str))
        return
    for held in report.held[:10]:
        _print(f"held back (guard): {held['txid']} at height {held['height']} would join "
               f"{held['parts']:,} clusters into {held['merged_size']:,} addresses (largest "
               f"part {held['largest_part']:,})")  # fmt: skip
    if len(report.held) > 10:
        _print(f"… {len(report.held) - 10:,} more held back (see --json)")
    _print(report.summary())


def cluster_of_cmd(
    address: Annotated[str, typer.Argument(help="A Bitcoin address (P2PK: its key's P2PKH).")],
    limit: Annotated[int, typer.Option(help="How many addresses and merges to list.")] = 50,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Another address: show the merges that link the two."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An address's cluster: its size, addresses, tags, and the merges that made it."""
    from spector.chain._cluster import cluster_of, merge_path

    with open_workspace(workspace) as ws:
        info: dict[str, Any] = cluster_of(ws, address, limit=limit)
        if to is not None:
            info["path"] = merge_path(ws, address, to)
    if as_json:
        print(json.dumps(info, sort_keys=True))
        return
    noun = "address" if info["size"] == 1 else "addresses"
    _print(f"cluster {info['cluster_id']}: {info['size']:,} {noun}")
    for tag in info["tags"]:
        _print(f"  tag: {tag['label']} ({tag['category'] or '-'}, {tag['confidence']}, "
               f"{tag['source']})")  # fmt: skip
    shown = info["addresses"]
    _print("  addresses: " + ", ".join(shown) + (" …" if info["size"] > len(shown) else ""))
    rows = info.get("path", info["merges"])
    _print(f"  {'path' if 'path' in info else 'merges'}:" + ("" if rows else " none"))
    for m in rows:
        _print(f"    {m['heuristic']}: {m['addresses'][0]} + {m['addresses'][1]} "
               f"(tx {m['txid'] or '-'})")  # fmt: skip


def merge_cmd(
    address_a: Annotated[str, typer.Argument(metavar="ADDR", help="An address.")],
    address_b: Annotated[str, typer.Argument(metavar="ADDR", help="Another address.")],
    why: Annotated[str, typer.Option("--why", help="Why they are one owner (kept).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that two addresses are one owner; every clustering run applies it."""
    from spector.chain._cluster import merge_addresses

    with open_workspace(workspace, write=True) as ws:
        out = merge_addresses(ws, address_a, address_b, why=why)
    if as_json:
        print(json.dumps(out, sort_keys=True))
        return
    if not out["applied"]:
        _print(f"recorded: {out['address_a']} and {out['address_b']} are one owner "
               "(applied by the next `spector chain cluster`)")  # fmt: skip
        return
    note = " (they were one cluster already)" if out["already"] else ""
    _print(f"merged {out['address_a']} and {out['address_b']}: cluster {out['cluster_id']}, "
           f"{out['size']:,} addresses{note}")  # fmt: skip


def unmerge_cmd(
    txid: Annotated[str, typer.Argument(help="A transaction that is not a common owner.")],
    why: Annotated[str | None, typer.Option("--why", help="Why (kept).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that a transaction's inputs are not one owner; undo its merges."""
    from spector.chain._cluster import unmerge

    with open_workspace(workspace, write=True) as ws:
        out = unmerge(ws, txid, why=why)
    if as_json:
        print(json.dumps(out, sort_keys=True))
        return
    if out["already"]:
        _print(f"{out['txid']} was unmerged already; nothing changed")
    elif not out["applied"]:
        _print(f"recorded: {out['txid']} is not a common owner "
               "(applied by the next `spector chain cluster`)")  # fmt: skip
    elif not out["merges_undone"]:
        _print(f"recorded: {out['txid']} is not a common owner; it had merged nothing, "
               "and no run will merge through it")  # fmt: skip
    else:
        _print(
            f"unmerged {out['txid']}: {out['merges_undone']:,} merges undone; "
            f"{out['addresses_affected']:,} addresses now in {out['clusters']:,} clusters"
        )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `spector chain` group."""
    app.command("cluster")(cluster_cmd)
    app.command("cluster-of")(cluster_of_cmd)
    app.command("merge")(merge_cmd)
    app.command("unmerge")(unmerge_cmd)


@demo_step(50, "cluster the range's chain")
def _demo_cluster(ctx: DemoContext) -> str:
    from spector.chain._cluster import cluster

    report = cluster(ctx.workspace)
    skipped = report.skipped_total
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(skipped.items()))
    return (
        f"{report.addresses:,} addresses in {report.clusters:,} clusters (largest "
        f"{report.largest:,}); {report.merges_total:,} merges; {sum(skipped.values()):,} txs "
        f"skipped as coinjoin/chip{f' ({kinds})' if kinds else ''}; "
        f"{report.held_total:,} held back by the guard"
    )
