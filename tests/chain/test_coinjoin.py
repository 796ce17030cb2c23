"""detect_mixing on hand-built transactions: one per rule, one per false-positive trap."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pytest
from tests.chain.heur_chain import BTC, Coin, Sketch, spk, txid_of

from spector.chain._coinjoin import MIXING_KINDS, detect_mixing
from spector.store import Workspace


@dataclass
class Built:
    ws: Workspace
    txids: dict[str, str]
    heights: dict[str, int]

    def kinds(self, **scope: int) -> dict[str, str]:
        table = detect_mixing(self.ws.store.con, **scope)
        return dict(zip(table["txid"].to_pylist(), table["kind"].to_pylist(), strict=True))


def _coins(s: Sketch, owners: list[tuple[str, str, int]]) -> list[Coin]:
    """Coins for (owner, script type, value), paid by a fresh coinbase."""
    return s.fund([(spk(name, kind), value) for name, kind, value in owners])


def _build(s: Sketch) -> tuple[dict[str, str], dict[str, int]]:
    txids: dict[str, str] = {}
    heights: dict[str, int] = {}

    def done(name: str, coins: list[Coin]) -> list[Coin]:
        txids[name] = txid_of(coins)
        heights[name] = s.height  # mined into the next block
        return coins

    # -- coinjoins ------------------------------------------------------------------
    d = 1_000_000  # Whirlpool 0.01 BTC pool: two fresh premix coins and three remixes
    ins = _coins(
        s,
        [("wp-a", "p2wpkh", d + 1_700), ("wp-b", "p2wpkh", d + 2_100)]
        + [(f"wp-r{k}", "p2wpkh", d) for k in range(3)],
    )
    done("whirlpool_5x5", s.pay(ins, [(spk(f"wp-post{k}"), d) for k in range(5)]))
    d = 5_000_000  # a 2023 surge cycle: 8 x 8 in the 0.05 pool
    ins = _coins(s, [(f"surge-{k}", "p2wpkh", d + (900 if k < 2 else 0)) for k in range(8)])
    done("whirlpool_8x8", s.pay(ins, [(spk(f"surge-post{k}"), d) for k in range(8)]))
    # the range's shape: a P2SH vendor with one coin joins four premix coins, takes five
    # equal outputs, and participants and vendor get change back in the mix
    d = 100_000
    ins = _coins(
        s,
        [("vendor", "p2sh", 700_000)]
        + [(f"pre-{k}", "p2wpkh", 150_000 + 4_000 * k) for k in range(4)],
    )
    outs = [(spk(f"vendor-mix{k}", "p2sh"), d) for k in range(5)]
    outs += [(spk(f"pre-post{k}"), d) for k in range(4)]
    outs += [(spk(f"pre-change{k}"), 50_000 + 4_000 * k - 300) for k in range(4)]
    outs += [(spk("vendor-change", "p2sh"), 700_000 - 5 * d - 6_000)]
    done("whirlpool_range", s.pay(ins, outs))

    # Wasabi 1: 12 participants, 10 at the base level (about 0.1 BTC), two at twice it,
    # changes and the coordinator's fee
    base = 9_981_000
    ins = _coins(s, [(f"ww1-{k}", "p2wpkh", 12_000_000 + 3_100_000 * k) for k in range(12)])
    outs = [(spk(f"ww1-mix{k}"), base) for k in range(10)]
    outs += [(spk(f"ww1-mix2-{k}"), 2 * base - 1_000) for k in range(2)]
    outs += [(spk(f"ww1-change{k}"), 200_000 + 3_100_000 * k) for k in range(12)]
    outs += [(spk("ww1-coordinator"), 333_333)]
    done("wasabi1", s.pay(ins, outs))

    # Wasabi 2: 50 inputs and 60 outputs sorted by value, 55 at standard denominations
    standard = [
        4_194_304,
        2_097_152,
        2_000_000,
        1_594_323,
        1_062_882,
        1_048_576,
        531_441,
        524_288,
        500_000,
        354_294,
        262_144,
        200_000,
    ]
    ins = _coins(
        s, [(f"ww2-{k}", "p2wpkh" if k % 3 else "p2tr", 1_700_000 - 10_000 * k) for k in range(50)]
    )
    values = [standard[k % len(standard)] for k in range(55)]
    values += [123_457, 98_765, 87_654, 76_543, 65_432]
    outs = [
        (spk(f"ww2-out{k}", "p2tr" if k % 4 == 0 else "p2wpkh"), v)
        for k, v in enumerate(sorted(values, reverse=True))
    ]
    assert sum(c.value for c in ins) > sum(v for _, v in outs)
    done("wasabi2", s.pay(ins, outs))
    # the same round, outputs not sorted: no coordinator built it
    ins = _coins(
        s, [(f"ww2u-{k}", "p2wpkh" if k % 3 else "p2tr", 1_700_000 - 10_000 * k) for k in range(50)]
    )
    unsorted = [(spk(f"ww2u-out{k}"), v) for k, v in enumerate(values)]
    done("wasabi2_unsorted", s.pay(ins, unsorted))

    # JoinMarket: taker (sweeping, no change) and three makers, one with two inputs
    cj = 5_234_567
    ins = _coins(
        s,
        [
            ("jm-taker", "p2wpkh", cj + 3_000),
            ("jm-m1", "p2wpkh", 9_000_000),
            ("jm-m2a", "p2wpkh", 3_000_000),
            ("jm-m2b", "p2wpkh", 4_000_000),
            ("jm-m3", "p2wpkh", 6_100_000),
        ],
    )
    outs = [(spk(f"jm-cj{k}"), cj) for k in range(4)]
    outs += [
        (spk("jm-c1"), 9_000_000 - cj + 10),
        (spk("jm-c2"), 7_000_000 - cj + 10),
        (spk("jm-c3"), 6_100_000 - cj + 10),
    ]
    done("joinmarket", s.pay(ins, outs))
    # five participants, only two of the makers with change: BlockSci's count misses it
    ins = _coins(s, [(f"jmw-{k}", "p2sh", 2_000_000 + (k > 2) * 500_000) for k in range(5)])
    outs = [(spk(f"jmw-cj{k}", "p2sh"), 1_999_000) for k in range(5)]
    outs += [(spk(f"jmw-c{k}", "p2sh"), 500_500) for k in range(2)]
    done("joinmarket_wide", s.pay(ins, outs))
    # three participants with three kinds of address: BlockSci's rule, no protocol's
    ins = _coins(
        s,
        [("bs-a", "p2pkh", 3_000_000), ("bs-b", "p2sh", 2_500_000), ("bs-c", "p2wpkh", 4_000_000)],
    )
    outs = [
        (spk("bs-a1", "p2pkh"), 2_000_000),
        (spk("bs-b1", "p2sh"), 2_000_000),
        (spk("bs-c1"), 2_000_000),
        (spk("bs-a2", "p2pkh"), 999_000),
        (spk("bs-b2", "p2sh"), 499_000),
        (spk("bs-c2"), 1_999_000),
    ]
    done("blocksci", s.pay(ins, outs))

    # -- traps: not coinjoins -------------------------------------------------------
    ins = _coins(s, [("two-a", "p2wpkh", 6_000_000), ("two-b", "p2wpkh", 7_000_000)])
    done(
        "two_equal",
        s.pay(
            ins,
            [(spk("two-x"), 5_000_000), (spk("two-y"), 5_000_000), (spk("two-change"), 2_990_000)],
        ),
    )
    for dust in (546, 2730):
        ins = _coins(s, [(f"dust{dust}-{k}", "p2wpkh", 50_000) for k in range(3)])
        outs = [(spk(f"dust{dust}-x{k}"), dust) for k in range(3)]
        outs += [(spk(f"dust{dust}-c{k}"), 40_000 + k) for k in range(3)]
        done(f"dust_{dust}", s.pay(ins, outs))
    # an exchange's batch withdrawal: one hot-wallet coin, 30 customers, some of them
    # asking for the same round amounts (four of 0.01 BTC, a Whirlpool pool), and change
    (hot,) = _coins(s, [("exchange-hot", "p2sh", 20 * BTC)])
    outs = [(spk(f"cust-{k}", "p2wpkh"), 1_000_000) for k in range(4)]
    outs += [(spk(f"cust-r{k}", "p2pkh"), 10_000_000) for k in range(3)]
    outs += [(spk(f"cust-o{k}", "p2wpkh"), 1_234_000 + 77_777 * k) for k in range(23)]
    outs += [(spk("exchange-hot-change", "p2sh"), 10 * BTC)]
    done("exchange_batch", s.pay([hot], outs))
    # the same exchange consolidating six hot-wallet coins into a batch that pays five
    # customers exactly 0.01 BTC each
    ins = _coins(s, [(f"exchange-hot{k}", "p2sh", 3 * BTC) for k in range(6)])
    outs = [(spk(f"cust5-{k}"), 1_000_000) for k in range(5)]
    outs += [(spk(f"cust5-o{k}"), 2_345_678 + 1_111 * k) for k in range(10)]
    outs += [(spk("exchange-hot-change2", "p2sh"), 15 * BTC)]
    done("exchange_consolidating", s.pay(ins, outs))
    # ... and paying just those five, with change: only the pool-unit inputs tell
    ins = _coins(s, [(f"exchange-hot-b{k}", "p2sh", 3 * BTC) for k in range(6)])
    outs = [(spk(f"cust5b-{k}"), 1_000_000) for k in range(5)]
    outs += [(spk("exchange-hot-change3", "p2sh"), 17 * BTC)]
    done("exchange_pays_five", s.pay(ins, outs))
    # a market pays 12 vendors from three escrow deposits, and three vendors the same
    # amount from two hot-wallet coins
    ins = _coins(s, [(f"escrow-{k}", "p2wpkh", 2_000_000 + 10_000 * k) for k in range(3)])
    outs = [(spk(f"vendor-pay{k}"), 150_000 + 31_313 * k) for k in range(12)]
    outs += [(spk("market-hot"), 1_000_000)]
    done("payout_batch", s.pay(ins, outs))
    ins = _coins(s, [(f"market-hot-{k}", "p2wpkh", 1_100_000) for k in range(2)])
    outs = [(spk(f"vendor3-pay{k}"), 650_000) for k in range(3)]
    outs += [(spk("market-hot3"), 240_000)]
    done("payout_equal", s.pay(ins, outs))

    # -- chips ----------------------------------------------------------------------
    (deposit,) = _coins(s, [("mixer-deposit", "p2wpkh", 1_345_000)])
    chips = done(
        "chip_split",
        s.pay(
            [deposit],
            [
                (spk("chip-1"), 100_000),
                (spk("chip-4"), 400_000),
                (spk("chip-8"), 800_000),
                (spk("mixer-rest"), 40_000),
            ],
        ),
    )
    s.mine()
    done("chip_spend_one", s.pay([chips[1]], [(spk("exchange-dep1"), 398_000)]))
    seed = _coins(s, [("seed-chip-a", "p2wpkh", 200_000), ("seed-chip-b", "p2wpkh", 1_600_000)])
    done("chip_spend_two", s.pay(seed, [(spk("exchange-dep2"), 1_797_000)]))
    # a single round-valued coin from an ordinary payment, spent alone
    (wallet,) = _coins(s, [("shopper", "p2wpkh", 1_000_000)])
    paid = done(
        "round_payment", s.pay([wallet], [(spk("shop"), 400_000), (spk("shopper-change"), 598_000)])
    )
    s.mine()
    done("round_coin_spent", s.pay([paid[0]], [(spk("shop-supplier"), 398_000)]))
    # a Whirlpool 0.001 BTC mix: its outputs are chip-valued, but they are post-mix coins
    d = 100_000
    ins = _coins(s, [(f"wp1-{k}", "p2wpkh", d + (600 if k < 2 else 0)) for k in range(5)])
    post = done("whirlpool_001", s.pay(ins, [(spk(f"wp1-post{k}"), d) for k in range(5)]))
    s.mine()
    done("postmix_one", s.pay([post[0]], [(spk("wp1-spend"), 98_000)]))
    done("postmix_two", s.pay(post[1:3], [(spk("wp1-spend2"), 197_000)]))
    s.mine()
    return txids, heights


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("coinjoin")
    s = Sketch()
    # a premine whose coinbase pays five equal 0.01 BTC outputs: coinbases are never judged
    s.fund([(spk(f"premine-{k}"), 1_000_000) for k in range(6)])
    txids, heights = _build(s)
    with Workspace.init(root / "ws") as ws:
        s.ingest(ws, root / "blocks")
        yield Built(ws, txids, heights)


EXPECTED = {
    "whirlpool_5x5": "whirlpool",
    "whirlpool_8x8": "whirlpool",
    "whirlpool_range": "whirlpool",
    "whirlpool_001": "whirlpool",
    "wasabi1": "wasabi1",
    "wasabi2": "wasabi2",
    "joinmarket": "joinmarket",
    "joinmarket_wide": "joinmarket",
    "blocksci": "coinjoin",
    "chip_split": "chip",
    "chip_spend_one": "chip",
    "chip_spend_two": "chip",
}
NOT_MIXING = [
    "wasabi2_unsorted",
    "two_equal",
    "dust_546",
    "dust_2730",
    "exchange_batch",
    "exchange_consolidating",
    "exchange_pays_five",
    "payout_batch",
    "payout_equal",
    "round_payment",
    "round_coin_spent",
    "postmix_one",
    "postmix_two",
]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_rule_names_its_kind(built: Built, case: str) -> None:
    assert built.kinds().get(built.txids[case]) == EXPECTED[case]


@pytest.mark.parametrize("case", NOT_MIXING)
def test_false_positive_traps_are_not_mixing(built: Built, case: str) -> None:
    assert built.txids[case] not in built.kinds()


def test_nothing_else_is_detected(built: Built) -> None:
    kinds = built.kinds()
    named = {built.txids[c] for c in EXPECTED}
    assert set(kinds) == named  # no coinbase (the premine pays six equal outputs), no other
    assert set(kinds.values()) <= set(MIXING_KINDS)


def test_blocksci_rule_alone_would_flag_two_equal_payouts(built: Built) -> None:
    """BlockSci's count (p = ceil(outputs / 2) equal outputs, p input owners) matches
    two equal payouts with change; our p >= 3 is what keeps it out."""
    con = built.ws.store.con
    row = con.execute(
        "SELECT (SELECT count(*) FROM outputs WHERE txid = $t) AS n_out, "
        "(SELECT count(DISTINCT address) FROM inputs WHERE txid = $t) AS owners, "
        "(SELECT max(c) FROM (SELECT count(*) AS c FROM outputs WHERE txid = $t "
        "GROUP BY value)) AS n_mode",
        {"t": built.txids["two_equal"]},
    ).fetchall()
    ((n_out, owners, n_mode),) = row
    p = (n_out + 1) // 2
    assert n_mode == p == 2
    assert owners >= p


def test_schema_and_order(built: Built) -> None:
    table = detect_mixing(built.ws.store.con)
    assert table.schema == pa.schema(
        [("txid", pa.string()), ("height", pa.int64()), ("kind", pa.string())]
    )
    rows = list(zip(table["height"].to_pylist(), table["txid"].to_pylist(), strict=True))
    assert rows == sorted(rows)
    assert len(set(table["txid"].to_pylist())) == table.num_rows
    case_of = {txid: case for case, txid in built.txids.items()}
    for height, txid in rows:
        assert height == built.heights[case_of[txid]]


def test_heights_scope_the_judged_transactions(built: Built) -> None:
    h = built.heights["wasabi1"]
    assert built.kinds(min_height=h, max_height=h) == {built.txids["wasabi1"]: "wasabi1"}
    assert built.kinds(min_height=h + 1, max_height=h) == {}
    later = built.kinds(min_height=h + 1)
    assert built.txids["wasabi1"] not in later
    assert built.txids["chip_spend_one"] in later


def test_a_chip_spend_finds_its_split_below_the_scope(built: Built) -> None:
    h = built.heights["chip_spend_one"]
    assert built.heights["chip_split"] < h
    kinds = built.kinds(min_height=h, max_height=h)
    assert kinds[built.txids["chip_spend_one"]] == "chip"
    assert built.txids["chip_split"] not in kinds


def test_empty_store(workspace: Workspace) -> None:
    from spector.chain._store import ChainStore

    ChainStore(workspace).refresh_views()
    table = detect_mixing(workspace.store.con)
    assert table.num_rows == 0
    assert table.column_names == ["txid", "height", "kind"]


def test_real_joinmarket_rounds_in_a_mainnet_block(workspace: Workspace, shared_data) -> None:
    """Block 413,567 (May 2016) alone: its inputs spend outputs the store does not hold,
    yet two rounds of equal outputs with one change each (5 x 0.05232063 BTC, 6 x 0.121
    BTC, every output P2PKH) are JoinMarket's; nothing else in the block is mixing."""
    from spector.chain._ingest import ingest_files

    ingest_files(workspace, [shared_data / "bitcoin" / "block-413567.raw"])
    table = detect_mixing(workspace.store.con)
    assert table.to_pylist() == [
        {
            "txid": "79150a157185d883955fc9489247198a976c665b5a18127b2be64d80ce4b6bef",
            "height": 413567,
            "kind": "joinmarket",
        },
        {
            "txid": "d5e8c0fa8848f8c20ec615a898ebfb150d0b99a5fead01ee01d2a3f0b9bea118",
            "height": 413567,
            "kind": "joinmarket",
        },
    ]


def test_a_half_read_result_on_the_connection_does_not_stop_it(built: Built) -> None:
    con = built.ws.store.con
    con.execute("SELECT txid FROM txs").fetchone()  # someone else's query, not read to its end
    assert built.kinds() == {built.txids[c]: k for c, k in EXPECTED.items()}
