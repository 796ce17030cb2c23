"""From the chain views to the union-find's input: address ids and edge groups.

Everything is set-based SQL over the views (``ChainStore.refresh_views``) and the
clustering's own tables; Python only sees integer arrays and, per transaction, its txid.

- ``assign_ids``: each address first seen at these heights gets the next id, in the
  order the chain shows them (height, position of the transaction in its block, output
  index); P2PK outputs count by their pseudo-address.
- ``skip_mixing``: the transactions ``detect_mixing`` names are recorded as skipped.
- ``change_rows``: the change outputs of the heuristics switched on.
- ``edge_groups``: one group per transaction, its input addresses first (in input
  order, P2PK inputs by their pseudo-address), then the change outputs the heuristics
  chose; skipped transactions and those the analyst unmerged are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from spector.chain._cluster_state import arrow, settle

__all__ = [
    "FORWARD_LOOKING",
    "HEURISTICS",
    "EdgeGroups",
    "assign_ids",
    "change_rows",
    "edge_groups",
    "skip_mixing",
]

# member kind 0 is the multi-input heuristic; kind k > 0 is HEURISTICS[k], a change one
HEURISTICS = ("multi_input", "one_time_change", "address_type", "round_value", "peel_chain",
              "fingerprint")  # fmt: skip
# these judge a transaction by how its outputs are spent later: a new block can change
# their verdict on an old transaction, so runs with them on recompute from zero
FORWARD_LOOKING = frozenset({"peel_chain", "fingerprint"})

_ASSIGN = """
INSERT INTO cluster_addresses
WITH seen AS (
    SELECT coalesce(o.address, p.address) AS address, o.height,
           row_number() OVER (ORDER BY o.height, t.idx, o.vout) AS pos
    FROM outputs o
    JOIN txs t ON t.height = o.height AND t.txid = o.txid
    LEFT JOIN chain_pseudo_addresses p
        ON o.address IS NULL AND p.txid = o.txid AND p.vout = o.vout
    WHERE o.height BETWEEN $1 AND $2
), firsts AS (
    SELECT address, min(pos) AS pos, min(height) AS first_height
    FROM seen WHERE address IS NOT NULL GROUP BY address
)
SELECT $3 + row_number() OVER (ORDER BY f.pos) - 1, f.address, f.first_height
FROM firsts f
WHERE NOT EXISTS (SELECT 1 FROM cluster_addresses c WHERE c.address = f.address)
"""

_MEMBERS = """
WITH ins AS (
    SELECT i.height, i.txid, 0 AS kind, i.vin AS ord, coalesce(i.address, p.address) AS address
    FROM inputs i
    LEFT JOIN chain_pseudo_addresses p
        ON i.address IS NULL AND p.txid = i.prev_txid AND p.vout = i.prev_vout
    WHERE i.height BETWEEN $1 AND $2 AND NOT i.coinbase
), chg AS (
    SELECT c.height, c.txid, c.kind, c.vout AS ord, coalesce(c.address, p.address) AS address
    FROM cl_change c
    LEFT JOIN chain_pseudo_addresses p
        ON c.address IS NULL AND p.txid = c.txid AND p.vout = c.vout
), m AS (
    SELECT * FROM ins UNION ALL SELECT * FROM chg
)
SELECT m.height, t.idx, m.txid, m.kind::TINYINT AS kind, a.address_id
FROM m
JOIN cluster_addresses a ON a.address = m.address
JOIN txs t ON t.height = m.height AND t.txid = m.txid
WHERE NOT EXISTS (SELECT 1 FROM cluster_skipped s WHERE s.txid = m.txid AND s.height = m.height)
  AND NOT EXISTS (SELECT 1 FROM cluster_decisions d WHERE d.kind = 'unmerge' AND d.txid = m.txid)
  {only}
ORDER BY m.height, t.idx, m.kind, m.ord
"""


def assign_ids(con: duckdb.DuckDBPyConnection, lo: int, hi: int, base: int) -> int:
    """Give ids ``base``, ``base + 1``, ... to the addresses first seen in ``lo..hi``;
    return how many. ``base`` must be the number of ids already given."""
    con.execute(_ASSIGN, [lo, hi, base])
    row = con.execute("SELECT count(*) FROM cluster_addresses").fetchall()[0]
    return int(row[0]) - base


def skip_mixing(con: duckdb.DuckDBPyConnection, lo: int, hi: int) -> pa.Table:
    """Record the CoinJoins and chip transactions of ``lo..hi`` as skipped; return them
    (txid, height, kind)."""
    from spector.chain._coinjoin import detect_mixing

    settle(con)
    found = detect_mixing(con, min_height=lo, max_height=hi)
    if found.num_rows:
        con.register("cl_mixing", found)
        try:
            con.execute("INSERT INTO cluster_skipped SELECT height, txid, kind FROM cl_mixing")
        finally:
            con.unregister("cl_mixing")
    return found


_CHANGE_SCHEMA = pa.schema(
    [("height", pa.int64()), ("txid", pa.string()), ("kind", pa.int64()), ("vout", pa.int64()),
     ("address", pa.string())]
)  # fmt: skip


def change_rows(
    con: duckdb.DuckDBPyConnection,
    heuristics: tuple[str, ...],
    lo: int,
    hi: int,
    mixing: pa.Table | None,
) -> pa.Table:
    """The change outputs the heuristics name in ``lo..hi`` (height, txid, kind, vout,
    address); ``kind`` is the heuristic's index in ``HEURISTICS``."""
    if not heuristics:
        return _CHANGE_SCHEMA.empty_table()
    from spector.chain._change import change_outputs

    parts = []
    for name in heuristics:
        settle(con)
        rows = change_outputs(con, name, min_height=lo, max_height=hi, mixing=mixing)
        kind = pa.array(np.full(rows.num_rows, HEURISTICS.index(name), np.int64))
        parts.append(
            pa.table(
                {
                    "height": rows.column("height").cast(pa.int64()),
                    "txid": rows.column("txid"),
                    "kind": kind,
                    "vout": rows.column("vout").cast(pa.int64()),
                    "address": rows.column("address"),
                },
                schema=_CHANGE_SCHEMA,
            )
        )
    return pa.concat_tables(parts)


@dataclass(frozen=True, slots=True)
class EdgeGroups:
    """One group per transaction: ``members[offsets[g]:offsets[g+1]]`` (address ids,
    inputs first), ``kinds`` per member (index into ``HEURISTICS``), and per group its
    ``txids`` and ``heights``."""

    members: np.ndarray
    offsets: np.ndarray
    kinds: np.ndarray
    txids: pa.Array
    heights: np.ndarray

    @property
    def groups(self) -> int:
        return len(self.offsets) - 1


def edge_groups(
    con: duckdb.DuckDBPyConnection,
    lo: int,
    hi: int,
    change: pa.Table,
    *,
    only: pa.Table | None = None,
) -> EdgeGroups:
    """The groups of the transactions in ``lo..hi`` (``only``: of the txids listed,
    leaving out those the guard held back before)."""
    con.register("cl_change", change)
    only_sql = ""
    if only is not None:
        con.register("cl_only", only)
        only_sql = (
            "AND m.txid IN (SELECT txid FROM cl_only) "
            "AND NOT EXISTS (SELECT 1 FROM cluster_held h WHERE h.txid = m.txid)"
        )
    try:
        rows = arrow(con, _MEMBERS.format(only=only_sql), [lo, hi])
    finally:
        con.unregister("cl_change")
        if only is not None:
            con.unregister("cl_only")
    heights = rows.column("height").to_numpy()
    idx = rows.column("idx").to_numpy()
    n = rows.num_rows
    starts = np.flatnonzero(
        np.concatenate([[n > 0], (heights[1:] != heights[:-1]) | (idx[1:] != idx[:-1])])
    )
    offsets = np.append(starts, n).astype(np.int64)
    return EdgeGroups(
        members=rows.column("address_id").to_numpy(),
        offsets=offsets,
        kinds=rows.column("kind").to_numpy(),
        txids=rows.column("txid").take(pa.array(starts)),
        heights=heights[starts],
    )
