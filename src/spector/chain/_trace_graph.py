"""The tracer's in-memory transaction graph: flat numpy arrays built once per run.

``load_graph(ws)`` reads the chain views (txs, inputs, outputs, blocks; P2PK outputs get
their pseudo-address from ``chain_pseudo_addresses`` when clustering has made it, and
every address its cluster from ``chain_clusters``) and keeps the graph for the rest of
the process, until the chain files or the clusters change. ``ChainGraph.from_arrays``
builds one from arrays alone (the benchmark's generated chains). Nodes are outputs in
chain order; see ``_trace_kernel`` for what each array holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spector.chain import _trace_kernel as k
from spector.chain import _trace_walk as walk
from spector.store import Workspace

__all__ = ["CHIP_VALUES", "ChainGraph", "Progress", "has_table", "load_graph"]

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CHIP_VALUES = np.array([100_000 << n for n in range(13)], np.int64)  # 0.001 .. 4.096 BTC
_COINJOIN_KINDS = ("wasabi2", "wasabi1", "whirlpool", "joinmarket", "coinjoin")


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store has a table or view ``name`` (in the main schema or temp)."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
        "UNION ALL SELECT count(*) FROM duckdb_views() WHERE view_name = ?",
        [name, name],
    ).fetchall()
    return sum(int(r[0]) for r in row) > 0


def _prefix(values: np.ndarray, starts: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-group totals and each element's offset inside its group (CSR ``starts``)."""
    cs = np.zeros(len(values) + 1, np.int64)
    np.cumsum(values, out=cs[1:])
    totals = cs[starts[1:]] - cs[starts[:-1]]
    offsets = cs[:-1] - cs[starts[owner]]
    return totals, offsets


@dataclass(eq=False)
class ChainGraph:
    """The chain as CSR arrays (see ``_trace_kernel``), plus names for what it reports."""

    tx_out0: np.ndarray
    tx_in0: np.ndarray
    tx_in_total: np.ndarray
    tx_out_total: np.ndarray
    tx_flags: np.ndarray
    tx_time: np.ndarray  # block time, seconds since the epoch
    tx_height: np.ndarray
    out_value: np.ndarray
    out_tx: np.ndarray
    out_spent: np.ndarray
    out_off: np.ndarray
    out_addr: np.ndarray  # address id, -1: none
    out_link: np.ndarray  # peel-chain links
    in_prev: np.ndarray
    in_value: np.ndarray
    in_off: np.ndarray
    in_tx: np.ndarray
    txids: pa.Array | None = None  # per transaction (None: a generated graph)
    addresses: pa.Array | None = None  # per address id
    addr_cluster: np.ndarray | None = None  # cluster id per address id, -1: none
    signature: tuple[Any, ...] = ()
    _addr_out: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_arrays(
        cls,
        *,
        tx_out0: np.ndarray,
        tx_in0: np.ndarray,
        out_value: np.ndarray,
        in_prev: np.ndarray,
        out_addr: np.ndarray,
        coinbase: np.ndarray,
        tx_time: np.ndarray,
        tx_height: np.ndarray | None = None,
        in_value: np.ndarray | None = None,
        tx_flags: np.ndarray | None = None,
        txids: pa.Array | None = None,
        addresses: pa.Array | None = None,
        addr_cluster: np.ndarray | None = None,
        signature: tuple[Any, ...] = (),
    ) -> ChainGraph:
        """Build the derived arrays (spends, totals, offsets, peel links) from the CSR
        offsets, output values and addresses, and each input's spent output."""
        tx_out0 = np.asarray(tx_out0, np.int64)
        tx_in0 = np.asarray(tx_in0, np.int64)
        out_value = np.asarray(out_value, np.int64)
        in_prev = np.asarray(in_prev, np.int64)
        n_tx = len(tx_out0) - 1
        out_tx = np.repeat(np.arange(n_tx, dtype=np.int64), np.diff(tx_out0))
        in_tx = np.repeat(np.arange(n_tx, dtype=np.int64), np.diff(tx_in0))
        held = in_prev >= 0
        if in_value is None:
            in_value = np.where(held, out_value[np.where(held, in_prev, 0)], 0)
        in_value = np.asarray(in_value, np.int64)
        out_spent = np.full(len(out_value), -1, np.int64)
        out_spent[in_prev[held]] = np.nonzero(held)[0]
        tx_in_total, in_off = _prefix(in_value, tx_in0, in_tx)
        tx_out_total, out_off = _prefix(out_value, tx_out0, out_tx)
        flags = np.zeros(n_tx, np.uint8) if tx_flags is None else tx_flags.astype(np.uint8)
        flags |= np.where(np.asarray(coinbase, bool), k.F_COINBASE, 0).astype(np.uint8)
        link, member = walk.peel_links(tx_out0, tx_in0, out_value, out_spent, in_tx)
        flags |= np.where(member, k.F_PEEL, 0).astype(np.uint8)
        return cls(
            tx_out0=tx_out0,
            tx_in0=tx_in0,
            tx_in_total=tx_in_total,
            tx_out_total=tx_out_total,
            tx_flags=flags,
            tx_time=np.asarray(tx_time, np.int64),
            tx_height=np.asarray(tx_height if tx_height is not None else np.zeros(n_tx), np.int64),
            out_value=out_value,
            out_tx=out_tx,
            out_spent=out_spent,
            out_off=out_off,
            out_addr=np.asarray(out_addr, np.int64),
            out_link=link,
            in_prev=in_prev,
            in_value=in_value,
            in_off=in_off,
            in_tx=in_tx,
            txids=txids,
            addresses=addresses,
            addr_cluster=addr_cluster,
            signature=signature,
        )

    # -- sizes and names ---------------------------------------------------------------
    @property
    def n_tx(self) -> int:
        return len(self.tx_out0) - 1

    @property
    def n_out(self) -> int:
        return len(self.out_value)

    @property
    def n_in(self) -> int:
        return len(self.in_prev)

    @property
    def n_addr(self) -> int:
        if self.addresses is not None:
            return len(self.addresses)
        return int(self.out_addr.max()) + 1 if len(self.out_addr) else 0

    def txid(self, tx: int) -> str:
        """The id of transaction number ``tx`` (``tx#N`` in a generated graph)."""
        return f"tx#{tx}" if self.txids is None else str(self.txids[int(tx)].as_py())

    def address(self, node: int) -> str | None:
        a = int(self.out_addr[node])
        if a < 0:
            return None
        return f"addr#{a}" if self.addresses is None else str(self.addresses[a].as_py())

    def outpoint(self, node: int) -> str:
        tx = int(self.out_tx[node])
        return f"{self.txid(tx)}:{int(node - self.tx_out0[tx])}"

    def node_name(self, node: int) -> str:
        """The address an output pays to, or its outpoint when it has none."""
        return self.address(node) or self.outpoint(node)

    def names(self, nodes: np.ndarray) -> list[str]:
        """``node_name`` of many nodes at once."""
        nodes = np.asarray(nodes, np.int64)
        addr = self.out_addr[nodes]
        out: list[str | None]
        if self.addresses is None:
            out = [f"addr#{a}" if a >= 0 else None for a in addr.tolist()]
        else:
            taken = self.addresses.take(pa.array(np.where(addr >= 0, addr, 0)))
            out = [
                v if a >= 0 else None for v, a in zip(taken.to_pylist(), addr.tolist(), strict=True)
            ]
        return [
            v if v is not None else self.outpoint(int(n))
            for v, n in zip(out, nodes.tolist(), strict=True)
        ]

    def cluster_of(self, node: int) -> int | None:
        a = int(self.out_addr[node])
        if a < 0 or self.addr_cluster is None or self.addr_cluster[a] < 0:
            return None
        return int(self.addr_cluster[a])

    # -- look-ups ----------------------------------------------------------------------
    def address_ids(self, addresses: Sequence[str]) -> np.ndarray:
        """The id of each address (-1: not in the graph)."""
        if self.addresses is None or not addresses:
            return np.full(len(addresses), -1, np.int64)
        found = pc.index_in(pa.array(list(addresses), pa.string()), value_set=self.addresses)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)

    def tx_ids(self, txids: Sequence[str]) -> np.ndarray:
        """The number of each transaction (-1: not in the graph)."""
        if self.txids is None or not txids:
            return np.full(len(txids), -1, np.int64)
        found = pc.index_in(pa.array(list(txids), pa.string()), value_set=self.txids)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)

    def node_of(self, txid: str, vout: int) -> int:
        """The node of output ``txid:vout`` (-1: not held)."""
        tx = int(self.tx_ids([txid])[0])
        if tx < 0 or vout < 0 or vout >= self.tx_out0[tx + 1] - self.tx_out0[tx]:
            return -1
        return int(self.tx_out0[tx] + vout)

    def outputs_of(self, addr_ids: np.ndarray) -> np.ndarray:
        """Every output paid to one of the addresses ``addr_ids``, in chain order."""
        if self._addr_out is None:
            order = np.argsort(self.out_addr, kind="stable")
            sorted_addr = self.out_addr[order]
            starts = np.searchsorted(sorted_addr, np.arange(self.n_addr + 1))
            self._addr_out = (order, starts)
        order, starts = self._addr_out
        ids = np.asarray(addr_ids, np.int64)
        ids = ids[(ids >= 0) & (ids < self.n_addr)]
        if not len(ids):
            return np.empty(0, np.int64)
        parts = [order[starts[a] : starts[a + 1]] for a in np.unique(ids)]
        return np.sort(np.concatenate(parts))

    def chip_coins(self) -> np.ndarray:
        """Per node: a chip (0.001 x 2^n BTC) made by a chip split."""
        if "chip_coins" not in self._cache:
            split = (self.tx_flags[self.out_tx] & k.F_CHIP_SPLIT) != 0
            self._cache["chip_coins"] = split & np.isin(self.out_value, CHIP_VALUES)
        value: np.ndarray = self._cache["chip_coins"]
        return value

    def mixer_deposits(self) -> np.ndarray:
        """Per node: spent by a chip split without being a chip (a deposit)."""
        if "mixer_deposits" not in self._cache:
            spent = self.out_spent >= 0
            by = np.where(spent, self.in_tx[np.where(spent, self.out_spent, 0)], 0)
            split = spent & ((self.tx_flags[by] & k.F_CHIP_SPLIT) != 0)
            self._cache["mixer_deposits"] = split & ~self.chip_coins()
        value: np.ndarray = self._cache["mixer_deposits"]
        return value


# -- loading from the store ----------------------------------------------------------

_GRAPHS: dict[str, ChainGraph] = {}  # one per workspace, for the life of the process


def _signature(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    files = con.execute(
        "SELECT count(*), coalesce(sum(rows), 0), coalesce(max(path), '') FROM chain_files"
    ).fetchone()
    parts: list[Any] = list(files or ())
    for table in ("chain_clusters", "chain_pseudo_addresses"):
        if has_table(con, table):
            row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            parts.append(int(row[0]) if row else 0)
        else:
            parts.append(None)
    if has_table(con, "cluster_merges"):
        row = con.execute("SELECT count(*) FROM cluster_merges").fetchone()
        parts.append(int(row[0]) if row else 0)
    return tuple(parts)


def _column(table: pa.Table, name: str, fill: int = -1) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, fill)
    return np.asarray(col.to_numpy(), np.int64)


def load_graph(ws: Workspace, *, progress: Progress | None = None) -> ChainGraph:
    """The workspace's chain as a ``ChainGraph``: built on first use, then kept while the
    chain files and clusters stay as they are (the signature checks)."""
    from spector.chain._query import ensure_views

    ensure_views(ws)
    con = ws.store.con
    sig = _signature(con)
    key = str(ws.root)
    cached = _GRAPHS.get(key)
    if cached is not None and cached.signature == sig:
        return cached
    report = progress or (lambda stage, done, total: None)
    report("loading transactions", 0, 4)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _trace_tx AS SELECT t.txid, t.height, t.coinbase, "
        "coalesce(epoch(b.time), 0)::BIGINT AS time, "
        "(row_number() OVER (ORDER BY t.height, t.idx) - 1)::BIGINT AS tn "
        "FROM txs t LEFT JOIN blocks b USING (height)"
    )
    txs = con.sql("SELECT txid, height, coinbase, time FROM _trace_tx ORDER BY tn").to_arrow_table()
    report("loading outputs", 1, 4)
    pseudo = has_table(con, "chain_pseudo_addresses")
    address = "coalesce(o.address, ps.address)" if pseudo else "o.address"
    join = (
        "LEFT JOIN chain_pseudo_addresses ps ON ps.txid = o.txid AND ps.vout = o.vout"
        if pseudo
        else ""
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _trace_out AS SELECT x.tn, o.vout, o.value, "
        f"{address} AS address, o.txid, o.height, "
        "(row_number() OVER (ORDER BY x.tn, o.vout) - 1)::BIGINT AS node FROM outputs o "
        f"JOIN _trace_tx x ON x.txid = o.txid AND x.height = o.height {join}"
    )
    outs = con.sql("SELECT tn, value, address FROM _trace_out ORDER BY node").to_arrow_table()
    report("loading inputs", 2, 4)
    ins = con.sql(
        "SELECT x.tn, i.value, p.node AS prev FROM inputs i "
        "JOIN _trace_tx x ON x.txid = i.txid AND x.height = i.height "
        "LEFT JOIN _trace_out p ON p.txid = i.prev_txid AND p.vout = i.prev_vout "
        "AND p.height = i.prev_height ORDER BY x.tn, i.vin"
    ).to_arrow_table()
    for temp in ("_trace_tx", "_trace_out"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    report("indexing", 3, 4)
    graph = _build(con, txs, outs, ins, sig)
    report("indexing", 4, 4)
    _GRAPHS[key] = graph
    return graph


def _build(
    con: duckdb.DuckDBPyConnection,
    txs: pa.Table,
    outs: pa.Table,
    ins: pa.Table,
    sig: tuple[Any, ...],
) -> ChainGraph:
    n_tx = txs.num_rows
    out_tn = _column(outs, "tn")
    in_tn = _column(ins, "tn")
    tx_out0 = np.zeros(n_tx + 1, np.int64)
    np.cumsum(np.bincount(out_tn, minlength=n_tx), out=tx_out0[1:])
    tx_in0 = np.zeros(n_tx + 1, np.int64)
    np.cumsum(np.bincount(in_tn, minlength=n_tx), out=tx_in0[1:])
    encoded = pc.dictionary_encode(outs.column("address").combine_chunks())
    out_addr = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), np.int64)
    addresses = encoded.dictionary
    txids = txs.column("txid").combine_chunks()
    coinbase = np.asarray(txs.column("coinbase").to_numpy(zero_copy_only=False), bool)
    graph = ChainGraph.from_arrays(
        tx_out0=tx_out0,
        tx_in0=tx_in0,
        out_value=_column(outs, "value", 0),
        in_prev=_column(ins, "prev"),
        in_value=_column(ins, "value", 0),
        out_addr=out_addr,
        coinbase=coinbase,
        tx_time=_column(txs, "time", 0),
        tx_height=_column(txs, "height", 0),
        tx_flags=_mixing_flags(con, txids, n_tx),
        txids=txids,
        addresses=addresses,
        signature=sig,
    )
    _chip_kinds(graph)
    graph.addr_cluster = _clusters(con, graph)
    return graph


def _mixing_flags(con: duckdb.DuckDBPyConnection, txids: pa.Array, n_tx: int) -> np.ndarray:
    """F_COINJOIN / F_CHIP_SPLIT per transaction, from the mixing detector (chip
    transactions are marked split here and sorted into split and spend later)."""
    from spector.chain._coinjoin import detect_mixing

    flags = np.zeros(n_tx, np.uint8)
    found = detect_mixing(con)
    if not found.num_rows:
        return flags
    tn = np.asarray(
        pc.index_in(found.column("txid"), value_set=txids).fill_null(-1).to_numpy(), np.int64
    )
    kinds = np.asarray(found.column("kind").to_pylist(), dtype=object)
    ok = tn >= 0
    flags[tn[ok & np.isin(kinds, _COINJOIN_KINDS)]] |= k.F_COINJOIN
    flags[tn[ok & (kinds == "chip")]] |= k.F_CHIP_SPLIT
    return flags


def _chip_kinds(graph: ChainGraph) -> None:
    """Sort the detector's chip transactions: a spend has only chips as inputs (the
    mixer paying out); the others (a deposit cut into chips) are splits."""
    chip = (graph.tx_flags & k.F_CHIP_SPLIT) != 0
    if not chip.any():
        return
    chip_in = np.isin(graph.in_value, CHIP_VALUES).astype(np.int64)
    n_chip_in = np.bincount(graph.in_tx, weights=chip_in, minlength=graph.n_tx)
    spend = chip & (n_chip_in == np.diff(graph.tx_in0))
    graph.tx_flags[spend] = (graph.tx_flags[spend] & ~np.uint8(k.F_CHIP_SPLIT)) | k.F_CHIP_SPEND
    graph._cache.clear()


def _clusters(con: duckdb.DuckDBPyConnection, graph: ChainGraph) -> np.ndarray | None:
    if not has_table(con, "chain_clusters") or graph.addresses is None:
        return None
    table = con.sql("SELECT address, cluster_id FROM chain_clusters").to_arrow_table()
    if not table.num_rows:
        return None
    ids = graph.address_ids(table.column("address").to_pylist())
    out = np.full(graph.n_addr, -1, np.int64)
    ok = ids >= 0
    out[ids[ok]] = _column(table, "cluster_id")[ok]
    return out
