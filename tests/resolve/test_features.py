"""Pair features and evidence on hand-made accounts."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from spector.resolve import FEATURES, AccountRow, build_accounts, evidence, pair_features

KEY_A, KEY_B = "1A2B" + "0" * 32 + "9F3E", "C0DE" + "1" * 32 + "BEEF"
TEXT = "Welcome to NorthStar!! Top quality, fast and discreet!! Shipping from NL: tracked 🔥"


def _accounts():
    rows = [
        AccountRow(
            account_id="a",
            kind="vendor",
            market_id="m1",
            market="Alpha",
            handle="NorthStar",
            profile_text=TEXT,
            titles=["Herbal product 3.5g, premium", "Herbal product 7g"],
            pgp={KEY_A},
            selectors={"telegram:ns_1", "btc_address:bc1qaaa"},
            categories={"drugs.cannabis": 2},
            ships_from="NL",
            price_lists={"drugs.cannabis": [30.0, 50.0]},
            times=[datetime(2023, 1, 1), datetime(2023, 3, 1)],
        ),
        AccountRow(
            account_id="b",
            kind="vendor",
            market_id="m2",
            market="Beta",
            handle="N0rthStar_",
            profile_text=TEXT.replace("NL: tracked", "NL: tracked!"),
            titles=["Herbal product 3.5g premium"],
            pgp={KEY_A},
            selectors={"telegram:ns_1"},
            categories={"drugs.cannabis": 1},
            ships_from="NL",
            price_lists={"drugs.cannabis": [44.0]},
            times=[datetime(2023, 3, 4), datetime(2023, 5, 1)],
        ),
        AccountRow(
            account_id="c",
            kind="vendor",
            market_id="m2",
            market="Beta",
            handle="NorthStar",
            profile_text=TEXT,
            pgp={KEY_B},
            categories={"services": 3},
            ships_from="DE",
            price_lists={"services": [100.0]},
            times=[datetime(2023, 1, 10), datetime(2023, 4, 1)],
        ),
        AccountRow(account_id="d", kind="member", market_id="f", market="Forum", handle="x"),
    ]
    return build_accounts(rows)


def _row(features: dict[str, np.ndarray], k: int) -> dict[str, float]:
    return {name: float(features[name][k]) for name in FEATURES}


def test_names_and_order() -> None:
    acc = _accounts()
    features = pair_features(acc, np.array([[0, 1], [0, 2]]))
    assert tuple(features) == FEATURES
    assert len(set(FEATURES)) == len(FEATURES)
    for values in features.values():
        assert values.dtype == np.float64
        assert values.shape == (2,)


def test_same_actor_across_a_takedown() -> None:
    acc = _accounts()
    row = _row(pair_features(acc, np.array([[0, 1]])), 0)
    assert row["pgp_same"] == 1
    assert row["pgp_conflict"] == 0
    assert row["selectors_shared"] == 1  # telegram:ns_1; the address is only a's
    assert row["handle_exact_norm"] == 1
    assert row["handle_jw"] == pytest.approx(1.0)
    assert row["handle_short"] == 0
    assert row["handle_common"] == 0
    assert row["handle_in_text"] == 1  # "Welcome to NorthStar"
    assert row["text_char"] > 0.9
    assert row["text_known"] == 1
    assert row["text_listing"] > 0.5
    assert row["category_cos"] == pytest.approx(1.0)
    assert row["ships_same"] == 1
    assert row["price_ratio"] == pytest.approx(40 / 44)  # medians 40 and 44
    assert row["activity_overlap"] == 0
    assert row["activity_gap"] == pytest.approx(3 / 33)  # quiet on Mar 1, started Mar 4
    assert row["same_market"] == 0
    assert row["one_member"] == 0
    assert row["both_member"] == 0
    assert row["chain_cluster_shared"] == 0
    said = evidence(acc, 0, 1, row)
    assert said[0] == "same PGP key 0x1A2B…9F3E"
    assert "handles 'NorthStar' and 'N0rthStar_' (the same after normalisation)" in said
    assert "both ship from NL" in said
    assert any(s.startswith("profile texts 0.9") for s in said)
    assert (
        "went quiet on Alpha on 2023-03-01; 'N0rthStar_' started on Beta on 2023-03-04 "
        "(3 days later)" in said
    )


def test_impostor_copies_name_and_text_but_not_the_key() -> None:
    acc = _accounts()
    row = _row(pair_features(acc, np.array([[0, 2]])), 0)
    assert row["pgp_same"] == 0
    assert row["pgp_conflict"] == 1
    assert row["handle_exact_norm"] == 1
    assert row["text_char"] == pytest.approx(1.0)
    assert row["ships_same"] == 0
    assert row["category_cos"] == 0
    assert row["price_ratio"] == 0
    assert row["activity_overlap"] > 0
    assert row["activity_gap"] == 0
    said = evidence(acc, 0, 2, row)
    assert "PGP keys differ (0x1A2B…9F3E / 0xC0DE…BEEF)" in said
    assert "ship from NL and DE" in said


def test_member_pair_is_neutral_where_nothing_is_known() -> None:
    acc = _accounts()
    row = _row(pair_features(acc, np.array([[0, 3]])), 0)
    assert row["one_member"] == 1
    assert row["handle_short"] == 1
    assert row["handle_jw"] == row["handle_lev"] == row["handle_exact_norm"] == 0
    assert row["text_known"] == 0
    assert row["text_char"] == 0
    assert row["function_words"] == row["punct_emoji"] == 0.5
    assert row["ships_same"] == 0.5
    assert row["dates_known"] == 0
    assert row["activity_gap"] == 0
    assert evidence(acc, 0, 3, row) == ["handles 'NorthStar' and 'x' are too short to compare"]


def test_chain_cluster_shared_only_with_clusters() -> None:
    rows = [
        AccountRow(
            account_id=a, kind="vendor", market_id=m, handle=h, selectors={f"btc_address:{x}"}
        )
        for a, m, h, x in (("a", "m1", "alpha", "bc1qx"), ("b", "m2", "bravo", "bc1qy"))
    ]
    pairs = np.array([[0, 1]])
    with_g = build_accounts(rows, has_clusters=True, cluster_of={"bc1qx": 7, "bc1qy": 7})
    without = build_accounts(rows, has_clusters=False, cluster_of={"bc1qx": 7, "bc1qy": 7})
    assert pair_features(with_g, pairs)["chain_cluster_shared"][0] == 1
    assert pair_features(without, pairs)["chain_cluster_shared"][0] == 0
    row = _row(pair_features(with_g, pairs), 0)
    assert "a pay-to address of one is in the chain cluster of the other's" in evidence(
        with_g, 0, 1, row
    )


def test_no_pairs() -> None:
    features = pair_features(_accounts(), np.empty((0, 2), np.int32))
    assert all(v.shape == (0,) for v in features.values())


def test_price_ratio_is_the_median_over_shared_categories() -> None:
    """Four shared categories (an even count: the mean of the two middle log ratios), one
    category only one account prices, a non-positive price left out; pairs in both
    orders give the same value."""

    def row(aid: str, prices: dict[str, list[float]]) -> AccountRow:
        return AccountRow(
            account_id=aid, kind="vendor", market_id=aid, handle=f"vendor{aid}",
            categories={c: len(v) for c, v in prices.items()}, price_lists=prices,
        )  # fmt: skip

    x = {"a": [10.0], "b": [20.0], "c": [30.0], "d": [40.0], "e": [5.0], "f": [-1.0]}
    y = {"a": [20.0], "b": [20.0], "c": [90.0], "d": [10.0], "f": [3.0]}
    acc = build_accounts([row("x", x), row("y", y), row("z", {"a": [10.0, 30.0]})])
    feats = pair_features(acc, np.array([[0, 1], [1, 0], [0, 2], [1, 2]]))
    logs = sorted([np.log(2.0), 0.0, np.log(3.0), np.log(4.0)])  # a, b, c, d
    expected = np.exp(-(logs[1] + logs[2]) / 2)
    assert feats["price_ratio"][0] == pytest.approx(expected, rel=1e-12)
    assert feats["price_ratio"][1] == feats["price_ratio"][0]
    assert feats["price_ratio"][2] == pytest.approx(10 / 20)  # z's median of 10 and 30: 20
    assert feats["price_ratio"][3] == pytest.approx(20 / 20)
