"""Compiled (numba) walks over the tracer's graph (arrays as in ``_trace_kernel``):
peel-chain links, found once per graph, and the breadth-first search of
``spector chain path``."""

from __future__ import annotations

import numpy as np
from numba import njit

MIN_PEEL_CHAIN = 3  # transactions in a chain before it counts as a peel chain


@njit(cache=True)
def peel_links(tx_out0, tx_in0, out_value, out_spent, in_tx):  # type: ignore[no-untyped-def]
    """Peel-chain links: ``(link, member)``.

    A link is the larger output ``c`` of a two-output transaction ``T`` spent by a
    transaction ``U`` with one input and at most two outputs (the change carried on down
    the chain). Transactions joined by links form chains; those of at least
    ``MIN_PEEL_CHAIN`` transactions are peel chains: ``member[t]`` marks their
    transactions and ``link[c]`` their links (the steps a trace follows without
    spending a hop).
    """
    n_tx = len(tx_out0) - 1
    n_out = len(out_value)
    cand = np.zeros(n_out, np.bool_)
    nxt = np.full(n_tx, -1, np.int64)
    prv = np.full(n_tx, -1, np.int64)
    for t in range(n_tx):
        o0 = tx_out0[t]
        if tx_out0[t + 1] - o0 != 2:
            continue
        a, b = out_value[o0], out_value[o0 + 1]
        if a == b:
            continue
        c = o0 if a > b else o0 + 1
        i = out_spent[c]
        if i < 0:
            continue
        u = in_tx[i]
        if tx_in0[u + 1] - tx_in0[u] != 1 or tx_out0[u + 1] - tx_out0[u] > 2:
            continue
        cand[c] = True
        nxt[t] = u
        prv[u] = t
    fwd = np.ones(n_tx, np.int64)
    for t in range(n_tx - 1, -1, -1):
        if nxt[t] >= 0:
            fwd[t] = 1 + fwd[nxt[t]]
    bwd = np.ones(n_tx, np.int64)
    for t in range(n_tx):
        if prv[t] >= 0:
            bwd[t] = 1 + bwd[prv[t]]
    member = np.zeros(n_tx, np.bool_)
    for t in range(n_tx):
        if fwd[t] + bwd[t] - 1 >= MIN_PEEL_CHAIN:
            member[t] = True
    link = np.zeros(n_out, np.bool_)
    for t in range(n_tx):
        if member[t] and nxt[t] >= 0:
            o0 = tx_out0[t]
            c = o0 if out_value[o0] > out_value[o0 + 1] else o0 + 1
            link[c] = cand[c]
    return link, member


@njit(cache=True)
def path_bfs(seeds, target, hops, cluster_mode, node_cluster, tx_out0, out_spent, in_tx):  # type: ignore[no-untyped-def]
    """Forward breadth-first search over outputs, from ``seeds`` to nodes marked in
    ``target``, at most ``hops`` transactions. In ``cluster_mode`` a step to an output of
    the same cluster (``node_cluster``, -1: none) costs nothing, so distances count
    cluster changes. Targets are not searched beyond. Returns ``(dist, parent, found)``:
    per node its distance (-1: not reached) and the node it was reached from (-1: a
    seed), and the targets reached, nearest first."""
    n_out = len(out_spent)
    dist = np.full(n_out, -1, np.int64)
    parent = np.full(n_out, -1, np.int64)
    cur = np.empty(len(seeds), np.int64)
    m = 0
    for k in range(len(seeds)):
        s = seeds[k]
        if dist[s] < 0:
            dist[s] = 0
            cur[m] = s
            m += 1
    cur = cur[:m]
    found = []
    level = 0
    while len(cur) > 0:
        stack = [int(x) for x in cur]
        nxt = [int(x) for x in cur[:0]]
        while len(stack) > 0:
            n = stack.pop()
            if dist[n] != level:
                continue
            if target[n] and parent[n] >= 0:
                found.append(n)
                continue
            if level >= hops and not cluster_mode:
                continue
            i = out_spent[n]
            if i < 0:
                continue
            t = in_tx[i]
            for o in range(tx_out0[t], tx_out0[t + 1]):
                same = cluster_mode and node_cluster[o] >= 0 and node_cluster[o] == node_cluster[n]
                step = 0 if same else 1
                if dist[o] < 0 or dist[o] > level + step:
                    dist[o] = level + step
                    parent[o] = n
                    if step == 0:
                        stack.append(o)
                    else:
                        nxt.append(o)
        level += 1
        if level > hops:
            break
        cur = np.array([o for o in nxt if dist[o] == level], np.int64)
    return dist, parent, np.array(found, np.int64)
