"""`spector chain ingest|status|block|tx|address`."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

from spector.cli.common import DemoContext, Groups, WorkspaceOpt, console, demo_step, open_workspace
from spector.errors import InputError, UsageError

__all__ = ["register"]

chain_app = typer.Typer(help="The Bitcoin chain: ingest, look up, cluster, tag and trace.",
                        no_args_is_help=True)  # fmt: skip


def _progress_bars() -> tuple[Progress, Any]:
    """One bar in blocks, with the data rate in MB/s beside it."""
    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[mb]:,.1f} MB"),
        TextColumn("{task.fields[rate]:,.1f} MB/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bars.add_task("blocks", total=None, mb=0.0, rate=0.0)
    return bars, task


@chain_app.command("ingest")
def ingest_cmd(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="blk*.dat files, raw block files, or folders (a Core datadir)."),
    ] = None,
    rpc: Annotated[
        str | None, typer.Option(help="A node's JSON-RPC URL, e.g. http://user:pw@host:8332/.")
    ] = None,
    rpc_cookie: Annotated[
        Path | None, typer.Option(help="Core's .cookie file for the RPC credentials.")
    ] = None,
    network_name: Annotated[
        str | None,
        typer.Option(
            "--network",
            help="Network of raw block files: main, testnet3, "
            "testnet4, signet, regtest (blk files carry theirs).",
        ),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Report bad records or blocks and go on.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add blocks to the chain tables, in chain order; re-ingesting changes nothing."""
    from spector.chain._ingest import ingest_files
    from spector.chain._rpc import ingest_rpc

    if bool(paths) == bool(rpc):
        raise UsageError("give block files/folders or --rpc URL (one of the two)")
    if rpc_cookie is not None and not rpc:
        raise UsageError("--rpc-cookie goes with --rpc URL")
    bars, task = _progress_bars()
    started = time.perf_counter()

    def on_plan(blocks: int, size: int) -> None:
        bars.update(task, total=blocks)

    def progress(blocks: int, size: int) -> None:
        elapsed = max(time.perf_counter() - started, 1e-9)
        bars.update(task, completed=blocks, mb=size / 1e6, rate=size / 1e6 / elapsed)

    with (
        open_workspace(workspace, write=True) as ws,
        bars if not as_json else contextlib.nullcontext(),
    ):
        if rpc:
            report = ingest_rpc(
                ws, rpc, cookie=rpc_cookie, skip_bad=skip_bad, progress=progress,
                on_plan=on_plan,
            )  # fmt: skip
        else:
            report = ingest_files(
                ws, list(paths or []), network_name=network_name, skip_bad=skip_bad,
                progress=progress, on_plan=on_plan,
            )  # fmt: skip
    if as_json:
        print(json.dumps(report.as_dict(), sort_keys=True))
        return
    rate = report.bytes / report.seconds / 1e6 if report.seconds else 0.0
    console.print(
        f"ingested {report.ingested:,} blocks ({report.txs:,} txs, {report.bytes / 1e6:,.1f} MB, "
        f"{rate:,.1f} MB/s); {report.already:,} already held; tip "
        f"{report.tip_height if report.tip_height is not None else '-'} {report.tip_hash or ''}",
        highlight=False,
    )
    for label, hashes in (
        ("rolled back (reorg)", report.rolled_back),
        ("stale, not ingested", report.stale),
        ("orphans (parent unknown), not ingested", report.orphans),
    ):
        if hashes:
            console.print(f"{len(hashes)} {label}: " + ", ".join(hashes[:5])
                          + (" …" if len(hashes) > 5 else ""), highlight=False)  # fmt: skip
    for message in report.skipped:
        console.print(f"skipped: {message}", markup=False, highlight=False)


@chain_app.command("status")
def status_cmd(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """What the chain tables hold: blocks, heights, segments, rows per table."""
    from spector.chain._query import status

    with open_workspace(workspace) as ws:
        info = status(ws)
    if as_json:
        print(json.dumps(info, sort_keys=True, default=str))
        return
    table = Table("table", "rows", "files", title=f"chain ({info['network'] or 'empty'})")
    for name, row in info["tables"].items():
        table.add_row(name, f"{row['rows']:,}", f"{row['files']:,}")
    console.print(table)
    for seg in info["segments"]:
        console.print(
            f"heights {seg['from']:,}–{seg['to']:,} ({seg['blocks']:,} blocks, "
            f"anchored by {seg['anchored']}); tip {seg['tip']}",
            highlight=False,
        )


@chain_app.command("block")
def block_cmd(
    hash_or_height: Annotated[str, typer.Argument(help="A block hash or a height.")],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """A block: header, totals, and its transactions with their outputs."""
    from spector.chain._query import block

    with open_workspace(workspace) as ws:
        info = block(ws, hash_or_height)
    if as_json:
        print(json.dumps(info, sort_keys=True, default=str))
        return
    console.print(
        f"block {info['height']} {info['hash']}\n  time {info['time']}  txs {info['tx_count']:,}"
        f"  output value {info['total_output_value']:,} sat  fees {_sat(info['fees'])}\n"
        f"  merkle root {info['merkle_root']}  prev {info['prev_hash']}",
        highlight=False,
    )
    table = Table("#", _full("txid"), "outputs", "value (sat)", "fee (sat)")
    for i, tx in enumerate(info["txs"][:50]):
        table.add_row(str(i), tx["txid"], str(len(tx["outputs"])),
                      f"{sum(o['value'] for o in tx['outputs']):,}", _sat(tx["fee"]))  # fmt: skip
    console.print(table)
    if len(info["txs"]) > 50:
        console.print(f"… {len(info['txs']) - 50:,} more (use --json)")


def _full(header: str) -> Column:
    """A column that wraps long hashes and addresses instead of cutting them."""
    return Column(header, overflow="fold")


def _sat(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


@chain_app.command("tx")
def tx_cmd(
    txid: Annotated[str, typer.Argument(help="A transaction id (hex).")],
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """A transaction: its inputs (with what they spend) and outputs (and what spends them)."""
    from spector.chain._query import tx

    with open_workspace(workspace) as ws:
        info = tx(ws, txid)
    if as_json:
        print(json.dumps(info, sort_keys=True, default=str))
        return
    console.print(
        f"tx {info['txid']}  block {info['height']}  {info['size']:,} bytes  "
        f"fee {_sat(info['fee'])} sat{'  coinbase' if info['coinbase'] else ''}",
        highlight=False,
    )
    ins = Table("vin", _full("spends"), _full("address"), "value (sat)", title="inputs")
    for i in info["inputs"]:
        spends = "coinbase" if i["coinbase"] else f"{i['prev_txid']}:{i['prev_vout']}"
        ins.add_row(str(i["vin"]), spends, i["address"] or "-", _sat(i["value"]))
    console.print(ins)
    outs = Table("vout", "type", _full("address"), "value (sat)", _full("spent by"),
                 title="outputs")  # fmt: skip
    for o in info["outputs"]:
        spent = f"{o['spent_by']['txid']}:{o['spent_by']['vin']}" if o["spent_by"] else "-"
        outs.add_row(str(o["vout"]), o["type"], o["address"] or "-", _sat(o["value"]), spent)
    console.print(outs)


@chain_app.command("address")
def address_cmd(
    address: Annotated[str, typer.Argument(help="A Bitcoin address.")],
    limit: Annotated[int, typer.Option(help="How many movements to list.")] = 50,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """An address: first and last seen, received, spent, balance, and its movements."""
    from spector.chain._query import address as lookup

    with open_workspace(workspace) as ws:
        info = lookup(ws, address, limit=limit)
    if as_json:
        print(json.dumps(info, sort_keys=True, default=str))
        return
    console.print(
        f"{info['address']}: received {info['received']:,} sat, spent {info['spent']:,}, "
        f"balance {info['balance']:,}; first seen {info['first_seen']} (block "
        f"{info['first_seen_height']}), last seen {info['last_seen']} (block "
        f"{info['last_seen_height']})",
        highlight=False,
    )
    table = Table("height", _full("txid"), "direction", "value (sat)", title="movements")
    for m in info["movements"]:
        table.add_row(str(m["height"]), m["txid"], m["direction"], f"{m['value']:,}")
    console.print(table)


@demo_step(40, "ingest the range's Bitcoin chain")
def _demo_chain(ctx: DemoContext) -> str:
    from spector.chain._ingest import ingest_files

    blocks = ctx.workspace.range_dir / "chain" / "blocks"
    if not blocks.is_dir():
        raise InputError("the range has no chain", where=blocks)
    report = ingest_files(ctx.workspace, [blocks])
    again = ingest_files(ctx.workspace, [blocks])
    con = ctx.workspace.store.con
    row = con.execute(
        "SELECT count(*), count(value), coalesce(sum(fee), 0) FROM inputs "
        "JOIN txs USING (height, txid) WHERE NOT inputs.coinbase"
    ).fetchone()
    addresses = con.execute("SELECT count(*) FROM addresses").fetchone()
    orders = con.execute(
        "SELECT (SELECT count(*) FROM orders WHERE payto_address IS NOT NULL), "
        "count(DISTINCT order_id), count(DISTINCT order_id) FILTER (WHERE amount_matches) "
        "FROM order_payments"
    ).fetchone()
    if row is None or addresses is None or orders is None:
        return "no rows"
    return (
        f"{report.ingested:,} blocks, {report.txs:,} txs ({report.bytes / 1e6:,.1f} MB in "
        f"{report.seconds:.1f} s); {row[1]:,} of {row[0]:,} inputs resolved; "
        f"{addresses[0]:,} addresses; {orders[1]:,} of {orders[0]:,} seized orders paid on "
        f"chain ({orders[2]:,} for the exact amount); again: {again.ingested} new, "
        f"{again.already:,} already held"
    )


def register(root: typer.Typer, groups: Groups) -> None:
    from spector.chain import _cli_cluster, _cli_demo, _cli_tags, _cli_trace

    for part in (_cli_cluster, _cli_tags, _cli_trace, _cli_demo):
        part.register(chain_app)
    root.add_typer(chain_app, name="chain")
