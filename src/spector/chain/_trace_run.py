"""The trace loop: seeds in, edges and terminals out, all as arrays.

``run`` calls the compiled ``trace_step`` once per transaction step until no taint is
left to move, handling what the kernel hands back as *mixer* terminals in Python: it
stops there (the mixer is a service the trace was asked to reach) or makes the
probabilistic hop of ``_trace_mixer``. Nothing here knows names or the store; the
benchmark calls it on a generated graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spector.chain import _trace_kernel as k
from spector.chain._trace_graph import ChainGraph, Progress
from spector.chain._trace_mixer import MixerCandidate, MixerIndex

__all__ = ["KINDS", "POLICIES", "RULES", "MixerHop", "RawTrace", "Setup", "run"]

POLICIES = {"haircut": k.HAIRCUT, "fifo": k.FIFO, "poison": k.POISON}
RULES = ("policy", "peel", "coinjoin", "mixer")
KINDS = (
    "reached",
    "unspent",
    "dust",
    "hop_limit",
    "fee",
    "coinbase",
    "returned",
    "mixer",
    "unresolved",
)


@dataclass
class Setup:
    """How to trace: policy, direction, limits, and the per-trace arrays."""

    policy: int
    forward: bool
    hops: int
    dust: float
    max_free: int  # transaction steps that cost no hop (peel chains, the source's own moves)
    addr_stop: np.ndarray  # service index per address id, -1: none
    role: np.ndarray  # ROLE_* bits per node
    mixer: MixerIndex | None = None
    stop_at_mixers: bool = True
    mixer_service: int = -1  # the service index of a detected, untagged mixer


@dataclass
class MixerHop:
    """One probabilistic hop: where the taint entered the mixer and where it may be."""

    node: int
    amount: float
    hop: int
    candidates: list[MixerCandidate]


@dataclass
class RawTrace:
    """What a trace found, by node number: edges, terminals and the mixer hops."""

    seed_node: np.ndarray
    seed_amount: np.ndarray
    e_src: np.ndarray
    e_dst: np.ndarray
    e_tx: np.ndarray
    e_amt: np.ndarray
    e_rule: np.ndarray
    e_hop: np.ndarray
    e_weight: np.ndarray
    t_node: np.ndarray
    t_amt: np.ndarray
    t_kind: np.ndarray
    t_hop: np.ndarray
    t_service: np.ndarray
    mixer_hops: list[MixerHop] = field(default_factory=list)
    steps: int = 0

    @property
    def total(self) -> float:
        return float(self.t_amt.sum())

    def reached_txs(self) -> np.ndarray:
        """The transactions the trace went through."""
        return np.unique(self.e_tx)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype)
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(dtype, copy=False)


class _Collector:
    def __init__(self) -> None:
        self.edges: list[list[np.ndarray]] = [[] for _ in range(7)]
        self.terms: list[list[np.ndarray]] = [[] for _ in range(5)]

    def add_edges(self, *columns: object) -> None:
        """src, dst, tx, amount, rule, hop, weight (arrays or lists of one length)."""
        for part, arr in zip(self.edges, columns, strict=True):
            part.append(np.asarray(arr))

    def add_terms(self, *columns: object) -> None:
        """node, amount, kind, hop, service."""
        for part, arr in zip(self.terms, columns, strict=True):
            part.append(np.asarray(arr))


def _mixer_hop(
    g: ChainGraph,
    s: Setup,
    node: int,
    lo: float,
    hi: float,
    hop: int,
    out: _Collector,
) -> tuple[list[tuple[int, float, float, int]], MixerHop | None, float]:
    """Split the taint on mixer node ``node`` over its candidates: new items (node, lo,
    hi, hop), the hop's record, and the taint left over (FIFO fills a candidate's outputs
    no further than their value); no record when there is no candidate."""
    amount = hi - lo
    if s.mixer is None:
        return [], None, amount
    cands = s.mixer.forward(node) if s.forward else s.mixer.backward(node)
    if not cands:
        return [], None, amount
    items: list[tuple[int, float, float, int]] = []
    src, dst, txs, amts = [], [], [], []
    weights = []
    for c in cands:
        part = amount * c.weight
        if s.forward:
            o0, o1 = int(g.tx_out0[c.tx]), int(g.tx_out0[c.tx + 1])
            total = float(g.tx_out_total[c.tx])
            pos = 0.0
            for o in range(o0, o1):
                value = float(g.out_value[o])
                if s.policy == k.POISON:
                    a, b = 0.0, value
                elif s.policy == k.FIFO:
                    a, b = 0.0, min(value, max(part - pos, 0.0))
                    pos += value
                else:
                    a, b = 0.0, part * value / total if total > 0 else 0.0
                if b - a <= 0:
                    continue
                items.append((o, a, b, hop + 1))
                src.append(node)
                dst.append(o)
                txs.append(c.tx)
                amts.append(b - a)
                weights.append(c.weight)
        else:
            value = float(g.out_value[c.node])
            b = value if s.policy == k.POISON else min(part, value) if s.policy == k.FIFO else part
            items.append((c.node, 0.0, b, hop + 1))
            src.append(c.node)
            dst.append(node)
            txs.append(c.tx)
            amts.append(b)
            weights.append(c.weight)
    n = len(src)
    out.add_edges(src, dst, txs, amts, np.full(n, k.R_MIXER, np.int8), np.full(n, hop + 1), weights)
    left = 0.0 if s.policy == k.POISON else max(amount - sum(amts), 0.0)
    return items, MixerHop(node, amount, hop, cands), left


def run(
    g: ChainGraph, seeds: np.ndarray, s: Setup, *, progress: Progress | None = None
) -> RawTrace:
    """Trace from the seed nodes; see the module docstring."""
    s_node, s_lo, s_hi = k.seed_items(
        np.asarray(seeds, np.int64),
        s.policy,
        s.forward,
        g.out_value,
        g.out_tx,
        g.out_off,
        g.tx_in0,
        g.in_prev,
        g.in_value,
        g.in_off,
        g.tx_flags,
        s.role,
    )
    visited = np.zeros(g.n_out if s.policy == k.POISON else 1, bool)
    if s.policy == k.POISON:
        visited[s_node] = True
    node, lo, hi = s_node, s_lo, s_hi
    hop = np.zeros(len(node), np.int64)
    flag = np.full(len(node), k.I_SKIP_ALL, np.uint8)
    out = _Collector()
    hops_done: list[MixerHop] = []
    steps = s.hops + s.max_free
    step = 0
    while len(node) and step < steps:
        step += 1
        nxt, edges, terms = k.trace_step(
            s.forward,
            s.policy,
            s.hops,
            s.dust,
            node,
            lo,
            hi,
            hop,
            flag,
            g.tx_out0,
            g.tx_in0,
            g.tx_in_total,
            g.tx_out_total,
            g.tx_flags,
            g.out_value,
            g.out_tx,
            g.out_spent,
            g.out_off,
            g.out_addr,
            g.out_link,
            g.in_prev,
            g.in_value,
            g.in_off,
            g.in_tx,
            s.addr_stop,
            s.role,
            visited,
        )
        out.add_edges(*edges, np.ones(len(edges[0])))
        t_node, t_amt, t_kind, t_hop, t_lo, t_hi = terms
        service = np.full(len(t_node), -1, np.int64)
        reached = t_kind == k.T_REACHED
        service[reached] = s.addr_stop[g.out_addr[t_node[reached]]]
        extra: list[tuple[int, float, float, int]] = []
        for j in np.nonzero(t_kind == k.T_MIXER)[0].tolist():
            if s.stop_at_mixers:
                t_kind[j] = k.T_REACHED
                service[j] = s.mixer_service
                continue
            if t_hop[j] + 1 > s.hops:
                t_kind[j] = k.T_HOP_LIMIT
                continue
            items, record, left = _mixer_hop(
                g, s, int(t_node[j]), float(t_lo[j]), float(t_hi[j]), int(t_hop[j]), out
            )
            if record is None:
                continue  # stays a "mixer" terminal: entered a mixer, nowhere to follow
            t_amt[j] = left if left > 1e-6 * max(1.0, record.amount) else 0.0
            extra.extend(items)
            hops_done.append(record)
        out.add_terms(t_node, t_amt, t_kind, t_hop, service)
        node, lo, hi, hop = k.merge_items(s.policy, *nxt)
        flag = np.zeros(len(node), np.uint8)
        if extra:
            x = np.array(extra, dtype=np.float64)
            node = np.concatenate([node, x[:, 0].astype(np.int64)])
            lo = np.concatenate([lo, x[:, 1]])
            hi = np.concatenate([hi, x[:, 2]])
            hop = np.concatenate([hop, x[:, 3].astype(np.int64)])
            flag = np.concatenate([flag, np.full(len(extra), k.I_SKIP_MIXER, np.uint8)])
        if progress is not None:
            progress("tracing", step, steps)
    if len(node):  # the step budget ran out with taint still moving
        out.add_terms(
            node, hi - lo, np.full(len(node), k.T_HOP_LIMIT, np.int8), hop, np.full(len(node), -1)
        )
    e = out.edges
    t = out.terms
    keep = _cat(t[1], np.float64) > 0
    return RawTrace(
        seed_node=s_node,
        seed_amount=s_hi - s_lo,
        e_src=_cat(e[0], np.int64),
        e_dst=_cat(e[1], np.int64),
        e_tx=_cat(e[2], np.int64),
        e_amt=_cat(e[3], np.float64),
        e_rule=_cat(e[4], np.int8),
        e_hop=_cat(e[5], np.int64),
        e_weight=_cat(e[6], np.float64),
        t_node=_cat(t[0], np.int64)[keep],
        t_amt=_cat(t[1], np.float64)[keep],
        t_kind=_cat(t[2], np.int8)[keep],
        t_hop=_cat(t[3], np.int64)[keep],
        t_service=_cat(t[4], np.int64)[keep],
        mixer_hops=hops_done,
        steps=step,
    )
