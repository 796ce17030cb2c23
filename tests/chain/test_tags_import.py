"""TagPack and ActorPack import: the real GraphSense packs whole, header inheritance as
GraphSense does it, re-import replaces, the CLI's lines."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime

import pytest
from tags_helpers import EARLY_ACTORS, EARLY_TAGS, graphsense_verdict, run, tag_rows, write_pack

from spector.chain._tags_import import import_packs, pack_name
from spector.chain._tags_read import read_pack

OFAC = "https://home.treasury.gov/policy-issues/financial-sanctions/recent-actions/20220405"


def _script_type(address: str) -> str:
    if address.startswith("bc1"):
        return "p2wpkh" if len(address) == 42 else "p2wsh"
    return "p2pkh" if address.startswith("1") else "p2sh"


def test_real_packs_import_whole_with_their_counts(tmp_path, shared_data, capsys):
    ws = str(tmp_path / "ws")
    assert run(capsys, "init", ws)[0] == 0
    hydra = shared_data / "tags" / "hydra.yaml"
    mixing = shared_data / "tags" / "mixing_fc2021.yaml"
    code, out, err = run(capsys, "chain", "tags", "import", str(hydra), str(mixing), "-w", ws)
    assert (code, err) == (0, "")
    assert out == "imported 117 tags from hydra.yaml\nimported 66 tags from mixing_fc2021.yaml\n"

    from spector.store import Workspace

    with Workspace.open(tmp_path / "ws") as opened:
        con = opened.store.con
        rows = tag_rows(con, "pack = 'hydra.yaml'")
        assert len(rows) == len({r["address"] for r in rows}) == 117
        # every tag inherits the header, as GraphSense does
        assert {
            (
                r["label"],
                r["category"],
                r["confidence"],
                r["confidence_level"],
                r["source"],
                r["actor"],
                r["is_cluster_definer"],
                r["lastmod"],
                r["currency"],
                r["network"],
            )
            for r in rows
        } == {
            (
                "Hydra Market",
                "market",
                "authority_data",
                60,
                OFAC,
                "hydramarket",
                True,
                datetime(2023, 5, 10),
                "BTC",
                "BTC",
            )
        }
        assert {(r["pack_title"], r["pack_creator"], r["origin"]) for r in rows} == {
            ("Hydra Market", "GraphSense Core Team", "tagpack")
        }
        # the file's order and lines: 11 header lines, `tags:`, then one line per tag
        assert rows[0]["address"] == "1BCWMwpR4M1nYUuuYe2bmzrNuwGoF9ZAbA"
        assert rows[-1]["address"] == "1PWRKxkR5AU7Tc9zPqjdhtu1eGW1QZzs4y"
        assert [r["line"] for r in rows] == list(range(13, 13 + 117))
        kinds = Counter(_script_type(r["address"]) for r in rows)
        assert kinds == {"p2pkh": 64, "p2sh": 44, "p2wpkh": 8, "p2wsh": 1}

        mix = tag_rows(con, "pack = 'mixing_fc2021.yaml'")
        assert len({r["address"] for r in mix}) == 66
        assert Counter(r["label"] for r in mix) == {
            "Bitcoin Mixer": 20,
            "MixTum": 15,
            "Sudoku Wallet": 11,
            "ChipMixer": 10,
            "CryptoMixer": 10,
        }
        assert {
            (
                r["category"],
                r["confidence"],
                r["confidence_level"],
                r["is_cluster_definer"],
                r["actor"],
                r["source"],
            )
            for r in mix
        } == {
            ("mixing_service", "forensic", 50, False, None, "https://fc21.ifca.ai/papers/103.pdf")
        }
        assert (mix[0]["address"], mix[-1]["address"]) == (
            "1LAScEFHGkfpyjtFzA4g9283JmL2cYR9Tx",
            "1EXA5Hh5B7gELo9VdCynKe6N75YPQUKHsU",
        )
        packs = con.execute(
            "SELECT pack, kind, title, creator, entries, duplicates, sha256 FROM chain_tag_packs "
            "ORDER BY pack"
        ).fetchall()
    assert packs == [
        (
            "hydra.yaml",
            "tagpack",
            "Hydra Market",
            "GraphSense Core Team",
            117,
            0,
            "d56a9fc6f1d45df1b489a9f453646483765df6ae18d4d758064eddef14f51412",
        ),
        (
            "mixing_fc2021.yaml",
            "tagpack",
            "Mixing Services",
            "GraphSense Core Team",
            66,
            0,
            "4ac135d275f76ef30d46986a7348fed62e7e0f9a8570e24107623628c0ca2c3e",
        ),
    ]


def test_reimport_replaces_the_packs_tags(workspace, shared_data, tmp_path):
    hydra = shared_data / "tags" / "hydra.yaml"
    first = import_packs(workspace, [hydra])
    assert (first.imported[0].entries, first.imported[0].replaced) == (117, 0)
    # the same pack from elsewhere (a fresh download): the same pack, replaced
    copy = tmp_path / "download" / "hydra.yaml"
    copy.parent.mkdir()
    shutil.copy(hydra, copy)
    again = import_packs(workspace, [copy])
    assert (again.imported[0].entries, again.imported[0].replaced) == (117, 117)
    con = workspace.store.con
    assert con.execute("SELECT count(*), count(DISTINCT address) FROM chain_tags").fetchone() == (
        117,
        117,
    )
    assert con.execute("SELECT count(*), any_value(file) FROM chain_tag_packs").fetchone() == (
        1,
        str(copy),
    )
    # an edited pack replaces the old one whole: tags it no longer has are gone
    text = hydra.read_text(encoding="utf-8").splitlines(keepends=True)
    copy.write_text("".join(text[:20]), encoding="utf-8")  # header + 8 tags
    import_packs(workspace, [copy])
    assert con.execute("SELECT count(*) FROM chain_tags").fetchone() == (8,)


def test_pack_identity_is_the_path_below_packs(tmp_path):
    assert pack_name(tmp_path / "repo" / "packs" / "a" / "x.yaml") == "a/x.yaml"
    assert pack_name(tmp_path / "packs" / "packs" / "y.yaml") == "y.yaml"
    assert pack_name(tmp_path / "elsewhere" / "z.yaml") == "z.yaml"


def test_header_forms_and_inheritance_as_graphsense(workspace, tmp_path):
    """A nested ``header:``, a quoted date, a mapping context, a tx tag, a tag overriding the
    header, a confidence left out (GraphSense's lowest), duplicates stored once."""
    path = tmp_path / "mixed.yaml"
    path.write_text(
        """header:
  title: Mixed
  creator: tests
  lastmod: '2024-02-03'
currency: BTC
label: Some Exchange
category: exchange
source: https://example.org/list
tags:
- address: BC1QJ6J6P0JDEFL6PVDZX3KX8245YY5MZ6Q4LUHZES
  context: {note: upper case bech32, refs: [1, 2]}
- address: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy
  label: Other
  category: mixing_service
  confidence: heuristic
  is_cluster_definer: true
- address: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy
  label: other
- tx_hash: f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16
  network: BTC
""",
        encoding="utf-8",
    )
    assert graphsense_verdict(path) is None  # GraphSense accepts it too
    report = import_packs(workspace, [path])
    pack = report.imported[0]
    # the third tag is GraphSense's duplicate of the second (key fields case-folded)
    assert (pack.entries, pack.duplicates) == (3, 1)
    assert any("confidence" in w for w in pack.warnings)
    rows = tag_rows(workspace.store.con)
    first, second, tx = rows
    assert first["address"] == "bc1qj6j6p0jdefl6pvdzx3kx8245yy5mz6q4luhzes"  # canonical
    assert (first["label"], first["category"], first["confidence"], first["confidence_level"]) == (
        "Some Exchange",
        "exchange",
        "unknown",
        5,
    )
    assert json.loads(first["context"]) == {"note": "upper case bech32", "refs": [1, 2]}
    assert first["lastmod"] == second["lastmod"] == datetime(2024, 2, 3)  # inherited, parsed
    picked = ("label", "category", "confidence", "is_cluster_definer")
    assert tuple(second[k] for k in picked) == ("Other", "mixing_service", "heuristic", True)
    assert (tx["address"], tx["tx_hash"][:8], tx["line"]) == (None, "f4184fc5", 19)
    assert workspace.store.con.execute("SELECT lastmod FROM chain_tag_packs").fetchone() == (
        datetime(2024, 2, 3),
    )


def test_actorpack_imports_its_actors(workspace, capsys):
    read = read_pack(EARLY_ACTORS)
    assert read.kind == "actorpack"
    report = import_packs(workspace, [EARLY_ACTORS, EARLY_TAGS])
    assert [(p.kind, p.entries, p.noun) for p in report.imported] == [
        ("actorpack", 2, "actors"),
        ("tagpack", 2, "tags"),
    ]
    actors = workspace.store.con.execute(
        "SELECT actor, label, categories, jurisdictions, aliases, line FROM chain_tag_actors "
        "ORDER BY line"
    ).fetchall()
    assert actors == [
        ("satoshinakamoto", "Satoshi Nakamoto", ["user"], [], [], 6),
        ("halfinney", "Hal Finney", ["user"], ["US"], ["hal"], 13),
    ]
    tags = {r["actor"]: r for r in tag_rows(workspace.store.con)}
    assert set(tags) == {a[0] for a in actors}  # each tag names an actor of the pack


def test_cli_json_and_folders(tmp_path, shared_data, capsys):
    ws = str(tmp_path / "ws")
    run(capsys, "init", ws)
    folder = tmp_path / "packs"
    folder.mkdir()
    for name in ("hydra.yaml", "mixing_fc2021.yaml"):
        shutil.copy(shared_data / "tags" / name, folder / name)
    code, out, _ = run(capsys, "chain", "tags", "import", str(folder), "--json", "-w", ws)
    assert code == 0
    report = json.loads(out)
    assert report["tags"] == 183
    assert [(p["pack"], p["entries"]) for p in report["imported"]] == [
        ("hydra.yaml", 117),
        ("mixing_fc2021.yaml", 66),
    ]
    code, out, _ = run(
        capsys,
        "chain",
        "tags",
        "list",
        "--category",
        "mixer",
        "--label",
        "chip",
        "--json",
        "-w",
        ws,
    )
    listed = json.loads(out)
    assert len(listed) == 10
    assert {r["label"] for r in listed} == {"ChipMixer"}
    code, out, _ = run(capsys, "chain", "tags", "list", "--category", "mixxer", "-w", ws)
    assert code == 2
    code, out, _ = run(capsys, "chain", "tags", "taxonomy", "--json")
    taxonomy = json.loads(out)
    levels = {
        c["id"]: (c["level"], c["graphsense"], c["export_as"]) for c in taxonomy["confidence"]
    }
    assert levels["seized_data"] == (70, False, "forensic_investigation")
    assert levels["web_crawl"] == (20, True, "web_crawl")
    assert "mixing_service" in taxonomy["categories"]


def test_empty_folder_is_an_error(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    run(capsys, "init", ws)
    (tmp_path / "none").mkdir()
    code, _, err = run(capsys, "chain", "tags", "import", str(tmp_path / "none"), "-w", ws)
    assert code == 2
    assert err.startswith("error: ")
    assert "no TagPacks" in err


def test_two_files_of_one_pack_in_one_command(workspace, shared_data, tmp_path):
    from spector.errors import UsageError

    other = write_pack(tmp_path / "x" / "hydra.yaml", {"title": "t", "creator": "c"}, [])
    with pytest.raises(UsageError, match=r"same pack 'hydra\.yaml'"):
        import_packs(workspace, [shared_data / "tags" / "hydra.yaml", other])
    assert workspace.store.con.execute("SELECT count(*) FROM chain_tags").fetchone() == (0,)
