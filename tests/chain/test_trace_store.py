"""Saved traces through the CLI (save, list, show, export: JSON, GraphML read back with
networkx, the CSV pair), path search at address and cluster level, and the CLI's
errors."""

from __future__ import annotations

import csv
import json

import networkx as nx
import pytest
from tests.chain.trace_chain import regtest_address
from tests.chain.trace_scene import build_scene

from spector.cli import main
from spector.store import Workspace


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("trace_store")
    with Workspace.init(root / "ws") as ws:
        scene = build_scene(ws, root / "blk")
    scene.root = root / "ws"  # type: ignore[attr-defined]
    return scene


def _run(capsys, scene, *args):
    code = main([*args, "--workspace", str(scene.root)])
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_json_save_show_list_export(capsys, scene, tmp_path):
    code, out, err = _run(capsys, scene, "chain", "trace", scene.A, "--json", "--save", "a-one")
    assert code == 0, err
    traced = json.loads(out)
    assert [(r["label"], r["amount_sat"]) for r in traced["reached"]] == [
        ("Ex Two", 2_394_000_000),
        ("Ex One", 600_000_000),
    ]
    code, out, _ = _run(capsys, scene, "chain", "traces", "show", "a-one", "--json")
    assert code == 0
    assert json.loads(out) == traced  # exactly what was saved
    code, out, _ = _run(capsys, scene, "chain", "traces", "list", "--json")
    listed = {r["name"]: r for r in json.loads(out)}
    assert listed["a-one"]["edges"] == len(traced["edges"]) == 2
    assert listed["a-one"]["traced_share"] == pytest.approx(0.998)

    code, out, _ = _run(
        capsys,
        scene,
        "chain",
        "traces",
        "export",
        "a-one",
        "--format",
        "graphml",
        "--out",
        str(tmp_path / "a.graphml"),
    )
    assert code == 0
    g = nx.read_graphml(tmp_path / "a.graphml")
    assert set(g.nodes) == {n["id"] for n in traced["nodes"]}
    assert g.nodes[scene.E1]["service"] == "Ex One"
    assert g.nodes[scene.E1]["label"] == "Ex One"
    assert g.nodes[scene.A]["roles"] == "source"
    data = g.edges[scene.A, scene.E1]
    assert (data["amount_sat"], data["rule"], data["hop"]) == (600_000_000, "haircut", 1)
    assert data["txid"] == traced["edges"][0]["txid"]

    code, out, _ = _run(
        capsys,
        scene,
        "chain",
        "traces",
        "export",
        "a-one",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "csv"),
    )
    assert code == 0
    with (tmp_path / "csv" / "edges.csv").open(encoding="utf-8") as fh:
        edges = list(csv.DictReader(fh))
    assert {(e["Source"], e["Target"], e["AmountSat"], e["AmountBTC"]) for e in edges} == {
        (scene.A, scene.E1, "600000000", "6.00000000"),
        (scene.A, scene.E2, "2394000000", "23.94000000"),
    }
    with (tmp_path / "csv" / "nodes.csv").open(encoding="utf-8") as fh:
        nodes = {n["Id"]: n for n in csv.DictReader(fh)}
    assert nodes[scene.E2]["Label"] == "Ex Two"
    assert nodes[scene.E2]["Category"] == "exchange"
    assert "Ex Two (exchange, forensic)" in nodes[scene.E2]["Tags"]

    code, out, _ = _run(
        capsys, scene, "chain", "traces", "export", "a-one", "--out", str(tmp_path / "a.json")
    )
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8")) == traced


def test_saved_names_replace_and_delete(capsys, scene):
    args = ("chain", "trace", scene.V0, "--hops", "1", "--save", "peel")
    assert _run(capsys, scene, *args)[0] == 0
    code, _, err = _run(capsys, scene, *args)
    assert code == 2
    assert "a trace named 'peel' is already saved" in err
    code, out, _ = _run(capsys, scene, *args, "--replace", "--policy", "fifo")
    assert code == 0
    assert "saved as peel" in out
    code, out, _ = _run(capsys, scene, "chain", "traces", "show", "peel", "--json")
    assert json.loads(out)["policy"] == "fifo"
    assert _run(capsys, scene, "chain", "traces", "delete", "peel")[0] == 0
    code, _, err = _run(capsys, scene, "chain", "traces", "show", "peel")
    assert code == 2
    assert err.startswith("error: no saved trace named 'peel'")
    code, _, err = _run(capsys, scene, "chain", "trace", scene.A, "--save", "bad name!")
    assert code == 2
    assert "trace name 'bad name!' is not allowed" in err


def test_trace_prints_tables_and_one_summary_line(capsys, scene):
    code, out, _ = _run(capsys, scene, "chain", "trace", scene.G0, "--hops", "1")
    assert code == 0
    assert "hop_limit" in out
    last = out.strip().splitlines()[-1]
    assert last == (
        f"traced 50.00000000 BTC forward from {scene.G0} over 1 hops (haircut): 0.0% reached "
        "0 services (none); 100.0% untraced; 2 edges"
    )


def test_path_address_and_cluster_level(capsys, scene):
    code, out, err = _run(capsys, scene, "chain", "path", scene.V0, scene.E3, "--json")
    assert code == 0, err
    found = json.loads(out)
    (p,) = found["paths"]
    assert p["length"] == 4  # p1, p2, p3, p4
    assert p["nodes"] == [scene.V0, *scene.V, scene.E3]
    assert [e["amount_sat"] for e in p["edges"]] == [
        899_900_000,
        799_800_000,
        699_700_000,
        699_600_000,
    ]
    code, out, _ = _run(capsys, scene, "chain", "path", scene.V0, scene.E3, "--hops", "3", "--json")
    assert json.loads(out)["paths"] == []

    with Workspace.open(scene.root, write=True) as ws:  # V1 and V2: one wallet
        ws.store.con.execute("INSERT INTO chain_clusters VALUES (?, 901), (?, 901)", scene.V[:2])
    try:
        code, out, _ = _run(
            capsys, scene, "chain", "path", scene.V0, scene.E3, "--cluster", "--json"
        )
        (p,) = json.loads(out)["paths"]
        assert p["length"] == 3  # into 901, out to V3, to E3: the move V1 -> V2 is free
        assert p["clusters"] == ["cluster:900", "cluster:901", scene.V[2], scene.E3]
        assert [e["rule"] for e in p["edges"]] == ["path", "same_cluster", "path", "path"]
        code, out, _ = _run(
            capsys, scene, "chain", "path", scene.V[0], scene.E3, "--cluster", "--json"
        )
        (p,) = json.loads(out)["paths"]  # from the cluster: V2 is in it too
        assert (p["length"], p["nodes"]) == (2, [scene.V[1], scene.V[2], scene.E3])
    finally:
        with Workspace.open(scene.root, write=True) as ws:
            ws.store.con.execute("DELETE FROM chain_clusters WHERE cluster_id = 901")


def test_path_to_a_category_and_saved(capsys, scene):
    code, out, _ = _run(
        capsys, scene, "chain", "path", scene.A, "category:exchange", "--json", "--save", "to-ex"
    )
    assert code == 0
    found = json.loads(out)
    assert sorted(p["nodes"][-1] for p in found["paths"]) == sorted([scene.E1, scene.E2])
    assert all(p["length"] == 1 for p in found["paths"])
    code, out, _ = _run(capsys, scene, "chain", "traces", "show", "to-ex", "--json")
    assert json.loads(out) == found
    code, out, _ = _run(capsys, scene, "chain", "path", scene.E3, scene.A)
    assert code == 0
    assert "no address-level path" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("chain", "trace", "NOBODY"), "does not appear in the chain tables"),
        (("chain", "trace", "A", "--policy", "lifo"), "unknown policy 'lifo'"),
        (("chain", "trace", "A", "--hops", "0"), "--hops 0 is out of range"),
        (("chain", "trace", "A", "--to-tags", "exchange,mixr"), "unknown tag category 'mixr'"),
        (("chain", "trace", "cluster:77777"), "no cluster 77777"),
        (("chain", "traces", "export", "nope", "--format", "dot"), "unknown export format"),
        (("chain", "path", "A", "category:nothing"), "unknown tag category 'nothing'"),
    ],
)
def test_cli_errors_are_one_line(capsys, scene, args, message):
    args = tuple(
        scene.A if a == "A" else regtest_address("nobody") if a == "NOBODY" else a for a in args
    )
    code, _out, err = _run(capsys, scene, *args)
    assert code == 2
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert message in err
