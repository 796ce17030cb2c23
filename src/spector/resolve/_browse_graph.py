"""An actor's link chart as Cytoscape elements, and the neighbours of one node.

Elements are ``{"nodes": [{"data": {"id", "label", "kind"}}], "edges": [{"data": {"id",
"source", "target", "label"}}]}``. Node ids are ``<kind>:<value>`` with kind one of
``NODE_KINDS``: ``actor:<actor id>``, ``account:<account id>``, ``pgp:<fingerprint>``,
``btc:<address>``, ``cluster:<chain cluster id>``, ``exchange:<tag actor or label>``.
Edge ids are the two node ids, sorted, joined by ``|`` (so two answers never draw one
edge twice).

``actor_graph`` draws the actor, its accounts, the links between them (score), their
keys, pay-to addresses (at most ``ADDRESSES_SHOWN`` per account: expand the account for
more), the chain clusters of those addresses and the exchanges those clusters are or
paid. ``expand(ws, node)`` answers what a click on a node adds: the node itself and its
neighbours (an account: its actor, keys, addresses and linked accounts; a key: the
accounts showing it; an address: its cluster and the accounts paid to it; a cluster:
the known pay-to addresses in it and its exchanges; an exchange: the known accounts'
clusters that paid it). Every value comes from scraped pages: labels are data, the
client shows them as text only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from spector.errors import NotFound, UsageError
from spector.resolve._browse import actor_exchanges, first

if TYPE_CHECKING:
    from spector.store import Workspace

__all__ = ["ADDRESSES_SHOWN", "EXPAND_LIMIT", "NODE_KINDS", "Elements", "actor_graph", "expand"]

NODE_KINDS = ("actor", "account", "pgp", "btc", "cluster", "exchange")
ADDRESSES_SHOWN = 12  # pay-to addresses per account in the actor's chart
EXPAND_LIMIT = 200  # neighbours one click adds at most


# accounts whose stored facts list a value under a key
_HAS = "list_contains(CAST(json_extract(r.facts, '$.{key}') AS {type}[]), ?)"


def _btc(value: float | int) -> str:
    return f"{int(value) / 1e8:.8f}".rstrip("0").rstrip(".") + " BTC"


class Elements:
    """Nodes and edges collected once each (the first label wins)."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, str]] = {}
        self.edges: dict[str, dict[str, str]] = {}

    def node(self, kind: str, value: object, label: str | None = None) -> str:
        node_id = f"{kind}:{value}"
        if node_id not in self.nodes:
            self.nodes[node_id] = {"id": node_id, "label": label or str(value), "kind": kind}
        return node_id

    def edge(self, source: str, target: str, label: str) -> None:
        edge_id = "|".join(sorted((source, target)))
        if edge_id not in self.edges:
            self.edges[edge_id] = {"id": edge_id, "source": source, "target": target,
                                   "label": label}  # fmt: skip

    def as_json(self) -> dict[str, list[dict[str, dict[str, str]]]]:
        return {
            "nodes": [{"data": d} for d in self.nodes.values()],
            "edges": [{"data": d} for d in self.edges.values()],
        }


def _short_fp(fingerprint: str) -> str:
    return f"0x{fingerprint[:4]}…{fingerprint[-4:]}" if len(fingerprint) > 12 else fingerprint


def _account_label(handle: object, market: object) -> str:
    return f"{handle or '?'} @ {market}" if market else str(handle or "?")


def _accounts(ws: Workspace, where: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = ws.store.con.execute(
        "SELECT aa.account_id, aa.actor_id, aa.handle, coalesce(m.name, aa.market_id) AS market, "
        "r.facts FROM actor_accounts aa LEFT JOIN markets m ON m.id = aa.market_id "
        f"LEFT JOIN resolve_accounts r ON r.account_id = aa.account_id WHERE {where} "
        "ORDER BY aa.account_id LIMIT ?",
        [*params, EXPAND_LIMIT],
    )
    out = []
    for account_id, actor_id, handle, market, facts in cur.fetchall():
        out.append({"account_id": str(account_id), "actor_id": str(actor_id), "handle": handle,
                    "market": market, "facts": json.loads(facts) if facts else {}})  # fmt: skip
    return out


def _add_account(g: Elements, acc: dict[str, Any]) -> str:
    return g.node("account", acc["account_id"], _account_label(acc["handle"], acc["market"]))


def _links_among(ws: Workspace, g: Elements, ids: list[str], *, either: bool = False) -> list[str]:
    """Drawn links among ``ids`` (or from any of them, ``either``) as edges; returns the
    accounts at the other end."""
    join = "OR" if either else "AND"
    rows = ws.store.con.execute(
        f"SELECT a, b, score FROM resolve_links WHERE linked AND (list_contains(?, a) {join} "
        "list_contains(?, b)) ORDER BY score DESC, a, b LIMIT ?",
        [ids, ids, EXPAND_LIMIT],
    ).fetchall()
    others = []
    for a, b, score in rows:
        g.edge(f"account:{a}", f"account:{b}", f"link {float(score):.2f}")
        others += [str(x) for x in (a, b) if x not in ids]
    return others


def _chain(ws: Workspace, g: Elements, accounts: list[dict[str, Any]], per_account: int) -> None:
    """Keys, addresses, clusters and exchanges of ``accounts`` (already drawn)."""
    clusters: set[int] = set()
    cluster_of = _cluster_of(ws, {a for acc in accounts for a in acc["facts"].get("payto", [])})
    for acc in accounts:
        source = f"account:{acc['account_id']}"
        facts = acc["facts"]
        for fp in facts.get("pgp", []):
            g.edge(source, g.node("pgp", fp, _short_fp(fp)), "key")
        for address in facts.get("payto", [])[:per_account]:
            btc = g.node("btc", address, address[:10] + "…")
            g.edge(source, btc, "pay to")
            if address in cluster_of:
                cid = cluster_of[address]
                clusters.add(cid)
                g.edge(btc, g.node("cluster", cid, f"cluster {cid}"), "in")
    _exchanges(ws, g, clusters)


def _cluster_of(ws: Workspace, addresses: Iterable[str]) -> dict[str, int]:
    from spector.chain._cluster_query import address_cluster_ids

    return address_cluster_ids(ws.store.con, addresses)


def _exchanges(ws: Workspace, g: Elements, clusters: Iterable[int]) -> None:
    for row in actor_exchanges(ws, sorted(clusters)):
        target = g.node("exchange", row["exchange"], row["label"])
        cluster = g.node("cluster", row["cluster_id"], f"cluster {row['cluster_id']}")
        label = "tagged" if row["via"] == "tagged" else f"paid {_btc(row['value_sat'])}"
        g.edge(cluster, target, label)


def actor_graph(ws: Workspace, actor_id: str) -> dict[str, Any]:
    """The actor's chart (see the module docstring); NotFound for an unknown actor."""
    from spector.resolve._browse import closest_actor

    key = actor_id.strip()
    accounts = _accounts(ws, "aa.actor_id = ?", [key])
    if not accounts:
        raise NotFound(f"no actor {key!r}", hint=closest_actor(ws.store.con, key))
    g = Elements()
    label = first(
        ws.store.con.execute(
            "SELECT label FROM actors WHERE actor_ref = ? AND source = 'spector.resolve'", [key]
        )
    )
    actor = g.node("actor", key, (label[0] if label and label[0] else key))
    for acc in accounts:
        g.edge(actor, _add_account(g, acc), "account")
    _links_among(ws, g, [a["account_id"] for a in accounts])
    _chain(ws, g, accounts, ADDRESSES_SHOWN)
    return g.as_json()


def _parse(node: str) -> tuple[str, str]:
    kind, sep, value = node.strip().partition(":")
    if not sep or kind not in NODE_KINDS or not value:
        raise UsageError(
            f"node: {node!r} is not a node id",
            expected="<kind>:<value> with kind one of " + ", ".join(NODE_KINDS),
        )
    return kind, value


def expand(ws: Workspace, node: str) -> dict[str, Any]:
    """The node ``node`` and its neighbours (see the module docstring). UsageError for a
    malformed id, NotFound for one the workspace does not hold."""
    kind, value = _parse(node)
    g = Elements()
    con = ws.store.con
    if kind == "actor":
        return actor_graph(ws, value)
    if kind == "account":
        found = _accounts(ws, "aa.account_id = ?", [value])
        if not found:
            raise NotFound(f"no account {value!r} in the last resolution run")
        acc = found[0]
        source = _add_account(g, acc)
        label = first(
            con.execute(
                "SELECT label FROM actors WHERE actor_ref = ? AND source = 'spector.resolve'",
                [acc["actor_id"]],
            )
        )
        g.edge(g.node("actor", acc["actor_id"], label[0] if label and label[0] else None), source,
               "account")  # fmt: skip
        others = _links_among(ws, g, [value], either=True)
        for other in _accounts(ws, "list_contains(?, aa.account_id)", [others]):
            _add_account(g, other)
        _chain(ws, g, [acc], EXPAND_LIMIT)
    elif kind == "pgp":
        holders = _accounts(ws, _HAS.format(key="pgp", type="VARCHAR"), [value])
        if not holders:
            raise NotFound(f"no account shows the PGP key {value!r}")
        key = g.node("pgp", value, _short_fp(value))
        for acc in holders:
            g.edge(_add_account(g, acc), key, "key")
    elif kind == "btc":
        payers = _accounts(ws, _HAS.format(key="payto", type="VARCHAR"), [value])
        cluster_of = _cluster_of(ws, [value])
        if not payers and not cluster_of:
            raise NotFound(f"address {value!r} is neither a known pay-to address nor clustered")
        btc = g.node("btc", value, value[:10] + "…")
        for acc in payers:
            g.edge(_add_account(g, acc), btc, "pay to")
        if value in cluster_of:
            cid = cluster_of[value]
            g.edge(btc, g.node("cluster", cid, f"cluster {cid}"), "in")
    elif kind == "cluster":
        if not value.isdigit():
            raise UsageError(f"node: {node!r}: a cluster id is a number", expected="cluster:<id>")
        cid = int(value)
        held = first(con.execute("SELECT count(*) FROM chain_clusters WHERE cluster_id = ?", [cid]))
        if not held or not int(held[0]):
            raise NotFound(f"no chain cluster {cid}")
        cluster = g.node("cluster", cid, f"cluster {cid}")
        payers = _accounts(ws, _HAS.format(key="clusters", type="BIGINT"), [cid])
        where = _cluster_of(ws, {a for acc in payers for a in acc["facts"].get("payto", [])})
        for acc in payers:
            account = _add_account(g, acc)
            for address in acc["facts"].get("payto", []):
                if where.get(address) == cid:
                    btc = g.node("btc", address, address[:10] + "…")
                    g.edge(account, btc, "pay to")
                    g.edge(btc, cluster, "in")
        _exchanges(ws, g, [cid])
    else:  # exchange
        g.node("exchange", value)
        known = con.execute(
            "SELECT DISTINCT c FROM (SELECT unnest(CAST(json_extract(facts, '$.clusters') AS "
            "BIGINT[])) AS c FROM resolve_accounts) ORDER BY 1"
        ).fetchall()
        hits = [
            r for r in actor_exchanges(ws, [int(k[0]) for k in known]) if r["exchange"] == value
        ]
        tagged = first(
            con.execute(
                "SELECT count(*) FROM chain_tags WHERE coalesce(actor, label) = ? "
                "AND category = 'exchange'",
                [value],
            )
        )
        if not hits and not int(tagged[0] if tagged else 0):
            raise NotFound(f"no exchange {value!r} among the chain's tags")
        for row in hits[:EXPAND_LIMIT]:
            g.nodes[f"exchange:{value}"]["label"] = row["label"]
            cluster = g.node("cluster", row["cluster_id"], f"cluster {row['cluster_id']}")
            how = "tagged" if row["via"] == "tagged" else f"paid {_btc(row['value_sat'])}"
            g.edge(cluster, f"exchange:{value}", how)
    return g.as_json()
