"""Export: our own tags (and their clusters) as a TagPack that GraphSense's own tool
validates, and that imports back to the same tags."""

from __future__ import annotations

import json

import pytest
import yaml
from tags_helpers import A1, A2, B1, D1, D2, graphsense_verdict, own_data, run, set_clusters

from spector.chain._tags_derive import derive_tags
from spector.chain._tags_export import export_pack, write_pack
from spector.chain._tags_import import import_packs
from spector.errors import UsageError
from spector.store import Workspace

U1, U2, U3 = (
    "1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs",
    "3QJmV3qfvL9SuYo34YihAf3sRCW3qSinyC",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
)
FIELDS = ("address", "label", "category", "confidence", "confidence_level", "source", "actor",
          "is_cluster_definer")  # fmt: skip


def _tags(con, origin: str) -> set[tuple[object, ...]]:
    rows = con.execute(
        f"SELECT {', '.join(FIELDS)} FROM chain_tags WHERE origin {origin}"
    ).fetchall()
    return set(rows)


@pytest.fixture
def derived(workspace, shared_data):
    own_data(workspace)
    derive_tags(workspace)
    import_packs(workspace, [shared_data / "tags" / "hydra.yaml"])  # not ours: not exported
    return workspace


def test_export_validates_and_round_trips(derived, tmp_path):
    pack = export_pack(derived.store.con, creator="Unit 7")
    out = tmp_path / "ours.yaml"
    write_pack(pack, out)
    assert graphsense_verdict(out) is None  # GraphSense's own tool accepts it
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["creator"] == "Unit 7"
    assert {t["address"] for t in written["tags"]} == {A1, A2, B1, D1, D2}
    # our confidence ids are written as GraphSense's: seized_data as forensic_investigation
    assert {t["address"]: t["confidence"] for t in written["tags"]}[D1] == "forensic_investigation"
    assert {t["confidence"] for t in written["tags"]} <= {"web_crawl", "forensic_investigation"}
    d1 = next(t for t in written["tags"] if t["address"] == D1)
    assert d1["context"]["spector"]["confidence"] == "seized_data"
    assert d1["context"]["spector"]["orders"] == 3

    ours = _tags(derived.store.con, "IN ('web_crawl', 'seized_data')")
    with Workspace.init(tmp_path / "other") as other:
        report = import_packs(other, [out])
        assert report.imported[0].entries == 5
        back = _tags(other.store.con, "= 'tagpack'")
    assert back == ours  # the same tags, seized_data and its level 70 included


def test_export_with_clusters(derived, tmp_path):
    con = derived.store.con
    with pytest.raises(UsageError, match="not clustered"):
        export_pack(con, clusters=True)
    set_clusters(con, {A1: 1, A2: 1, U1: 1, U2: 1, D1: 5, U3: 5, B1: 9})
    pack = export_pack(con, clusters=True)
    out = tmp_path / "clusters.yaml"
    write_pack(pack, out)
    assert graphsense_verdict(out) is None
    tags = pack["tags"]
    # every address of a tagged cluster: its own tags, and one per (label, category) more
    by_address: dict[str, list[str]] = {}
    for t in tags:
        by_address.setdefault(t["address"], []).append(t["label"])
    assert by_address == {
        A1: ["alice on Test Market"], A2: ["alice on Test Market"], B1: ["bob on Test Market"],
        D1: ["Test Market"], D2: ["Test Market"], U1: ["alice on Test Market"],
        U2: ["alice on Test Market"], U3: ["Test Market"],
    }  # fmt: skip
    assert all(t["is_cluster_definer"] for t in tags)
    u3 = next(t for t in tags if t["address"] == U3)
    assert (u3["confidence"], u3["context"]["spector"]["via"]) == (
        "forensic_investigation",
        "cluster:5",
    )
    assert u3["context"]["spector"]["tagged_address"] == D1
    with Workspace.init(tmp_path / "other") as other:
        assert import_packs(other, [out]).imported[0].entries == 8


def test_cli_export(derived, tmp_path, capsys):
    root = str(derived.root)
    derived.close()
    out = tmp_path / "x.yaml"
    code, printed, _ = run(capsys, "chain", "tags", "export", "--out", str(out), "-w", root)
    assert (code, printed) == (0, f"exported 5 tags to {out}\n")
    code, printed, _ = run(capsys, "chain", "tags", "export", "-w", root)
    assert code == 0
    assert (
        yaml.safe_load(printed)["tags"] == yaml.safe_load(out.read_text(encoding="utf-8"))["tags"]
    )
    code, printed, _ = run(capsys, "chain", "tags", "import", str(out), "--json", "-w", root)
    assert json.loads(printed)["tags"] == 5


def test_analyst_tags_add_export_remove(tmp_path, capsys):
    root = str(tmp_path / "ws")
    run(capsys, "init", root)
    code, out, err = run(
        capsys,
        "chain",
        "tags",
        "add",
        U1,
        "--label",
        "Exchange Q",
        "--category",
        "exchange",
        "--why",
        "deposit test",
        "-w",
        root,
    )
    assert (code, err) == (0, "")
    assert out == f"tagged {U1} as Exchange Q (exchange, manual_transaction)\n"
    code, _, err = run(
        capsys, "chain", "tags", "add", U1, "--label", "X", "--category", "bank", "-w", root
    )
    assert code == 2
    assert "unknown category 'bank'" in err
    code, _, err = run(
        capsys,
        "chain",
        "tags",
        "add",
        U1[:-1] + "x",
        "--label",
        "X",
        "--category",
        "exchange",
        "-w",
        root,
    )
    assert code == 2
    assert "not a Bitcoin address" in err
    out_file = tmp_path / "ours.yaml"
    assert run(capsys, "chain", "tags", "export", "--out", str(out_file), "-w", root)[0] == 0
    assert graphsense_verdict(out_file) is None
    (tag,) = yaml.safe_load(out_file.read_text(encoding="utf-8"))["tags"]
    assert (tag["address"], tag["label"], tag["category"], tag["confidence"]) == (
        U1,
        "Exchange Q",
        "exchange",
        "manual_transaction",
    )
    assert tag["context"]["spector"]["why"] == "deposit test"
    assert run(capsys, "chain", "tags", "remove", U1, "-w", root)[1] == (
        f"removed 1 analyst tags of {U1}\n"
    )
    assert run(capsys, "chain", "tags", "list", "--json", "-w", root)[1] == "[]\n"
