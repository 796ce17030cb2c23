"""A trace's result as the investigator sees it: services reached, what stayed untraced,
and the graph (nodes: addresses with their clusters and tags; edges: amount, time, txid,
rule), built from a ``RawTrace`` by name.

``TraceResult.as_dict()`` is the JSON of ``spector chain trace --json``: ``policy``,
``hops``, ``reached`` ``[{label, category, amount_sat, share, ...}]``, ``edges``
``[{from, to, txid, amount_sat, time, rule, ...}]`` and more keys (``untraced``,
``nodes``, ``mixer_hops``, ...). Shares are of ``total_sat``, the taint that ended
somewhere: the services' shares plus the untraced shares add up to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from spector.chain import _trace_kernel as k
from spector.chain._trace_graph import ChainGraph
from spector.chain._trace_run import KINDS, RULES, RawTrace

__all__ = [
    "ARRIVALS",
    "Service",
    "TraceResult",
    "assemble",
    "iso",
    "iso_many",
    "outpoints_of",
    "txids_of",
]

ARRIVALS = 200  # arrivals listed per service (all are counted)
UNTRACED_LISTED = 50


def iso(seconds: int) -> str:
    """A block time as ISO 8601 UTC (``2023-01-01T00:00:00Z``)."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_many(seconds: np.ndarray) -> list[str]:
    """``iso`` of many block times at once (the same text, years 1970 to 9999)."""
    stamps = np.asarray(seconds, np.int64).astype("datetime64[s]")
    return [f"{t}Z" for t in np.datetime_as_string(stamps, unit="s").tolist()]


def txids_of(g: ChainGraph, txs: np.ndarray) -> list[str]:
    """``g.txid`` of many transactions at once."""
    txs = np.asarray(txs, np.int64)
    if g.txids is None:
        return [f"tx#{t}" for t in txs.tolist()]
    values: list[str] = g.txids.take(pa.array(txs)).to_pylist()
    return values


def outpoints_of(g: ChainGraph, nodes: np.ndarray) -> list[str]:
    """``g.outpoint`` of many nodes at once."""
    nodes = np.asarray(nodes, np.int64)
    tx = g.out_tx[nodes]
    vouts = (nodes - g.tx_out0[tx]).tolist()
    return [f"{t}:{v}" for t, v in zip(txids_of(g, tx), vouts, strict=True)]


@dataclass(frozen=True)
class Service:
    """A service the trace may stop at: a tag label and category (best confidence)."""

    label: str
    category: str
    confidence: str | None = None


@dataclass
class TraceResult:
    """A trace's result (see the module docstring). ``data`` is ``as_dict()``."""

    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.data

    @property
    def reached(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.data["reached"]
        return value

    @property
    def edges(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.data["edges"]
        return value

    @property
    def nodes(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.data["nodes"]
        return value

    @property
    def untraced(self) -> dict[str, dict[str, Any]]:
        value: dict[str, dict[str, Any]] = self.data["untraced"]
        return value

    def share_of(self, label: str) -> float:
        """The share that reached the service labelled ``label`` (0.0 if none)."""
        return float(sum(r["share"] for r in self.reached if r["label"] == label))

    def summary(self) -> str:
        """One line: how much was traced where."""
        d = self.data
        top = ", ".join(f"{r['label']} {r['share']:.1%}" for r in d["reached"][:3]) or "none"
        return (
            f"traced {d['total_sat'] / 1e8:,.8f} BTC {d['direction']} from {d['source']} over "
            f"{d['hops']} hops ({d['policy']}): {d['traced_share']:.1%} reached "
            f"{len(d['reached'])} services ({top}); {1 - d['traced_share']:.1%} untraced; "
            f"{len(d['edges']):,} edges"
        )


def _group_edges(raw: RawTrace) -> tuple[np.ndarray, ...]:
    """Edges summed by (src, dst, tx, rule); hop the smallest, weight the largest."""
    if not len(raw.e_src):
        return tuple(np.empty(0, np.int64) for _ in range(7))
    order = np.lexsort((raw.e_rule, raw.e_tx, raw.e_dst, raw.e_src))
    cols = [a[order] for a in (raw.e_src, raw.e_dst, raw.e_tx, raw.e_rule)]
    new = np.ones(len(order), bool)
    new[1:] = np.any([c[1:] != c[:-1] for c in cols], axis=0)
    starts = np.nonzero(new)[0]
    amt = np.add.reduceat(raw.e_amt[order], starts)
    hop = np.minimum.reduceat(raw.e_hop[order], starts)
    weight = np.maximum.reduceat(raw.e_weight[order], starts)
    return (*(c[starts] for c in cols), amt, hop, weight)


def _rule_name(code: int, policy: str) -> str:
    return policy if code == k.R_POLICY else RULES[code]


def assemble(
    g: ChainGraph,
    raw: RawTrace,
    services: Sequence[Service],
    meta: dict[str, Any],
    *,
    tags: dict[str, list[dict[str, Any]]] | None = None,
    detail: bool = True,
) -> TraceResult:
    """The result of ``raw`` with names; ``meta`` gives source, policy, hops, direction,
    to_tags, dust_sat and the like (copied into the result). ``detail=False`` leaves out
    the graph (``untraced_outputs``, ``mixer_hops``, ``nodes``, ``edges``; ``tags`` is not
    read) and says so with ``"detail": false``: the figures alone, the same as in the
    whole result, for callers that make many traces and read only those."""
    policy = str(meta["policy"])
    total = raw.total
    share = (lambda a: a / total) if total > 0 else (lambda a: 0.0)

    def node_time(nodes: Any) -> Any:
        return g.tx_time[g.out_tx[nodes]]

    reached: list[dict[str, Any]] = []
    hit = raw.t_kind == k.T_REACHED
    for idx in np.unique(raw.t_service[hit]).tolist():
        sel = hit & (raw.t_service == idx)
        nodes, amts, hops = raw.t_node[sel], raw.t_amt[sel], raw.t_hop[sel]
        order = np.argsort(node_time(nodes), kind="stable")
        nodes, amts, hops = nodes[order], amts[order], hops[order]
        names = g.names(nodes)
        svc = services[idx]
        amount = float(amts.sum())
        shown = nodes[:ARRIVALS]
        reached.append(
            {
                "label": svc.label,
                "category": svc.category,
                "confidence": svc.confidence,
                "amount_sat": round(amount),
                "share": share(amount),
                "first_time": iso(node_time(nodes[0])),
                "last_time": iso(node_time(nodes[-1])),
                "outputs": len(nodes),
                "addresses": sorted(set(names))[:20],
                "arrivals": [
                    {
                        "address": name,
                        "output": output,
                        "txid": txid,
                        "amount_sat": round(float(a)),
                        "time": when,
                        "hop": int(h),
                    }
                    for name, output, txid, a, when, h in zip(
                        names[:ARRIVALS],
                        outpoints_of(g, shown),
                        txids_of(g, g.out_tx[shown]),
                        amts[:ARRIVALS].tolist(),
                        iso_many(node_time(shown)),
                        hops[:ARRIVALS].tolist(),
                        strict=True,
                    )
                ],
            }
        )
    reached.sort(key=lambda r: (-r["amount_sat"], r["label"]))

    untraced: dict[str, dict[str, Any]] = {}
    for code in np.unique(raw.t_kind[~hit]).tolist():
        sel = raw.t_kind == code
        amount = float(raw.t_amt[sel].sum())
        untraced[KINDS[code]] = {
            "amount_sat": round(amount),
            "share": share(amount),
            "outputs": len(np.unique(raw.t_node[sel])),
        }
    data = dict(meta)
    if not detail:
        data.update(
            {
                "total_sat": round(total),
                "traced_share": sum(r["share"] for r in reached),
                "reached": reached,
                "untraced": untraced,
                "seeds": len(raw.seed_node),
                "steps": raw.steps,
                "detail": False,
            }
        )
        return TraceResult(data)
    rest = np.nonzero(~hit)[0]
    rest = rest[np.argsort(-raw.t_amt[rest], kind="stable")][:UNTRACED_LISTED]
    untraced_outputs = [
        {
            "output": g.outpoint(n),
            "address": g.address(n),
            "kind": KINDS[kind],
            "amount_sat": round(a),
            "hop": h,
        }
        for n, kind, a, h in zip(
            raw.t_node[rest].tolist(),
            raw.t_kind[rest].tolist(),
            raw.t_amt[rest].tolist(),
            raw.t_hop[rest].tolist(),
            strict=True,
        )
    ]

    src, dst, tx, rule, amt, hop, weight = _group_edges(raw)
    every = np.unique(np.concatenate([src, dst, raw.t_node, raw.seed_node]))
    name_of = dict(zip(every.tolist(), g.names(every), strict=True))
    edges: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    for s, d, t, txid, when, r, a, h, w in zip(
        src.tolist(),
        dst.tolist(),
        tx.tolist(),
        txids_of(g, tx),
        iso_many(g.tx_time[tx]),
        rule.tolist(),
        amt.tolist(),
        hop.tolist(),
        weight.tolist(),
        strict=True,
    ):
        key = (name_of[s], name_of[d], t, r)
        edge = edges.get(key)
        if edge is None:
            edges[key] = {
                "from": key[0],
                "to": key[1],
                "txid": txid,
                "amount_sat": a,
                "time": when,
                "rule": _rule_name(r, policy),
                "hop": h,
                "weight": w,
            }
        else:
            edge["amount_sat"] += a
            edge["hop"] = min(edge["hop"], h)
            edge["weight"] = max(edge["weight"], w)
    edge_list = sorted(edges.values(), key=lambda e: (e["time"], e["txid"], e["from"], e["to"]))
    for e in edge_list:
        e["amount_sat"] = round(e["amount_sat"])

    nodes = _nodes(g, raw, services, name_of, edge_list, tags or {})
    data.update(
        {
            "total_sat": round(total),
            "traced_share": sum(r["share"] for r in reached),
            "reached": reached,
            "untraced": untraced,
            "untraced_outputs": untraced_outputs,
            "seeds": len(raw.seed_node),
            "steps": raw.steps,
            "mixer_hops": _mixer_hops(g, raw),
            "nodes": nodes,
            "edges": edge_list,
        }
    )
    return TraceResult(data)


def _nodes(
    g: ChainGraph,
    raw: RawTrace,
    services: Sequence[Service],
    name_of: dict[int, str],
    edges: list[dict[str, Any]],
    tags: dict[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    info: dict[str, dict[str, Any]] = {}
    every = np.fromiter(name_of, np.int64, len(name_of))
    addr = g.out_addr[every]
    cluster: list[int | None] = [None] * len(every)
    if g.addr_cluster is not None:
        ids = np.where(addr >= 0, g.addr_cluster[np.where(addr >= 0, addr, 0)], -1)
        cluster = [c if c >= 0 else None for c in ids.tolist()]
    for name, a, c in zip(name_of.values(), addr.tolist(), cluster, strict=True):
        if name not in info:
            info[name] = {
                "id": name,
                "type": "address" if a >= 0 and name else "output",
                "cluster_id": c,
                "roles": [],
                "tags": tags.get(name, []),
                "amount_in_sat": 0,
            }
    for name in g.names(raw.seed_node):
        if "source" not in info[name]["roles"]:
            info[name]["roles"].append("source")
    for n, kind, svc in zip(
        raw.t_node.tolist(), raw.t_kind.tolist(), raw.t_service.tolist(), strict=True
    ):
        if kind == k.T_FEE:
            continue  # paid by the transaction, not a property of the node
        node = info[name_of[n]]
        role = KINDS[kind] if kind != k.T_REACHED else "service"
        if role not in node["roles"]:
            node["roles"].append(role)
        if kind == k.T_REACHED and svc >= 0:
            node["service"] = services[svc].label
            node["category"] = services[svc].category
    for e in edges:
        info[e["to"]]["amount_in_sat"] += e["amount_sat"]
    return sorted(info.values(), key=lambda x: x["id"])


def _mixer_hops(g: ChainGraph, raw: RawTrace) -> list[dict[str, Any]]:
    out = []
    for m in raw.mixer_hops:
        out.append(
            {
                "at": g.node_name(m.node),
                "output": g.outpoint(m.node),
                "amount_sat": round(m.amount),
                "hop": m.hop,
                "time": iso(g.tx_time[g.out_tx[m.node]]),
                "candidates": [
                    {
                        "rank": c.rank,
                        "txid": g.txid(c.tx),
                        "deposit": g.outpoint(c.node) if c.node >= 0 else None,
                        "amount_sat": c.amount,
                        "time": iso(c.time),
                        "delay_s": c.delay,
                        "score": round(c.score, 6),
                        "weight": round(c.weight, 6),
                    }
                    for c in m.candidates
                ],
            }
        )
    return out
