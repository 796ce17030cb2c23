"""[G] Taint tracing: a 5-hop haircut trace on a 1 M-transaction chain, against networkx.

The chain is generated here, mainnet-shaped: blocks of 2,500 transactions, each with a
coinbase; payments with 1-3 inputs (60/25/15 %) and mostly two outputs (payment and
change; 20 % one output), 1 % consolidations (10-50 inputs, one output) and 1 % batch
payouts (10-100 outputs); 70 % of spends take one of the 2,000 newest coins (wallets
spend recent change), the rest any unspent coin; 15 % of outputs reuse an earlier
address. No zero-value outputs.

Both sides trace from the same seeds, 5 transactions deep:

- Spector: ``_trace_run.run`` with the haircut policy (no dust threshold, peel chains
  not followed, no services: every tainted output is followed, so what it reaches is
  the 5-step forward closure), timed from the seeds to the edge and terminal arrays,
  per-trace set-up included; the graph is built once beforehand (as ``load_graph``
  does once per run) and its build time is reported apart.
- networkx: ``bfs_layers`` over the same chain as a transaction graph (an edge from a
  transaction to each transaction spending one of its outputs), from the transactions
  that spend the seeds, layers 1-5. Building the DiGraph is not timed.

The two reachable sets of transactions must be equal (checked). Two seed sets: one
address's outputs (a vendor's wallet address) and 10,000 outputs of the first tenth of
the chain (a market's deposits). Goal: the trace in <= 1 s. A third line times the
default trace (peel chains followed, dust 546 sat) and turning the result into names
(``assemble``), for what a user waits for.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

N_TX = 1_000_000
BLOCK_TXS = 2_500
HOPS = 5
SEED = 20_261_201


@njit(cache=True)
def _generate(n_tx, block_txs, seed):  # type: ignore[no-untyped-def]
    np.random.seed(seed)
    cap_out = n_tx * 3 + 10_000
    cap_in = n_tx * 3
    out_value = np.empty(cap_out, np.int64)
    out_addr = np.empty(cap_out, np.int64)
    in_prev = np.empty(cap_in, np.int64)
    tx_out0 = np.zeros(n_tx + 1, np.int64)
    tx_in0 = np.zeros(n_tx + 1, np.int64)
    coinbase = np.zeros(n_tx, np.bool_)
    tx_time = np.empty(n_tx, np.int64)
    pool = np.empty(cap_out, np.int64)
    n_pool = 0
    n_out = 0
    n_in = 0
    n_addr = 0
    for t in range(n_tx):
        block = t // block_txs
        tx_time[t] = 1_600_000_000 + 600 * block
        if t % block_txs == 0:  # a coinbase: the premine first, then 6.25 BTC a block
            coinbase[t] = True
            in_prev[n_in] = -1
            n_in += 1
            outs = 2_000 if t == 0 else 1
            for _ in range(outs):
                out_value[n_out] = 625_000_000 if t else 5_000_000_000
                out_addr[n_out] = n_addr
                n_addr += 1
                pool[n_pool] = n_out
                n_pool += 1
                n_out += 1
            tx_in0[t + 1] = n_in
            tx_out0[t + 1] = n_out
            continue
        r = np.random.random()
        if r < 0.01:
            k_in = np.random.randint(10, 51)
            k_out = 1
        else:
            q = np.random.random()
            k_in = 1 if q < 0.6 else 2 if q < 0.85 else 3
            k_out = (
                np.random.randint(10, 101) if r < 0.02 else (1 if np.random.random() < 0.2 else 2)
            )
        k_in = min(k_in, n_pool - 1)
        total = 0
        first_addr = -1
        for _ in range(k_in):
            if np.random.random() < 0.7:
                j = n_pool - 1 - np.random.randint(0, min(2_000, n_pool))
            else:
                j = np.random.randint(0, n_pool)
            o = pool[j]
            pool[j] = pool[n_pool - 1]
            n_pool -= 1
            in_prev[n_in] = o
            n_in += 1
            total += out_value[o]
            if first_addr < 0:
                first_addr = out_addr[o]
        fee = min(max(1, min(total // 200, 20_000)), total - 1)
        avail = total - fee
        k_out = max(1, min(k_out, avail))
        left = avail
        for j in range(k_out):
            if j == k_out - 1:
                v = left
            elif k_out == 2:
                v = max(1, min(left - 1, int(left * (0.05 + 0.9 * np.random.random()))))
            else:
                v = max(
                    1, min(left - (k_out - 1 - j), int(left / (k_out - j) * 2 * np.random.random()))
                )
            left -= v
            out_value[n_out] = v
            if np.random.random() < 0.15 and n_out > 0:
                out_addr[n_out] = out_addr[np.random.randint(0, n_out)]
            elif j == k_out - 1 and k_out == 2 and np.random.random() < 0.1:
                out_addr[n_out] = first_addr
            else:
                out_addr[n_out] = n_addr
                n_addr += 1
            pool[n_pool] = n_out
            n_pool += 1
            n_out += 1
        tx_in0[t + 1] = n_in
        tx_out0[t + 1] = n_out
    return (
        tx_out0,
        tx_in0,
        out_value[:n_out].copy(),
        in_prev[:n_in].copy(),
        out_addr[:n_out].copy(),
        coinbase,
        tx_time,
    )


def _graph():  # type: ignore[no-untyped-def]
    from spector.chain._trace_graph import ChainGraph

    start = time.perf_counter()
    tx_out0, tx_in0, out_value, in_prev, out_addr, coinbase, tx_time = _generate(
        N_TX, BLOCK_TXS, SEED
    )
    made = time.perf_counter() - start
    start = time.perf_counter()
    g = ChainGraph.from_arrays(
        tx_out0=tx_out0,
        tx_in0=tx_in0,
        out_value=out_value,
        in_prev=in_prev,
        out_addr=out_addr,
        coinbase=coinbase,
        tx_time=tx_time,
    )
    return g, made, time.perf_counter() - start


def _setup(g, seeds, *, peels: bool, dust: float):  # type: ignore[no-untyped-def]
    from spector.chain import _trace_kernel as k
    from spector.chain._trace_run import Setup

    role = np.zeros(g.n_out, np.uint8)
    role[seeds] |= k.ROLE_SOURCE | k.ROLE_SEED
    return Setup(
        policy=k.HAIRCUT,
        forward=True,
        hops=HOPS,
        dust=dust,
        max_free=1000,
        addr_stop=np.full(g.n_addr, -1, np.int32),
        role=role,
    )


def _ours(g, seeds, *, peels: bool = False, dust: float = 0.0):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from spector.chain._trace_run import run

    graph = g if peels else replace(g, out_link=np.zeros_like(g.out_link))
    best, raw = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        raw = run(graph, seeds, _setup(g, seeds, peels=peels, dust=dust))
        best = min(best, time.perf_counter() - start)
    return best, raw


def _peer_graph(g):  # type: ignore[no-untyped-def]
    import networkx as nx

    held = g.in_prev >= 0
    src = g.out_tx[g.in_prev[held]]
    dst = g.in_tx[held]
    graph = nx.DiGraph()
    graph.add_nodes_from(range(g.n_tx))
    graph.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    return graph


def _peer(graph, g, seeds):  # type: ignore[no-untyped-def]
    import networkx as nx

    start = time.perf_counter()
    spent = g.out_spent[seeds]
    first = sorted(set(g.in_tx[spent[spent >= 0]].tolist()))
    reached: set[int] = set()
    for depth, layer in enumerate(nx.bfs_layers(graph, first)):
        if depth >= HOPS:
            break
        reached.update(layer)
    return time.perf_counter() - start, reached


def run() -> list[str]:
    g, made, built = _graph()
    lines = [
        f"chain: {g.n_tx:,} transactions, {len(g.in_prev):,} inputs, {g.n_out:,} outputs, "
        f"{g.n_addr:,} addresses; generated in {made:.1f} s, graph built in {built:.1f} s"
    ]
    _ours(g, np.arange(1, 3))  # compile or load the kernels' cache
    rng = np.random.default_rng(SEED)
    counts = np.bincount(g.out_addr[: g.n_out // 10])
    address = int(np.argmax(counts))
    cases = [
        (f"one address ({int(counts[address])} outputs)", g.outputs_of(np.array([address]))),
        ("10,000 outputs", np.sort(rng.choice(g.n_out // 10, 10_000, replace=False))),
    ]
    start = time.perf_counter()
    graph = _peer_graph(g)
    lines.append(
        f"networkx DiGraph of the transactions built in {time.perf_counter() - start:.1f} s"
        " (not timed below)"
    )
    for name, seeds in cases:
        ours, raw = _ours(g, seeds)
        peer, reached = _peer(graph, g, seeds)
        mine = set(raw.reached_txs().tolist())
        if mine != reached:
            raise AssertionError(f"{name}: reachable sets differ: {len(mine)} vs {len(reached)}")
        total = raw.total
        lines.append(
            f"5-hop haircut trace from {name}: {ours:.3f} s, {len(mine):,} transactions reached, "
            f"{len(raw.e_src):,} edges, taint conserved {total / raw.seed_amount.sum():.9f}; "
            f"networkx bfs_layers {peer:.3f} s, same {len(reached):,} transactions: "
            f"{peer / ours:.1f}x (goal <= 1 s {'ok' if ours <= 1 else 'MISSED'})"
        )
    del graph
    from spector.chain._trace_result import assemble

    seeds = cases[1][1]
    ours, raw = _ours(g, seeds, peels=True, dust=546.0)
    start = time.perf_counter()
    result = assemble(
        g,
        raw,
        [],
        {"policy": "haircut", "hops": HOPS, "direction": "forward", "source": "10,000 outputs"},
    )
    named = time.perf_counter() - start
    lines.append(
        f"default trace (peel chains followed, dust 546 sat) from 10,000 outputs: "
        f"{ours:.3f} s; the result named ({len(result.edges):,} edges, "
        f"{len(result.nodes):,} nodes): {named:.1f} s more"
    )
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
