"""``ingest``: blocks from files or a node into the chain tables, in chain order.

1. Scan: read every header (framing checked) — nothing parsed yet.
2. Plan: join the headers to the blocks the store holds, by previous-block hash. A block
   whose parent is unknown is anchored by the genesis rule (previous hash zero, or the
   network's genesis as parent) or by its BIP34 height; otherwise it is an orphan,
   reported and not ingested. In each tree of blocks the branch with the most work
   wins (ties keep what the store holds, then the first read); blocks of other branches
   are stale: reported, and rolled back when the store held them (a reorg).
3. Commit in chunks, in height order: parse, write Parquet under unique names, resolve
   every input against ``outputs`` (the spent value and address), compute fees, then
   list the files and blocks in one transaction. A chunk is whole or absent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from spector.chain._block import Block, parse_block
from spector.chain._files import Header, list_sources, read_block, scan
from spector.chain._network import Network, network
from spector.chain._store import TABLES, ChainStore, IndexRow
from spector.chain._tables import block_tables
from spector.errors import ParseError, UsageError
from spector.store import Workspace, sql_string

__all__ = ["IngestReport", "Item", "block_work", "ingest_files", "ingest_items"]

ZERO = "0" * 64
Progress = Callable[[int, int], None]  # (blocks done, bytes done)


def _target(bits: int) -> int | None:
    """The target a compact ``bits`` encodes; None when negative, zero or overflowing."""
    exponent, mantissa = bits >> 24, bits & 0x007FFFFF
    if bits & 0x00800000 and mantissa:
        return None
    target = mantissa << (8 * (exponent - 3)) if exponent >= 3 else mantissa >> (8 * (3 - exponent))
    return target if 0 < target < 1 << 256 else None


def block_work(bits: int) -> int:
    """The expected number of hashes for a block with this compact target (Core's
    GetBlockProof: 0 for a negative, zero or overflowing target)."""
    target = _target(bits)
    return 0 if target is None else (1 << 256) // (target + 1)


@dataclass
class IngestReport:
    """What an ingest did. ``stale`` and ``orphans`` are block hashes not ingested."""

    ingested: int = 0
    txs: int = 0
    bytes: int = 0
    already: int = 0
    rolled_back: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # ParseError messages (--skip-bad)
    backfilled: int = 0  # stored inputs resolved by outputs this ingest brought
    tip_height: int | None = None
    tip_hash: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self) | {"seconds": round(self.seconds, 3)}


@dataclass
class Item:
    """A block to ingest at ``height``: its bytes come from ``load()``."""

    hash: str
    prev_hash: str
    height: int
    chainwork: int
    anchored: str
    source: str
    load: Callable[[], np.ndarray]
    bits: int
    network: Network
    file: str | None = None
    offset: int = 0
    length: int = 0


@dataclass
class _Node:
    hash: str
    prev: str
    bits: int
    order: int
    header: Header | None = None
    stored: IndexRow | None = None
    height: int | None = None
    work: int = 0
    anchored: str = ""


@dataclass
class Plan:
    """What an ingest will do: ``items`` to add in height order, stored blocks to
    ``rollback``, and stored blocks whose chain work or anchoring changed (``relinked``:
    a detached block whose history arrived)."""

    items: list[Item]
    rollback: list[str]
    relinked: list[tuple[str, int, str]]  # (hash, chainwork, anchored)


def _bip34(header: Header, net: Network) -> int | None:
    try:
        block = parse_block(
            read_block(header), network_name=net, addresses=False, file=header.source.path
        )
    except ParseError:
        return None
    height = block.height
    if height is None or height < net.bip34_height:
        return None  # before BIP34 the first push of a coinbase is not a height
    return height


def check_pow(block_hash: str, bits: int, net: Network) -> str | None:
    """Why the header's proof of work is invalid, or None (Core's CheckProofOfWork)."""
    target = _target(bits)
    if target is None:
        negative = bits & 0x00800000 and bits & 0x007FFFFF
        return f"bits 0x{bits:08x} encode {'a negative' if negative else 'no valid'} target"
    if target > net.pow_limit:
        return f"bits 0x{bits:08x} are easier than the {net.name} limit"
    if int(block_hash, 16) > target:
        return f"the header hash is above the target of bits 0x{bits:08x}"
    return None


def _pow_error(why: str, file: str | Path | None, offset: int) -> ParseError:
    return ParseError(
        f"proof of work: {why}",
        file=file,
        offset=offset,
        expected="a header hash at or below its target",
    )


def plan(
    index: dict[str, IndexRow],
    headers: Iterable[Header],
    net: Network,
    report: IngestReport,
    *,
    skip_bad: bool = False,
    exclude: frozenset[str] = frozenset(),
) -> Plan:
    """Join new headers to the stored blocks and choose each tree's best branch.

    Each tree of blocks (linked by previous-block hash) is anchored at its root: the
    genesis rule, a stored height, the root's BIP34 height, or else a stored block inside
    the tree; heights and cumulative work are recomputed for every block of the tree,
    stored ones included. Its best branch is the one with the most work (ties: what the
    store holds, then the first read). Trees anchored at genesis claim their heights
    first, then the others by work: a block whose height is already claimed is dropped,
    with its descendants (rolled back when stored, reported stale when new).
    """
    nodes: dict[str, _Node] = {}
    for row in index.values():
        nodes[row.hash] = _Node(row.hash, row.prev_hash, row.bits, -1, stored=row)
    for h in headers:
        if h.hash in nodes:
            if nodes[h.hash].stored is not None:
                report.already += 1
            continue
        if h.hash in exclude:
            continue
        why = check_pow(h.hash, h.bits, net)
        if why is not None:
            err = _pow_error(why, h.source.path, h.offset)
            if not skip_bad:
                raise err
            report.skipped.append(err.one_line())
            continue
        nodes[h.hash] = _Node(h.hash, h.prev_hash, h.bits, h.order, header=h)
    children: dict[str, list[_Node]] = {}
    for node in nodes.values():
        children.setdefault(node.prev, []).append(node)
    trees: list[tuple[tuple[int, int, int], list[_Node]]] = []
    for root in (n for n in nodes.values() if n.prev not in nodes):
        members = _tree(root, children)
        if not _anchor(root, members, net):
            report.orphans.extend(n.hash for n in members if n.stored is None)
            continue
        _heights(root, children)
        best = max(
            (n for n in members if not children.get(n.hash)),
            key=lambda n: (n.work, n.stored is not None, -n.order),
        )
        path: list[_Node] = []
        walk: _Node | None = best
        while walk is not None:
            path.append(walk)
            walk = nodes.get(walk.prev)
        path.reverse()
        rank = 0 if root.anchored == "genesis" else 1
        trees.append(((rank, -best.work, min(n.order for n in members)), path))
    keep: set[str] = set()
    taken: set[int] = set()
    for _, path in sorted(trees, key=lambda t: t[0]):
        for node in path:
            if node.height in taken:
                break  # this node and the rest of the branch lose their heights
            assert node.height is not None  # noqa: S101 - set by _heights for every path node
            taken.add(node.height)
            keep.add(node.hash)
    rollback = [n.hash for n in nodes.values() if n.stored is not None and n.hash not in keep]
    relinked = [
        (n.hash, n.work, n.anchored)
        for n in nodes.values()
        if n.stored is not None
        and n.hash in keep
        and (n.work != n.stored.chainwork or n.anchored != n.stored.anchored)
    ]
    items: list[Item] = []
    for node in sorted(
        (n for n in nodes.values() if n.stored is None and n.height is not None),
        key=lambda n: (n.height, n.order),
    ):
        header = node.header
        if node.hash not in keep or header is None or node.height is None:
            report.stale.append(node.hash)
            continue
        items.append(
            Item(
                hash=node.hash,
                prev_hash=node.prev,
                height=node.height,
                chainwork=node.work,
                anchored=node.anchored,
                bits=node.bits,
                source=f"{header.source.path.name}@{header.offset}",
                load=functools.partial(read_block, header),
                network=header.network or net,
                file=str(header.source.path),
                offset=header.offset,
                length=header.length,
            )
        )
    return Plan(items, rollback, relinked)


def _tree(root: _Node, children: dict[str, list[_Node]]) -> list[_Node]:
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children.get(node.hash, []))
    return out


def _anchor(root: _Node, members: list[_Node], net: Network) -> bool:
    """Give the root a height and an anchoring; False when nothing anchors the tree."""
    if root.prev == ZERO:
        root.height, root.anchored = 0, "genesis"
    elif root.prev == net.genesis:
        root.height, root.anchored = 1, "genesis"
    elif root.stored is not None:
        root.height, root.anchored = root.stored.height, root.stored.anchored
    else:
        height = _bip34(root.header, net) if root.header is not None else None
        if height is not None:
            root.height, root.anchored = height, "bip34"
        else:
            # a new parent of stored blocks: count back from the first stored one
            depth = {root.hash: 0}
            for node in members[1:]:
                depth[node.hash] = depth[node.prev] + 1
            stored = next((n for n in members if n.stored is not None), None)
            if stored is None or stored.stored is None:
                return False
            root.height = stored.stored.height - depth[stored.hash]
            root.anchored = stored.stored.anchored
            if root.height < 0:
                return False
    root.work = block_work(root.bits)
    return True


def _heights(root: _Node, children: dict[str, list[_Node]]) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        for child in children.get(node.hash, []):
            if node.height is not None:
                child.height = node.height + 1
            child.work = node.work + block_work(child.bits)
            child.anchored = "parent" if child.stored is None else child.stored.anchored
            if child.stored is not None and child.stored.anchored == "bip34":
                child.anchored = node.anchored  # its history arrived
            stack.append(child)


# -- committing ---------------------------------------------------------------------------
# Inputs are resolved against chain_utxo, the outputs not yet spent (a DuckDB table kept
# in the same transactions as the catalogue), so a chunk's work grows with the chunk and
# the unspent set, not with every output ever stored.
_UTXO_ADD = """
INSERT INTO chain_utxo
SELECT txid, vout, height, value, address, script_type FROM new_outputs
WHERE script_type <> 'nulldata'
"""
_RESOLVE = """
SELECT i.height, i.txid, i.vin, i.prev_txid, i.prev_vout, i.sequence, i.coinbase,
       u.value, u.address, u.script_type, u.height AS prev_height
FROM new_inputs i
LEFT JOIN chain_utxo u ON u.txid = i.prev_txid AND u.vout = i.prev_vout AND NOT i.coinbase
ORDER BY i.height, i.txid, i.vin
"""
_UTXO_SPEND = """
DELETE FROM chain_utxo u USING resolved r
WHERE r.value IS NOT NULL AND u.txid = r.prev_txid AND u.vout = r.prev_vout
"""
_TXS = """
SELECT t.height, t.idx, t.txid, t.wtxid, t.version, t.locktime, t.size, t.vsize, t.weight,
       t.segwit, t.coinbase, t.input_count, t.output_count, t.output_value,
       CASE WHEN t.coinbase THEN NULL WHEN s.known = t.input_count THEN s.value END
           AS input_value,
       CASE WHEN t.coinbase THEN NULL WHEN s.known = t.input_count
           THEN s.value - t.output_value END AS fee
FROM new_txs t
LEFT JOIN (
    SELECT height, txid, count(value) AS known, sum(value)::BIGINT AS value
    FROM resolved GROUP BY height, txid
) s ON s.height = t.height AND s.txid = t.txid
ORDER BY t.height, t.idx
"""
_BLOCKS = """
SELECT b.* EXCLUDE (fees),
       CASE WHEN f.unknown = 0 THEN f.fees END AS fees
FROM new_blocks b
LEFT JOIN (
    SELECT height, coalesce(sum(fee), 0)::BIGINT AS fees,
           count(*) FILTER (WHERE fee IS NULL AND NOT coinbase) AS unknown
    FROM final_txs GROUP BY height
) f ON f.height = b.height
ORDER BY b.height
"""


_REGISTERED = (
    "new_inputs", "new_txs", "new_blocks", "new_outputs", "resolved", "final_txs", "new_index",
)  # fmt: skip


class _Committer:
    def __init__(self, store: ChainStore) -> None:
        self.store = store
        self.con = store.con
        self.tag = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{time.monotonic_ns() % 10**6:06d}"
        self.seq = 0

    def commit(self, items: list[Item], blocks: list[Block], report: IngestReport) -> None:
        parts: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
        for item, block in zip(items, blocks, strict=True):
            for name, table in block_tables(block, item.height, item.source).items():
                parts[name].append(table)
        new = {name: pa.concat_tables(tables) for name, tables in parts.items()}
        con = self.con
        self.seq += 1
        tag = f"{self.tag}-{self.seq:05d}"
        written: list[tuple[str, str, int, int, int]] = []
        for name in ("new_inputs", "new_txs", "new_blocks", "new_outputs"):
            con.register(name, new[name.removeprefix("new_")])
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(_UTXO_ADD)
            resolved = _arrow(con, _RESOLVE)
            con.register("resolved", resolved)
            con.execute(_UTXO_SPEND)
            final_txs = _arrow(con, _TXS)
            con.register("final_txs", final_txs)
            final_blocks = _arrow(con, _BLOCKS)
            for name, table in (
                ("blocks", final_blocks),
                ("txs", final_txs),
                ("inputs", resolved),
                ("outputs", new["outputs"]),
            ):
                for rel, lo, hi, rows in self.store.write(name, table, tag):
                    written.append((name, rel, lo, hi, rows))
            now = datetime.now(UTC).replace(tzinfo=None)
            con.executemany("INSERT INTO chain_files VALUES (?, ?, ?, ?, ?)", written)
            rows = pa.table(
                {
                    "hash": [i.hash for i in items],
                    "height": pa.array([i.height for i in items], pa.int64()),
                    "prev_hash": [i.prev_hash for i in items],
                    "bits": pa.array([i.bits for i in items], pa.int64()),
                    "chainwork": [f"{i.chainwork:064x}" for i in items],
                    "network": [i.network.name for i in items],
                    "anchored": [i.anchored for i in items],
                    "source": [i.source for i in items],
                    "ingested_at": pa.array([now] * len(items), pa.timestamp("us")),
                }
            )
            con.register("new_index", rows)  # one statement: executemany runs one per row
            con.execute("INSERT INTO chain_index SELECT * FROM new_index")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            for _, rel, *_ in written:
                (self.store.ws.root / rel).unlink(missing_ok=True)
            raise
        finally:
            for name in _REGISTERED:
                with contextlib.suppress(duckdb.Error):
                    con.unregister(name)
        self.store.refresh_views()
        report.ingested += len(items)
        report.txs += sum(b.tx_count for b in blocks)
        report.bytes += sum(b.size for b in blocks)


def _arrow(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> pa.Table:
    return con.sql(sql, params=params).to_arrow_table()


def _replace(
    store: ChainStore,
    replacements: dict[tuple[str, str], pa.Table],
    tag: str,
    *,
    drop_index: list[str] | None = None,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Swap files for new contents (a file may become none) in one transaction, with
    ``also`` (changes to chain_utxo) in the same transaction."""
    con = store.con
    added: list[tuple[str, str, int, int, int]] = []
    try:
        for (table, _), data in replacements.items():
            for new_rel, lo, hi, rows in store.write(table, data, tag):
                added.append((table, new_rel, lo, hi, rows))
        con.execute("BEGIN TRANSACTION")
        try:
            if also is not None:
                also(con)
            for table, rel in replacements:
                con.execute("DELETE FROM chain_files WHERE tbl = ? AND path = ?", [table, rel])
            if added:
                con.executemany("INSERT INTO chain_files VALUES (?, ?, ?, ?, ?)", added)
            if drop_index:
                con.execute(
                    "DELETE FROM chain_index WHERE hash IN (SELECT unnest(?))", [drop_index]
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except BaseException:
        for _, rel, *_ in added:
            (store.ws.root / rel).unlink(missing_ok=True)
        raise
    for _, rel in replacements:
        (store.ws.root / rel).unlink(missing_ok=True)
    store.refresh_views()


def _touching(store: ChainStore, table: str, heights: set[int]) -> list[str]:
    return [rel for rel, lo, hi in store.files(table) if any(lo <= h <= hi for h in heights)]


def rollback(store: ChainStore, hashes: list[str]) -> None:
    """Remove the rows of these stored blocks from every table, in one transaction."""
    if not hashes:
        return
    con = store.con
    drop = {
        int(r[0])
        for r in con.execute(
            "SELECT height FROM chain_index WHERE hash IN (SELECT unnest(?))", [hashes]
        ).fetchall()
    }
    replacements = {
        (table, rel): _arrow(
            con,
            "SELECT * FROM read_parquet($1) WHERE height NOT IN (SELECT unnest($2))",
            [store.abs(rel), sorted(drop)],
        )
        for table in TABLES
        for rel in _touching(store, table, drop)
    }
    heights = sorted(drop)

    def unspend(con: duckdb.DuckDBPyConnection) -> None:
        # outputs of the stale blocks go; what their inputs spent is unspent again
        con.execute("DELETE FROM chain_utxo WHERE height IN (SELECT unnest(?))", [heights])
        # (only outputs the store still holds: their block may be gone already)
        con.execute(
            "INSERT INTO chain_utxo SELECT i.prev_txid, i.prev_vout, i.prev_height, i.value, "
            "i.address, i.script_type FROM inputs i SEMI JOIN outputs o "
            "ON o.txid = i.prev_txid AND o.vout = i.prev_vout AND o.height = i.prev_height "
            "WHERE i.height IN (SELECT unnest($1)) AND i.value IS NOT NULL "
            "AND i.prev_height NOT IN (SELECT unnest($1))",
            [heights],
        )

    _replace(store, replacements, f"rollback-{time.monotonic_ns() % 10**9:09d}",
             drop_index=hashes, also=unspend)  # fmt: skip
    from spector.chain._cluster import on_rollback  # the clusters forget the stale blocks

    on_rollback(store, heights)


_BACKFILL_INPUTS = """
SELECT i.height, i.txid, i.vin, i.prev_txid, i.prev_vout, i.sequence, i.coinbase,
       coalesce(i.value, o.value) AS value, coalesce(i.address, o.address) AS address,
       coalesce(i.script_type, o.script_type) AS script_type,
       coalesce(i.prev_height, o.height) AS prev_height
FROM read_parquet($1) i
LEFT JOIN chain_utxo o
    ON i.value IS NULL AND NOT i.coinbase AND o.txid = i.prev_txid AND o.vout = i.prev_vout
ORDER BY i.height, i.txid, i.vin
"""


def backfill(store: ChainStore) -> int:
    """Resolve stored inputs whose spent outputs arrived later (a lone block ingested
    before its history); refresh those blocks' fees. Returns the inputs resolved."""
    con = store.con
    found = con.execute(
        "SELECT i.height, count(*) FROM inputs i JOIN chain_utxo o "
        "ON o.txid = i.prev_txid AND o.vout = i.prev_vout "
        "WHERE i.value IS NULL AND NOT i.coinbase GROUP BY i.height"
    ).fetchall()
    if not found:
        return 0
    heights = {int(r[0]) for r in found}
    replacements: dict[tuple[str, str], pa.Table] = {}
    new_inputs = []
    for rel in _touching(store, "inputs", heights):
        data = _arrow(con, _BACKFILL_INPUTS, [store.abs(rel)])
        replacements[("inputs", rel)] = data
        new_inputs.append(data)
    # the rewritten rows, and the stored rows of every other height, as one relation
    con.register("bf_inputs", pa.concat_tables(new_inputs))
    con.execute(
        "CREATE OR REPLACE TEMP VIEW resolved AS SELECT * FROM bf_inputs UNION ALL "
        "SELECT * FROM inputs WHERE height NOT IN (SELECT DISTINCT height FROM bf_inputs)"
    )
    try:
        new_txs = []
        for rel in _touching(store, "txs", heights):
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW new_txs AS "
                f"SELECT * FROM read_parquet({sql_string(store.abs(rel))})"
            )
            data = _arrow(con, _TXS)
            replacements[("txs", rel)] = data
            new_txs.append(data)
        con.register("bf_txs", pa.concat_tables(new_txs))
        con.execute(
            "CREATE OR REPLACE TEMP VIEW final_txs AS SELECT * FROM bf_txs UNION ALL "
            "SELECT * FROM txs WHERE height NOT IN (SELECT DISTINCT height FROM bf_txs)"
        )
        for rel in _touching(store, "blocks", heights):
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW new_blocks AS "
                f"SELECT * FROM read_parquet({sql_string(store.abs(rel))})"
            )
            replacements[("blocks", rel)] = _arrow(con, _BLOCKS)
    finally:
        for view in ("new_txs", "new_blocks", "final_txs", "resolved"):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for name in ("bf_inputs", "bf_txs"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)
    spent = pa.concat_tables(new_inputs).select(["prev_txid", "prev_vout", "value"])

    def spend(con: duckdb.DuckDBPyConnection) -> None:
        con.register("bf_spent", spent)
        try:
            con.execute(
                "DELETE FROM chain_utxo u USING bf_spent s WHERE s.value IS NOT NULL "
                "AND u.txid = s.prev_txid AND u.vout = s.prev_vout"
            )
        finally:
            con.unregister("bf_spent")

    _replace(store, replacements, f"backfill-{time.monotonic_ns() % 10**9:09d}", also=spend)
    return sum(int(r[1]) for r in found)


def ingest_items(
    ws: Workspace,
    items: Iterable[Item],
    report: IngestReport,
    *,
    skip_bad: bool = False,
    chunk_blocks: int = 2000,
    chunk_bytes: int = 256 << 20,
    progress: Progress | None = None,
) -> None:
    """Parse and commit ``items`` (in height order) in chunks."""
    store = ChainStore(ws)
    committer = _Committer(store)
    batch_items: list[Item] = []
    batch_blocks: list[Block] = []
    size = 0
    bad: set[str] = set()
    done_blocks = 0
    done_bytes = 0
    for item in items:
        if item.prev_hash in bad:
            bad.add(item.hash)
            report.orphans.append(item.hash)
            continue
        try:
            block = parse_block(
                item.load(), network_name=item.network, file=item.file, offset=item.offset
            )
            if block.hash != item.hash:
                raise ParseError(
                    f"the block's header hashes to {block.hash}",
                    file=item.file,
                    offset=item.offset,
                    expected=item.hash,
                )
            why = check_pow(block.hash, block.bits, item.network)
            if why is not None:
                raise _pow_error(why, item.file, item.offset)
        except ParseError as exc:
            if not skip_bad:
                if batch_items:
                    committer.commit(batch_items, batch_blocks, report)
                raise
            report.skipped.append(exc.one_line())
            bad.add(item.hash)
            continue
        batch_items.append(item)
        batch_blocks.append(block)
        size += block.size
        done_blocks += 1
        done_bytes += block.size
        if progress:
            progress(done_blocks, done_bytes)
        if len(batch_items) >= chunk_blocks or size >= chunk_bytes:
            committer.commit(batch_items, batch_blocks, report)
            batch_items, batch_blocks, size = [], [], 0
    if batch_items:
        committer.commit(batch_items, batch_blocks, report)


def record_tip(store: ChainStore, report: IngestReport) -> None:
    row = store.con.execute(
        "SELECT height, hash FROM chain_index ORDER BY height DESC LIMIT 1"
    ).fetchone()
    if row:
        report.tip_height, report.tip_hash = int(row[0]), str(row[1])


def _validated_plan(
    index: dict[str, IndexRow],
    headers: list[Header],
    net: Network,
    report: IngestReport,
    *,
    skip_bad: bool,
) -> Plan:
    """A plan whose reorg, if any, is to blocks that parse: before a stored branch is
    rolled back, the new blocks up to one above its top are parsed; a bad one (and what
    builds on it) is left out and the plan made again, so the old branch may stay."""
    excluded: set[str] = set()
    skipped: list[str] = []
    while True:
        trial = IngestReport()
        chosen = plan(index, headers, net, trial, skip_bad=skip_bad,
                      exclude=frozenset(excluded))  # fmt: skip
        if not chosen.rollback:
            break
        top = max(index[h].height for h in chosen.rollback) + 1
        bad = None
        for item in chosen.items:
            if item.height > top:
                break
            try:
                parse_block(item.load(), network_name=item.network, addresses=False,
                            file=item.file, offset=item.offset)  # fmt: skip
            except ParseError as exc:
                if not skip_bad:
                    raise
                bad = item.hash
                skipped.append(exc.one_line())
                break
        if bad is None:
            break
        excluded.add(bad)
    report.already += trial.already
    report.stale.extend(trial.stale)
    report.orphans.extend(trial.orphans)
    report.skipped.extend(trial.skipped + skipped)
    report.orphans.extend(h for h in excluded if h not in report.orphans)
    return chosen


def relink(store: ChainStore, changes: list[tuple[str, int, str]]) -> None:
    """Record new chain work and anchoring of stored blocks (their history arrived)."""
    if not changes:
        return
    store.con.executemany(
        "UPDATE chain_index SET chainwork = ?, anchored = ? WHERE hash = ?",
        [(f"{work:064x}", anchored, block_hash) for block_hash, work, anchored in changes],
    )


def ingest_files(
    ws: Workspace,
    paths: list[Path],
    *,
    network_name: str | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest blk files, raw block files or folders of them (see the module docstring).

    ``network_name`` names the network of raw block files (blk files carry theirs in
    their magic); by default the blk files' network, else main.
    """
    started = time.perf_counter()
    report = IngestReport()
    store = ChainStore(ws)
    store.remove_strays()
    store.refresh_views()
    sources = list_sources(paths)
    errors: list[ParseError] = []
    headers = list(scan(sources, skip_bad=skip_bad, errors=errors))
    report.skipped.extend(e.one_line() for e in errors)
    nets = {h.network.name for h in headers if h.network is not None}
    if network_name is not None:
        net = network(network_name)
        if nets - {net.name}:
            raise UsageError(
                f"--network {net.name} but the blk files are {', '.join(sorted(nets))}"
            )
    elif len(nets) > 1:
        raise UsageError(f"blk files of several networks: {', '.join(sorted(nets))}")
    else:
        net = network(nets.pop() if nets else "main")
    index = store.index()
    stored_nets = {r.network for r in index.values()}
    if stored_nets and stored_nets != {net.name}:
        raise UsageError(
            f"the store holds {', '.join(sorted(stored_nets))} blocks; these are {net.name}"
        )
    chosen = _validated_plan(index, headers, net, report, skip_bad=skip_bad)
    if on_plan:
        on_plan(len(chosen.items), sum(i.length for i in chosen.items))
    rollback(store, chosen.rollback)
    report.rolled_back.extend(chosen.rollback)
    relink(store, chosen.relinked)
    ingest_items(ws, chosen.items, report, skip_bad=skip_bad, progress=progress)
    report.backfilled = backfill(store)
    record_tip(store, report)
    report.seconds = time.perf_counter() - started
    return report
