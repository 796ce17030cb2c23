"""What a trace starts from (or a path search goes to), resolved against the store.

A source is written as one of:

- an address (any network; bech32 in any case), or a P2PK output's pseudo-address;
- ``cluster:<id>``: every address of the cluster (``chain_clusters``);
- ``<txid>:<vout>``: one output;
- ``vendor:<account id>``: the vendor's tagged addresses (tags Spector derived from
  crawled pages and seized data: ``chain_tags`` rows about that vendor account, origin
  ``web_crawl`` or ``seized_data``) and the outputs that paid its seized orders
  (``order_payments``);
- ``listing:<listing id>``: the outputs that paid the listing's seized orders;
- ``category:<concept>`` (path targets only): every address tagged with that category.

Bad or unknown sources raise ``InputError`` naming the source and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from spector.chain._trace_graph import ChainGraph, has_table
from spector.errors import InputError, SelectorInvalid
from spector.model import decode_btc_address

__all__ = ["Source", "SourceSet", "outpoint_nodes", "parse_source", "resolve", "txid_numbers"]

_OUTPOINT = re.compile(r"^([0-9a-fA-F]{64}):(\d{1,9})$")
_PREFIXES = ("cluster", "vendor", "listing", "category")
_VENDOR_ORIGINS = ("web_crawl", "seized_data")


@dataclass(frozen=True)
class Source:
    """One source as given, and the addresses and outputs it stands for."""

    text: str
    kind: str  # address | cluster | outpoint | vendor | listing | category
    addresses: tuple[str, ...] = ()
    outpoints: tuple[tuple[str, int], ...] = ()


@dataclass
class SourceSet:
    """Sources resolved to graph nodes: ``nodes`` are every output of the sources'
    addresses and their outpoints (the trace's own money), ``addr_ids`` the addresses."""

    sources: list[Source]
    nodes: np.ndarray
    addr_ids: np.ndarray
    notes: list[str] = field(default_factory=list)

    def describe(self) -> list[dict[str, object]]:
        return [
            {
                "source": s.text,
                "kind": s.kind,
                "addresses": len(s.addresses),
                "outputs": len(s.outpoints),
            }
            for s in self.sources
        ]


def _canonical(text: str) -> str:
    try:
        return decode_btc_address(text).address
    except SelectorInvalid as exc:
        raise InputError(
            f"{text!r} is not a trace source: {exc.reason}",
            expected="an address, cluster:<id>, <txid>:<vout>, vendor:<account id> or "
            "listing:<listing id>",
        ) from exc


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
    return con.execute(sql, params).fetchall()


def _closest(con: duckdb.DuckDBPyConnection, table: str, value: str) -> str:
    ids = [str(r[0]) for r in _rows(con, f"SELECT id FROM {table}", [])]
    close = get_close_matches(value, ids, n=1)
    return f"did you mean {close[0]!r}?" if close else f"see the {table} table"


def parse_source(con: duckdb.DuckDBPyConnection, text: str, *, targets: bool = False) -> Source:
    """Resolve ``text`` to addresses and outpoints (see the module docstring)."""
    raw = text.strip()
    if not raw:
        raise InputError("empty trace source", expected="an address or a prefixed source")
    match = _OUTPOINT.match(raw)
    if match:
        return Source(raw, "outpoint", outpoints=((match[1].lower(), int(match[2])),))
    prefix, sep, rest = raw.partition(":")
    if not sep or prefix.lower() not in _PREFIXES:
        if sep and len(prefix) < 16:  # "clustr:4" and the like: a misspelt prefix
            close = get_close_matches(prefix.lower(), _PREFIXES, n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            raise InputError(
                f"unknown source prefix {prefix!r} in {raw!r}",
                expected=", ".join(f"{p}:" for p in _PREFIXES),
                hint=hint,
            )
        return Source(raw, "address", addresses=(_canonical(raw),))
    prefix, rest = prefix.lower(), rest.strip()
    if not rest:
        raise InputError(f"{raw!r} names no {prefix}", expected=f"{prefix}:<id>")
    if prefix == "cluster":
        return _cluster(con, raw, rest)
    if prefix == "vendor":
        return _vendor(con, raw, rest)
    if prefix == "listing":
        return _listing(con, raw, rest)
    if not targets:
        raise InputError(
            f"{raw!r}: a category is a path target, not a trace source",
            hint="trace from an address, cluster, output, vendor or listing",
        )
    return _category(con, raw, rest)


def _cluster(con: duckdb.DuckDBPyConnection, raw: str, rest: str) -> Source:
    if not rest.isdigit():
        raise InputError(f"{raw!r}: a cluster id is a number", expected="cluster:<id>")
    if not has_table(con, "chain_clusters"):
        raise InputError("this workspace has no clusters", hint="run `spector chain cluster`")
    rows = _rows(
        con, "SELECT address FROM chain_clusters WHERE cluster_id = ? ORDER BY address", [int(rest)]
    )
    if not rows:
        raise InputError(
            f"no cluster {rest}",
            hint="`spector chain cluster-of ADDRESS` shows an address's cluster",
        )
    return Source(raw, "cluster", addresses=tuple(str(r[0]) for r in rows))


def _payments(
    con: duckdb.DuckDBPyConnection, where: str, value: str
) -> tuple[tuple[str, int], ...]:
    rows = _rows(
        con,
        "SELECT DISTINCT p.txid, p.vout FROM order_payments p JOIN orders o ON o.id = p.order_id "
        f"WHERE {where} ORDER BY 1, 2",
        [value],
    )
    return tuple((str(r[0]), int(r[1])) for r in rows)


def _vendor(con: duckdb.DuckDBPyConnection, raw: str, account: str) -> Source:
    known = _rows(con, "SELECT count(*) FROM vendor_accounts WHERE id = ?", [account])[0][0]
    addresses: tuple[str, ...] = ()
    if has_table(con, "chain_tags"):
        rows = _rows(
            con,
            "SELECT DISTINCT address FROM chain_tags WHERE address IS NOT NULL "
            "AND subject_table = 'vendor_accounts' AND subject_id = ? "
            f"AND origin IN {_VENDOR_ORIGINS!r} ORDER BY 1",
            [account],
        )
        addresses = tuple(str(r[0]) for r in rows)
    outpoints = (
        _payments(con, "o.vendor_id = ?", account) if has_table(con, "order_payments") else ()
    )
    if not addresses and not outpoints:
        if not known:
            raise InputError(
                f"no vendor account {account!r}", hint=_closest(con, "vendor_accounts", account)
            )
        raise InputError(
            f"vendor {account!r} has no tagged addresses and no paid seized orders",
            hint="derive its tags first (`spector chain tags derive`) or import seized orders",
        )
    return Source(raw, "vendor", addresses=addresses, outpoints=outpoints)


def _listing(con: duckdb.DuckDBPyConnection, raw: str, listing: str) -> Source:
    outpoints = (
        _payments(con, "o.listing_id = ?", listing) if has_table(con, "order_payments") else ()
    )
    if not outpoints:
        known = _rows(con, "SELECT count(*) FROM listings WHERE id = ?", [listing])[0][0]
        if not known:
            raise InputError(f"no listing {listing!r}", hint=_closest(con, "listings", listing))
        raise InputError(
            f"listing {listing!r} has no seized orders paid on chain",
            hint="import the seized orders and ingest the blocks that pay them",
        )
    return Source(raw, "listing", outpoints=outpoints)


def _category(con: duckdb.DuckDBPyConnection, raw: str, category: str) -> Source:
    from spector.chain._trace_tags import check_categories, services

    (category,) = check_categories(con, [category])
    found = services(con, [category])
    if not found:
        raise InputError(
            f"no address is tagged {category!r}",
            hint="import TagPacks first (`spector chain tags import`)",
        )
    return Source(raw, "category", addresses=tuple(sorted(found)))


def resolve(
    con: duckdb.DuckDBPyConnection,
    graph: ChainGraph,
    texts: Sequence[str],
    *,
    targets: bool = False,
) -> SourceSet:
    """Every source of ``texts`` as graph nodes. A source given as one address or one
    output must be in the graph; the addresses and outputs of a cluster, vendor or
    listing that the graph lacks are left out (and said so in ``notes``). The addresses
    and outputs of all sources are looked up in one batch each."""
    if not texts:
        raise InputError("no trace source given", expected="an address or a prefixed source")
    sources = [parse_source(con, t, targets=targets) for t in texts]
    addr_ids = graph.address_ids([a for s in sources for a in s.addresses])
    out_nodes = outpoint_nodes(graph, [o for s in sources for o in s.outpoints])
    notes: list[str] = []
    addr_parts: list[np.ndarray] = []
    node_parts: list[np.ndarray] = []
    a0 = o0 = 0
    for src in sources:
        ids = addr_ids[a0 : a0 + len(src.addresses)]
        outs = out_nodes[o0 : o0 + len(src.outpoints)]
        a0, o0 = a0 + len(src.addresses), o0 + len(src.outpoints)
        missing = int((ids < 0).sum())
        if src.kind == "address" and missing:
            raise InputError(
                f"address {src.addresses[0]} does not appear in the chain tables",
                hint="ingest the blocks that pay it (`spector chain status` shows what is held)",
            )
        if missing:
            notes.append(f"{src.text}: {missing} of {len(ids)} addresses not in the chain tables")
        addr_parts.append(ids[ids >= 0])
        lost = int((outs < 0).sum())
        if src.kind == "outpoint" and lost:
            raise InputError(
                f"output {src.text} is not in the chain tables",
                hint="`spector chain tx TXID` shows a transaction's outputs",
            )
        if lost:
            notes.append(
                f"{src.text}: {lost} of {len(outs)} payment outputs not in the chain tables"
            )
        node_parts.append(outs[outs >= 0])
    held = np.unique(np.concatenate(addr_parts)) if addr_parts else np.empty(0, np.int64)
    nodes = np.unique(np.concatenate([graph.outputs_of(held), *node_parts]))
    if not len(nodes):
        raise InputError(
            f"{', '.join(texts)}: nothing of it is in the chain tables",
            hint="ingest the blocks first (`spector chain ingest`)",
        )
    return SourceSet(sources, nodes.astype(np.int64), held.astype(np.int64), notes)


# -- outputs by outpoint: a txid index kept with the graph ----------------------------

_INDEX_KEY = "trace_txid_index"
_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF", 10):
    _HEX[_c] = _i
_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def _txid_index(graph: ChainGraph) -> tuple[np.ndarray, np.ndarray] | None:
    """Each transaction's first 16 hex digits as a uint64, sorted, with the transaction
    numbers in that order; built once per graph (kept in its cache). None when some
    txid is not 64 hex digits (then every look-up asks the whole array)."""
    if _INDEX_KEY in graph._cache:
        index: tuple[np.ndarray, np.ndarray] | None = graph._cache[_INDEX_KEY]
        return index
    index = None
    txids = graph.txids
    if txids is not None and txids.type == pa.string() and txids.null_count == 0:
        n = len(txids)
        offsets = np.frombuffer(txids.buffers()[1], np.int32)[txids.offset : txids.offset + n + 1]
        if n and bool(np.all(np.diff(offsets) == 64)):
            data = np.frombuffer(txids.buffers()[2], np.uint8)
            digits = _HEX[data[offsets[0] : offsets[0] + 64 * n].reshape(n, 64)[:, :16]]
            if not (digits == 255).any():
                keys = (digits.astype(np.uint64) << _SHIFTS).sum(axis=1, dtype=np.uint64)
                order = np.argsort(keys, kind="stable")
                index = (keys[order], order.astype(np.int64))
    graph._cache[_INDEX_KEY] = index
    return index


def txid_numbers(graph: ChainGraph, txids: Sequence[str]) -> np.ndarray:
    """The number of each transaction (-1: not in the graph), as ``graph.tx_ids`` gives
    it (the first of equal txids), through the graph's txid index: a binary search on
    the txid's leading 64 bits, checked against the whole txid (what the check rejects
    is asked of the whole array)."""
    index = _txid_index(graph)
    if index is None or not txids:
        return graph.tx_ids(txids)
    keys, order = index
    wanted = np.zeros(len(txids), np.uint64)
    ask: list[int] = []  # asked of the whole array
    for i, t in enumerate(txids):
        try:
            wanted[i] = int(t[:16], 16)
        except (ValueError, OverflowError):  # not hex digits, or negative
            ask.append(i)
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = np.where(keys[pos] == wanted, order[pos], -1)
    found[ask] = -1
    hit = np.nonzero(found >= 0)[0]
    if len(hit) and graph.txids is not None:
        held = graph.txids.take(pa.array(found[hit])).to_pylist()
        # another txid with the same leading 64 bits
        ask += [i for i, t in zip(hit.tolist(), held, strict=True) if t != txids[i]]
    if ask:
        found[ask] = graph.tx_ids([txids[i] for i in ask])
    return found


def outpoint_nodes(graph: ChainGraph, outpoints: Sequence[tuple[str, int]]) -> np.ndarray:
    """The node of each output ``(txid, vout)`` (-1: not held), as ``graph.node_of``."""
    if not outpoints:
        return np.empty(0, np.int64)
    tx = txid_numbers(graph, [t for t, _ in outpoints])
    vout = np.array([v for _, v in outpoints], np.int64)
    held = tx >= 0
    first = np.where(held, graph.tx_out0[np.where(held, tx, 0)], 0)
    count = np.where(held, graph.tx_out0[np.where(held, tx, 0) + 1] - first, 0)
    ok = held & (vout >= 0) & (vout < count)
    return np.where(ok, first + vout, -1).astype(np.int64)
