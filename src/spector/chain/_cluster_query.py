"""Reading the clusters: an address's cluster with its evidence, cluster ids in bulk,
and the chain of merges that makes two addresses one wallet. Read-only."""

from __future__ import annotations

import importlib.util
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

import duckdb
import pyarrow as pa

from spector.errors import InputError
from spector.store import Workspace

__all__ = ["address_candidates", "address_cluster_ids", "cluster_of", "merge_path",
           "resolve_address"]  # fmt: skip

_BECH32 = ("bc1", "tb1", "bcrt1")


def address_candidates(address: str) -> list[str]:
    """The forms an address typed by a user may be stored in: as given (trimmed), and for
    bech32 (case-insensitive) in lower case too."""
    key = address.strip()
    return [key, key.lower()] if key.lower().startswith(_BECH32) and key != key.lower() else [key]


def address_cluster_ids(con: duckdb.DuckDBPyConnection, addresses: Iterable[str]) -> dict[str, int]:
    """The cluster id of each address that ``chain_clusters`` holds (others left out)."""
    asked = list(dict.fromkeys(addresses))
    if not asked:
        return {}
    name = f"cl_asked_{uuid.uuid4().hex}"
    con.register(name, pa.table({"address": pa.array(asked, pa.string())}))
    try:
        rows = con.execute(
            f"SELECT c.address, c.cluster_id FROM chain_clusters c JOIN {name} q "
            "ON q.address = c.address"
        ).fetchall()
    finally:
        con.unregister(name)
    return {str(a): int(c) for a, c in rows}


def _clustered(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM cluster_state WHERE key = 'settings'").fetchall()[0][0]
    )


def resolve_address(con: duckdb.DuckDBPyConnection, address: str) -> tuple[str, int]:
    """(address as stored, its cluster id); bech32 addresses match in any case. Raises
    InputError when the chain has not been clustered or the address is not in it."""
    key = address.strip()
    for value in address_candidates(key):
        rows = con.execute(
            "SELECT cluster_id FROM chain_clusters WHERE address = ?", [value]
        ).fetchall()
        if rows:
            return value, int(rows[0][0])
    if not _clustered(con):
        raise InputError("the chain has not been clustered yet",
                         hint="run `spector chain cluster` first")  # fmt: skip
    raise InputError(
        f"address {key!r} is not in the chain's clusters",
        expected="an address that appears in the ingested blocks (P2PK outputs by the "
        "P2PKH address of their key)",
    )


def _tags(con: duckdb.DuckDBPyConnection, address: str) -> list[dict[str, Any]]:
    """The address's own and cluster tags (``spector.chain._tags``, when present)."""
    if importlib.util.find_spec("spector.chain._tags") is None:
        return []
    from spector.chain import _tags

    seen: set[tuple[object, ...]] = set()
    out = []
    for ref in _tags.tags_for(con, [address]).get(address, []):
        item = {"label": ref.label, "category": ref.category,
                "confidence": ref.confidence, "source": ref.source}  # fmt: skip
        key = tuple(item.values())
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _merge(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"heuristic": row[0], "txid": row[1], "addresses": [row[2], row[3]]}


def cluster_of(ws: Workspace, address: str, *, limit: int = 50) -> dict[str, Any]:
    """The cluster of ``address``: ``cluster_id``, ``size``, up to ``limit``
    ``addresses`` (first seen first), ``tags`` ({label, category, confidence, source})
    and up to ``limit`` ``merges`` ({heuristic, txid, addresses: [a, b]}; the address's
    own first, then in chain order, analyst merges last). Raises InputError for an
    address not in the clusters."""
    if limit < 1:
        raise InputError(f"limit {limit}", expected="1 or more")
    con = ws.store.con
    key, cid = resolve_address(con, address)
    size = int(
        con.execute("SELECT count(*) FROM chain_clusters WHERE cluster_id = ?", [cid]).fetchall()[
            0
        ][0]
    )
    members = (
        "SELECT a.address_id FROM chain_clusters c JOIN cluster_addresses a "
        "ON a.address = c.address WHERE c.cluster_id = $1"
    )
    addresses = [
        str(r[0])
        for r in con.execute(
            "SELECT c.address FROM chain_clusters c JOIN cluster_addresses a "
            "ON a.address = c.address WHERE c.cluster_id = $1 ORDER BY a.address_id LIMIT $2",
            [cid, limit],
        ).fetchall()
    ]
    merges = [
        _merge(r)
        for r in con.execute(
            f"SELECT heuristic, txid, address_a, address_b FROM cluster_merges "
            f"WHERE id_a IN ({members}) "
            "ORDER BY (address_a = $2 OR address_b = $2) DESC, height NULLS LAST, id_b "
            "LIMIT $3",
            [cid, key, limit],
        ).fetchall()
    ]
    return {
        "cluster_id": cid,
        "size": size,
        "addresses": addresses,
        "tags": _tags(con, key),
        "merges": merges,
    }


def merge_path(ws: Workspace, a: str, b: str) -> list[dict[str, Any]]:
    """The merges that link ``a`` to ``b``, in order along the way (the recorded merges
    are a spanning forest, so the path is unique). InputError when the addresses are not
    in one cluster."""
    con = ws.store.con
    key_a, cid_a = resolve_address(con, a)
    key_b, cid_b = resolve_address(con, b)
    if cid_a != cid_b:
        raise InputError(f"{key_a} (cluster {cid_a}) and {key_b} (cluster {cid_b}) "
                         "are not one cluster")  # fmt: skip
    if key_a == key_b:
        return []
    rows = con.execute(
        "SELECT heuristic, txid, address_a, address_b FROM cluster_merges WHERE id_a IN "
        "(SELECT a.address_id FROM chain_clusters c JOIN cluster_addresses a "
        "ON a.address = c.address WHERE c.cluster_id = ?)",
        [cid_a],
    ).fetchall()
    links: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
    for row in rows:
        links.setdefault(row[2], []).append((row[3], row))
        links.setdefault(row[3], []).append((row[2], row))
    back: dict[str, tuple[str, tuple[Any, ...]] | None] = {key_a: None}
    queue = deque([key_a])
    while queue and key_b not in back:
        here = queue.popleft()
        for there, row in links.get(here, []):
            if there not in back:
                back[there] = (here, row)
                queue.append(there)
    if key_b not in back:  # analyst merges overlap chain merges: still linked, no path
        raise InputError(f"no chain of merges links {key_a} to {key_b}")
    path = []
    walk = key_b
    while (step := back[walk]) is not None:
        walk, row = step
        path.append(_merge(row))
    return path[::-1]
