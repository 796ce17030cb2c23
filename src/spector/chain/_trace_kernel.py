"""Compiled (numba) kernels of the tracer: one step of a taint trace (``_trace_walk`` has
the peel-chain links and the path search's breadth-first search).

The graph is flat arrays over *nodes* = outputs, numbered in chain order (height, index
in block, vout): ``tx_out0`` / ``tx_in0`` are CSR offsets of each transaction's outputs
and inputs, ``out_spent`` the input that spends an output (-1: unspent), ``in_prev`` the
output an input spends (-1: coinbase, or an output the store does not hold). ``in_off``
and ``out_off`` place each input and output in its transaction's satoshi line (FIFO:
inputs and outputs laid end to end in order, the fee at the end of the inputs).

A trace *item* is taint on one node: the satoshi interval ``[lo, hi)`` of that output
(FIFO), or an amount ``hi - lo`` with ``lo = 0`` (haircut, poison), the hops used to get
there and flags. ``trace_step`` moves every item one transaction on (forward: into the
transaction that spends it; backward: into the one that made it) and returns the items
of the next step, the edges it followed and the items that stopped (terminals).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# policies
HAIRCUT = 0
FIFO = 1
POISON = 2

# edge rules
R_POLICY = 0
R_PEEL = 1
R_COINJOIN = 2
R_MIXER = 3

# terminal kinds
T_REACHED = 0
T_UNSPENT = 1
T_DUST = 2
T_HOP_LIMIT = 3
T_FEE = 4
T_COINBASE = 5
T_RETURNED = 6
T_MIXER = 7
T_UNRESOLVED = 8

# transaction flags
F_COINBASE = 1
F_PEEL = 2
F_COINJOIN = 4
F_CHIP_SPLIT = 8
F_CHIP_SPEND = 16

# node roles (per trace)
ROLE_SOURCE = 1  # the trace's own money: never a stop; moves into it cost no hop
ROLE_SEED = 2  # where the trace starts
ROLE_MIXER = 4  # a mixer deposit (forward) or a mixer's coin (backward)

# item flags
I_SKIP_ALL = 1  # a seed: not checked for stops
I_SKIP_MIXER = 2  # just came out of a mixer: not sent into it again


@njit(cache=True)
def seed_items(  # type: ignore[no-untyped-def]
    nodes,
    policy,
    fwd,
    out_value,
    out_tx,
    out_off,
    tx_in0,
    in_prev,
    in_value,
    in_off,
    tx_flags,
    role,
):
    """The items a trace starts from: for each seed node, the part of it that came from
    outside the source (inputs of its transaction that are not the source's own; all of
    it for a coinbase output or a lone output source). Poison seeds whole outputs.
    Returns ``(node, lo, hi)``; FIFO may give a node several intervals."""
    cap = 0
    for k in range(len(nodes)):
        t = out_tx[nodes[k]]
        cap += 1 + tx_in0[t + 1] - tx_in0[t]
    r_node = np.empty(cap, np.int64)
    r_lo = np.empty(cap, np.float64)
    r_hi = np.empty(cap, np.float64)
    m = 0
    for k in range(len(nodes)):
        n = nodes[k]
        v = out_value[n]
        t = out_tx[n]
        if policy == POISON or (tx_flags[t] & F_COINBASE):
            r_node[m], r_lo[m], r_hi[m] = n, 0.0, float(v)
            m += 1
            continue
        total = 0
        ext = 0
        for i in range(tx_in0[t], tx_in0[t + 1]):
            total += in_value[i]
            p = in_prev[i]
            if p < 0 or not (role[p] & ROLE_SOURCE):
                ext += in_value[i]
        if total <= 0 or ext == total:
            r_node[m], r_lo[m], r_hi[m] = n, 0.0, float(v)
            m += 1
            continue
        if ext == 0:
            continue
        if policy == HAIRCUT:
            r_node[m], r_lo[m], r_hi[m] = n, 0.0, float(v) * ext / total
            m += 1
            continue
        a, b = out_off[n], out_off[n] + v
        for i in range(tx_in0[t], tx_in0[t + 1]):
            p = in_prev[i]
            if p >= 0 and (role[p] & ROLE_SOURCE):
                continue
            s = max(a, in_off[i])
            e = min(b, in_off[i] + in_value[i])
            if e > s:
                r_node[m], r_lo[m], r_hi[m] = n, float(s - a), float(e - a)
                m += 1
    return r_node[:m], r_lo[:m], r_hi[:m]


@njit(cache=True, inline="always")
def _has_free_exit(fwd, t, r, tx_out0, tx_in0, in_prev, out_link, role):  # type: ignore[no-untyped-def]
    """Whether transaction ``t`` has an exit that costs no hop (a peel-chain link, or a
    move inside the source from the source)."""
    if fwd:
        x0, x1 = tx_out0[t], tx_out0[t + 1]
    else:
        x0, x1 = tx_in0[t], tx_in0[t + 1]
    for x in range(x0, x1):
        target = x if fwd else in_prev[x]
        if target < 0:
            continue
        if out_link[target] or ((role[target] & ROLE_SOURCE) and (r & ROLE_SOURCE)):
            return True
    return False


@njit(cache=True, error_model="numpy")
def trace_step(  # type: ignore[no-untyped-def]
    fwd,
    policy,
    hops,
    dust,
    it_node,
    it_lo,
    it_hi,
    it_hop,
    it_flag,
    tx_out0,
    tx_in0,
    tx_in_total,
    tx_out_total,
    tx_flags,
    out_value,
    out_tx,
    out_spent,
    out_off,
    out_addr,
    out_link,
    in_prev,
    in_value,
    in_off,
    in_tx,
    addr_stop,
    role,
    visited,
):
    """Move every item one transaction on. See the module docstring for the arrays;
    ``addr_stop[a]`` is the service index of address ``a`` (-1: none), ``role`` the
    per-node ``ROLE_*`` bits, ``visited`` the nodes poison has tainted (updated).

    Returns ``(next, edges, terms)``: next items ``(node, lo, hi, hop)``; edges in the
    money's direction ``(src, dst, tx, amount, rule, hop)``; terminals
    ``(node, amount, kind, hop, lo, hi)``.
    """
    n_items = len(it_node)
    cap = 0
    for k in range(n_items):
        n = it_node[k]
        if fwd:
            i = out_spent[n]
            if i >= 0:
                t = in_tx[i]
                cap += tx_out0[t + 1] - tx_out0[t]
        else:
            t = out_tx[n]
            cap += tx_in0[t + 1] - tx_in0[t]
    nx_node = np.empty(cap, np.int64)
    nx_lo = np.empty(cap, np.float64)
    nx_hi = np.empty(cap, np.float64)
    nx_hop = np.empty(cap, np.int64)
    e_src = np.empty(cap, np.int64)
    e_dst = np.empty(cap, np.int64)
    e_tx = np.empty(cap, np.int64)
    e_amt = np.empty(cap, np.float64)
    e_rule = np.empty(cap, np.int8)
    e_hop = np.empty(cap, np.int64)
    tcap = cap + 3 * n_items
    t_node = np.empty(tcap, np.int64)
    t_amt = np.empty(tcap, np.float64)
    t_kind = np.empty(tcap, np.int8)
    t_hop = np.empty(tcap, np.int64)
    t_lo = np.empty(tcap, np.float64)
    t_hi = np.empty(tcap, np.float64)
    nn = 0
    ne = 0
    nt = 0
    for k in range(n_items):
        n = it_node[k]
        lo = it_lo[k]
        hi = it_hi[k]
        h = it_hop[k]
        flag = it_flag[k]
        amt = hi - lo
        r = role[n]
        kind = -1
        if not (flag & I_SKIP_ALL) and not (r & ROLE_SOURCE):
            a = out_addr[n]
            if a >= 0 and addr_stop[a] >= 0:
                kind = T_REACHED
            elif (r & ROLE_MIXER) and not (flag & I_SKIP_MIXER):
                kind = T_MIXER
        t = -1
        entry = 0
        if kind < 0:
            if fwd:
                i = out_spent[n]
                if i < 0:
                    kind = T_UNSPENT
                else:
                    t = in_tx[i]
                    entry = in_off[i]
            else:
                t = out_tx[n]
                entry = out_off[n]
                if tx_flags[t] & F_COINBASE:
                    kind = T_COINBASE
        if kind < 0 and amt < dust:
            kind = T_DUST
        if kind < 0 and tx_in_total[t] <= 0:
            kind = T_UNRESOLVED
        if (
            kind < 0
            and h >= hops
            and not _has_free_exit(fwd, t, r, tx_out0, tx_in0, in_prev, out_link, role)
        ):
            kind = T_HOP_LIMIT  # no hop left and no free step: the taint stays here
        if kind >= 0:
            t_node[nt], t_amt[nt], t_kind[nt], t_hop[nt] = n, amt, kind, h
            t_lo[nt], t_hi[nt] = lo, hi
            nt += 1
            continue
        # inputs whose spent output the store lacks count 0: never divide by less than
        # the outputs, or a partial chain would hand out more taint than came in
        denom = float(max(tx_in_total[t], tx_out_total[t]))
        rule = R_POLICY
        if tx_flags[t] & F_PEEL:
            rule = R_PEEL
        elif tx_flags[t] & F_COINJOIN:
            rule = R_COINJOIN
        if fwd:
            x0, x1 = tx_out0[t], tx_out0[t + 1]
        else:
            x0, x1 = tx_in0[t], tx_in0[t + 1]
        seed_back = (not fwd) and (r & ROLE_SEED) != 0
        if seed_back:  # a seed's own inputs are the source's earlier money: not followed
            ext = 0
            for x in range(x0, x1):
                p = in_prev[x]
                if p < 0 or not (role[p] & ROLE_SOURCE):
                    ext += in_value[x]
            # unheld inputs are outside the source, worth at least what the outputs lack
            denom = float(ext + max(0, tx_out_total[t] - tx_in_total[t]))
        a_pos = entry + lo
        b_pos = entry + hi
        moved = 0.0  # taint accounted for: what does not add up came from unheld outputs
        if fwd and policy != POISON:
            if policy == HAIRCUT:
                fee = amt * (denom - tx_out_total[t]) / denom
            else:
                fee = b_pos - max(a_pos, float(tx_out_total[t]))
            if fee > 0:
                t_node[nt], t_amt[nt], t_kind[nt], t_hop[nt] = n, fee, T_FEE, h
                t_lo[nt], t_hi[nt] = 0.0, fee
                nt += 1
                moved += fee
        stopped = 0.0
        for x in range(x0, x1):
            if fwd:
                target = x
                xv = out_value[x]
                xo = out_off[x]
            else:
                target = in_prev[x]
                xv = in_value[x]
                xo = in_off[x]
            if policy == HAIRCUT:
                if denom <= 0:
                    continue
                nlo = 0.0
                nhi = amt * xv / denom
            elif policy == FIFO:
                s = max(a_pos, float(xo))
                e = min(b_pos, float(xo + xv))
                if e <= s:
                    continue
                nlo = s - xo
                nhi = e - xo
            else:
                nlo = 0.0
                nhi = float(xv)
            if nhi - nlo <= 0:
                continue
            moved += nhi - nlo
            if target < 0:
                t_node[nt], t_amt[nt], t_kind[nt], t_hop[nt] = n, nhi - nlo, T_UNRESOLVED, h
                t_lo[nt], t_hi[nt] = nlo, nhi
                nt += 1
                continue
            tr = role[target]
            if seed_back and (tr & ROLE_SOURCE):
                continue
            inside = (tr & ROLE_SOURCE) != 0
            returned = inside and not (r & ROLE_SOURCE)
            cost = 0 if (out_link[target] or (inside and not returned)) else 1
            if h + cost > hops:
                stopped += nhi - nlo
                continue
            if fwd:
                e_src[ne], e_dst[ne] = n, target
            else:
                e_src[ne], e_dst[ne] = target, n
            e_tx[ne], e_amt[ne], e_rule[ne], e_hop[ne] = t, nhi - nlo, rule, h + cost
            ne += 1
            if returned:
                t_node[nt], t_amt[nt], t_kind[nt], t_hop[nt] = target, nhi - nlo, T_RETURNED, h
                t_lo[nt], t_hi[nt] = nlo, nhi
                nt += 1
                continue
            if policy == POISON:
                if visited[target]:
                    continue
                visited[target] = True
            nx_node[nn], nx_lo[nn], nx_hi[nn], nx_hop[nn] = target, nlo, nhi, h + cost
            nn += 1
        if stopped > 0:
            t_node[nt], t_amt[nt], t_kind[nt], t_hop[nt] = n, stopped, T_HOP_LIMIT, h
            t_lo[nt], t_hi[nt] = 0.0, stopped
            nt += 1
        rest = amt - moved
        if policy != POISON and rest > 1e-6 * max(1.0, amt):
            t_node[nt], t_amt[nt], t_kind[nt], t_hop[nt] = n, rest, T_UNRESOLVED, h
            t_lo[nt], t_hi[nt] = 0.0, rest
            nt += 1
    return (
        (nx_node[:nn], nx_lo[:nn], nx_hi[:nn], nx_hop[:nn]),
        (e_src[:ne], e_dst[:ne], e_tx[:ne], e_amt[:ne], e_rule[:ne], e_hop[:ne]),
        (t_node[:nt], t_amt[:nt], t_kind[:nt], t_hop[:nt], t_lo[:nt], t_hi[:nt]),
    )


@njit(cache=True)
def merge_items(policy, node, lo, hi, hop):  # type: ignore[no-untyped-def]
    """Items on the same node and hop combined: amounts summed (haircut, poison) or
    touching intervals joined (FIFO). Sorted by node, hop, lo."""
    n = len(node)
    if n == 0:
        return node, lo, hi, hop
    order = np.argsort(node * 4096 + hop, kind="mergesort")
    r_node = np.empty(n, np.int64)
    r_lo = np.empty(n, np.float64)
    r_hi = np.empty(n, np.float64)
    r_hop = np.empty(n, np.int64)
    m = 0
    k = 0
    while k < n:
        j = k
        key_n = node[order[k]]
        key_h = hop[order[k]]
        while j < n and node[order[j]] == key_n and hop[order[j]] == key_h:
            j += 1
        if policy != FIFO:
            total = 0.0
            for q in range(k, j):
                total += hi[order[q]] - lo[order[q]]
            r_node[m], r_lo[m], r_hi[m], r_hop[m] = key_n, 0.0, total, key_h
            m += 1
        else:
            g = order[k:j].copy()
            starts = lo[g]
            g = g[np.argsort(starts, kind="mergesort")]
            cur_lo = lo[g[0]]
            cur_hi = hi[g[0]]
            for q in range(1, len(g)):
                if lo[g[q]] <= cur_hi:
                    cur_hi = max(cur_hi, hi[g[q]])
                else:
                    r_node[m], r_lo[m], r_hi[m], r_hop[m] = key_n, cur_lo, cur_hi, key_h
                    m += 1
                    cur_lo = lo[g[q]]
                    cur_hi = hi[g[q]]
            r_node[m], r_lo[m], r_hi[m], r_hop[m] = key_n, cur_lo, cur_hi, key_h
            m += 1
        k = j
    return r_node[:m], r_lo[:m], r_hi[:m], r_hop[:m]
