"""Linked pairs into Actors: agglomeration at a threshold, under the analyst's decisions
and one safety rule.

Every pair scoring at or above the threshold is a link. Groups (at first, one account
each; confirmed pairs joined first, unconditionally: confirm = always together) are
merged by descending *summed* score of the links between them (ties by their smallest
account index, so a run is deterministic): where a merge is refused, the account in
between goes to the side it is linked to most (a forum member linked to a vendor's two
accounts rather than to the one impostor who copied its name). A merge joins two groups
unless:

- either account was **split** off by the analyst (a split actor's accounts join
  nothing automatically; only a confirm puts them with another account);
- a **rejected** pair would end up in one group (reject: never together, also not
  through a chain of other links);
- the merge would make a **conflict** (the impostor rule, ``keys_and_ships``): two
  accounts without a PGP key in common (one of them at least showing one) *and* both
  shipping from a known country, different ones. A vendor may use a new key on a new
  market (the range's vendors do), but ships from where it is; an account with its
  own key shipping from elsewhere is what an impostor copying a popular vendor's
  handle and profile looks like. A market where (nearly) every account ships from one
  country (Hydra: RU by its rules) says nothing about its vendors: ships-from there
  counts as unknown (``informative_ships``). Only a confirm overrides this. Measured
  on the training ranges (seeds 101-103 tiny, 104 small): no pair of one actor breaks
  it; most impostor pairs do.
  ``keys_unlinked`` (the join may not put together two accounts with disjoint keys
  whose own pair scored below the threshold) and ``off`` are there to compare.

The result's ``refused`` says, for each link at or above the threshold that was not
drawn, why (one sentence an analyst can read).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "RULES",
    "ActorDecisions",
    "Clustering",
    "actor_id_for",
    "cluster_actors",
    "conflicts",
    "informative_ships",
]


def actor_id_for(account_ids: Sequence[str]) -> str:
    """The stable id of the actor holding ``account_ids``: "actor-" + 12 hex of the
    SHA-256 of the smallest account id (the same accounts give the same id on every run;
    an actor that gains accounts keeps its id unless a smaller id joins)."""
    if not account_ids:
        raise ValueError("an actor holds at least one account")
    return "actor-" + hashlib.sha256(min(account_ids).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ActorDecisions:
    """The analyst's decisions as account index pairs (i < j): ``confirms`` are always
    together, ``rejects`` never; ``split`` accounts join nothing automatically."""

    confirms: frozenset[tuple[int, int]] = frozenset()
    rejects: frozenset[tuple[int, int]] = frozenset()
    split: frozenset[int] = frozenset()


@dataclass
class Clustering:
    """``labels[i]``: the group of account i (the smallest account index in it);
    ``joined``: pair indices (into the pairs given) whose link was drawn;
    ``refused``: pair index -> why a link at or above the threshold was not drawn."""

    labels: np.ndarray
    joined: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)

    def groups(self) -> dict[int, list[int]]:
        """label -> sorted account indices."""
        out: dict[int, list[int]] = {}
        for i, label in enumerate(self.labels.tolist()):
            out.setdefault(int(label), []).append(i)
        return out


RULES = ("keys_and_ships", "keys_unlinked", "off")
SINGLE_COUNTRY_SHARE = 0.9  # of a market's accounts shipping from one country
SINGLE_COUNTRY_MIN = 3  # accounts with a ships-from, for a market to be judged

Signature = tuple[frozenset[str], str | None]


def informative_ships(
    market_id: Sequence[str | None], ships_from: Sequence[str | None]
) -> list[str | None]:
    """``ships_from`` with the countries of single-country markets (at least
    ``SINGLE_COUNTRY_MIN`` accounts with a ships-from, ``SINGLE_COUNTRY_SHARE`` of them
    from one country) replaced by None: there it is the market's rule, not the vendor's."""
    from collections import Counter

    counts: dict[str | None, Counter[str]] = {}
    for market, ships in zip(market_id, ships_from, strict=True):
        if ships:
            counts.setdefault(market, Counter())[ships] += 1
    single = {
        market
        for market, c in counts.items()
        if sum(c.values()) >= SINGLE_COUNTRY_MIN
        and c.most_common(1)[0][1] >= SINGLE_COUNTRY_SHARE * sum(c.values())
    }
    return [None if m in single else s for m, s in zip(market_id, ships_from, strict=True)]


def conflicts(a: Signature, b: Signature) -> bool:
    """Two accounts that cannot be one actor without a confirm: no key in common (one
    of them at least shows a key), both with a (meaningful) ships-from country,
    different ones."""
    keys_a, ships_a = a
    keys_b, ships_b = b
    return bool(
        (keys_a or keys_b) and not keys_a & keys_b and ships_a and ships_b and ships_a != ships_b
    )


class _Groups:
    """Union-find keeping each group's members and distinct (keys, ships) signatures."""

    def __init__(self, signatures: Sequence[Signature]) -> None:
        n = len(signatures)
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {i: [i] for i in range(n)}
        self.sigs: dict[int, set[Signature]] = {
            i: {signatures[i]} for i in range(n) if signatures[i][1]
        }

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra].extend(self.members.pop(rb))
        moved = self.sigs.pop(rb, None)
        if moved:
            self.sigs.setdefault(ra, set()).update(moved)
        return ra

    def crossing(self, ra: int, rb: int, partners: dict[int, set[int]]) -> tuple[int, int] | None:
        """A pair (x in one group, y in the other) with y in ``partners[x]``, or None."""
        small, other = (ra, rb) if len(self.members[ra]) <= len(self.members[rb]) else (rb, ra)
        for x in self.members[small]:
            for y in partners.get(x, ()):
                if self.find(y) == other:
                    return x, y
        return None

    def clash(self, ra: int, rb: int) -> tuple[Signature, Signature] | None:
        for sa in self.sigs.get(ra, ()):
            for sb in self.sigs.get(rb, ()):
                if conflicts(sa, sb):
                    return sa, sb
        return None


def _unlinked_vetoes(
    pairs: np.ndarray, scores: np.ndarray, threshold: float, keys: Sequence[frozenset[str]]
) -> dict[int, set[int]]:
    """account -> the keyed accounts with other keys whose pair scored below threshold."""
    out: dict[int, set[int]] = {}
    for k, (i, j) in enumerate(pairs.tolist()):
        if scores[k] < threshold and keys[i] and keys[j] and not keys[i] & keys[j]:
            out.setdefault(i, set()).add(j)
            out.setdefault(j, set()).add(i)
    return out


def _key(keys: frozenset[str]) -> str:
    return f"key 0x{min(keys)[-8:]}" if keys else "no key"


def _describe(a: Signature, b: Signature, rule: str) -> str:
    why = (f"shipping from {a[1]} and {b[1]}" if rule == "keys_and_ships"
           else "that the model does not link")  # fmt: skip
    return (
        f"not joined: its actor would hold accounts with {_key(a[0])} and {_key(b[0])} "
        f"{why} (the impostor rule; confirm to override)"
    )


def _agglomerate(
    groups: _Groups,
    between: dict[tuple[int, int], list[int]],
    scores: np.ndarray,
    why_not: Callable[[int, int], str | None],
    out: Clustering,
) -> None:
    """Merge groups by descending summed score of the links between them (ties: by their
    smallest accounts); a merge ``why_not`` refuses marks its links refused for good
    (groups only grow, so what refuses a merge refuses it later too)."""
    affinity = {key: float(sum(scores[k] for k in ks)) for key, ks in between.items()}
    neighbours: dict[int, set[int]] = {}
    for a, b in between:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    low = {r: min(groups.members[r]) for pair in between for r in pair}
    heap = [
        (-aff, min(low[a], low[b]), max(low[a], low[b]), a, b) for (a, b), aff in affinity.items()
    ]
    heapq.heapify(heap)
    while heap:
        neg, _, _, a, b = heapq.heappop(heap)
        key = (a, b)
        if key not in between or affinity[key] != -neg:
            continue  # merged or refused since, or its affinity grew (a fresher entry)
        links = between.pop(key)
        del affinity[key]
        neighbours[a].discard(b)
        neighbours[b].discard(a)
        reason = why_not(a, b)
        if reason is not None:
            for k in links:
                out.refused[k] = reason
            continue
        root = groups.union(a, b)
        gone = b if root == a else a
        out.joined.update(links)
        low[root] = min(low[a], low[b])
        for c in neighbours.pop(gone, set()):
            neighbours[c].discard(gone)
            old = (min(gone, c), max(gone, c))
            new = (min(root, c), max(root, c))
            between.setdefault(new, []).extend(between.pop(old))
            affinity[new] = affinity.get(new, 0.0) + affinity.pop(old)
            neighbours.setdefault(root, set()).add(c)
            neighbours[c].add(root)
            heapq.heappush(heap, (-affinity[new], min(low[root], low[c]),
                                  max(low[root], low[c]), *new))  # fmt: skip


def cluster_actors(
    n: int,
    pairs: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    *,
    pgp: Sequence[Sequence[str]],
    ships_from: Sequence[str | None],
    decisions: ActorDecisions | None = None,
    market_id: Sequence[str | None] | None = None,
    rule: str = "keys_and_ships",
) -> Clustering:
    """Group ``n`` accounts: ``pairs`` (k, 2) int with their ``scores`` (k,), linked at
    ``score >= threshold``; ``pgp[i]`` the keys and ``ships_from[i]`` the country of
    account i, ``market_id[i]`` its market (to tell single-country markets; without it
    every ships-from counts); ``decisions`` and ``rule`` as in the module docstring.
    Deterministic."""
    if rule not in RULES:
        raise ValueError(f"unknown impostor rule {rule!r}; known: {RULES}")
    decided = decisions or ActorDecisions()
    keys = [frozenset(k.upper() for k in pgp[i]) for i in range(n)]
    ships = informative_ships(market_id, ships_from) if market_id is not None else ships_from
    groups = _Groups([(keys[i], ships[i] or None) for i in range(n)] if rule == "keys_and_ships"
                     else [(frozenset(), None)] * n)  # fmt: skip
    rejected: dict[int, set[int]] = {}
    for i, j in decided.rejects:
        rejected.setdefault(i, set()).add(j)
        rejected.setdefault(j, set()).add(i)
    vetoes = _unlinked_vetoes(pairs, scores, threshold, keys) if rule == "keys_unlinked" else {}
    for i, j in decided.confirms:  # a confirmed pair is never a conflict
        vetoes.get(i, set()).discard(j)
        vetoes.get(j, set()).discard(i)
    index = {(int(a), int(b)): k for k, (a, b) in enumerate(pairs.tolist())}
    out = Clustering(labels=np.arange(n, dtype=np.int64))
    for i, j in sorted(decided.confirms):
        groups.union(i, j)
        if (i, j) in index:
            out.joined.add(index[(i, j)])
    between: dict[tuple[int, int], list[int]] = {}  # two groups -> the links between them
    for k in range(len(pairs)):
        if scores[k] < threshold:
            continue
        i, j = int(pairs[k, 0]), int(pairs[k, 1])
        if (i, j) in decided.rejects:
            out.refused[k] = "rejected by the analyst"
            continue
        ri, rj = groups.find(i), groups.find(j)
        if ri == rj:
            out.joined.add(k)
        elif i in decided.split or j in decided.split:
            out.refused[k] = "not joined: the analyst split this account off its actor"
        else:
            between.setdefault((min(ri, rj), max(ri, rj)), []).append(k)

    def why_not(ra: int, rb: int) -> str | None:
        if groups.crossing(ra, rb, rejected) is not None:
            return "not joined: its actor holds an account the analyst rejected"
        veto = groups.crossing(ra, rb, vetoes)
        clash = ((keys[veto[0]], None), (keys[veto[1]], None)) if veto else groups.clash(ra, rb)
        return _describe(*clash, rule) if clash is not None else None

    _agglomerate(groups, between, scores, why_not, out)
    for members in groups.members.values():
        out.labels[members] = min(members)
    return out
