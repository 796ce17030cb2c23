"""Look-ups over the chain tables: status, block, tx, address (the CLI prints these)."""

from __future__ import annotations

import re
from typing import Any

from spector.chain._store import TABLES, ChainStore
from spector.errors import InputError
from spector.model import decode_btc_address
from spector.store import Workspace

__all__ = ["address", "block", "ensure_views", "status", "tx"]

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def ensure_views(ws: Workspace) -> ChainStore:
    """The chain store with views that point at this workspace's files (temporary views
    on a read-only store whose saved views are stale, e.g. after the folder moved)."""
    store = ChainStore(ws)
    if not store.views_current():
        store.refresh_views(temp=not ws.store.writable)
    return store


def _rows(ws: Workspace, sql: str, params: list[object]) -> list[dict[str, Any]]:
    cur = ws.store.con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def status(ws: Workspace) -> dict[str, Any]:
    """Rows and files per table, the network, and the contiguous height segments."""
    store = ensure_views(ws)
    con = ws.store.con
    tables = {}
    for table in (*TABLES, "addresses"):
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        files = len(store.files(table)) if table in TABLES else 0
        tables[table] = {"rows": int(row[0]) if row else 0, "files": files}
    segments = _rows(
        ws,
        """
        WITH ordered AS (
            SELECT height, hash, anchored,
                   height - row_number() OVER (ORDER BY height) AS grp
            FROM chain_index
        )
        SELECT min(height) AS "from", max(height) AS "to", count(*) AS blocks,
               arg_min(anchored, height) AS anchored, arg_max(hash, height) AS tip
        FROM ordered GROUP BY grp ORDER BY 1
        """,
        [],
    )
    net = con.execute("SELECT any_value(network) FROM chain_index").fetchone()
    return {
        "network": net[0] if net else None,
        "tables": tables,
        "segments": segments,
        "blocks": sum(s["blocks"] for s in segments),
        "tip_height": segments[-1]["to"] if segments else None,
        "tip_hash": segments[-1]["tip"] if segments else None,
    }


def block(ws: Workspace, hash_or_height: str) -> dict[str, Any]:
    """A block by hash or height, with every transaction and its outputs."""
    ensure_views(ws)
    key = hash_or_height.strip()
    if key.isdigit():
        found = _rows(ws, "SELECT * FROM blocks WHERE height = ?", [int(key)])
    elif _HEX64.match(key):
        found = _rows(ws, "SELECT * FROM blocks WHERE hash = ?", [key.lower()])
    else:
        raise InputError(f"{key!r} is neither a block hash nor a height",
                         expected="64 hex digits or a number")  # fmt: skip
    if not found:
        raise InputError(f"no block {key} in the chain tables",
                         hint="see `spector chain status` for what is held")  # fmt: skip
    head = found[0]
    txs = _rows(
        ws,
        "SELECT idx, txid, wtxid, size, vsize, weight, segwit, coinbase, input_count, "
        "output_count, input_value, output_value, fee FROM txs WHERE height = ? ORDER BY idx",
        [head["height"]],
    )
    outputs = _rows(
        ws,
        "SELECT txid, vout, value, script_type AS type, address FROM outputs "
        "WHERE height = ? ORDER BY txid, vout",
        [head["height"]],
    )
    by_tx: dict[str, list[dict[str, Any]]] = {}
    for o in outputs:
        by_tx.setdefault(o.pop("txid"), []).append(o)
    for t in txs:
        t["outputs"] = by_tx.get(t["txid"], [])
    return {
        "hash": head["hash"],
        "height": head["height"],
        "prev_hash": head["prev_hash"],
        "merkle_root": head["merkle_root"],
        "version": head["version"],
        "time": head["time"],
        "bits": head["bits"],
        "nonce": head["nonce"],
        "size": head["size"],
        "weight": head["weight"],
        "tx_count": head["tx_count"],
        "total_output_value": head["output_value"],
        "coinbase_value": head["coinbase_value"],
        "subsidy": head["subsidy"],
        "fees": head["fees"],
        "txs": txs,
    }


def tx(ws: Workspace, txid: str) -> dict[str, Any]:
    """A transaction with its inputs (and what they spend) and outputs (and their spends)."""
    ensure_views(ws)
    key = txid.strip().lower()
    if not _HEX64.match(key):
        raise InputError(f"{txid!r} is not a txid", expected="64 hex digits")
    found = _rows(ws, "SELECT * FROM txs WHERE txid = ? ORDER BY height LIMIT 1", [key])
    if not found:
        raise InputError(f"no transaction {key} in the chain tables")
    info = found[0]
    info["inputs"] = _rows(
        ws,
        "SELECT vin, prev_txid, prev_vout, sequence, coinbase, value, address, script_type "
        "AS type, prev_height FROM inputs WHERE txid = ? AND height = ? ORDER BY vin",
        [key, info["height"]],
    )
    outputs = _rows(
        ws,
        "SELECT o.vout, o.value, o.script_type AS type, o.address, "
        "i.txid AS spent_txid, i.vin AS spent_vin, i.height AS spent_height "
        "FROM outputs o LEFT JOIN inputs i ON i.prev_txid = o.txid AND i.prev_vout = o.vout "
        "WHERE o.txid = ? AND o.height = ? ORDER BY o.vout",
        [key, info["height"]],
    )
    for o in outputs:
        spent = (o.pop("spent_txid"), o.pop("spent_vin"), o.pop("spent_height"))
        o["spent_by"] = (
            {"txid": spent[0], "vin": spent[1], "height": spent[2]} if spent[0] else None
        )
    info["outputs"] = outputs
    return info


def address(ws: Workspace, value: str, *, limit: int = 50) -> dict[str, Any]:
    """An address's totals and its latest movements (received and spent)."""
    ensure_views(ws)
    key = value.strip()
    decoded = decode_btc_address(key)  # raises SelectorInvalid with the reason
    if decoded.script_type not in ("p2pkh", "p2sh"):  # bech32: stored in lower case
        key = key.lower()
    found = _rows(ws, "SELECT * FROM addresses WHERE address = ?", [key])
    if not found:
        raise InputError(f"address {key} does not appear in the chain tables")
    info = found[0]
    info["movements"] = _rows(
        ws,
        """
        SELECT * FROM (
            SELECT height, txid, 'received' AS direction, value FROM outputs WHERE address = ?
            UNION ALL
            SELECT height, txid, 'spent' AS direction, value FROM inputs WHERE address = ?
        ) ORDER BY height DESC, txid LIMIT ?
        """,
        [key, key, limit],
    )
    return info
