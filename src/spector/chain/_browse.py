"""Browsing the chain for the web app and the API: what a search box means, a block's
transactions, an address's movements, a cluster's members, the largest clusters, saved
traces and their edges, a page at a time (keyset: each call takes the sort key of the
last row it gave, never an offset), and a saved trace as a flow graph (Cytoscape.js
elements). Read-only.

The look-ups of ``_query`` (tx, address, block, status), ``_cluster_query`` (cluster_of,
merge_path) and ``_trace_store`` (load) say "no such thing" with ``InputError``; these
functions check the input's form first (``InputError``: a 400) and then say an absent
thing is ``NotFound`` (a 404), so a caller can tell a typo from a miss.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from spector.chain._cluster_query import address_candidates, address_cluster_ids
from spector.chain._query import ensure_views
from spector.errors import InputError, NotFound, SelectorInvalid
from spector.model import decode_btc_address
from spector.store import Workspace

__all__ = [
    "GRAPH_NODES",
    "TRACE_SORTS",
    "address_detail",
    "address_movements",
    "block_head",
    "block_txs",
    "cluster_members",
    "find_cluster",
    "largest_clusters",
    "search_target",
    "trace_edges",
    "trace_elements",
    "trace_rows",
    "tx_detail",
]

GRAPH_NODES = 300  # nodes drawn at most; the table lists every edge
TRACE_SORTS = {"created": "created_at", "name": "name", "total": "total_sat"}
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_HEIGHT = re.compile(r"^[0-9]{1,18}$")  # ASCII digits that fit a BIGINT
_CLUSTER = re.compile(r"^(?:cluster:)?([0-9]{1,18})$")
_BIG = 2**63
_BLOCK_COLUMNS = (
    "height, hash, prev_hash, merkle_root, version, time, bits, nonce, size, weight, "
    "tx_count, input_count, output_count, output_value, coinbase_value, subsidy, fees"
)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> Any:
    rows = con.execute(sql, params).fetchall()  # fetchall: leaves no pending result
    return rows[0][0] if rows else None


def _clustered(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(_one(con, "SELECT count(*) FROM cluster_state WHERE key = 'settings'", []))


# -- search ----------------------------------------------------------------------------


def search_target(ws: Workspace, text: str) -> dict[str, str]:
    """What a search for ``text`` means: ``{"kind", "ref"}`` with kind ``tx``, ``block``,
    ``address`` or ``cluster``. 64 hex digits are a txid, else a block hash; a number is
    a block height; ``cluster:<id>`` a cluster; anything else must decode as a Bitcoin
    address. InputError when it is none of these; NotFound when it is well formed but
    the chain tables do not hold it."""
    ensure_views(ws)
    con = ws.store.con
    key = text.strip()
    if not key:
        raise InputError("q: empty search", expected="a txid, address, block or cluster:<id>")
    if _HEX64.match(key):
        low = key.lower()
        if _one(con, "SELECT count(*) FROM txs WHERE txid = ?", [low]):
            return {"kind": "tx", "ref": low}
        if _one(con, "SELECT count(*) FROM blocks WHERE hash = ?", [low]):
            return {"kind": "block", "ref": low}
        raise NotFound(f"no transaction or block {low} in the chain tables")
    if _HEIGHT.match(key):
        block_head(ws, key)
        return {"kind": "block", "ref": str(int(key))}
    if key.lower().startswith("cluster:"):
        cid = find_cluster(ws, key)[1]
        return {"kind": "cluster", "ref": str(cid)}
    try:
        decode_btc_address(key)
    except SelectorInvalid as exc:
        raise InputError(
            f"q: {key!r} is not a txid, block, cluster:<id> or Bitcoin address ({exc.what})",
            expected="64 hex digits, a height, cluster:<id> or an address",
        ) from exc
    return {"kind": "address", "ref": _stored_address(con, key)}


# -- blocks and transactions -----------------------------------------------------------


def block_head(ws: Workspace, ref: str) -> dict[str, Any]:
    """A block's header and totals (no transactions) by height or hash."""
    ensure_views(ws)
    key = ref.strip()
    if _HEIGHT.match(key):
        found = _rows(ws.store.con, f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE height = ?",
                      [int(key)])  # fmt: skip
    elif _HEX64.match(key):
        found = _rows(ws.store.con, f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE hash = ?",
                      [key.lower()])  # fmt: skip
    else:
        raise InputError(f"block {key!r} is neither a hash nor a height",
                         expected="64 hex digits or a number")  # fmt: skip
    if not found:
        raise NotFound(f"no block {key} in the chain tables")
    return found[0]


def block_txs(
    ws: Workspace, height: int, *, after: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The transactions of the block at ``height`` in block order, after position
    ``after``, at most ``limit``."""
    ensure_views(ws)
    return _rows(
        ws.store.con,
        "SELECT idx, txid, coinbase, size, vsize, input_count, output_count, input_value, "
        "output_value, fee FROM txs WHERE height = ? AND idx > ? ORDER BY idx LIMIT ?",
        [height, -1 if after is None else after, limit],
    )


def tx_detail(ws: Workspace, txid: str) -> dict[str, Any]:
    """``_query.tx`` plus the block ``time`` and each input's and output's
    ``cluster_id`` (None when unclustered). InputError for a malformed txid, NotFound
    for one the chain tables do not hold."""
    from spector.chain._query import tx

    key = txid.strip()
    if not _HEX64.match(key):
        raise InputError(f"{txid!r} is not a txid", expected="64 hex digits")
    try:
        info = tx(ws, key)
    except InputError as exc:
        raise NotFound(exc.what, hint="the chain tables hold only the ingested blocks") from exc
    con = ws.store.con
    info["time"] = _one(con, "SELECT time FROM blocks WHERE height = ?", [info["height"]])
    named = [p["address"] for p in (*info["inputs"], *info["outputs"]) if p["address"]]
    clusters = address_cluster_ids(con, named) if _clustered(con) else {}
    for part in (*info["inputs"], *info["outputs"]):
        part["cluster_id"] = clusters.get(part["address"]) if part["address"] else None
    return info


# -- addresses -------------------------------------------------------------------------


def _stored_address(con: duckdb.DuckDBPyConnection, address: str) -> str:
    """``address`` as the chain tables hold it; NotFound if they do not."""
    for value in address_candidates(address):
        if _one(con, "SELECT count(*) FROM outputs WHERE address = ?", [value]):
            return value
    raise NotFound(f"address {address.strip()} does not appear in the chain tables")


def address_detail(ws: Workspace, value: str) -> dict[str, Any]:
    """An address's totals (``_query.address`` without movements), its ``cluster_id``
    (None when unclustered) and ``tags`` ({label, category, confidence, source, via}:
    its own and its cluster's). InputError when ``value`` is not an address, NotFound
    when the chain tables do not hold it."""
    from spector.chain import _tags
    from spector.chain._query import address

    try:
        decode_btc_address(value)
    except SelectorInvalid as exc:
        raise InputError(f"{value.strip()!r} is not a Bitcoin address: {exc.what}") from exc
    try:
        info = address(ws, value, limit=0)
    except InputError as exc:
        raise NotFound(exc.what, hint="the chain tables hold only the ingested blocks") from exc
    info.pop("movements", None)
    con = ws.store.con
    key = info["address"]
    info["cluster_id"] = address_cluster_ids(con, [key]).get(key) if _clustered(con) else None
    refs = _tags.tags_for(con, [key]).get(key, [])
    info["tags"] = [
        {
            "label": r.label,
            "category": r.category,
            "confidence": r.confidence,
            "source": r.source,
            "via": r.via,
        }
        for r in refs
    ]
    return info


def address_movements(
    ws: Workspace, address: str, *, after: list[Any] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The outputs paid to ``address`` (``received``) and the inputs spending from it
    (``spent``), newest first: {height, txid, direction, n (vout or vin), value}.
    ``after`` is the [height, txid, direction, n] of the last row of the previous page.
    ``address`` as ``address_detail`` gave it."""
    ensure_views(ws)
    where, params = "", [address, address]
    if after is not None:
        h, t, d, n = _key(after, (int, str, str, int), "cursor")
        where = ("WHERE height < ? OR (height = ? AND (txid > ? OR (txid = ? AND "
                 "(direction > ? OR (direction = ? AND n > ?)))))")  # fmt: skip
        params += [h, h, t, t, d, d, n]
    return _rows(
        ws.store.con,
        f"""
        SELECT * FROM (
            SELECT height, txid, 'received' AS direction, vout AS n, value
            FROM outputs WHERE address = ?
            UNION ALL
            SELECT height, txid, 'spent' AS direction, vin AS n, value
            FROM inputs WHERE address = ?
        ) {where} ORDER BY height DESC, txid, direction, n LIMIT ?
        """,
        [*params, limit],
    )


def _key(values: list[Any], types: tuple[type, ...], what: str) -> list[Any]:
    """``values`` checked against ``types`` (a cursor made by hand is an InputError)."""

    def fits(value: Any, kind: type) -> bool:
        if kind is int:
            return isinstance(value, int) and not isinstance(value, bool) and -_BIG < value < _BIG
        return isinstance(value, kind)

    if len(values) != len(types) or not all(fits(v, t) for v, t in zip(values, types, strict=True)):
        raise InputError(f"{what}: not a cursor this list gave", hint="start again without it")
    return values


# -- clusters --------------------------------------------------------------------------


def find_cluster(ws: Workspace, ref: str) -> tuple[str, int]:
    """(an address of the cluster, its id) for ``ref``: a cluster id (``123`` or
    ``cluster:123``; the address is its first member) or a member address. InputError
    when the chain has not been clustered or ``ref`` is neither; NotFound when no such
    cluster or address is in the clusters."""
    con = ws.store.con
    if not _clustered(con):
        raise InputError("the chain has not been clustered yet",
                         hint="run `spector chain cluster` first")  # fmt: skip
    key = ref.strip()
    match = _CLUSTER.match(key)
    if match:
        cid = int(match[1])
        first = _one(
            con,
            "SELECT c.address FROM chain_clusters c JOIN cluster_addresses a "
            "ON a.address = c.address WHERE c.cluster_id = ? ORDER BY a.address_id LIMIT 1",
            [cid],
        )
        if first is None:
            raise NotFound(
                f"no cluster {cid}", hint="cluster ids are those of `spector chain cluster-of`"
            )
        return str(first), cid
    try:
        decode_btc_address(key)
    except SelectorInvalid as exc:
        raise InputError(
            f"{key!r} is neither a cluster id nor an address ({exc.what})",
            expected="a number, cluster:<id> or an address",
        ) from exc
    for value in address_candidates(key):
        cid = _one(con, "SELECT cluster_id FROM chain_clusters WHERE address = ?", [value])
        if cid is not None:
            return value, int(cid)
    raise NotFound(f"address {key} is not in the chain's clusters")


def cluster_members(
    ws: Workspace, cluster_id: int, *, after: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The cluster's addresses in the order they first appeared (``address_id``), after
    ``after``, at most ``limit``: {address_id, address, first_height, received,
    balance, output_count, input_count}."""
    ensure_views(ws)
    con = ws.store.con
    members = _rows(
        con,
        "SELECT a.address_id, c.address, a.first_height FROM chain_clusters c "
        "JOIN cluster_addresses a ON a.address = c.address "
        "WHERE c.cluster_id = ? AND a.address_id > ? ORDER BY a.address_id LIMIT ?",
        [cluster_id, -1 if after is None else after, limit],
    )
    if not members:
        return []
    wanted = [m["address"] for m in members]
    totals = {
        r["address"]: r
        for r in _rows(
            con,
            "SELECT address, received, balance, output_count, input_count FROM addresses "
            "WHERE address IN (SELECT unnest(?))",
            [wanted],
        )
    }
    empty = {"received": 0, "balance": 0, "output_count": 0, "input_count": 0}
    for m in members:
        row = totals.get(m["address"], empty)
        m.update({k: row[k] for k in empty})
    return members


def largest_clusters(
    ws: Workspace, *, after: list[Any] | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Clusters by size, largest first (ties: lower id first): {cluster_id, size,
    label (the best tag's label or None), category}. ``after`` is [size, cluster_id] of
    the last row given."""
    con = ws.store.con
    if not _clustered(con):
        return []
    where, params = "", []
    if after is not None:
        size, cid = _key(after, (int, int), "cursor")
        where = "WHERE size < ? OR (size = ? AND cluster_id > ?)"
        params = [size, size, cid]
    return _rows(
        con,
        f"""
        WITH sizes AS (
            SELECT cluster_id, count(*) AS size FROM chain_clusters GROUP BY cluster_id
        ), page AS (
            SELECT * FROM sizes {where} ORDER BY size DESC, cluster_id LIMIT ?
        ), best AS (
            SELECT c.cluster_id, arg_max(t.label, t.confidence_level) AS label,
                   arg_max(t.category, t.confidence_level) AS category
            FROM chain_tags t JOIN chain_clusters c ON c.address = t.address
            WHERE c.cluster_id IN (SELECT cluster_id FROM page) GROUP BY c.cluster_id
        )
        SELECT p.cluster_id, p.size, b.label, b.category
        FROM page p LEFT JOIN best b USING (cluster_id) ORDER BY p.size DESC, p.cluster_id
        """,
        [*params, limit],
    )


# -- saved traces ----------------------------------------------------------------------


def trace_rows(
    ws: Workspace,
    *,
    sort: str = "-created",
    q: str | None = None,
    kind: str | None = None,
    after: list[Any] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Saved traces without their graphs (``_trace_store.list_traces``' keys), sorted by
    ``sort`` (created | name | total, ``-`` first for descending; ties by name),
    filtered by ``q`` (in the name or source, any case) and ``kind`` (trace | path).
    ``after`` is [sort value, name] of the last row given."""
    desc = sort.startswith("-")
    field = sort.lstrip("-")
    if field not in TRACE_SORTS:
        raise InputError(f"sort: unknown key {field!r}",
                         expected=" | ".join(TRACE_SORTS) + " (- first: descending)")  # fmt: skip
    column = TRACE_SORTS[field]
    value = {"created_at": "strftime(created_at, '%Y-%m-%dT%H:%M:%S.%f')",
             "name": "name", "total_sat": "coalesce(total_sat, -1)"}[column]  # fmt: skip
    conds, params = [], []
    if q:
        conds.append("(contains(lower(name), ?) OR contains(lower(source), ?))")
        params += [q.lower(), q.lower()]
    if kind:
        conds.append("kind = ?")
        params.append(kind)
    if after is not None:
        v, name = _key(after, (int if column == "total_sat" else str, str), "cursor")
        op = "<" if desc else ">"
        conds.append(f"({value} {op} ? OR ({value} = ? AND name > ?))")
        params += [v, v, name]
    where = ("WHERE " + " AND ".join(conds)) if conds else ""
    rows = _rows(
        ws.store.con,
        f"SELECT name, kind, source, target, policy, direction, hops, to_tags, total_sat, "
        f"traced_share, node_count AS nodes, edge_count AS edges, created_at, "
        f"{value} AS sort_key FROM chain_traces {where} "
        f"ORDER BY {value} {'DESC' if desc else 'ASC'}, name LIMIT ?",
        [*params, limit],
    )
    return rows


def trace_edges(
    ws: Workspace, name: str, *, after: list[Any] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The edges of the saved trace ``name`` in time order (ties: txid, from, to,
    rule), as the result holds them: {from, to, txid, amount_sat, time, rule, hop,
    weight}. ``after`` is [time, txid, from, to, rule] of the last row given. NotFound
    for an unknown name."""
    con = ws.store.con
    if not _one(con, "SELECT count(*) FROM chain_traces WHERE name = ?", [name]):
        raise NotFound(f"no saved trace named {name!r}")
    when = "coalesce(strftime(time, '%Y-%m-%dT%H:%M:%SZ'), '')"
    where, params = "", [name]
    if after is not None:
        t, tx, src, dst, rule = _key(after, (str,) * 5, "cursor")
        where = (f"AND ({when} > ? OR ({when} = ? AND (txid > ? OR (txid = ? AND (src > ? OR "
                 "(src = ? AND (dst > ? OR (dst = ? AND rule > ?))))))))")  # fmt: skip
        params += [t, t, tx, tx, src, src, dst, dst, rule]
    return _rows(
        con,
        f'SELECT src AS "from", dst AS "to", txid, amount_sat, {when} AS time, rule, hop, '
        f"weight FROM chain_trace_edges WHERE trace = ? {where} "
        f"ORDER BY {when}, txid, src, dst, rule LIMIT ?",
        [*params, limit],
    )


def _node_kind(node: dict[str, Any]) -> str:
    roles = node.get("roles") or []
    for role in ("source", "service", "mixer", "target"):
        if role in roles:
            return role
    if roles:
        return "untraced"
    return str(node.get("type") or "address")


def _node_label(node: dict[str, Any]) -> str:
    ident = str(node["id"])
    short = ident if len(ident) <= 16 else ident[:8] + "…" + ident[-6:]
    name = node.get("service") or next(
        (t.get("label") for t in node.get("tags") or [] if t.get("label")), None
    )
    return f"{name} ({short})" if name else short


def trace_elements(result: dict[str, Any], *, max_nodes: int = GRAPH_NODES) -> dict[str, Any]:
    """A saved result (``_trace_store.load``) as Cytoscape.js elements: ``nodes``
    [{data: {id, label, kind, amount_in_sat, cluster_id, category}}] with kind source |
    service | mixer | target | untraced | address | output, and ``edges`` [{data: {id,
    source, target, label, amount_sat, txid, rule, hop, time, weight}}], label the
    amount in BTC. With more than ``max_nodes`` nodes, the largest edges are kept until
    the nodes fill up (source nodes always) and ``truncated`` says so."""
    nodes = {str(n["id"]): n for n in result.get("nodes", [])}
    edges = list(result.get("edges", []))
    keep: set[str] = {i for i, n in nodes.items() if "source" in (n.get("roles") or [])}
    chosen: list[dict[str, Any]] = []
    truncated = len(nodes) > max_nodes
    if truncated:
        keep = set(list(keep)[:max_nodes])
        for e in sorted(edges, key=lambda e: -int(e.get("amount_sat") or 0)):
            ends = {str(e["from"]), str(e["to"])}
            if len(keep | ends) <= max_nodes:
                keep |= ends
                chosen.append(e)
    else:
        keep = set(nodes)
        chosen = edges
    out_nodes = []
    for ident in sorted(keep):
        n = nodes.get(ident, {"id": ident, "type": "output" if ":" in ident else "address"})
        out_nodes.append(
            {
                "data": {
                    "id": ident,
                    "label": _node_label(n),
                    "kind": _node_kind(n),
                    "amount_in_sat": n.get("amount_in_sat"),
                    "cluster_id": n.get("cluster_id"),
                    "category": n.get("category"),
                }
            }
        )
    out_edges = []
    for i, e in enumerate(chosen):
        amount = int(e.get("amount_sat") or 0)
        out_edges.append(
            {
                "data": {
                    "id": f"e{i}",
                    "source": str(e["from"]),
                    "target": str(e["to"]),
                    "label": f"{amount / 1e8:.8f} BTC",
                    "amount_sat": amount,
                    "txid": str(e["txid"]),
                    "rule": str(e.get("rule") or ""),
                    "hop": e.get("hop"),
                    "time": e.get("time"),
                    "weight": e.get("weight"),
                }
            }
        )
    return {"nodes": out_nodes, "edges": out_edges, "truncated": truncated,
            "node_count": len(nodes), "edge_count": len(edges)}  # fmt: skip
