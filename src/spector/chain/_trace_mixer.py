"""Probabilistic hops through a mixer (ChipMixer style).

A mixer pays out from its own pool, so nothing on chain links a deposit to its payout.
What is left is amount and time: ChipMixer users took out about what they put in (chips
of 0.001 x 2^n BTC), soon after. Going forward from a deposit, the candidates are the
mixer's *chip spends* (transactions paying chips out) in the ``window`` after the
deposit; going backward from a chip, the mixer's *deposits* in the window before the
payout that spent it. Each candidate gets a score

    score = (min(a, b) / max(a, b)) ** 2 * exp(-delay / tau)

(``a``, ``b``: the deposit and the payout amounts; ``delay``: seconds between them), the
best ``limit`` are kept, and the taint is split over them in proportion to their score
(their ``weight``). Edges of such a hop carry rule ``mixer`` and the weight: they are a
probability, never a fact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spector.chain import _trace_kernel as k
from spector.chain._trace_graph import CHIP_VALUES, ChainGraph

__all__ = ["DAY", "MixerCandidate", "MixerIndex"]

DAY = 86_400


@dataclass(frozen=True, slots=True)
class MixerCandidate:
    """One candidate of a probabilistic hop: a payout transaction (forward) or a deposit
    output (backward), with its score and share of the taint."""

    rank: int
    tx: int  # the payout (forward) or the split that took the deposit (backward)
    node: int  # backward: the deposit output; forward: -1
    amount: int  # the payout's total (forward) or the deposit's value (backward)
    time: int
    delay: int  # seconds from the deposit to the payout
    score: float
    weight: float


class MixerIndex:
    """Chip spends and deposits of a graph, sorted by time, for one trace.

    ``mixer_addr`` marks the addresses tagged ``mixing_service`` (per address id): their
    chip-valued outputs count as chips and their other outputs as deposits, besides
    what the chip detector found.
    """

    def __init__(
        self,
        graph: ChainGraph,
        mixer_addr: np.ndarray,
        *,
        window: int = 3 * DAY,
        tau: float = DAY,
        limit: int = 5,
    ) -> None:
        self.graph = graph
        self.window = window
        self.tau = tau
        self.limit = limit
        g = graph
        tagged = np.zeros(g.n_out, bool)
        has = g.out_addr >= 0
        if len(mixer_addr):
            tagged[has] = mixer_addr[g.out_addr[has]]
        chip_value = np.isin(g.out_value, CHIP_VALUES)
        chips = g.chip_coins() | (tagged & chip_value)
        held = g.in_prev >= 0
        spends_chip = np.zeros(g.n_in, bool)
        spends_chip[held] = chips[g.in_prev[held]]
        split = (g.tx_flags & k.F_CHIP_SPLIT) != 0
        spend_tx = np.zeros(g.n_tx, bool)
        spend_tx[g.in_tx[spends_chip]] = True
        spend_tx |= (g.tx_flags & k.F_CHIP_SPEND) != 0
        spend_tx &= ~split
        txs = np.nonzero(spend_tx)[0]
        order = np.argsort(g.tx_time[txs], kind="stable")
        self.spend_tx = txs[order]
        self.spend_time = g.tx_time[self.spend_tx]
        deposits = g.mixer_deposits() | (tagged & ~chip_value)
        nodes = np.nonzero(deposits)[0]
        times = g.tx_time[g.out_tx[nodes]]
        order = np.argsort(times, kind="stable")
        self.deposit_node = nodes[order]
        self.deposit_time = times[order]
        self.mixer_node_fwd = deposits
        self.mixer_node_bwd = chips | (tagged & ~chip_value)

    def _rank(self, scores: list[tuple[float, int, int, int, int, int]]) -> list[MixerCandidate]:
        scores = [s for s in scores if s[0] > 0]
        scores.sort(key=lambda s: (-s[0], s[4], s[1]))
        best = scores[: self.limit]
        total = sum(s[0] for s in best)
        return [
            MixerCandidate(rank, tx, node, amount, time, delay, score, score / total)
            for rank, (score, tx, node, amount, time, delay) in enumerate(best, 1)
        ]

    def _score(self, a: int, b: int, delay: int) -> float:
        if a <= 0 or b <= 0:
            return 0.0
        ratio = min(a, b) / max(a, b)
        return ratio * ratio * math.exp(-delay / self.tau)

    def forward(self, node: int) -> list[MixerCandidate]:
        """Payouts that may carry on the money of deposit ``node``."""
        g = self.graph
        value = int(g.out_value[node])
        t0 = int(g.tx_time[g.out_tx[node]])
        lo = int(np.searchsorted(self.spend_time, t0, "left"))
        hi = int(np.searchsorted(self.spend_time, t0 + self.window, "right"))
        own = int(g.in_tx[g.out_spent[node]]) if g.out_spent[node] >= 0 else -1
        scores = []
        for tx in self.spend_tx[lo:hi].tolist():
            if tx == own:
                continue
            amount = int(g.tx_out_total[tx])
            delay = int(g.tx_time[tx]) - t0
            scores.append((self._score(value, amount, delay), tx, -1, amount, t0 + delay, delay))
        return self._rank(scores)

    def backward(self, node: int) -> list[MixerCandidate]:
        """Deposits whose money may have come out as chip ``node``."""
        g = self.graph
        spent = int(g.out_spent[node])
        if spent < 0:
            return []
        payout_tx = int(g.in_tx[spent])
        payout = int(g.tx_out_total[payout_tx])
        t1 = int(g.tx_time[payout_tx])
        lo = int(np.searchsorted(self.deposit_time, t1 - self.window, "left"))
        hi = int(np.searchsorted(self.deposit_time, t1, "right"))
        scores = []
        for dep in self.deposit_node[lo:hi].tolist():
            if dep == node or g.out_spent[dep] < 0:
                continue
            amount = int(g.out_value[dep])
            time = int(g.tx_time[g.out_tx[dep]])
            split_tx = int(g.in_tx[g.out_spent[dep]])
            scores.append(
                (self._score(payout, amount, t1 - time), split_tx, dep, amount, time, t1 - time)
            )
        return self._rank(scores)
