"""Blocking: recall of the range's true pairs, never all pairs, common keys skipped."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from spector.resolve import AccountRow, accounts_from_world, build_accounts, candidates
from spector.resolve._blocking import (
    REASON_HANDLE,
    REASON_LSH,
    REASON_PGP,
    REASON_SELECTOR,
    minhash_signatures,
    shingles,
)
from spector.sim._generate import generate


@pytest.fixture(scope="module")
def tiny_accounts(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("range") / "tiny"
    generate(7, "tiny", out, chain=False)
    return accounts_from_world(out)


def _true_pairs(truth: list[str | None]) -> set[tuple[int, int]]:
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, actor in enumerate(truth):
        groups[actor].append(i)
    return {
        (g[x], g[y]) for g in groups.values() for x in range(len(g)) for y in range(x + 1, len(g))
    }


def test_recall_on_the_tiny_range_without_all_pairs(tiny_accounts) -> None:
    acc = tiny_accounts
    cands = candidates(acc)
    true = _true_pairs(acc.truth_actor)
    got = {tuple(p) for p in cands.pairs.tolist()}
    assert len(true) >= 15
    recall = len(true & got) / len(true)
    assert recall >= 0.9, sorted(true - got)
    # every true vendor-vendor pair is found
    vendors = {(i, j) for i, j in true if acc.kind[i] == acc.kind[j] == "vendor"}
    assert vendors <= got
    assert cands.all_pairs == len(acc) * (len(acc) - 1) // 2
    assert len(cands) < cands.all_pairs / 4


def test_pairs_are_unique_ordered_int32(tiny_accounts) -> None:
    cands = candidates(tiny_accounts)
    assert cands.pairs.dtype == np.int32
    assert cands.pairs.shape[1] == 2
    assert cands.reasons.dtype == np.uint8
    assert len(cands.reasons) == len(cands.pairs)
    assert (cands.pairs[:, 0] < cands.pairs[:, 1]).all()
    assert len({tuple(p) for p in cands.pairs.tolist()}) == len(cands.pairs)
    assert (cands.reasons > 0).all()
    assert (cands.reasons < 16).all()


def _row(aid: str, market: str, handle: str, **kw) -> AccountRow:
    return AccountRow(account_id=aid, kind="vendor", market_id=market, handle=handle, **kw)


def test_reasons_of_each_key() -> None:
    text = "Hand rolled goods from the valley, shipped every tuesday with tracking, ask for bulk"
    acc = build_accounts(
        [
            _row("a", "m1", "NorthStar", pgp={"AA" * 20}),
            _row("b", "m2", "quietfox", pgp={"AA" * 20}),
            _row("c", "m2", "N0rthStar_shop"),
            _row("d", "m3", "zebulon", selectors={"telegram:zz_1"}),
            _row("e", "m1", "harpsichord", selectors={"telegram:zz_1"}),
            _row("f", "m1", "velvetmoon", profile_text=text),
            _row("g", "m3", "ironcloud", profile_text=text + "!"),
            _row("h", "m2", "unrelated"),
        ]
    )
    cands = candidates(acc)
    reasons = {
        tuple(acc.account_id[k] for k in p): int(r)
        for p, r in zip(cands.pairs.tolist(), cands.reasons, strict=True)
    }
    assert reasons[("a", "b")] & REASON_PGP
    assert reasons[("a", "c")] & REASON_HANDLE
    assert reasons[("d", "e")] == REASON_SELECTOR
    assert reasons[("f", "g")] == REASON_LSH
    assert not any("h" in pair for pair in reasons)


def test_admin_block_is_skipped_not_expanded() -> None:
    rows = [_row(f"admin-{k}", "m1", "admin") for k in range(1_000)]
    rows += [_row("x", "m2", "NorthStar"), _row("y", "m3", "NorthStar")]
    cands = candidates(build_accounts(rows), max_block=200)
    assert [tuple(p) for p in cands.pairs.tolist()] == [(1000, 1001)]
    skipped = dict(cands.skipped_blocks)
    assert skipped["handle:admin"] == 1_000
    assert skipped["lsh:handle:admin"] == 1_000


def test_minhash_signatures_equal_datasketch() -> None:
    sets = [shingles(t, 3, pad=True) for t in ("northstar", "ab", "", "lydocejo", "ünïcødé")]
    sets.append(shingles("a long profile text with many shingles " * 3, 5))
    signatures = minhash_signatures(sets, num_perm=64, seed=1)
    for items, row in zip(sets, signatures, strict=True):
        reference = MinHash(num_perm=64, seed=1)
        reference.update_batch([s.encode("utf-8") for s in items])
        assert np.array_equal(reference.hashvalues, row)


def test_empty_accounts() -> None:
    cands = candidates(build_accounts([]))
    assert cands.pairs.shape == (0, 2)
    assert cands.all_pairs == 0
    one = candidates(build_accounts([_row("a", "m", "x")]))
    assert len(one) == 0
    assert one.all_pairs == 0


def test_range_accounts_have_the_truth(tiny_accounts: object, tmp_path: Path) -> None:
    acc = tiny_accounts
    assert all(acc.truth_actor)
    members = [i for i, k in enumerate(acc.kind) if k == "member"]
    assert members
    assert all(acc.texts[i] or acc.first_seen[i] for i in members[:3])
    assert any(acc.pgp)
    assert any(acc.selectors)
    assert any(acc.categories)


def test_a_shared_template_text_is_not_text_evidence() -> None:
    template = (
        "Welcome to {}! Quality first. Shipping from NL: tracked shipping. Read the terms "
        "before ordering, no refunds after finalize."
    )
    names = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in ("lor", "mex", "vin", "quash")]
    rows = [
        _row(f"v{k}", f"m{k % 5}", f"shop{k}", profile_text=template.format(n))
        for k, n in enumerate(names)
    ]
    rows.append(_row("twin", "m9", "other", profile_text=template.format(names[0])))
    acc = build_accounts(rows)
    cands = candidates(acc, max_block=50)
    lsh = {
        tuple(acc.account_id[k] for k in p)
        for p, r in zip(cands.pairs.tolist(), cands.reasons, strict=True)
        if r & REASON_LSH
    }
    # the template's shingles are dropped: only the twin (same shop name in its text) pairs
    assert lsh == {("v0", "twin")}
    assert not [key for key, _ in cands.skipped_blocks if key.startswith("lsh:text")]


@pytest.mark.parametrize("extra", ["", "".join(map(chr, range(0x4E00, 0x6200)))])
def test_gram_sets_are_the_shingles(extra: str) -> None:
    """The numpy k-grams of many texts at once are ``shingles`` of each (short texts,
    empty ones, padding; a small alphabet packs windows in an int64, a large one does not
    fit 63 bits and goes through the void view)."""
    import random

    from spector.resolve._blocking import _gram_sets

    rng = random.Random(3)
    texts = [
        "".join(rng.choice("ab c^$ü😀") for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 9, 30])))
        for _ in range(200)
    ] + [extra]
    for k, pad in ((3, True), (5, False)):
        rows, ids, vocab = _gram_sets(texts, k, pad=pad)
        got: list[set[str]] = [set() for _ in texts]
        for r, i in zip(rows.tolist(), ids.tolist(), strict=True):
            got[r].add(vocab[i])
        assert got == [set(shingles(t, k, pad=pad)) for t in texts]
        assert len(set(vocab)) == len(vocab)
