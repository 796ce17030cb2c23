"""The clustering and tracing scores of the tiny range, ingested, clustered and tagged as
`spector demo` does: the issue's floors hold, `spector sim score` reports the figures in
JSON and in words, the demo's trace step prints its table; and with the ownership truth
shuffled the same workspace scores far worse, so the scores can fall."""

from __future__ import annotations

import json
import random
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spector.chain._cli_demo import _demo_trace
from spector.chain._cluster import cluster
from spector.chain._ingest import ingest_files
from spector.chain._query import ensure_views
from spector.chain._tags_import import import_packs
from spector.chain._trace import trace
from spector.cli import main
from spector.cli.common import DemoContext
from spector.sim import generate, score
from spector.sim._score_chain import clustering_score
from spector.sim._score_chain_trace import cashout_truth, tracing_score
from spector.store import Workspace

SEED = 11


@pytest.fixture(scope="module")
def followed(tmp_path_factory):
    """A workspace holding the tiny range's chain, clustered (default heuristics), with
    the range's TagPacks imported; and its score."""
    root = tmp_path_factory.mktemp("follow") / "ws"
    with Workspace.init(root) as ws:
        out = ws.range_dir
        generate(SEED, "tiny", out)
        ingest_files(ws, [out / "chain" / "blocks"])
        cluster(ws)
        import_packs(ws, sorted((out / "chain" / "tags").glob("*.yaml")))
        result = score(out, ws)
    return root, out, result


def test_clusters_meet_the_issues_floors(followed):
    _, _, result = followed
    cl = result["clustering"]
    assert cl["counts"]["merges"] > 300
    assert cl["false_merge_rate"] <= 0.001
    assert cl["through"]["coinjoin"] == {"merges": 0, "false_merges": 0}
    assert cl["through"]["mixer"]["false_merges"] == 0
    assert cl["recall_by_owner_kind"]["exchange"]["recall"] >= 0.9  # the sweeps join them
    assert 0 < cl["recall"] < 1
    assert cl["coinjoin_precision"] >= 0.95
    assert cl["coinjoin_recall"] >= 0.95
    assert set(cl["change"]) == {
        "one_time_change",
        "address_type",
        "round_value",
        "peel_chain",
        "fingerprint",
    }
    for part in cl["change"].values():
        assert part["merges_added"] <= part["judged"]
        assert part["false_merges"] <= part["merges_added"]


def test_traces_meet_the_issues_goal_for_direct_and_peel(followed):
    _, _, result = followed
    tr = result["tracing"]
    assert set(tr["by_policy"]) == {"fifo", "haircut", "poison"}
    assert tr["traced_share"] == tr["by_policy"]["haircut"]["traced_share"]
    haircut = tr["by_policy"]["haircut"]
    assert haircut["by_method"]["direct"] >= 0.8
    assert haircut["by_method"]["peel"] >= 0.8
    assert set(haircut["by_method"]) == {"direct", "peel", "mixer", "coinjoin"}
    for part in tr["by_policy"].values():
        assert 0 <= part["traced_share"] <= 1
    assert tr["top_vendors"]
    assert all(v["true_exchange"] for v in tr["top_vendors"])


def test_the_scorers_one_tracer_scores_what_plain_traces_score(followed):
    """The score traces every vendor with one Tracer (figures only); tracing each one
    with `trace` itself gives the same figures to the last digit."""
    root, out, result = followed
    with Workspace.open(root, write=True) as ws:
        ensure_views(ws)
        plain = tracing_score(ws, out, policies=("haircut", "poison"), tracer=trace)
    tr = result["tracing"]
    assert plain == {**tr, "by_policy": {p: tr["by_policy"][p] for p in ("haircut", "poison")}}


def _shuffled(out, tmp_path):
    """The range's chain truth with the owners dealt out to other addresses at random."""
    copy = tmp_path / "shuffled"
    (copy / "chain").mkdir(parents=True)
    shutil.copytree(out / "world", copy / "world")
    for name in ("transactions", "sale_paths", "mixer_payouts"):
        shutil.copy(out / "chain" / f"{name}.parquet", copy / "chain" / f"{name}.parquet")
    table = pq.read_table(out / "chain" / "addresses.parquet")
    order = list(range(table.num_rows))
    random.Random(5).shuffle(order)
    owners = table.drop_columns(["address"]).take(pa.array(order))
    shuffled = pa.table(
        {"address": table.column("address"), **{n: owners.column(n) for n in owners.column_names}}
    )
    pq.write_table(shuffled, copy / "chain" / "addresses.parquet")
    return copy


def test_with_the_ownership_truth_shuffled_the_scores_fall(followed, tmp_path):
    root, out, result = followed
    copy = _shuffled(out, tmp_path)
    with Workspace.open(root, write=True) as ws:
        ensure_views(ws)
        cl = clustering_score(ws.store.con, copy / "chain")
        tr = tracing_score(ws, copy, policies=("haircut",))
    real = result["clustering"]
    assert cl["false_merge_rate"] > 0.5 > real["false_merge_rate"]
    assert cl["recall"] < real["recall"]
    assert cl["coinjoin_precision"] == real["coinjoin_precision"]  # tx kinds untouched
    assert tr["traced_share"] < result["tracing"]["traced_share"] / 2


def test_sim_score_prints_the_figures_in_json_and_in_words(followed, capsys):
    root, out, _ = followed
    assert main(["sim", "score", str(out), "-w", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"false_merge_rate", "recall", "coinjoin_precision", "coinjoin_recall"} <= set(
        data["clustering"]
    )
    assert {"traced_share", "by_policy"} <= set(data["tracing"])
    assert set(data["tracing"]["by_policy"]["poison"]["by_method"]) == {
        "direct",
        "peel",
        "mixer",
        "coinjoin",
    }
    assert main(["sim", "score", str(out), "-w", str(root)]) == 0
    text = capsys.readouterr().out
    fm = data["clustering"]["false_merge_rate"]
    assert f"clustering: false merges {fm:.3f} (" in text
    assert "owner_kind + owner_id of the range's truth" in text
    assert f"tracing: traced share {data['tracing']['traced_share']:.3f} (haircut" in text
    assert "share = correctly attributed / true cash-out" in text


def test_the_demo_traces_the_top_three_vendors(followed, capsys):
    root, out, _ = followed
    handles = {
        r["account_id"]: r["handle"]
        for r in pq.read_table(out / "world" / "accounts.parquet").to_pylist()
    }
    with Workspace.open(root, write=True) as ws:
        ensure_views(ws)
        vendors = cashout_truth(ws.store.con, out).values()
        summary = _demo_trace.run(DemoContext(ws, SEED, "tiny"))
    top = sorted(vendors, key=lambda v: -v.received_sat)[:3]
    assert summary.startswith(("0 of 3", "1 of 3", "2 of 3", "3 of 3"))
    assert "top vendors traced to their true cash-out exchange (shares " in summary
    shown = capsys.readouterr().out
    assert "true cash-out exchange" in shown
    assert "share traced" in shown
    for v in top:
        assert handles[v.account_id] in shown
        assert v.true_exchange in shown
