"""Many traces over one workspace with one ``Tracer``: every result is the one
``trace(ws, ...)`` gives (to the byte, ``seconds`` aside) whatever the order and the
options of the traces before it; ``detail=False`` keeps the figures; the txid index
finds what ``ChainGraph.tx_ids`` finds, collisions of its 64-bit keys included; the
node tags kept between results are the ones ``node_tags`` gives."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.sim.chain.conftest import small_scenario

from spector.chain._cluster import cluster
from spector.chain._ingest import ingest_files
from spector.chain._tags_import import import_packs
from spector.chain._trace import Tracer, trace
from spector.chain._trace_graph import ChainGraph, load_graph
from spector.chain._trace_result import iso, iso_many
from spector.chain._trace_source import outpoint_nodes, txid_numbers
from spector.chain._trace_tags import NodeTags, node_tags
from spector.errors import InputError
from spector.sim.chain import build_chain
from spector.store import Workspace


@pytest.fixture(scope="module")
def followed(tmp_path_factory):
    """The small scenario's chain, clustered, with its TagPacks imported; per vendor
    account the outpoints its received addresses were paid at."""
    out = tmp_path_factory.mktemp("session_range") / "chain"
    truth = build_chain(small_scenario(), out)
    owners = pq.read_table(truth.addresses_path).to_pylist()
    with Workspace.init(tmp_path_factory.mktemp("session_ws") / "ws") as ws:
        ingest_files(ws, [out / "blocks"])
        cluster(ws)
        import_packs(ws, sorted((out / "tags").glob("*.yaml")))
        received: dict[str, list[str]] = {}
        for row in owners:
            if row["owner_kind"] == "vendor" and row["role"] in ("payout", "payto"):
                received.setdefault(row["owner_id"], []).append(row["address"])
        sources = {}
        for vendor, addresses in sorted(received.items()):
            rows = ws.store.con.execute(
                "SELECT txid, vout FROM outputs WHERE address IN (SELECT unnest(?)) "
                "ORDER BY height, txid, vout",
                [addresses],
            ).fetchall()
            sources[vendor] = [f"{t}:{v}" for t, v in rows]
        yield ws, sources, received


def _plain(result) -> str:
    data = dict(result.as_dict())
    data.pop("seconds")
    return json.dumps(data, sort_keys=True)


def _jobs(sources, received):
    vendors = sorted(sources)
    jobs = []
    for policy in ("fifo", "haircut", "poison"):
        for v in vendors:
            jobs.append((sources[v], {"policy": policy, "to_tags": ("exchange",)}))
    for v in vendors:
        jobs.append((sources[v], {}))  # exchange, mixer, market: stops at the mixer
        jobs.append((received[v], {"policy": "fifo", "direction": "backward"}))
        jobs.append((sources[v][:2], {"follow_peels": False, "hops": 2}))
        jobs.append((sources[v], {"to_tags": ("exchange",), "mixer_candidates": 1}))
        jobs.append((sources[v], {"to_tags": ("exchange",), "mixer_window": 3600}))
        jobs.append((received[v][0], {"to_tags": ("mixer", "exchange"), "dust": 0}))
    return jobs


def test_one_tracer_gives_every_trace_what_trace_gives(followed):
    ws, sources, received = followed
    jobs = _jobs(sources, received)
    random.Random(3).shuffle(jobs)  # the caches must not depend on the order of the traces
    tracer = Tracer(ws)
    hops = 0
    for texts, options in jobs:
        mine = tracer.trace(texts, **options)
        theirs = trace(ws, texts, **options)
        assert _plain(mine) == _plain(theirs), (texts, options)
        hops += len(theirs.as_dict()["mixer_hops"])
    assert hops  # the probabilistic mixer hops were compared too
    again = tracer.trace(sources["v-peel"], policy="poison")
    assert _plain(again) == _plain(trace(ws, sources["v-peel"], policy="poison"))


def test_results_of_one_tracer_are_independent(followed):
    ws, sources, _ = followed
    tracer = Tracer(ws)
    first = tracer.trace(sources["v-direct"])
    expected = _plain(first)
    for node in first.nodes:  # a caller editing a result ...
        node["tags"].append({"label": "scribbled"})
        for tag in node["tags"]:
            tag["label"] = "scribbled"
    first.reached.clear()
    assert _plain(tracer.trace(sources["v-direct"])) == expected  # ... edits only its own


def test_tagged_nodes_reach_the_results(followed):
    ws, sources, _ = followed
    tracer = Tracer(ws)
    for v in sorted(sources):
        tracer.trace(sources[v], policy="poison")
    result = tracer.trace(sources["v-direct"], policy="poison")
    assert [n for n in result.nodes if n["tags"]]  # tags fetched all at once, after the first
    assert _plain(result) == _plain(trace(ws, sources["v-direct"], policy="poison"))


def test_without_detail_the_figures_are_the_same(followed):
    ws, sources, received = followed
    tracer = Tracer(ws)
    figures = ("total_sat", "traced_share", "reached", "untraced", "seeds", "steps", "policy")
    for texts, options in _jobs(sources, received)[::3]:
        whole = trace(ws, texts, **options).as_dict()
        short = tracer.trace(texts, detail=False, **options).as_dict()
        assert {k: short[k] for k in figures} == {k: whole[k] for k in figures}
        assert short["detail"] is False
        assert not {"edges", "nodes", "mixer_hops", "untraced_outputs"} & set(short)
    assert "detail" not in whole


def test_a_tracer_raises_what_trace_raises(followed):
    ws, sources, _ = followed
    tracer = Tracer(ws)
    missing = sources["v-direct"][0].split(":")[0] + ":99"
    for texts in (
        [missing],
        [sources["v-direct"][0], "00" * 32 + ":0"],
        ["cluster:999999999"],
        ["nope"],
    ):
        with pytest.raises(InputError) as mine:
            tracer.trace(texts)
        with pytest.raises(InputError) as theirs:
            trace(ws, texts)
        assert str(mine.value) == str(theirs.value)


def _graph(txids: list[str]) -> ChainGraph:
    n = len(txids)
    return ChainGraph.from_arrays(
        tx_out0=np.arange(0, 2 * n + 1, 2),
        tx_in0=np.zeros(n + 1, np.int64),
        out_value=np.full(2 * n, 1000),
        in_prev=np.empty(0, np.int64),
        out_addr=np.full(2 * n, -1),
        coinbase=np.ones(n, bool),
        tx_time=np.zeros(n, np.int64),
        txids=pa.array(txids, pa.string()),
    )


def test_txid_index_finds_what_the_whole_array_finds():
    rng = random.Random(8)
    prefix = "ab" * 8
    txids = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
    txids += [prefix + f"{rng.getrandbits(192):048x}" for _ in range(5)]  # one 64-bit key
    txids.append(txids[7])  # a duplicate txid: the first one counts
    rng.shuffle(txids)
    g = _graph(txids)
    wanted = [
        *rng.sample(txids, 40),
        prefix + "0" * 48,  # the shared key, a txid not held
        txids[3].upper(),
        txids[4][:-1] + ("0" if txids[4][-1] != "0" else "1"),
        txids[5][:16],
        "zz" + txids[6][2:],
        "-1",
        "",
        f"{rng.getrandbits(256):064x}",
    ]
    assert txid_numbers(g, wanted).tolist() == g.tx_ids(wanted).tolist()
    for part in (wanted[:40], wanted[40:45], [wanted[41]], wanted[45:]):  # the index alone too
        assert txid_numbers(g, part).tolist() == g.tx_ids(part).tolist()
    assert g.tx_ids([prefix + "0" * 48]).tolist() == [-1]
    assert txid_numbers(g, [txids[7]]).tolist() == [txids.index(txids[7])]
    pairs = [(t, v) for t in wanted for v in (-1, 0, 1, 2)]
    assert outpoint_nodes(g, pairs).tolist() == [g.node_of(t, v) for t, v in pairs]
    odd = _graph([*txids[:20], "short"])  # not all 64 digits: the index is not used
    assert txid_numbers(odd, [*txids[:20], "short", "x"]).tolist() == [*range(21), -1]


def test_node_tags_kept_between_results_are_node_tags(followed):
    ws, _, _ = followed
    con = ws.store.con
    g = load_graph(ws)
    names = g.names(np.arange(g.n_out))
    kept = NodeTags(con)
    rng = random.Random(4)
    tagged = {r[0] for r in con.execute("SELECT address FROM chain_tags").fetchall()}
    for _ in range(4):
        asked = rng.sample(names, 300) + rng.sample(sorted(tagged), 5)
        assert kept(asked) == node_tags(con, asked)
    assert kept(names) == node_tags(con, names)
    assert any(t["via"].startswith("cluster:") for refs in kept(names).values() for t in refs)


def test_iso_many_is_iso():
    times = np.array([0, 1, 59, 86_399, 951_782_400, 2**31, 4_102_444_800, 253_402_300_799])
    rng = np.random.default_rng(2)
    times = np.concatenate([times, rng.integers(0, 253_402_300_799, 500)])
    assert iso_many(times) == [iso(int(t)) for t in times]
