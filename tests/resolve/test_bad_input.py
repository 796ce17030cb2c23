"""Bad input: empty texts, missing keys, one-character handles, confusables, a market with
10,000 accounts named "admin": no crash, no NaN, no candidate or feature saying "same"."""

from __future__ import annotations

import numpy as np

from spector.resolve import (
    FEATURES,
    AccountRow,
    build_accounts,
    candidates,
    evidence,
    pair_features,
)


def _row(aid: str, market: str, handle: str, **kw) -> AccountRow:
    return AccountRow(account_id=aid, kind="vendor", market_id=market, handle=handle, **kw)


def test_ten_thousand_admins_no_pair_no_crash() -> None:
    rows = [_row(f"admin-{k}", "m-admin", "admin", profile_text="") for k in range(10_000)]
    rows += [
        _row("v1", "m1", "NorthStar", pgp={"AB" * 20}),
        _row("v2", "m2", "N0rthStar", pgp={"AB" * 20}),
    ]
    acc = build_accounts(rows)
    cands = candidates(acc)
    ids = {tuple(acc.account_id[k] for k in p) for p in cands.pairs.tolist()}
    assert ids == {("v1", "v2")}
    assert ("handle:admin", 10_000) in cands.skipped_blocks
    # forced to compare two admins anyway, the handle says "common", not "same"
    f = pair_features(acc, np.array([[0, 1], [0, 10_000]]))
    assert f["handle_common"][0] == 1.0
    assert f["pgp_same"][0] == 0
    assert f["selectors_shared"][0] == 0
    assert f["text_known"][0] == 0
    assert f["text_char"][0] == 0
    said = evidence(acc, 0, 1, {n: float(f[n][0]) for n in FEATURES})
    assert any("is common (10000 accounts)" in s for s in said)


def test_market_escrow_address_on_every_page_is_no_link() -> None:
    escrow = "selector:btc_address:bc1qescrow"
    rows = [
        _row(f"v{k}", "m1", f"vendor{k:04d}xyz", selectors={escrow.removeprefix("selector:")})
        for k in range(500)
    ]
    cands = candidates(build_accounts(rows), max_block=200)
    assert (escrow, 500) in cands.skipped_blocks
    assert not (cands.reasons & 4).any()


def test_empty_and_missing_everything() -> None:
    rows = [
        _row("a", "m1", ""),
        _row("b", "m2", "", profile_text="   "),
        _row("c", "m1", "a"),
        _row("d", "m2", "a"),
        _row("e", "m3", "!!!", profile_text="!!!"),
        AccountRow(account_id="f", kind="member", market_id="forum", handle="b", posts=[""]),
    ]
    acc = build_accounts(rows)
    cands = candidates(acc)
    # one-character handles block only on their exact key: "a" and "a", nothing else
    ids = {tuple(acc.account_id[k] for k in p) for p in cands.pairs.tolist()}
    assert ids == {("c", "d")}
    every = np.array([(i, j) for i in range(len(acc)) for j in range(i + 1, len(acc))])
    f = pair_features(acc, every)
    for name in FEATURES:
        assert np.isfinite(f[name]).all(), name
    # nothing says "same person": no key, no selector, no handle evidence, no text
    for name in (
        "pgp_same",
        "pgp_conflict",
        "selectors_shared",
        "handle_jw",
        "handle_lev",
        "handle_exact_norm",
        "handle_in_text",
        "text_char",
        "text_listing",
        "category_cos",
        "price_ratio",
        "chain_cluster_shared",
    ):
        assert (f[name] == 0).all(), name
    assert (f["handle_short"] == 1).all()
    assert (f["ships_same"] == 0.5).all()
    assert (f["function_words"] == 0.5).all()
    for k, (i, j) in enumerate(every.tolist()):
        said = evidence(acc, i, j, {n: float(f[n][k]) for n in FEATURES})
        assert not any(
            s.startswith(("same PGP", "shared selectors", "profile texts")) for s in said
        )


def test_confusable_impostor_is_the_same_name_but_not_the_same_key() -> None:
    rows = [
        _row("real", "m1", "NorthStar", pgp={"AA" * 20}, profile_text="Welcome to NorthStar"),
        _row(
            "fake",
            "m2",
            "N\u043erthSt\u0430r",
            pgp={"BB" * 20},  # Cyrillic о and а
            profile_text="Welcome to N\u043erthSt\u0430r",
        ),
    ]
    acc = build_accounts(rows)
    assert [tuple(p) for p in candidates(acc).pairs.tolist()] == [(0, 1)]
    f = pair_features(acc, np.array([[0, 1]]))
    assert f["handle_exact_norm"][0] == 1
    assert f["text_char"][0] > 0.99
    assert f["pgp_conflict"][0] == 1
    assert f["pgp_same"][0] == 0


def test_bad_numbers_never_reach_a_model() -> None:
    rows = [
        _row("a", "m1", "alpha", categories={"x": 1}, price_lists={"x": [0.0]}),
        _row("b", "m2", "alpha", categories={"x": 1}, price_lists={"x": [float("inf")]}),
    ]
    f = pair_features(build_accounts(rows), np.array([[0, 1]]))
    assert all(np.isfinite(f[n]).all() for n in FEATURES)


def test_load_accounts_attributes_only_what_is_the_accounts(workspace) -> None:
    """A workspace: a member with a vendor's id is that vendor; a page naming one vendor
    gives it the page's selectors, an index page naming two gives nobody anything; an
    address sighted on most vendor pages of a market is the market's; orders add pay-to."""
    from datetime import UTC, datetime

    from spector.model import (
        Listing,
        Market,
        Order,
        Post,
        Selector,
        SelectorSighting,
        VendorAccount,
    )
    from spector.resolve import load_accounts

    market = Market(name="Alpha")
    forum = Market(name="Forum")
    vendors = [
        VendorAccount(market_id=market.id, handle=f"vendor{k}", pgp_fingerprints=())
        for k in range(5)
    ]
    seen = datetime(2023, 2, 1, tzinfo=UTC)
    ws = workspace
    ws.store.upsert([market, forum], source="test", seen_at=seen)
    for k, v in enumerate(vendors):  # each vendor's own page: its records and the escrow
        listing = Listing(
            market_id=market.id,
            listing_ref=f"L{k}",
            vendor_id=v.id,
            title=f"Item {k}",
            category="digital",
        )
        escrow = Selector(kind="btc_address", value="bc1qescrow")
        sightings = [
            SelectorSighting(
                selector_id=escrow.id, kind=escrow.kind, value=escrow.value, capture_id=f"page{k}"
            )
        ]
        if k == 0:
            own = Selector(kind="telegram", value="vendor0_tg")
            sightings.append(
                SelectorSighting(
                    selector_id=own.id, kind=own.kind, value=own.value, capture_id="page0"
                )
            )
        ws.store.upsert([v, listing], source=f"capture:page{k}", seen_at=seen)
        ws.store.upsert(sightings, source="capture:scan", seen_at=seen)
    index = Selector(kind="telegram", value="index_ad")
    ws.store.upsert([vendors[1], vendors[2]], source="capture:index", seen_at=seen)
    ws.store.upsert(
        [
            SelectorSighting(
                selector_id=index.id, kind=index.kind, value=index.value, capture_id="index"
            )
        ],
        source="capture:scan",
        seen_at=seen,
    )
    posts = [
        Post(
            market_id=forum.id,
            thread_ref="t",
            post_ref="1",
            author="NorthStar",
            author_id=VendorAccount(market_id=forum.id, handle="NorthStar").id,
            text="hello all",
        ),
        Post(
            market_id=market.id,
            thread_ref="t",
            post_ref="2",
            author="vendor3",
            author_id=vendors[3].id,
            text="restocked today",
        ),
    ]
    order = Order(
        market_id=market.id, order_ref="o1", vendor_id=vendors[4].id, payto_address="bc1qpayto4"
    )
    ws.store.upsert([*posts, order], source="seized", seen_at=seen)

    acc = load_accounts(ws)
    by_handle = {h: i for i, h in enumerate(acc.handle)}
    assert sorted(acc.kind) == ["member"] + ["vendor"] * 5
    assert acc.kind[by_handle["NorthStar"]] == "member"
    assert acc.texts[by_handle["NorthStar"]] == "hello all"
    assert "restocked today" in acc.texts[by_handle["vendor3"]]  # the member is the vendor
    assert acc.selectors[by_handle["vendor0"]] == ("telegram:vendor0_tg",)
    # the index page names two vendors: its selector is neither's
    assert acc.selectors[by_handle["vendor1"]] == acc.selectors[by_handle["vendor2"]] == ()
    assert acc.payto[by_handle["vendor4"]] == ("bc1qpayto4",)
    assert acc.market_selectors == (("btc_address:bc1qescrow", market.id, 5),)
    assert acc.market[by_handle["vendor0"]] == "Alpha"
    assert acc.categories[by_handle["vendor2"]] == {"digital": 1}
    assert acc.titles[by_handle["vendor2"]] == "Item 2"
    assert acc.first_seen[by_handle["vendor2"]] == datetime(2023, 2, 1)
    assert not acc.has_clusters
