"""The analyst's decisions on clusters, stored in ``cluster_decisions`` and applied by
every run (from zero or not):

- ``unmerge(ws, txid)``: this transaction is not a common owner. Its merges are undone
  and the clusters they were part of rebuilt from the chain without it.
- ``merge_addresses(ws, a, b, why=...)``: these two addresses are one owner (heuristic
  ``analyst``, with the reason). Laid over the chain's clusters, never fed to the guard.

Bad input (an unknown txid or address, an empty reason) changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import numpy as np

from spector.chain._cluster_query import address_candidates, address_cluster_ids
from spector.chain._cluster_state import ClusterState
from spector.chain._query import ensure_views
from spector.errors import InputError, UsageError
from spector.store import Workspace

__all__ = ["merge_addresses", "unmerge"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _record(ws: Workspace, kind: str, txid: str | None, a: str | None, b: str | None,
            why: str | None) -> None:  # fmt: skip
    con = ws.store.con
    seq = int(
        con.execute("SELECT coalesce(max(seq), 0) + 1 FROM cluster_decisions").fetchall()[0][0]
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("INSERT INTO cluster_decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [seq, kind, txid, a, b, why, now])  # fmt: skip


def _known(ws: Workspace, address: str) -> str:
    """The address as the chain stores it (clustered or not yet); InputError when the
    chain never shows it."""
    con = ws.store.con
    key = address.strip()
    for value in address_candidates(key):
        found = con.execute(
            "SELECT (SELECT count(*) FROM cluster_addresses WHERE address = $1) + "
            "(SELECT count(*) FROM addresses WHERE address = $1) + "
            "(SELECT count(*) FROM chain_pseudo_addresses WHERE address = $1)",
            [value],
        ).fetchall()[0][0]
        if found:
            return value
    raise InputError(f"address {key!r} does not appear in the chain",
                     expected="an address of the ingested blocks")  # fmt: skip


def merge_addresses(ws: Workspace, a: str, b: str, *, why: str) -> dict[str, Any]:
    """Record that ``a`` and ``b`` are one owner and apply it to the clusters held.
    Returns {address_a, address_b, cluster_id, size, already, applied}: ``already`` when
    they were one cluster before, ``applied`` False when nothing is clustered yet (the
    next run applies it)."""
    from spector.chain._cluster_engine import Engine

    reason = (why or "").strip()
    if not reason:
        raise UsageError("a merge needs its reason", expected="--why TEXT")
    ensure_views(ws)
    clustered = ClusterState(ws).clustered()
    key_a, key_b = _known(ws, a), _known(ws, b)
    if key_a == key_b:
        raise UsageError(f"both addresses are {key_a}", expected="two different addresses")
    con = ws.store.con
    before = address_cluster_ids(con, [key_a, key_b])
    already = clustered and before.get(key_a) == before.get(key_b)
    if not clustered:
        _record(ws, "merge", None, key_a, key_b, reason)
        return {"address_a": key_a, "address_b": key_b, "cluster_id": None, "size": None,
                "already": False, "applied": False}  # fmt: skip
    engine = Engine(ws)
    with engine.transaction():
        _record(ws, "merge", None, key_a, key_b, reason)
        engine.finish()
    ids = address_cluster_ids(con, [key_a, key_b])
    cid = ids.get(key_a)
    if cid is None or len(ids) < 2:  # ingested since the last run: the next run applies it
        return {"address_a": key_a, "address_b": key_b, "cluster_id": None, "size": None,
                "already": False, "applied": False}  # fmt: skip
    size = int(
        con.execute("SELECT count(*) FROM chain_clusters WHERE cluster_id = ?", [cid]).fetchall()[
            0
        ][0]
    )
    return {"address_a": key_a, "address_b": key_b, "cluster_id": cid, "size": size,
            "already": already, "applied": True}  # fmt: skip


def unmerge(ws: Workspace, txid: str, *, why: str | None = None) -> dict[str, Any]:
    """Record that ``txid`` is not a common owner, undo its merges and rebuild the
    clusters they were part of. Returns {txid, already, merges_undone,
    addresses_affected, clusters, applied}. An unknown txid raises InputError and
    changes nothing."""
    from spector.chain._cluster_engine import Engine

    key = txid.strip().lower()
    if not _HEX64.match(key):
        raise InputError(f"{txid!r} is not a transaction id", expected="64 hex digits")
    ensure_views(ws)
    con = ws.store.con
    if not con.execute("SELECT count(*) FROM txs WHERE txid = ?", [key]).fetchall()[0][0]:
        raise InputError(f"no transaction {key} in the chain tables",
                         hint="nothing was changed")  # fmt: skip
    out: dict[str, Any] = {"txid": key, "already": False, "merges_undone": 0,
                           "addresses_affected": 0, "clusters": 0, "applied": False}  # fmt: skip
    done = con.execute(
        "SELECT count(*) FROM cluster_decisions WHERE kind = 'unmerge' AND txid = ?", [key]
    ).fetchall()[0][0]
    if done:
        return out | {"already": True}
    state = ClusterState(ws)
    settings = state.settings()
    if settings is None:
        _record(ws, "unmerge", key, None, None, why)
        return out
    engine = Engine(ws)
    with engine.transaction():
        _record(ws, "unmerge", key, None, None, why)
        ends = con.execute(
            "SELECT id_a, id_b FROM cluster_merges WHERE heuristic <> 'analyst' AND txid = ?",
            [key],
        ).fetchall()
        members = np.empty(0, np.int64)
        if ends:
            ids = np.array([i for pair in ends for i in pair], np.int64)
            members = engine.members_of(ids)
            engine.recompute(members, settings)
        labels = engine.finish()
    out |= {"merges_undone": len(ends), "addresses_affected": len(members), "applied": True}
    if len(members):
        out["clusters"] = len(np.unique(labels[members]))
    return out
