"""change_outputs on hand-built transactions: each heuristic's rule and its traps."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pytest
from tests.chain.heur_chain import Coin, Sketch, spk, txid_of

from spector.chain._change import CHANGE_HEURISTICS, change_outputs
from spector.chain._coinjoin import detect_mixing
from spector.errors import UsageError
from spector.store import Workspace


@dataclass
class Built:
    ws: Workspace
    txids: dict[str, str]
    heights: dict[str, int]

    def named(self, heuristic: str, **kw: object) -> dict[str, int]:
        """txid -> the vout ``heuristic`` names as change."""
        table = change_outputs(self.ws.store.con, heuristic, **kw)  # type: ignore[arg-type]
        return dict(zip(table["txid"].to_pylist(), table["vout"].to_pylist(), strict=True))

    def case(self, name: str) -> str:
        return self.txids[name]


def _coins(s: Sketch, owners: list[tuple[str, str, int]]) -> list[Coin]:
    return s.fund([(spk(name, kind), value) for name, kind, value in owners])


def _build(s: Sketch) -> tuple[dict[str, str], dict[str, int]]:
    txids: dict[str, str] = {}
    heights: dict[str, int] = {}

    def done(name: str, coins: list[Coin]) -> list[Coin]:
        txids[name] = txid_of(coins)
        heights[name] = s.height
        return coins

    # a coinbase of two outputs, one round: coinbases are never judged
    done("coinbase", s.fund([(spk("pool-a"), 5_000_000), (spk("pool-b"), 3_718_221)]))
    # addresses paid once already (so "seen before")
    _coins(s, [("bob", "p2wpkh", 10_000), ("dave", "p2wpkh", 10_000)])

    # -- one-time change --------------------------------------------------------------
    a = _coins(
        s,
        [
            ("alice", "p2wpkh", 9_000_000),
            ("alice2", "p2wpkh", 9_000_000),
            ("alice3", "p2wpkh", 9_000_000),
            ("alice4", "p2wpkh", 9_000_000),
            ("alice5", "p2wpkh", 9_000_000),
            ("alice6", "p2wpkh", 9_000_000),
        ],
    )
    done("otc", s.pay([a[0]], [(spk("bob"), 2_000_000), (spk("alice-c1"), 6_990_000)]))
    done("otc_both_new", s.pay([a[1]], [(spk("carol"), 2_000_000), (spk("alice-c2"), 6_990_000)]))
    done(
        "otc_self",
        s.pay(
            [a[2]],
            [(spk("dave"), 2_000_000), (spk("alice3"), 3_000_000), (spk("alice-c3"), 3_990_000)],
        ),
    )
    # same block: the first pays erin (new there), the second pays erin again (seen)
    done(
        "otc_first_in_block",
        s.pay([a[3]], [(spk("erin"), 1_000_000), (spk("alice-c4"), 7_990_000)]),
    )
    done(
        "otc_second_in_block",
        s.pay([a[4]], [(spk("erin"), 1_000_000), (spk("alice-c5"), 7_990_000)]),
    )
    done(
        "otc_p2pk",
        s.pay(
            [a[5]],
            [
                (spk("bob"), 1_000_000),
                (spk("frank", "p2pk"), 1_000_000),
                (spk("alice-c6"), 6_990_000),
            ],
        ),
    )

    # -- address type -----------------------------------------------------------------
    g = _coins(
        s,
        [
            ("gil-a", "p2pkh", 3_000_000),
            ("gil-b", "p2pkh", 3_000_000),
            ("hal-a", "p2pkh", 3_000_000),
            ("hal-b", "p2wpkh", 3_000_000),
            ("ida", "p2wpkh", 3_000_000),
            ("jon", "p2pk", 3_000_000),
        ],
    )
    done("at", s.pay(g[0:2], [(spk("shop-at"), 4_000_000), (spk("gil-c", "p2pkh"), 1_990_000)]))
    done(
        "at_mixed_inputs",
        s.pay(g[2:4], [(spk("shop-at2"), 4_000_000), (spk("hal-c", "p2pkh"), 1_990_000)]),
    )
    done("at_two_match", s.pay([g[4]], [(spk("shop-at3"), 1_000_000), (spk("ida-c"), 1_990_000)]))
    done(
        "at_only_p2pk",
        s.pay([g[5]], [(spk("jon-c", "p2pk"), 1_000_000), (spk("shop-at4"), 1_990_000)]),
    )

    # -- round value ------------------------------------------------------------------
    r = _coins(s, [(f"ron{k}", "p2wpkh", 9_000_000) for k in range(4)])
    done("rv", s.pay([r[0]], [(spk("rv-shop"), 5_000_000), (spk("ron-c0"), 3_718_221)]))
    done("rv_both_round", s.pay([r[1]], [(spk("rv-a"), 5_000_000), (spk("rv-b"), 3_000_000)]))
    done(
        "rv_three",
        s.pay(
            [r[2]], [(spk("rv-c"), 5_000_000), (spk("rv-d"), 1_234_567), (spk("ron-c2"), 2_718_221)]
        ),
    )
    done("rv_none_round", s.pay([r[3]], [(spk("rv-e"), 5_000_001), (spk("ron-c3"), 3_718_221)]))

    # -- peel chain -------------------------------------------------------------------
    p = _coins(
        s,
        [("peeler", "p2wpkh", 10_000_000), ("peeler2", "p2wpkh", 10_000_000)]
        + [(f"peeler3-{k}", "p2wpkh", 1_000_000) for k in range(3)],
    )
    t1 = done("peel", s.pay([p[0]], [(spk("peel-shop1"), 1_000_000), (spk("keep1"), 8_990_000)]))
    s.mine()
    t2 = done(
        "peel_next", s.pay([t1[1]], [(spk("peel-shop2"), 1_000_000), (spk("keep2"), 7_980_000)])
    )
    s.pay(
        [t1[0]], [(spk("shop1-a"), 300_000), (spk("shop1-b"), 300_000), (spk("shop1-c"), 390_000)]
    )
    s.mine()
    s.pay([t2[1]], [(spk("peel-end"), 7_970_000)])  # the end of the chain: one output
    t3 = done("peel_both", s.pay([p[1]], [(spk("pb-a"), 4_000_000), (spk("pb-b"), 5_990_000)]))
    t4 = done(
        "peel_three_inputs",
        s.pay(p[2:5], [(spk("p3-shop"), 1_000_000), (spk("p3-keep"), 1_990_000)]),
    )
    s.mine()
    s.pay([t3[0]], [(spk("pb-a1"), 1_000_000), (spk("pb-a2"), 2_990_000)])
    s.pay([t3[1]], [(spk("pb-b1"), 1_000_000), (spk("pb-b2"), 4_980_000)])
    s.pay([t4[1]], [(spk("p3-k1"), 1_000_000), (spk("p3-k2"), 980_000)])
    s.mine()

    # -- fingerprint ------------------------------------------------------------------
    f = _coins(s, [(f"fin{k}", "p2pkh", 4_000_000) for k in range(4)])
    s.mine()
    h = s.height
    x = done(
        "fp",
        s.pay(
            [f[0]],
            [(spk("fp-shop", "p2pkh"), 1_000_000), (spk("fin-c0", "p2pkh"), 2_990_000)],
            version=1,
            locktime=h,
        ),
    )
    y = done(
        "fp_time",
        s.pay(
            [f[1]],
            [(spk("fp-shop2", "p2pkh"), 1_000_000), (spk("fin-c1", "p2pkh"), 2_990_000)],
            version=1,
            locktime=h,
        ),
    )
    z = done(
        "fp_two",
        s.pay(
            [f[2]],
            [(spk("fp-shop3", "p2pkh"), 1_000_000), (spk("fin-c2", "p2pkh"), 2_990_000)],
            version=1,
            locktime=h,
        ),
    )
    w = done(
        "fp_type",
        s.pay(
            [f[3]],
            [(spk("fp-shop4", "p2pkh"), 1_000_000), (spk("fin-c3"), 2_990_000)],
            version=1,
            locktime=h,
        ),
    )
    s.mine()
    h = s.height
    s.pay([x[0]], [(spk("fp-s1"), 990_000)], version=2, locktime=0)  # another wallet
    s.pay([x[1]], [(spk("fp-s2", "p2pkh"), 2_980_000)], version=1, locktime=h)  # same wallet
    s.pay([y[0]], [(spk("fp-s3"), 990_000)], version=2, locktime=0)
    s.pay([y[1]], [(spk("fp-s4", "p2pkh"), 2_980_000)], version=1, locktime=1_700_000_000)
    s.pay([z[0]], [(spk("fp-s5"), 990_000)], version=1, locktime=h - 1)
    s.pay([z[1]], [(spk("fp-s6"), 2_980_000)], version=1, locktime=h)
    s.pay([w[0]], [(spk("fp-s7"), 990_000)], version=2, locktime=0)
    s.pay([w[1]], [(spk("fp-s8"), 2_980_000)], version=1, locktime=h)  # spends a P2WPKH
    s.mine()

    # -- never judged: mixing ---------------------------------------------------------
    # a coinjoin (BlockSci's rule) whose inputs are all P2WPKH and one output P2WPKH
    c = _coins(s, [(f"cj{k}", "p2wpkh", 3_000_000) for k in range(3)])
    done(
        "coinjoin",
        s.pay(
            c,
            [
                (spk("cj-a", "p2pkh"), 2_000_000),
                (spk("cj-b", "p2sh"), 2_000_000),
                (spk("cj-c"), 2_000_000),
                (spk("cj-ca", "p2pkh"), 990_000),
                (spk("cj-cb", "p2sh"), 980_000),
                (spk("cj-cc", "p2pkh"), 970_000),
            ],
        ),
    )
    # a chip split into exactly two chips, one of them spent by a one-in, two-out spend
    (dep,) = _coins(s, [("mixer-dep", "p2wpkh", 310_000)])
    chips = done("chip_split", s.pay([dep], [(spk("chip-a"), 100_000), (spk("chip-b"), 200_000)]))
    s.mine()
    s.pay([chips[1]], [(spk("chip-x"), 150_000), (spk("chip-y"), 49_000)])
    s.mine()
    return txids, heights


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("change")
    s = Sketch()
    txids, heights = _build(s)
    with Workspace.init(root / "ws") as ws:
        s.ingest(ws, root / "blocks")
        yield Built(ws, txids, heights)


# case -> (heuristic, the vout it must name or None for nothing)
EXPECTED = {
    "otc": ("one_time_change", 1),
    "otc_both_new": ("one_time_change", None),
    "otc_self": ("one_time_change", None),
    "otc_first_in_block": ("one_time_change", None),
    "otc_second_in_block": ("one_time_change", 1),
    "otc_p2pk": ("one_time_change", None),
    "at": ("address_type", 1),
    "at_mixed_inputs": ("address_type", None),
    "at_two_match": ("address_type", None),
    "at_only_p2pk": ("address_type", None),
    "rv": ("round_value", 1),
    "rv_both_round": ("round_value", None),
    "rv_three": ("round_value", None),
    "rv_none_round": ("round_value", None),
    "peel": ("peel_chain", 1),
    "peel_next": ("peel_chain", None),
    "peel_both": ("peel_chain", None),
    "peel_three_inputs": ("peel_chain", None),
    "fp": ("fingerprint", 1),
    "fp_time": ("fingerprint", None),
    "fp_two": ("fingerprint", None),
    "fp_type": ("fingerprint", None),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_heuristic_on_its_cases(built: Built, case: str) -> None:
    heuristic, vout = EXPECTED[case]
    assert built.named(heuristic).get(built.case(case)) == vout


def test_the_named_output_and_its_address(built: Built) -> None:
    con = built.ws.store.con
    table = change_outputs(con, "one_time_change")
    row = {r["txid"]: r for r in table.to_pylist()}[built.case("otc")]
    ((address,),) = con.execute(
        "SELECT address FROM outputs WHERE txid = ? AND vout = 1", [built.case("otc")]
    ).fetchall()
    assert row == {
        "txid": built.case("otc"),
        "height": built.heights["otc"],
        "vout": 1,
        "address": address,
        "heuristic": "one_time_change",
    }


@pytest.mark.parametrize("heuristic", CHANGE_HEURISTICS)
def test_never_coinbase_mixing_or_single_output(built: Built, heuristic: str) -> None:
    con = built.ws.store.con
    table = change_outputs(con, heuristic)
    assert table.schema == pa.schema(
        [
            ("txid", pa.string()),
            ("height", pa.int64()),
            ("vout", pa.int64()),
            ("address", pa.string()),
            ("heuristic", pa.string()),
        ]
    )
    txids = table["txid"].to_pylist()
    assert len(set(txids)) == len(txids)  # at most one change output per transaction
    assert set(table["heuristic"].to_pylist()) <= {heuristic}
    assert None not in table["address"].to_pylist()
    rows = con.execute(
        "SELECT txid, coinbase, output_count FROM txs WHERE txid IN (SELECT unnest(?))", [txids]
    ).fetchall()
    assert len(rows) == len(txids)
    assert not any(coinbase for _, coinbase, _ in rows)
    assert all(n >= 2 for _, _, n in rows)
    mixing = set(detect_mixing(con)["txid"].to_pylist())
    assert built.case("coinjoin") in mixing
    assert built.case("chip_split") in mixing
    assert not mixing & set(txids)


def test_mixing_is_what_keeps_them_out(built: Built) -> None:
    """With an empty mixing table the coinjoin and the chip split are judged like any
    transaction: address_type names the coinjoin's lone P2WPKH output, peel_chain the
    chip spent by a one-in, two-out transaction; and round_value a coinbase never."""
    none = detect_mixing(built.ws.store.con, min_height=1 << 40)
    assert none.num_rows == 0
    assert built.named("address_type", mixing=none).get(built.case("coinjoin")) == 2
    assert built.named("peel_chain", mixing=none).get(built.case("chip_split")) == 1
    assert built.case("coinjoin") not in built.named("address_type")
    assert built.case("chip_split") not in built.named("peel_chain")
    assert built.case("coinbase") not in built.named("round_value", mixing=none)


def test_heights_scope_the_judged_transactions(built: Built) -> None:
    h = built.heights["peel"]
    assert built.named("peel_chain", min_height=h, max_height=h) == {built.case("peel"): 1}
    assert built.named("peel_chain", min_height=h + 1) == {}
    h = built.heights["otc"]
    assert built.named("one_time_change", min_height=h, max_height=h) == {
        built.case("otc"): 1,
        built.case("otc_second_in_block"): 1,
    }


def test_unknown_heuristic_is_a_usage_error(built: Built) -> None:
    with pytest.raises(UsageError) as info:
        change_outputs(built.ws.store.con, "round_values")
    text = str(info.value)
    assert "round_values" in text
    assert "round_value" in text.replace("round_values", "")
    assert "one_time_change" in text


def test_a_half_read_result_on_the_connection_does_not_stop_it(built: Built) -> None:
    con = built.ws.store.con
    mixing = detect_mixing(con)
    expected = built.named("round_value", mixing=mixing)
    assert expected[built.case("rv")] == 1
    con.execute("SELECT txid FROM txs").fetchone()  # someone else's query, not read to its end
    assert built.named("round_value", mixing=mixing) == expected
