"""The chain's part of the workspace: Parquet files listed in ``chain_files``, the block
index ``chain_index``, and the DuckDB views over them.

Files live under ``chain/<table>/range=<NNNN>/`` (``NNNN`` = height // 100,000). A file
belongs to the store only once its row is in ``chain_files``: new files are written
under unique names first and listed in the same transaction that lists their blocks,
so a crash leaves stray files (removed by the next ingest), never partial rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from spector.chain._tables import RANGE, SCHEMAS
from spector.store import Workspace, sql_string

__all__ = ["TABLES", "ChainStore", "IndexRow"]

TABLES = ("blocks", "txs", "inputs", "outputs")

_DUCK_TYPES = {
    pa.int64(): "BIGINT",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.binary(): "BLOB",
    pa.timestamp("s"): "TIMESTAMP",
}

ADDRESSES_VIEW = """
CREATE OR REPLACE VIEW addresses AS
WITH moves AS (
    SELECT address, height, value AS received, 0::BIGINT AS spent, 1 AS outputs, 0 AS inputs
    FROM outputs WHERE address IS NOT NULL
    UNION ALL
    SELECT address, height, 0::BIGINT, value, 0, 1
    FROM inputs WHERE address IS NOT NULL
)
SELECT
    m.address,
    min(m.height) AS first_seen_height,
    max(m.height) AS last_seen_height,
    (SELECT time FROM blocks b WHERE b.height = min(m.height)) AS first_seen,
    (SELECT time FROM blocks b WHERE b.height = max(m.height)) AS last_seen,
    sum(m.received)::BIGINT AS received,
    sum(m.spent)::BIGINT AS spent,
    (sum(m.received) - sum(m.spent))::BIGINT AS balance,
    sum(m.outputs)::BIGINT AS output_count,
    sum(m.inputs)::BIGINT AS input_count
FROM moves m
GROUP BY m.address
"""


ORDER_PAYMENTS_VIEW = """
CREATE OR REPLACE VIEW order_payments AS
SELECT o.id AS order_id, o.market_id, o.order_ref, o.vendor_id, o.buyer,
       o.payto_address AS address, o.amount, o.currency, o.created_at,
       p.txid, p.vout, p.value, p.height, b.time AS paid_at,
       (o.currency = 'BTC' AND round(o.amount * 100000000) = p.value) AS amount_matches
FROM orders o
JOIN outputs p ON p.address = o.payto_address
LEFT JOIN blocks b ON b.height = p.height
"""


@dataclass(frozen=True, slots=True)
class IndexRow:
    """A block the store holds (``chainwork`` as an int)."""

    hash: str
    height: int
    prev_hash: str
    bits: int
    chainwork: int
    network: str
    anchored: str
    source: str


class ChainStore:
    """Reads and writes the chain's files and index in a workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.con: duckdb.DuckDBPyConnection = ws.store.con
        self.root = ws.root / "chain"

    # -- reading -----------------------------------------------------------------------
    def index(self) -> dict[str, IndexRow]:
        rows = self.con.execute(
            "SELECT hash, height, prev_hash, bits, chainwork, network, anchored, source "
            "FROM chain_index"
        ).fetchall()
        return {
            r[0]: IndexRow(r[0], int(r[1]), r[2], int(r[3]), int(r[4], 16), r[5], r[6], r[7])
            for r in rows
        }

    def files(self, table: str) -> list[tuple[str, int, int]]:
        rows = self.con.execute(
            "SELECT path, min_height, max_height FROM chain_files WHERE tbl = ? ORDER BY "
            "min_height, path",
            [table],
        ).fetchall()
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    def abs(self, rel: str) -> str:
        return str(self.ws.root / rel)

    # -- views -------------------------------------------------------------------------
    def refresh_views(self, *, temp: bool = False) -> None:
        """(Re)create the views blocks, txs, inputs, outputs, addresses over the files
        (``temp``: session-only views, for a read-only store)."""
        kind = "TEMP VIEW" if temp else "VIEW"
        for table in TABLES:
            files = [self.abs(f[0]) for f in self.files(table)]
            if files:
                listed = ", ".join(sql_string(f) for f in files)
                body = f"SELECT * FROM read_parquet([{listed}], hive_partitioning = false)"
            else:
                cols = ", ".join(
                    f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in SCHEMAS[table]
                )
                body = f"SELECT {cols} WHERE false"
            self.con.execute(f"CREATE OR REPLACE {kind} {table} AS {body}")
        self.con.execute(ADDRESSES_VIEW.replace("VIEW", kind, 1))
        # seized orders (extract) linked to the outputs that paid their pay-to address
        self.con.execute(ORDER_PAYMENTS_VIEW.replace("VIEW", kind, 1))

    def views_current(self) -> bool:
        """Whether the views exist and point at this workspace's files."""
        row = self.con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'blocks' AND NOT internal"
        ).fetchone()
        if row is None:
            return False
        sql = str(row[0])
        files = self.files("blocks")
        if not files:
            return "WHERE false" in sql
        return sql.count(".parquet'") == len(files) and all(self.abs(f[0]) in sql for f in files)

    # -- writing -----------------------------------------------------------------------
    def new_path(self, table: str, height: int, tag: str) -> Path:
        rel = Path("chain") / table / f"range={height // RANGE:04d}" / f"{tag}.parquet"
        return self.ws.root / rel

    def write(self, table: str, data: pa.Table, tag: str) -> list[tuple[str, int, int, int]]:
        """Write ``data`` split by height range; return (relative path, min, max, rows)."""
        out: list[tuple[str, int, int, int]] = []
        if data.num_rows == 0:
            return out
        heights = data.column("height").to_numpy()
        for r in sorted(set((heights // RANGE).tolist())):
            part = data.filter(pa.array((heights // RANGE) == r))
            hs = part.column("height").to_numpy()
            path = self.new_path(table, int(r) * RANGE, f"{tag}-{uuid.uuid4().hex[:8]}")
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                part.select(SCHEMAS[table].names).cast(SCHEMAS[table]), path, compression="zstd"
            )
            rel = str(path.relative_to(self.ws.root))
            out.append((rel, int(hs.min()), int(hs.max()), part.num_rows))
        return out

    def remove_strays(self) -> int:
        """Delete Parquet files under chain/ that no ``chain_files`` row lists."""
        listed = {r[0] for r in self.con.execute("SELECT path FROM chain_files").fetchall()}
        removed = 0
        for path in sorted(self.root.glob("*/range=*/*.parquet")):
            if str(path.relative_to(self.ws.root)) not in listed:
                path.unlink()
                removed += 1
        return removed
