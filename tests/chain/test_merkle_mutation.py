"""CVE-2012-2459 at every level of the merkle tree, after Core's ``ComputeMerkleRoot``.

Bitcoin's merkle tree pairs the last hash of an odd level with itself, so a block whose
transaction list repeats a trailing subtree has the same merkle root (and the same block
hash) as the block without the repeat. Core refuses such a block by setting ``mutated``
whenever, at ANY level, the hashes at positions (2i, 2i+1) are equal. These blocks carry
a merkle root that matches their transactions, so only that rule can refuse them; each
case also asserts that no level below the duplicated one pairs two equal hashes, so a
check at the leaves alone (or at any lower level) lets it through.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.chain.parser_helpers import (
    In,
    Tx,
    coinbase,
    make_block,
    merkle_mutated,
    merkle_root,
    sha256d,
)

from spector.chain import parse_block
from spector.errors import ParseError


def _tx(i: int) -> Tx:
    """A distinct transaction per ``i`` (its own prevout and output value)."""
    return Tx([In(i.to_bytes(4, "little") * 8, i % 7)], [(1_000 + i, b"\x51")], version=1)


CB = coinbase(700_000, [(50_0000_0000, b"\x51")])
POOL = [CB] + [_tx(i) for i in range(1, 64)]


def _levels(hashes: list[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, before any self-pairing."""
    out = [list(hashes)]
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, level[-1]]
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        out.append(level)
    return out


def _equal_pair_levels(txs: list[Tx]) -> list[int]:
    """The levels at which some pair (2i, 2i+1) holds two equal hashes."""
    return [
        d
        for d, level in enumerate(_levels([t.txid() for t in txs]))
        if any(level[i] == level[i + 1] for i in range(0, len(level) - 1, 2))
    ]


def _refused(data: bytes) -> ParseError:
    with pytest.raises(ParseError, match="CVE-2012-2459") as caught:
        parse_block(data, file="dup.blk", offset=8)
    return caught.value


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_duplicated_trailing_subtree_is_refused(level: int) -> None:
    """3·2^L transactions leave an odd level L whose last node covers 2^L full leaves;
    repeating those leaves gives the same root, and the equal pair appears at level L."""
    width = 2**level
    good_txs = POOL[: 3 * width]
    bad_txs = good_txs + good_txs[-width:]
    good = make_block(good_txs)
    bad = make_block(bad_txs, merkle=good[36:68])
    # the mutation keeps the root: the header (and so the block hash) is the same
    assert merkle_root([t.txid() for t in bad_txs]) == good[36:68]
    assert bad[:80] == good[:80]
    assert _equal_pair_levels(bad_txs) == [level]
    assert _equal_pair_levels(good_txs) == []

    block = parse_block(good)
    assert block.tx_count == 3 * width
    err = _refused(bad)
    assert err.offset == 8 + 80  # the transaction count, where the list starts
    assert err.file == "dup.blk"
    assert err.expected == "distinct hashes in every pair"


@pytest.mark.parametrize("level", [1, 2, 3])
def test_duplicated_subtree_inside_the_tree_is_refused(level: int) -> None:
    """Core's rule is not only about the tail: an equal pair at positions (2i, 2i+1) of
    any level, anywhere in it, marks the tree as mutated (here level L holds
    A, B, X, X, C with the merkle root recomputed over the whole list)."""
    width = 2**level
    a, b, x, c = (POOL[k * width : (k + 1) * width] for k in range(4))
    txs = a + b + x + x + c
    assert _equal_pair_levels(txs) == [level]
    assert merkle_mutated([t.txid() for t in txs])
    _refused(make_block(txs))


def test_leaf_pair_is_refused() -> None:
    """Level 0: two equal txids at (2i, 2i+1), not at the end of the list."""
    txs = [CB, POOL[1], POOL[2], POOL[2], POOL[3]]
    assert _equal_pair_levels(txs) == [0]
    _refused(make_block(txs))


def test_wrong_root_is_reported_before_the_mutation() -> None:
    """Core checks the root first (bad-txnmrklroot), then the mutation (bad-txns-duplicate)."""
    txs = POOL[:6] + POOL[4:6]
    bad = make_block(txs, merkle=b"\x00" * 32)
    with pytest.raises(ParseError, match="merkle root does not match") as caught:
        parse_block(bad)
    assert caught.value.offset == 36


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 9, 11, 12, 13, 23, 24, 25, 37, 63])
def test_odd_levels_are_paired_with_themselves(n: int) -> None:
    """A legitimate block whose levels are odd (the last hash paired with itself by the
    algorithm, not by the transaction list) parses, and its root is the reference's."""
    txs = POOL[:n]
    assert not merkle_mutated([t.txid() for t in txs])
    block = parse_block(make_block(txs))
    assert block.tx_count == n
    assert block.txids == [t.txid()[::-1].hex() for t in txs]
    assert bytes.fromhex(block.merkle_root)[::-1] == merkle_root([t.txid() for t in txs])


def test_repeat_outside_a_pair_is_not_a_mutation() -> None:
    """Exactly Core's rule, no more: a txid repeated at positions that are never paired
    (1 and 3: pairs (0,1), (2,3), then H01, H23 differ) does not set ``mutated``. Core
    refuses such a block later, when the second copy spends spent outputs; a parser that
    checks no spends accepts it, as ``CheckBlock`` does."""
    txs = [CB, POOL[1], POOL[2], POOL[1]]
    assert _equal_pair_levels(txs) == []
    block = parse_block(make_block(txs))
    assert block.txids[1] == block.txids[3]


@st.composite
def _grouped(draw: st.DrawFn) -> list[Tx]:
    """Transaction lists made of 2^L-wide groups drawn from a few distinct ones, so that
    equal subtrees at level L land on pairs often, and sometimes off them (a ragged
    prefix shifts the groups)."""
    level = draw(st.integers(0, 3))
    width = 2**level
    groups = [POOL[1 + k * width : 1 + (k + 1) * width] for k in range(3)]
    prefix = draw(st.integers(0, width))
    txs = [CB, *POOL[40 : 40 + prefix]][: max(prefix, 1)]
    for g in draw(st.lists(st.integers(0, 2), min_size=1, max_size=8)):
        txs += groups[g]
    tail = draw(st.integers(0, width - 1)) if width > 1 else 0
    return txs + POOL[50 : 50 + tail]


@settings(max_examples=300, deadline=None)
@given(txs=_grouped())
def test_mutation_flag_matches_core_reference(txs: list[Tx]) -> None:
    """The parser refuses exactly the lists for which Core's ``mutated`` is set (the
    reference in ``parser_helpers.merkle_mutated``), on blocks with a matching root."""
    data = make_block(txs)
    if merkle_mutated([t.txid() for t in txs]):
        _refused(data)
    else:
        assert parse_block(data).tx_count == len(txs)
