"""[G] Union-find speed: edges per second per core, against scipy and networkx.

Spector's clustering kernel (``spector.chain._uf.apply_groups``: path halving, union by
size, the super-cluster guard on, spanning merges recorded) against
``scipy.sparse.csgraph.connected_components`` (building the sparse matrix from the
edge list included: that is what a caller holding an edge list pays) and networkx
(``Graph.add_edges_from`` + ``connected_components``), on the same edge lists:

- a random graph of 1,000,000 addresses and 2,000,000 edges (networkx on a 100,000 /
  200,000 sample of the same kind: on the whole graph it needs minutes and gigabytes);
- the `small` training range's chain: the edge groups the clustering builds from it
  (its transactions' inputs), as star edges for the peers.

Every peer's components are checked equal to ours. CPU time, best of several passes.
Goals: >= 5x scipy, >= 20 M edges/s per core, <= 16 bytes per address.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

N, M = 1_000_000, 2_000_000
SAMPLE_N, SAMPLE_M = 100_000, 200_000
PASSES = 5


def _best(fn: Callable[[], Any], passes: int = PASSES) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(passes):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def _ours(n: int, members: np.ndarray, offsets: np.ndarray) -> Callable[[], Any]:
    from spector.chain._uf import UnionFind, apply_groups

    def run() -> UnionFind:
        uf = UnionFind.empty(n)
        apply_groups(uf, members, offsets, guard_factor=10.0, guard_min=1_000)
        return uf

    return run


def _scipy(n: int, src: np.ndarray, dst: np.ndarray) -> Callable[[], np.ndarray]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    def run() -> np.ndarray:
        graph = coo_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(n, n)).tocsr()
        return connected_components(graph, directed=False)[1]

    return run


def _networkx(n: int, src: np.ndarray, dst: np.ndarray) -> Callable[[], list[set[int]]]:
    import networkx as nx

    def run() -> list[set[int]]:
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
        return list(nx.connected_components(graph))

    return run


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Component labels renamed to each component's smallest member."""
    n = len(labels)
    _, comp = np.unique(labels, return_inverse=True)
    smallest = np.full(comp.max() + 1, n, np.int64)
    np.minimum.at(smallest, comp, np.arange(n))
    return smallest[comp]


def _from_sets(n: int, comps: list[set[int]]) -> np.ndarray:
    out = np.empty(n, np.int64)
    for comp in comps:
        out[list(comp)] = min(comp)
    return out


def _compare(
    name: str, n: int, members: np.ndarray, offsets: np.ndarray, nx_too: bool
) -> list[str]:
    firsts = np.repeat(members[offsets[:-1]], np.diff(offsets))
    keep = firsts != members  # a group's first member with itself is no edge
    src, dst = firsts[keep], members[keep]
    edges = len(src)
    t_ours, uf = _best(_ours(n, members, offsets))
    labels = uf.labels()
    t_scipy, comp = _best(_scipy(n, src, dst))
    assert np.array_equal(labels, _canonical(np.asarray(comp))), "scipy's components differ"
    lines = [
        f"{name}: {n:,} addresses, {edges:,} edges in {len(offsets) - 1:,} groups",
        f"  Spector apply_groups: {t_ours * 1e3:,.1f} ms, {edges / t_ours / 1e6:,.1f} M edges/s "
        f"per core (goal >= 20), {uf.nbytes / n:.0f} bytes per address (goal <= 16)",
        f"  scipy connected_components (with the matrix build): {t_scipy * 1e3:,.1f} ms; "
        f"ratio {t_scipy / t_ours:.1f}x (goal >= 5x); same components: yes",
    ]
    if nx_too:
        t_nx, comps = _best(_networkx(n, src, dst), passes=2)
        assert np.array_equal(labels, _from_sets(n, comps)), "networkx's components differ"
        lines.append(
            f"  networkx connected_components (with the graph build): {t_nx * 1e3:,.1f} ms; "
            f"ratio {t_nx / t_ours:.0f}x; same components: yes"
        )
    return lines


def _random(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from spector.chain._uf import groups_from_edges

    rng = np.random.default_rng(seed)
    return groups_from_edges(rng.integers(0, n, m), rng.integers(0, n, m))


def _range_groups(root: Path) -> tuple[int, np.ndarray, np.ndarray, float, str]:
    """Generate the small range, ingest and cluster it; its edge groups as the run saw them."""
    import pyarrow as pa

    from spector.chain._cluster import cluster
    from spector.chain._cluster_edges import edge_groups
    from spector.chain._ingest import ingest_files
    from spector.sim import generate
    from spector.store import Workspace

    generate(7, "small", root / "range")
    with Workspace.init(root / "ws") as ws:
        ingest_files(ws, [root / "range" / "chain" / "blocks"])
        start = time.perf_counter()
        report = cluster(ws)
        seconds = time.perf_counter() - start
        empty = pa.table({"height": pa.array([], pa.int64()), "txid": pa.array([], pa.string()),
                          "kind": pa.array([], pa.int64()), "vout": pa.array([], pa.int64()),
                          "address": pa.array([], pa.string())})  # fmt: skip
        groups = edge_groups(ws.store.con, 0, report.tip_height or 0, empty)
    return report.addresses, groups.members, groups.offsets, seconds, report.summary()


def run() -> list[str]:
    from spector.chain._uf import UnionFind, apply_groups

    apply_groups(UnionFind.empty(4), np.array([0, 1, 2, 3]), np.array([0, 2, 4]))  # compile
    lines = ["one process, CPU time, best of several passes; the guard is on (x10 from 1,000)"]
    lines += _compare("random graph", N, *_random(N, M, 1), nx_too=False)
    lines += _compare("random graph sample", SAMPLE_N, *_random(SAMPLE_N, SAMPLE_M, 2), nx_too=True)
    with tempfile.TemporaryDirectory(prefix="spector-bench-cluster-") as tmp:
        n, members, offsets, seconds, summary = _range_groups(Path(tmp))
    lines += _compare("small range chain (multi-input groups)", n, members, offsets, nx_too=True)
    lines.append(f"  whole `spector chain cluster` of the small range (views, mixing detection, "
                 f"ids, merges recorded; wall clock): {seconds:.2f} s — {summary}")  # fmt: skip
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
