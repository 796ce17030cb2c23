"""The clustering and tracing figures on hand-made tables, where every number is known:
false merges, recall, the CoinJoin detector, change heuristics, the vendors' traced share;
and the report's lines for them."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spector.errors import InputError
from spector.sim._score_chain import clustering_score
from spector.sim._score_chain_trace import cashout_truth, tracing_score
from spector.sim._score_report import clustering_lines, tracing_lines
from spector.store import Workspace

OWNERS = [  # address, owner_kind, owner_id, actor_id, role
    ("a1", "vendor", "v1", "x1", "payout"),
    ("a2", "vendor", "v1", "x1", "payout"),
    ("a3", "vendor", "v1", "x1", "peel_change"),
    ("b1", "exchange", "E", None, "hot_wallet"),
    ("b2", "exchange", "E", None, "deposit"),
    ("c1", "mixer", "ChipMixer", None, "chip"),
]
KINDS = [
    ("t1", "cashout"),
    ("t2", "sweep"),
    ("t3", "coinjoin"),
    ("t4", "mixer_out"),
    ("t5", "background"),
    ("t6", "coinjoin"),
    ("t7", "mixer_split"),
]


def _write_truth(folder, owners, kinds=(), mixer_payouts=None):
    folder.mkdir(parents=True, exist_ok=True)
    cols = list(zip(*owners, strict=True))
    names = ["address", "owner_kind", "owner_id", "actor_id", "role"]
    pq.write_table(
        pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)}),
        folder / "addresses.parquet",
    )
    txids = [k[0] for k in kinds]
    pq.write_table(
        pa.table({"txid": txids, "kind": [k[1] for k in kinds]}), folder / "transactions.parquet"
    )
    if mixer_payouts is not None:
        pq.write_table(pa.Table.from_pylist(mixer_payouts), folder / "mixer_payouts.parquet")


@pytest.fixture
def clustered(tmp_path):
    _write_truth(tmp_path / "chain", OWNERS, KINDS)
    con = duckdb.connect()
    con.execute("CREATE TABLE chain_clusters (address VARCHAR, cluster_id BIGINT)")
    con.execute(
        "INSERT INTO chain_clusters VALUES "
        "('a1', 1), ('a2', 1), ('a3', 3), ('b1', 4), ('b2', 4), ('c1', 4), ('d1', 7)"
    )
    con.execute(
        "CREATE TABLE cluster_merges (txid VARCHAR, height BIGINT, heuristic VARCHAR, "
        "address_a VARCHAR, address_b VARCHAR, held BOOLEAN)"
    )
    con.execute(
        "INSERT INTO cluster_merges VALUES "
        "('t1', 1, 'multi_input', 'a1', 'a2', false), "
        "('t2', 2, 'multi_input', 'b1', 'b2', false), "
        "('t4', 3, 'multi_input', 'b1', 'c1', false), "  # the mixer's chip joins an exchange
        "('t5', 4, 'multi_input', 'a1', 'b1', true)"  # held back by the guard: not applied
    )
    con.execute("CREATE TABLE inputs (txid VARCHAR, vin BIGINT, address VARCHAR, coinbase BOOLEAN)")
    con.execute(
        "INSERT INTO inputs VALUES ('t1', 1, 'a2', false), ('t1', 0, 'a1', false), "
        "('t2', 0, 'b1', false), ('t5', 0, 'b1', false)"
    )

    def detect(con):
        return pa.table(
            {
                "txid": ["t3", "t5", "t4"],
                "height": pa.array([3, 4, 3], pa.int64()),
                "kind": ["whirlpool", "coinjoin", "chip"],
            }
        )

    def change(con, heuristic):
        rows = {
            "h1": [("t1", "a3"), ("t2", "c1"), ("t5", "b2")],  # t5: detected, so skipped
            "h2": [("t1", "d1")],  # an address the truth does not know
        }[heuristic]
        return pa.table(
            {
                "txid": [r[0] for r in rows],
                "height": pa.array([1] * len(rows), pa.int64()),
                "vout": pa.array([1] * len(rows), pa.int64()),
                "address": [r[1] for r in rows],
                "heuristic": [heuristic] * len(rows),
            }
        )

    result = clustering_score(
        con, tmp_path / "chain", detect=detect, change=change, heuristics=("h1", "h2")
    )
    return con, result


def test_false_merges_count_two_owners_joined_and_skip_held_merges(clustered):
    _, r = clustered
    assert r["false_merge_rate"] == round(1 / 3, 6)
    assert (r["counts"]["merges"], r["counts"]["false_merges"]) == (3, 1)
    assert r["counts"]["merge_rows"] == 3
    assert r["through"] == {
        "coinjoin": {"merges": 0, "false_merges": 0},
        "mixer": {"merges": 1, "false_merges": 1},
    }
    assert r["impure_clusters"] == {"clusters": 1, "addresses": 3}
    assert r["by_heuristic"]["multi_input"]["false_merge_rate"] == round(1 / 3, 6)


def test_recall_is_address_weighted_per_owner_with_the_owner_kind_breakdown(clustered):
    _, r = clustered
    assert r["recall"] == round(5 / 6, 6)
    by_kind = r["recall_by_owner_kind"]
    assert by_kind["vendor"]["recall"] == round(2 / 3, 6)
    assert by_kind["vendor"]["clusters"] == 2
    assert (by_kind["exchange"]["recall"], by_kind["mixer"]["recall"]) == (1.0, 1.0)
    assert r["counts"]["unknown_addresses"] == 1  # d1: not in the truth, not scored
    assert r["counts"]["owners"] == 3


def test_coinjoin_detector_against_the_truth_and_chips_apart(clustered):
    _, r = clustered
    assert (r["coinjoin_precision"], r["coinjoin_recall"]) == (0.5, 0.5)  # t5 false, t6 missed
    assert r["coinjoin_counts"] == {"detected": 2, "true": 1, "truth": 2}
    chips = r["chips"]
    assert (chips["precision"], chips["recall"], chips["truth"]) == (1.0, 0.5, 2)
    assert r["detected_by_kind"]["coinjoin"] == {"background": 1}


def test_each_change_heuristic_counts_merges_it_adds_and_false_ones(clustered):
    _, r = clustered
    h1, h2 = r["change"]["h1"], r["change"]["h2"]
    # t1's change a3 joins v1's two clusters; t2's c1 is already in b1's cluster (adds
    # nothing) but is not E's (precision 1/2); t5 is a detected coinjoin: skipped
    assert (h1["judged"], h1["merges_added"], h1["false_merges"]) == (2, 1, 0)
    assert h1["precision"] == 0.5
    assert (h2["judged"], h2["merges_added"], h2["false_merges"], h2["precision"]) == (
        1,
        1,
        0,
        None,
    )


def test_the_report_says_each_clustering_figure_with_its_scope(clustered):
    _, r = clustered
    text = "\n".join(clustering_lines(r))
    assert "clustering: false merges 0.333 (1/3 merges join two owners" in text
    assert "through the mixer 1/1" in text
    assert "recall 0.833" in text
    assert "owner_kind + owner_id" in text
    assert "coinjoin detector: precision 0.500 (1/2), recall 0.500 (1/2)" in text
    assert "change heuristic h1 (alone, over these clusters): +1 merges, 0 false" in text
    none = clustering_lines({"recall": None, "scope": "no clusters in the workspace"})
    assert none == ["clustering: not scored — no clusters in the workspace"]


def test_no_clusters_no_figures(tmp_path):
    _write_truth(tmp_path / "chain", OWNERS, KINDS)
    r = clustering_score(duckdb.connect(), tmp_path / "chain")
    assert r["false_merge_rate"] is None
    assert r["recall"] is None
    assert "spector chain cluster" in r["scope"]


# -- tracing ---------------------------------------------------------------------------

TRACE_OWNERS = [
    ("v1a", "vendor", "v1", "x1", "payout"),
    ("v1b", "vendor", "v1", "x1", "payout"),
    ("v2p", "vendor", "v2", "x2", "payto"),
    ("v3p", "vendor", "v3", "x3", "payout"),
    ("v3o", "vendor", "v3", "x3", "coinjoin_output"),
    ("v4p", "vendor", "v4", "x4", "payout"),
    ("e1d1", "exchange", "E1", None, "deposit"),
    ("e1d3", "exchange", "E1", None, "deposit"),
    ("e2d2", "exchange", "E2", None, "deposit"),
    ("md", "mixer", "ChipMixer", None, "deposit"),
    ("cj", "coinjoin", "participant-000", None, "premix"),
    ("cjo", "coinjoin", "participant-000", None, "postmix"),
]
OUTPUTS = [  # txid, vout, height, value, address
    ("r1", 0, 1, 1000, "v1a"),
    ("r2", 0, 1, 3000, "v1b"),
    ("c1", 0, 2, 3900, "e1d1"),
    ("r3", 0, 1, 5000, "v2p"),
    ("m1", 0, 2, 4900, "md"),
    ("r4", 0, 1, 2000, "v3p"),
    ("p0", 0, 1, 2000, "cj"),
    ("j1", 0, 2, 1400, "v3o"),
    ("j1", 1, 2, 1000, "e1d3"),
    ("j1", 2, 2, 1400, "cjo"),
    ("j2", 0, 3, 1300, "e2d2"),
    ("r5", 0, 1, 700, "v4p"),
]
INPUTS = [  # txid, vin, value, address
    ("c1", 0, 1000, "v1a"),
    ("c1", 1, 3000, "v1b"),
    ("m1", 0, 5000, "v2p"),
    ("j1", 0, 2000, "v3p"),
    ("j1", 1, 2000, "cj"),
    ("j2", 0, 1400, "v3o"),
]
MIXER_PAID = [
    {"account_id": "v2", "deposit_address": "md", "txid": "mo1", "address": "x",
     "exchange": "E2", "value_sat": 3000},
    {"account_id": "v2", "deposit_address": "md", "txid": "mo2", "address": "y",
     "exchange": "E1", "value_sat": 1800},
]  # fmt: skip
ATTRIBUTED = {  # (policy, first source) -> reached
    ("haircut", "r1:0"): [("E1", "exchange", 3900)],
    ("haircut", "r3:0"): [("E2", "exchange", 2000), ("E1", "exchange", 2500)],
    ("haircut", "r4:0"): None,  # the trace fails
    ("haircut", "r5:0"): [],
}


@pytest.fixture
def traced(tmp_path):
    out = tmp_path / "range"
    _write_truth(out / "chain", TRACE_OWNERS, mixer_payouts=MIXER_PAID)
    (out / "world").mkdir()
    pq.write_table(
        pa.table(
            {
                "actor_id": ["x1", "x2", "x3", "x4"],
                "cashout": ["direct", "mixer", "coinjoin", "peel"],
            }
        ),
        out / "world" / "actors.parquet",
    )
    calls = []

    def tracer(ws, sources, *, policy, hops, to_tags):
        calls.append((policy, tuple(sources), hops, tuple(to_tags)))
        reached = ATTRIBUTED.get((policy, sources[0]), [("E3", "exchange", 10_000)])
        if reached is None:
            raise InputError(f"{sources[0]}: no money to trace")
        rows = [{"label": la, "category": c, "amount_sat": a, "share": 0.5} for la, c, a in reached]
        return SimpleNamespace(as_dict=lambda: {"reached": rows})

    with Workspace.init(tmp_path / "ws") as ws:
        con = ws.store.con
        con.execute(
            "CREATE TABLE outputs (txid VARCHAR, vout BIGINT, height BIGINT, value BIGINT, "
            "address VARCHAR)"
        )
        con.executemany("INSERT INTO outputs VALUES (?, ?, ?, ?, ?)", OUTPUTS)
        con.execute(
            "CREATE TABLE inputs (txid VARCHAR, vin BIGINT, value BIGINT, address VARCHAR, "
            "coinbase BOOLEAN DEFAULT false)"
        )
        con.executemany(
            "INSERT INTO inputs (txid, vin, value, address) VALUES (?, ?, ?, ?)", INPUTS
        )
        truth = cashout_truth(con, out)
        result = tracing_score(ws, out, tracer=tracer)
    return truth, result, calls


def test_true_cashout_follows_ownership_and_the_mixers_payouts(traced):
    truth, _, _ = traced
    assert set(truth) == {"v1", "v2", "v3", "v4"}
    assert truth["v1"].true_sat == {"E1": 3900.0}
    assert truth["v1"].sources == ["r1:0", "r2:0"]
    assert truth["v1"].received_sat == 4000
    assert truth["v2"].true_sat == {"E2": 3000.0, "E1": 1800.0}  # from the mixer's payouts
    assert truth["v2"].true_exchange == "E2"
    # the coinjoin's exchange output counts at the vendor's half of the inputs
    assert truth["v3"].true_sat == {"E1": 500.0, "E2": 1300.0}
    assert truth["v4"].true_sat == {}
    assert [v.method for v in truth.values()] == ["direct", "mixer", "coinjoin", "peel"]


def test_traced_share_is_the_right_exchanges_share_of_the_true_cashout(traced):
    _, r, calls = traced
    haircut = r["by_policy"]["haircut"]
    shares = [1.0, (2000 + 1800) / 4800, 0.0]  # v1, v2 (E1 over-attributed), v3 (failed)
    assert r["traced_share"] == round(sum(shares) / 3, 6)
    assert r["amount_weighted"] == round((3900 + 3800) / (3900 + 4800 + 1800), 6)
    assert haircut["by_method"] == {
        "direct": 1.0,
        "peel": None,  # v4 never cashed out: not scored
        "mixer": round(3800 / 4800, 6),
        "coinjoin": 0.0,
    }
    assert haircut["trace_errors"] == 1
    assert r["by_policy"]["fifo"]["traced_share"] == 0.0  # all to an exchange it never paid
    assert {c[0] for c in calls} == {"fifo", "haircut", "poison"}
    assert all(c[3] == ("exchange",) for c in calls)
    assert ("haircut", ("r1:0", "r2:0"), 5, ("exchange",)) in calls  # all outputs at once
    assert "3 vendor accounts with a true cash-out" in r["scope"]
    assert "1 more with revenue but none" in r["scope"]
    top = {v["account_id"]: v for v in r["top_vendors"]}
    assert (top["v2"]["true_exchange"], top["v2"]["traced_exchange"]) == ("E2", "E1")


def test_the_report_says_each_tracing_figure_with_its_scope(traced):
    _, r, _ = traced
    text = "\n".join(tracing_lines(r))
    assert f"tracing: traced share {r['traced_share']:.3f} (haircut, vendor-weighted" in text
    assert "direct 1.000 (1), peel — (0), mixer 0.792 (1), coinjoin 0.000 (1)" in text
    assert "1 traces failed" in text
    assert "share = correctly attributed / true cash-out" in text


def test_no_tags_no_tracing(tmp_path):
    out = tmp_path / "range"
    _write_truth(out / "chain", TRACE_OWNERS)
    with Workspace.init(tmp_path / "ws") as ws:
        r = tracing_score(ws, out)
    assert r["traced_share"] is None
    assert r["by_policy"] == {}
