"""The compiled union-find against scipy's connected components (and networkx) on random
graphs; the spanning merges it reports; the super-cluster guard; its array operations."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from spector.chain._uf import (
    UnionFind,
    apply_groups,
    component_labels,
    groups_from_edges,
)


def scipy_labels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """scipy's components, each named by its smallest node."""
    graph = coo_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    smallest = np.full(comp.max() + 1, n, np.int64)
    np.minimum.at(smallest, comp, np.arange(n))
    return smallest[comp]


@pytest.mark.parametrize(
    ("seed", "n", "m"),
    [(1, 10, 5), (2, 1000, 300), (3, 1000, 1500), (4, 20_000, 20_000), (5, 50_000, 120_000)],
)
def test_edges_match_scipy(seed, n, m):
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    want = scipy_labels(n, src, dst)
    uf = UnionFind.empty(n)
    apply_groups(uf, *groups_from_edges(src, dst))
    assert np.array_equal(uf.labels(), want)
    assert np.array_equal(component_labels(n, src, dst), want)
    # each root holds its cluster's size (the guard and union by size read it)
    assert np.array_equal(uf.size[uf.roots()], np.bincount(want, minlength=n)[want])


@pytest.mark.parametrize("seed", range(6))
def test_groups_match_scipy_and_networkx(seed):
    """Groups of 1..40 members (a transaction's inputs) are stars on their first member;
    the merges reported are a spanning forest of the same components."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(50, 3000))
    sizes = rng.integers(1, 41 if seed % 2 else 4, int(rng.integers(10, 400)))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    members = rng.integers(0, n, int(offsets[-1]))
    uf = UnionFind.empty(n)
    result = apply_groups(uf, members, offsets)
    firsts = np.repeat(members[offsets[:-1]], sizes)
    want = scipy_labels(n, firsts, members)
    assert np.array_equal(uf.labels(), want)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(firsts.tolist(), members.tolist(), strict=True))
    assert {frozenset(c) for c in nx.connected_components(graph)} == {
        frozenset(np.flatnonzero(want == label).tolist()) for label in np.unique(want)
    }
    # spanning forest: one merge per component joined, and the merges alone connect them
    g = np.searchsorted(offsets, result.merged, side="right") - 1
    a, b = members[offsets[g]], members[result.merged]
    assert len(result.merged) == n - len(np.unique(want))
    assert np.array_equal(component_labels(n, a, b), want)


def test_empty_and_singleton_groups():
    uf = UnionFind.empty(5)
    result = apply_groups(uf, np.array([3, 4, 4]), np.array([0, 1, 1, 3]))
    assert result.merged.tolist() == []
    assert uf.labels().tolist() == [0, 1, 2, 3, 4]
    result = apply_groups(uf, np.array([], np.int64), np.array([0]))
    assert result.merged.tolist() == []
    assert result.held.tolist() == []


def test_labels_are_the_smallest_id():
    uf = UnionFind.empty(8)
    apply_groups(uf, *groups_from_edges(np.array([7, 6, 5, 2]), np.array([6, 5, 3, 7])))
    assert uf.labels().tolist() == [0, 1, 2, 2, 4, 2, 2, 2]


def test_guard_holds_back_the_whole_transaction():
    uf = UnionFind.empty(12)
    # two clusters of 3 (ids 0-2, 3-5), then one tx joining them with six singletons
    apply_groups(uf, np.array([0, 1, 2, 3, 4, 5]), np.array([0, 3, 6]))
    members = np.array([0, 3, 6, 7, 8, 9, 10, 11])
    before = uf.labels().copy()
    result = apply_groups(uf, members, np.array([0, 8]), guard_factor=2.0, guard_min=5)
    assert result.held.tolist() == [0]
    assert result.held_stats.tolist() == [[12, 3, 8]]  # 12 addresses, largest 3, 8 parts
    assert result.merged.tolist() == []
    assert np.array_equal(uf.labels(), before)
    # under the minimum size, or within the factor: merged
    small = UnionFind.empty(12)
    assert len(apply_groups(small, members, np.array([0, 8]), guard_factor=2.0,
                            guard_min=13).merged) == 7  # fmt: skip
    wide = UnionFind.empty(12)
    assert len(apply_groups(wide, members, np.array([0, 8]), guard_factor=8.0,
                            guard_min=5).merged) == 7  # fmt: skip


def test_guard_on_two_member_groups():
    uf = UnionFind.empty(6)
    apply_groups(uf, np.array([0, 1, 2, 3, 4]), np.array([0, 5]))  # a cluster of 5
    result = apply_groups(uf, np.array([5, 0]), np.array([0, 2]), guard_factor=1.1, guard_min=6)
    assert result.held.tolist() == [0]
    assert result.held_stats.tolist() == [[6, 5, 2]]
    result = apply_groups(uf, np.array([5, 0]), np.array([0, 2]), guard_factor=1.5, guard_min=6)
    assert result.held.tolist() == []
    assert uf.labels().tolist() == [0] * 6


def test_many_held_groups_resume():
    """More held-back groups than the kernel's first buffer (256): all reported."""
    n = 3000
    members = np.arange(n)
    offsets = np.arange(0, n + 1, 3)  # 1000 groups of three singletons
    uf = UnionFind.empty(n)
    result = apply_groups(uf, members, offsets, guard_factor=2.0, guard_min=3)
    assert result.held.tolist() == list(range(1000))
    assert uf.labels().tolist() == list(range(n))


def test_grow_truncate_reset():
    uf = UnionFind.empty(4)
    assert uf.parent.dtype == np.int32
    assert uf.nbytes == 32
    apply_groups(uf, *groups_from_edges(np.array([0, 2]), np.array([1, 3])))
    uf.grow(6)
    apply_groups(uf, *groups_from_edges(np.array([4]), np.array([1])))
    assert uf.labels().tolist() == [0, 0, 2, 2, 0, 5]
    members = np.flatnonzero(uf.labels() == 0)
    uf.reset(members)
    assert uf.labels().tolist() == [0, 1, 2, 2, 4, 5]
    uf.truncate(3)
    assert len(uf) == 3
    assert uf.labels().tolist() == [0, 1, 2]


def test_bad_input():
    uf = UnionFind.empty(3)
    with pytest.raises(ValueError, match="outside"):
        apply_groups(uf, np.array([0, 3]), np.array([0, 2]))
    with pytest.raises(ValueError, match="offsets"):
        apply_groups(uf, np.array([0, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        UnionFind(np.arange(3), np.ones(2, np.int64))
