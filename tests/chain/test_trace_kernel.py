"""The compiled trace against a plain-Python reference on random chains (every policy,
both directions, with services to stop at), against networkx's breadth-first search
(same reachable set), and peel-chain detection on a hand-made chain."""

from __future__ import annotations

import random
from collections import defaultdict, deque

import networkx as nx
import numpy as np
import pytest

from spector.chain import _trace_kernel as k
from spector.chain._trace_graph import ChainGraph
from spector.chain._trace_run import Setup, run


def random_chain(seed: int, n_tx: int = 300) -> ChainGraph:
    """A random chain: a coinbase every 25 transactions, 1-3 inputs, 1-3 outputs,
    sometimes a consolidation, fees of about 0.5 %, some address reuse."""
    rng = random.Random(seed)
    tx_out0, tx_in0, out_value, out_addr, in_prev, coinbase = [0], [0], [], [], [], []
    unspent: list[int] = []
    for t in range(n_tx):
        if t % 25 == 0 or len(unspent) < 3:
            coinbase.append(True)
            in_prev.append(-1)
            for _ in range(rng.randint(1, 3)):
                unspent.append(len(out_value))
                out_value.append(rng.randint(10_000, 5_000_000))
                out_addr.append(len(out_value))
        else:
            coinbase.append(False)
            n_in = min(rng.choice((1, 1, 2, 3, 8)), len(unspent))
            total = 0
            for _ in range(n_in):
                o = unspent.pop(rng.randrange(len(unspent)) if rng.random() < 0.5 else -1)
                in_prev.append(o)
                total += out_value[o]
            avail = total - max(1, total // 200)
            n_out = min(rng.choice((1, 2, 2, 2, 3)), avail)
            cuts = sorted(rng.sample(range(1, avail), n_out - 1)) if n_out > 1 else []
            for a, b in zip([0, *cuts], [*cuts, avail], strict=True):
                unspent.append(len(out_value))
                out_value.append(b - a)
                reuse = rng.random() < 0.15 and out_addr
                out_addr.append(rng.choice(out_addr) if reuse else len(out_value) + 10_000)
        tx_in0.append(len(in_prev))
        tx_out0.append(len(out_value))
    _, ids = np.unique(np.array(out_addr), return_inverse=True)
    return ChainGraph.from_arrays(
        tx_out0=np.array(tx_out0),
        tx_in0=np.array(tx_in0),
        out_value=np.array(out_value),
        in_prev=np.array(in_prev),
        out_addr=ids,
        coinbase=np.array(coinbase),
        tx_time=np.arange(n_tx) // 5 * 600,
    )


def _seeds(g: ChainGraph, rng: random.Random, part: range | None = None) -> list[int]:
    """Outputs (of the first third), none downstream of another (so none is upstream)."""
    picked = sorted(rng.sample(part or range(g.n_out // 3), 12))
    keep: list[int] = []
    below: set[int] = set()
    for s in picked:
        if s in below:
            continue
        keep.append(s)
        todo = [s]
        while todo:  # everything downstream of s
            n = todo.pop()
            i = g.out_spent[n]
            if i < 0:
                continue
            t = g.in_tx[i]
            for o in range(g.tx_out0[t], g.tx_out0[t + 1]):
                if o not in below:
                    below.add(int(o))
                    todo.append(int(o))
    return keep


def reference(g: ChainGraph, seeds, policy: str, hops: int, forward: bool, stops: set[int]):
    """Taint per (node, terminal kind), the slow and obvious way."""
    out: dict[tuple[int, str], float] = defaultdict(float)
    items = deque((s, 0.0, float(g.out_value[s]), 0) for s in seeds)
    seen = set(seeds)
    while items:
        n, lo, hi, h = items.popleft()
        amt = hi - lo
        if n not in seeds and int(g.out_addr[n]) in stops:
            out[n, "reached"] += amt
            continue
        if forward:
            i = int(g.out_spent[n])
            if i < 0:
                out[n, "unspent"] += amt
                continue
            t, entry = int(g.in_tx[i]), int(g.in_off[i])
            exits = [
                (o, o, int(g.out_off[o]), int(g.out_value[o]))
                for o in range(g.tx_out0[t], g.tx_out0[t + 1])
            ]
        else:
            t, entry = int(g.out_tx[n]), int(g.out_off[n])
            if g.tx_flags[t] & k.F_COINBASE:
                out[n, "coinbase"] += amt
                continue
            exits = [
                (int(g.in_prev[i]), i, int(g.in_off[i]), int(g.in_value[i]))
                for i in range(g.tx_in0[t], g.tx_in0[t + 1])
            ]
        if h >= hops:
            out[n, "hop_limit"] += amt
            continue
        total_in = float(g.tx_in_total[t])
        if forward and policy == "haircut":
            out[n, "fee"] += amt * (total_in - g.tx_out_total[t]) / total_in
        if forward and policy == "fifo":
            fee = entry + hi - max(entry + lo, float(g.tx_out_total[t]))
            if fee > 0:
                out[n, "fee"] += fee
        for target, _, offset, value in exits:
            if policy == "haircut":
                part = (0.0, amt * value / total_in)
            elif policy == "fifo":
                a, b = max(entry + lo, offset), min(entry + hi, offset + value)
                if b <= a:
                    continue
                part = (a - offset, b - offset)
            else:
                if target in seen:
                    continue
                seen.add(target)
                part = (0.0, float(value))
            items.append((target, *part, h + 1))
    return {key: v for key, v in out.items() if v > 0}


def _ours(g, seeds, policy, hops, forward, stops):
    addr_stop = np.full(g.n_addr, -1, np.int64)
    addr_stop[sorted(stops)] = 0
    role = np.zeros(g.n_out, np.uint8)
    role[seeds] = k.ROLE_SOURCE | k.ROLE_SEED
    setup = Setup(
        policy={"haircut": k.HAIRCUT, "fifo": k.FIFO, "poison": k.POISON}[policy],
        forward=forward,
        hops=hops,
        dust=0.0,
        max_free=100,
        addr_stop=addr_stop,
        role=role,
    )
    raw = run(g, np.array(seeds), setup)
    names = {
        k.T_UNRESOLVED: "unresolved",
        k.T_REACHED: "reached",
        k.T_UNSPENT: "unspent",
        k.T_HOP_LIMIT: "hop_limit",
        k.T_FEE: "fee",
        k.T_COINBASE: "coinbase",
    }
    got: dict[tuple[int, str], float] = defaultdict(float)
    for n, a, kind in zip(
        raw.t_node.tolist(), raw.t_amt.tolist(), raw.t_kind.tolist(), strict=True
    ):
        got[n, names[kind]] += a
    return dict(got), raw


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("policy", ["haircut", "fifo", "poison"])
@pytest.mark.parametrize("forward", [True, False])
def test_kernel_matches_the_reference(seed, policy, forward):
    g = random_chain(seed)
    g.out_link[:] = False  # peel chains are tested on their own below
    rng = random.Random(seed + 100)
    seeds = _seeds(g, rng, None if forward else range(g.n_out // 2, g.n_out))
    stops = set(rng.sample(range(g.n_addr), g.n_addr // 20))
    stops -= {int(g.out_addr[s]) for s in seeds}
    hops = rng.randint(2, 6)
    want = reference(g, seeds, policy, hops, forward, stops)
    got, raw = _ours(g, seeds, policy, hops, forward, stops)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-6), key
    if policy != "poison":  # haircut and FIFO conserve the taint
        assert raw.total == pytest.approx(float(g.out_value[seeds].sum()), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_reachable_set_is_networkx_bfs(seed):
    g = random_chain(seed, n_tx=600)
    g.out_link[:] = False
    seeds = _seeds(g, random.Random(seed))
    _, raw = _ours(g, seeds, "haircut", 5, True, set())
    graph = nx.DiGraph()
    graph.add_nodes_from(range(g.n_tx))
    held = g.in_prev >= 0
    graph.add_edges_from(
        zip(g.out_tx[g.in_prev[held]].tolist(), g.in_tx[held].tolist(), strict=True)
    )
    spent = g.out_spent[seeds]
    first = sorted(set(g.in_tx[spent[spent >= 0]].tolist()))
    layers = list(nx.bfs_layers(graph, first))[:5] if first else []
    assert set(raw.reached_txs().tolist()) == set().union(*map(set, layers))


def test_peel_links():
    # t1 (2 outs) -> t2 (1 in, 2 outs) -> t3 (1 in, 1 out): a chain of three, linked by
    # the larger outputs 2 and 3; t5 -> t6 is a chain of two only: not a peel chain
    g = ChainGraph.from_arrays(
        tx_out0=np.array([0, 1, 3, 5, 6, 7, 9, 10]),
        tx_in0=np.array([0, 1, 2, 3, 4, 5, 6, 7]),
        out_value=np.array([100, 10, 89, 80, 8, 79, 50, 25, 26, 25]),
        in_prev=np.array([-1, 0, 2, 3, -1, 6, 8]),
        out_addr=np.arange(10),
        coinbase=np.array([1, 0, 0, 0, 1, 0, 0], bool),
        tx_time=np.zeros(7),
    )
    assert np.nonzero(g.out_link)[0].tolist() == [2, 3]
    assert np.nonzero(g.tx_flags & k.F_PEEL)[0].tolist() == [1, 2, 3]


def test_partial_chain_never_hands_out_more_than_came_in():
    # t1 spends out 0 (held, 100 sat) and an output the store does not hold; it pays 200
    g = ChainGraph.from_arrays(
        tx_out0=np.array([0, 1, 3]),
        tx_in0=np.array([0, 1, 3]),
        out_value=np.array([100, 150, 50]),
        in_prev=np.array([-1, 0, -1]),
        out_addr=np.arange(3),
        coinbase=np.array([True, False]),
        tx_time=np.zeros(2),
    )
    got, raw = _ours(g, [0], "haircut", 5, True, set())
    assert got == {(1, "unspent"): 75.0, (2, "unspent"): 25.0}
    assert raw.total == 100.0
    # backward, the part of output 1 its unheld input paid is accounted for, not lost
    setup_back, raw = _ours(g, [1], "haircut", 5, False, set())
    assert setup_back == {(0, "coinbase"): 75.0, (1, "unresolved"): 75.0}
