"""The clustering's moves, each inside one store transaction (``Engine.transaction``):

- ``process(lo, hi)``: take in the blocks of heights ``lo..hi`` (all above what is
  clustered): pseudo-addresses, new ids, skipped mixing, change outputs, edge groups,
  the union-find, and the merges and held-back transactions recorded;
- ``truncate(f)``: forget every height from ``f`` up (a reorg): the merges recorded
  there go, and the clusters they touched are rebuilt from the merges below ``f`` —
  exactly the clusters as they stood after height ``f - 1``, since the merges recorded in
  height order are a spanning forest of the clusters at every height;
- ``recompute(members)``: rebuild whole clusters from the chain (an unmerge): their
  transactions are applied again in chain order, without the ones now excluded;
- ``finish()``: labels (with the analyst's merges laid over) into ``chain_clusters``
  and the arrays saved as the next generation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

from spector.chain._cluster_edges import (
    HEURISTICS,
    EdgeGroups,
    assign_ids,
    change_rows,
    edge_groups,
    skip_mixing,
)
from spector.chain._cluster_state import (
    ClusterState,
    Settings,
    arrow,
    numpy_rows,
    overlay,
    write_labels,
)
from spector.chain._pseudo import fill_pseudo_addresses, remove_stale_pseudo
from spector.chain._query import ensure_views
from spector.chain._uf import GroupResult, UnionFind, apply_groups, groups_from_edges
from spector.errors import WorkspaceError
from spector.store import Workspace

__all__ = ["Applied", "Engine"]


class Applied:
    """What the moves of one transaction did (merges by heuristic, held back, skipped)."""

    def __init__(self) -> None:
        self.merges: Counter[str] = Counter()
        self.held: list[dict[str, Any]] = []
        self.skipped: Counter[str] = Counter()
        self.txs = 0
        self.new_addresses = 0
        self.pseudo = 0


class Engine:
    """The open clustering of a workspace (writable), its union-find loaded."""

    def __init__(self, ws: Workspace) -> None:
        if not ws.store.writable:
            raise WorkspaceError("clustering writes to the store; open it for writing",
                                 where=ws.root)  # fmt: skip
        ensure_views(ws)
        self.ws = ws
        self.con = ws.store.con
        self.state = ClusterState(ws)
        self.uf, self.old_labels = self.state.load()
        self.labels: np.ndarray | None = None
        self.applied = Applied()
        self.rolled_back = 0  # clustered blocks forgotten as stale
        rows = self.con.execute("SELECT any_value(network) FROM chain_index").fetchall()
        self.network = str(rows[0][0]) if rows and rows[0][0] else "main"

    @contextmanager
    def transaction(self) -> Iterator[Engine]:
        """One store transaction; the arrays' new generation is kept only if it commits."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            self.state.cleanup()
            raise
        self.state.cleanup()

    # -- moves -------------------------------------------------------------------------
    def reset(self) -> None:
        self.state.reset()
        self.uf = UnionFind.empty()
        self.old_labels = np.empty(0, self.uf.parent.dtype)

    def process(self, lo: int, hi: int, settings: Settings) -> None:
        """Cluster the blocks of heights ``lo..hi`` (every one above the clustered tip)."""
        con = self.con
        self.applied.pseudo += fill_pseudo_addresses(con, self.network, lo, hi)
        new = assign_ids(con, lo, hi, len(self.uf))
        self.uf.grow(len(self.uf) + new)
        self.applied.new_addresses += new
        mixing = skip_mixing(con, lo, hi)
        self.applied.skipped.update(mixing.column("kind").to_pylist())
        change = change_rows(con, settings.heuristics, lo, hi, mixing)
        self._apply(edge_groups(con, lo, hi, change), settings)
        con.execute(
            "INSERT INTO cluster_blocks SELECT height, hash FROM chain_index "
            "WHERE height BETWEEN ? AND ?",
            [lo, hi],
        )

    def truncate(self, f: int) -> int:
        """Forget heights ``f`` and up; return how many clustered blocks that was."""
        con = self.con
        blocks = int(
            con.execute("SELECT count(*) FROM cluster_blocks WHERE height >= ?", [f]).fetchall()[0][
                0
            ]
        )
        removed = numpy_rows(
            con,
            "SELECT id_a, id_b FROM cluster_merges WHERE heuristic <> 'analyst' AND height >= $1",
            [f],
        )
        keep = int(
            con.execute(
                "SELECT coalesce(min(address_id), ?) FROM cluster_addresses "
                "WHERE first_height >= ?",
                [len(self.uf), f],
            ).fetchall()[0][0]
        )
        ends = np.concatenate([removed["id_a"], removed["id_b"]]).astype(np.int64)
        if len(ends):
            members = self._members(ends)
            self.uf.reset(members)
            kept = members[members < keep]
            self.uf.truncate(keep)
            self._replay_recorded(kept, f)
        else:
            self.uf.truncate(keep)
        for table in ("cluster_merges", "cluster_held", "cluster_skipped", "cluster_blocks"):
            extra = " AND heuristic <> 'analyst'" if table == "cluster_merges" else ""
            con.execute(f"DELETE FROM {table} WHERE height >= ?{extra}", [f])
        con.execute(
            "DELETE FROM chain_clusters WHERE address IN "
            "(SELECT address FROM cluster_addresses WHERE address_id >= ?)",
            [keep],
        )
        con.execute("DELETE FROM cluster_addresses WHERE address_id >= ?", [keep])
        if self.old_labels is not None:
            self.old_labels = self.old_labels[:keep]
        remove_stale_pseudo(con)
        return blocks

    def recompute(self, members: np.ndarray, settings: Settings) -> None:
        """Rebuild the clusters made of ``members`` (whole clusters) from the chain."""
        con = self.con
        self.uf.reset(members)
        con.register("cl_members", pa.table({"address_id": members.astype(np.int64)}))
        try:
            con.execute(
                "DELETE FROM cluster_merges WHERE heuristic <> 'analyst' "
                "AND id_a IN (SELECT address_id FROM cl_members)"
            )
            touching = arrow(
                con,
                "SELECT DISTINCT i.txid, i.height FROM inputs i "
                "LEFT JOIN chain_pseudo_addresses p "
                "    ON i.address IS NULL AND p.txid = i.prev_txid AND p.vout = i.prev_vout "
                "JOIN cluster_addresses a ON a.address = coalesce(i.address, p.address) "
                "JOIN cl_members m ON m.address_id = a.address_id WHERE NOT i.coinbase",
            )
        finally:
            con.unregister("cl_members")
        if not touching.num_rows:
            return
        heights = touching.column("height").to_numpy()
        lo, hi = int(heights.min()), int(heights.max())
        mixing = arrow(
            con, "SELECT txid, height, kind FROM cluster_skipped WHERE height BETWEEN $1 AND $2",
            [lo, hi],
        )  # fmt: skip
        change = change_rows(con, settings.heuristics, lo, hi, mixing)
        groups = edge_groups(con, lo, hi, change, only=touching.select(["txid"]))
        self._apply(groups, settings)

    def finish(self) -> np.ndarray:
        """Write the labels and save the arrays (inside the transaction)."""
        labels = overlay(self.con, self.uf.labels())
        write_labels(self.con, labels, self.old_labels)
        self.state.save(self.uf, labels)
        self.labels = labels
        return labels

    # -- helpers -----------------------------------------------------------------------
    def _members(self, ids: np.ndarray) -> np.ndarray:
        """Every id in the clusters of ``ids``."""
        roots = self.uf.roots()
        return np.flatnonzero(np.isin(roots, np.unique(roots[ids]))).astype(np.int64)

    def members_of(self, ids: np.ndarray) -> np.ndarray:
        return self._members(ids.astype(np.int64))

    def _replay_recorded(self, members: np.ndarray, below: int) -> None:
        """Re-apply the recorded merges below height ``below`` among ``members``."""
        if not len(members):
            return
        self.con.register("cl_members", pa.table({"address_id": members}))
        try:
            edges = numpy_rows(
                self.con,
                "SELECT id_a, id_b FROM cluster_merges WHERE heuristic <> 'analyst' "
                "AND height < $1 AND id_a IN (SELECT address_id FROM cl_members)",
                [below],
            )
        finally:
            self.con.unregister("cl_members")
        if len(edges["id_a"]):
            apply_groups(self.uf, *groups_from_edges(edges["id_a"], edges["id_b"]))

    def _apply(self, groups: EdgeGroups, settings: Settings) -> None:
        result = apply_groups(
            self.uf, groups.members, groups.offsets,
            guard_factor=settings.guard_factor, guard_min=settings.guard_min_size,
        )  # fmt: skip
        self.applied.txs += int(np.count_nonzero(np.diff(groups.offsets) >= 2))
        self._record(groups, result, settings)

    def _record(self, groups: EdgeGroups, result: GroupResult, settings: Settings) -> None:
        con = self.con
        if len(result.merged):
            g = np.searchsorted(groups.offsets, result.merged, side="right") - 1
            kinds = groups.kinds[result.merged]
            names = pa.array(HEURISTICS).take(pa.array(kinds.astype(np.int64)))
            merges = pa.table(
                {
                    "height": groups.heights[g],
                    "txid": groups.txids.take(pa.array(g)),
                    "heuristic": names,
                    "id_a": groups.members[groups.offsets[g]].astype(np.int64),
                    "id_b": groups.members[result.merged].astype(np.int64),
                }
            )
            self.applied.merges.update(names.to_pylist())
            con.register("cl_merges", merges)
            try:
                con.execute(
                    "INSERT INTO cluster_merges SELECT n.height, n.txid, n.heuristic, "
                    "a.address, b.address, n.id_a, n.id_b, NULL FROM cl_merges n "
                    "JOIN cluster_addresses a ON a.address_id = n.id_a "
                    "JOIN cluster_addresses b ON b.address_id = n.id_b"
                )
            finally:
                con.unregister("cl_merges")
        if len(result.held):
            stats = result.held_stats
            held = pa.table(
                {
                    "height": groups.heights[result.held],
                    "txid": groups.txids.take(pa.array(result.held)),
                    "merged_size": stats[:, 0],
                    "largest_part": stats[:, 1],
                    "parts": stats[:, 2],
                    "guard_factor": np.full(len(result.held), settings.guard_factor),
                    "guard_min_size": np.full(len(result.held), settings.guard_min_size),
                }
            )
            self.applied.held.extend(held.drop_columns(["guard_factor", "guard_min_size"])
                                     .to_pylist())  # fmt: skip
            con.register("cl_held", held)
            try:
                con.execute("INSERT INTO cluster_held SELECT * FROM cl_held")
            finally:
                con.unregister("cl_held")
