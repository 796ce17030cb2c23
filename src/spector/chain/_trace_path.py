"""Path search between two sets: how money of FROM can have reached TO.

``path(ws, from_, to)`` searches forward from every output paid to FROM (addresses,
clusters, outputs, vendors, listings; ``_trace_source``) through the transactions that
spend them, breadth first, for outputs paid to TO (the same kinds, plus
``category:<concept>``: every address tagged so, e.g. ``category:exchange``). Each step
follows real money (an output into the transaction that spends it), so a path is a
chain of payments in time order, never addresses that merely share a neighbour.

Address level (default): the shortest path to each TO address reached, in transactions.
Cluster level (``cluster=True``): FROM and TO stand for their whole clusters, moves
inside a cluster cost nothing, and the path's length counts cluster changes; its steps
name the clusters (``cluster:<id>``). GraphSense's dashboard asks for both (issue #360:
search from an entity to a set of addresses, on the address level too).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from spector.chain import _trace_walk as walk
from spector.chain._trace_graph import ChainGraph, Progress, load_graph
from spector.chain._trace_result import iso
from spector.chain._trace_source import resolve
from spector.chain._trace_tags import node_tags
from spector.errors import InputError, UsageError
from spector.store import Workspace

__all__ = ["MAX_PATH_HOPS", "path"]

MAX_PATH_HOPS = 50


def _clusters(g: ChainGraph, addr_ids: np.ndarray) -> np.ndarray:
    """Every address id in the clusters of ``addr_ids``."""
    if g.addr_cluster is None:
        raise InputError("this workspace has no clusters", hint="run `spector chain cluster`")
    wanted = np.unique(g.addr_cluster[addr_ids])
    wanted = wanted[wanted >= 0]
    out = np.nonzero(np.isin(g.addr_cluster, wanted))[0]
    return np.unique(np.concatenate([addr_ids, out]))


def path(
    ws: Workspace,
    from_: str | Sequence[str],
    to: str | Sequence[str],
    *,
    hops: int = 8,
    cluster: bool = False,
    limit: int = 10,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The shortest money paths from ``from_`` to ``to`` (see the module docstring): a
    dict with ``paths`` (nearest first, one per target address reached, at most
    ``limit``) and, like a trace, ``nodes`` and ``edges`` (their union) to save."""
    started = time.perf_counter()
    if not 1 <= hops <= MAX_PATH_HOPS:
        raise UsageError(f"--hops {hops} is out of range", expected=f"1 to {MAX_PATH_HOPS}")
    if limit < 1:
        raise UsageError(f"--limit {limit} is out of range", expected="1 or more")
    from_texts = [from_] if isinstance(from_, str) else list(from_)
    to_texts = [to] if isinstance(to, str) else list(to)
    con = ws.store.con
    g = load_graph(ws, progress=progress)
    src = resolve(con, g, from_texts)
    dst = resolve(con, g, to_texts, targets=True)
    src_addr, dst_addr = src.addr_ids, dst.addr_ids
    node_cluster = np.full(g.n_out, -1, np.int64)
    if cluster:
        src_addr, dst_addr = _clusters(g, src_addr), _clusters(g, dst_addr)
        has = g.out_addr >= 0
        node_cluster[has] = g.addr_cluster[g.out_addr[has]]  # type: ignore[index]
    seeds = np.unique(np.concatenate([g.outputs_of(src_addr), src.nodes]))
    target = np.zeros(g.n_out, bool)
    target[g.outputs_of(dst_addr)] = True
    target[dst.nodes] = True
    if progress is not None:
        progress("searching", 0, 1)
    dist, parent, found = walk.path_bfs(
        seeds, target, hops, cluster, node_cluster, g.tx_out0, g.out_spent, g.in_tx
    )
    if progress is not None:
        progress("searching", 1, 1)
    paths = _paths(g, dist, parent, found, limit, node_cluster if cluster else None)
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    names: set[str] = set()
    for p in paths:
        for e in p["edges"]:
            edges.setdefault((e["from"], e["to"], e["txid"]), e)
            names.update((e["from"], e["to"]))
    tags = node_tags(con, sorted(names))
    nodes = [
        {
            "id": n,
            "type": "output" if ":" in n else "address",
            "cluster_id": _cluster_id(g, n),
            "roles": _roles(n, paths),
            "tags": tags.get(n, []),
            "amount_in_sat": None,
        }
        for n in sorted(names)
    ]
    return {
        "kind": "path",
        "source": ", ".join(from_texts),
        "target": ", ".join(to_texts),
        "cluster": cluster,
        "hops": hops,
        "policy": None,
        "direction": "forward",
        "searched": int((dist >= 0).sum()),
        "found": len(paths),
        "paths": paths,
        "nodes": nodes,
        "edges": list(edges.values()),
        "notes": src.notes + dst.notes,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _cluster_id(g: ChainGraph, name: str) -> int | None:
    if g.addr_cluster is None or ":" in name:
        return None
    aid = int(g.address_ids([name])[0])
    if aid < 0 or g.addr_cluster[aid] < 0:
        return None
    return int(g.addr_cluster[aid])


def _roles(name: str, paths: list[dict[str, Any]]) -> list[str]:
    roles = []
    if any(p["nodes"][0] == name for p in paths):
        roles.append("source")
    if any(p["nodes"][-1] == name for p in paths):
        roles.append("target")
    return roles or ["path"]


def _paths(
    g: ChainGraph,
    dist: np.ndarray,
    parent: np.ndarray,
    found: np.ndarray,
    limit: int,
    node_cluster: np.ndarray | None,
) -> list[dict[str, Any]]:
    order = sorted(
        set(found.tolist()), key=lambda n: (int(dist[n]), int(g.tx_time[g.out_tx[n]]), n)
    )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for end in order:
        name = g.node_name(end)
        key = (
            f"cluster:{node_cluster[end]}"
            if node_cluster is not None and node_cluster[end] >= 0
            else name
        )
        if key in seen:
            continue
        seen.add(key)
        chain = [end]
        while parent[chain[-1]] >= 0:
            chain.append(int(parent[chain[-1]]))
        chain.reverse()
        steps = []
        for a, b in itertools.pairwise(chain):
            tx = int(g.out_tx[b])
            rule = "path"
            if (
                node_cluster is not None
                and node_cluster[a] >= 0
                and node_cluster[a] == node_cluster[b]
            ):
                rule = "same_cluster"
            steps.append(
                {
                    "from": g.node_name(a),
                    "to": g.node_name(b),
                    "txid": g.txid(tx),
                    "amount_sat": int(g.out_value[b]),
                    "time": iso(g.tx_time[tx]),
                    "rule": rule,
                    "hop": int(dist[b]),
                    "weight": 1.0,
                }
            )
        entry: dict[str, Any] = {
            "length": int(dist[end]),
            "transactions": len(steps),
            "nodes": [g.node_name(n) for n in chain],
            "edges": steps,
            "start": g.outpoint(chain[0]),
            "end": g.outpoint(end),
        }
        if node_cluster is not None:
            clusters: list[str] = []
            for n in chain:
                c = f"cluster:{node_cluster[n]}" if node_cluster[n] >= 0 else g.node_name(n)
                if not clusters or clusters[-1] != c:
                    clusters.append(c)
            entry["clusters"] = clusters
        out.append(entry)
        if len(out) >= limit:
            break
    return out
