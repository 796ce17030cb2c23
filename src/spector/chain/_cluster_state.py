"""What the clustering keeps between runs: its settings, the union-find arrays, and the
final labels written to ``chain_clusters``.

The arrays (parent, size, and every address's final cluster label) are saved as .npy
files under ``<workspace>/chain/clusters/``, each written to a temporary name and moved
into place, named by a *generation* that the store records in the same transaction as
the rows they match. Files of any other generation are leftovers and are removed. When
the files of the recorded generation are missing or do not match the store, the arrays
are rebuilt from the recorded merges (they are a spanning forest of the clusters), so
the files are a cache, never the only copy.

Labels: the union-find holds what the chain's heuristics merged; the analyst's merges
are laid over it (``overlay``) to give the labels in ``chain_clusters``: the smallest
address id of each cluster.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from spector.chain._coinjoin import settle
from spector.chain._uf import UnionFind, apply_groups, groups_from_edges
from spector.store import Workspace

__all__ = ["ClusterState", "Settings", "arrow", "numpy_rows", "overlay", "settle", "write_labels"]

_ARRAYS = ("parent", "size", "labels")


def arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> pa.Table:
    """A query's rows as an Arrow table."""
    settle(con)
    return con.sql(sql, params=params).to_arrow_table()


def numpy_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> dict[str, np.ndarray]:
    """A query of numeric columns as numpy arrays (int64 unless the column says)."""
    table = arrow(con, sql, params)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


@dataclass(frozen=True, slots=True)
class Settings:
    """What a clustering was made with; a different one means recomputing from zero."""

    heuristics: tuple[str, ...]  # change heuristics switched on, sorted
    guard_factor: float
    guard_min_size: int

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_key(cls, text: str) -> Settings:
        data = json.loads(text)
        return cls(tuple(data["heuristics"]), float(data["guard_factor"]),
                   int(data["guard_min_size"]))  # fmt: skip

    def describe(self) -> str:
        names = ", ".join(self.heuristics) or "multi_input only"
        guard = (
            f"guard x{self.guard_factor:g} from {self.guard_min_size:,} addresses"
            if self.guard_factor > 0
            else "guard off"
        )
        return f"{names}; {guard}"


class ClusterState:
    """The ``cluster_state`` rows and the saved arrays of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.con = ws.store.con
        self.folder = ws.root / "chain" / "clusters"

    # -- key/value rows ----------------------------------------------------------------
    def get(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM cluster_state WHERE key = ?", [key]).fetchall()
        return str(rows[0][0]) if rows else None

    def set(self, key: str, value: str) -> None:
        self.con.execute("DELETE FROM cluster_state WHERE key = ?", [key])
        self.con.execute("INSERT INTO cluster_state VALUES (?, ?)", [key, value])

    def settings(self) -> Settings | None:
        text = self.get("settings")
        return Settings.from_key(text) if text else None

    def generation(self) -> int:
        return int(self.get("generation") or 0)

    def clustered(self) -> bool:
        """Whether a clustering has been made (and not reset) in this store."""
        return self.get("settings") is not None

    # -- arrays ------------------------------------------------------------------------
    def _path(self, generation: int, name: str) -> Path:
        return self.folder / f"uf-{generation:06d}-{name}.npy"

    def load(self) -> tuple[UnionFind, np.ndarray | None]:
        """The union-find and the labels written to ``chain_clusters`` (None when they
        must be rewritten whole), from the files of the recorded generation or, failing
        that, rebuilt from the recorded merges."""
        n = int(self.con.execute("SELECT count(*) FROM cluster_addresses").fetchall()[0][0])
        gen = self.generation()
        try:
            arrays = [np.load(self._path(gen, name), allow_pickle=False) for name in _ARRAYS]
            parent, size, labels = arrays
            if len(parent) == len(size) == len(labels) == n and parent.dtype == size.dtype:
                return UnionFind(parent, size), labels
        except (OSError, ValueError):
            pass
        return self.rebuild(n), None

    def rebuild(self, n: int) -> UnionFind:
        """The union-find from the recorded merges of the chain's heuristics."""
        uf = UnionFind.empty(n)
        edges = numpy_rows(
            self.con,
            "SELECT id_a, id_b FROM cluster_merges WHERE heuristic <> 'analyst' "
            "ORDER BY height, id_a, id_b",
        )
        if len(edges["id_a"]):
            apply_groups(uf, *groups_from_edges(edges["id_a"], edges["id_b"]))
        return uf

    def save(self, uf: UnionFind, labels: np.ndarray) -> int:
        """Write the arrays as the next generation and record it (in the caller's
        transaction); return the generation. ``cleanup`` removes the others after the
        commit."""
        gen = self.generation() + 1
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, data in zip(_ARRAYS, (uf.parent, uf.size, labels), strict=True):
            final = self._path(gen, name)
            tmp = final.with_suffix(".tmp")
            with tmp.open("wb") as handle:
                np.save(handle, data, allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        self.set("generation", str(gen))
        return gen

    def cleanup(self, keep: int | None = None) -> None:
        """Remove array files of every generation but ``keep`` (default: the recorded)."""
        keep = self.generation() if keep is None else keep
        if not self.folder.is_dir():
            return
        for path in self.folder.glob("uf-*"):
            if not path.name.startswith(f"uf-{keep:06d}-") or path.suffix == ".tmp":
                path.unlink(missing_ok=True)

    def reset(self) -> None:
        """Forget the clustering (not the analyst's decisions, nor pseudo-addresses)."""
        for table in (
            "chain_clusters", "cluster_addresses", "cluster_merges", "cluster_held",
            "cluster_skipped", "cluster_blocks",
        ):  # fmt: skip
            self.con.execute(f"DELETE FROM {table}")
        self.con.execute("DELETE FROM cluster_state WHERE key <> 'generation'")


def overlay(con: duckdb.DuckDBPyConnection, labels: np.ndarray) -> np.ndarray:
    """The chain's labels with the analyst's merges laid over (both addresses known);
    also rewrites the 'analyst' rows of ``cluster_merges`` to match the decisions."""
    con.execute("DELETE FROM cluster_merges WHERE heuristic = 'analyst'")
    con.execute(
        "INSERT INTO cluster_merges SELECT NULL, NULL, 'analyst', a.address, b.address, "
        "a.address_id, b.address_id, d.why FROM cluster_decisions d "
        "JOIN cluster_addresses a ON a.address = d.address_a "
        "JOIN cluster_addresses b ON b.address = d.address_b "
        "WHERE d.kind = 'merge' ORDER BY d.seq"
    )
    pairs = numpy_rows(con, "SELECT id_a, id_b FROM cluster_merges WHERE heuristic = 'analyst'")
    if not len(pairs["id_a"]):
        return labels
    up: dict[int, int] = {}

    def find(x: int) -> int:
        while up.get(x, x) != x:
            x = up[x]
        return x

    for a, b in zip(labels[pairs["id_a"]].tolist(), labels[pairs["id_b"]].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            up[max(ra, rb)] = min(ra, rb)
    if not up:
        return labels
    keys = np.array(sorted(up), dtype=labels.dtype)
    roots = np.array([find(int(k)) for k in keys], dtype=labels.dtype)
    out = labels.copy()
    hit = np.isin(out, keys)
    out[hit] = roots[np.searchsorted(keys, out[hit])]
    return out


def write_labels(con: duckdb.DuckDBPyConnection, new: np.ndarray, old: np.ndarray | None) -> int:
    """Bring ``chain_clusters`` from ``old`` labels (None: unknown, rewrite all) to
    ``new``; ids are positions. Returns the rows written."""
    if old is None:
        con.execute("DELETE FROM chain_clusters")
        changed = np.arange(0, dtype=np.int64)
        start = 0
    else:
        common = min(len(old), len(new))
        changed = np.flatnonzero(old[:common] != new[:common])
        start = len(old)
    if len(changed):
        con.register(
            "cl_changed",
            pa.table({"address_id": changed.astype(np.int64),
                      "cluster_id": new[changed].astype(np.int64)}),
        )  # fmt: skip
        try:
            con.execute(
                "UPDATE chain_clusters SET cluster_id = u.cluster_id FROM ("
                "SELECT a.address, c.cluster_id FROM cl_changed c "
                "JOIN cluster_addresses a ON a.address_id = c.address_id) u "
                "WHERE chain_clusters.address = u.address"
            )
        finally:
            con.unregister("cl_changed")
    added = np.arange(start, len(new), dtype=np.int64)
    if len(added):
        con.register(
            "cl_added", pa.table({"address_id": added, "cluster_id": new[added].astype(np.int64)})
        )
        try:
            con.execute(
                "INSERT INTO chain_clusters SELECT a.address, c.cluster_id FROM cl_added c "
                "JOIN cluster_addresses a ON a.address_id = c.address_id ORDER BY c.address_id"
            )
        finally:
            con.unregister("cl_added")
    return len(changed) + len(added)
