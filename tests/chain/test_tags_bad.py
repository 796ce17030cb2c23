"""Packs that break the schema: one `error:` line naming file, line and field, exit 2,
nothing imported (from that file or any other of the command); and GraphSense's own tool
refuses the same files (the rules are its rules, not ours), except the one rule Spector
adds: a Bitcoin address must pass its checksum."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tags_helpers import graphsense_verdict, run

from spector.chain._tags_import import import_packs
from spector.errors import InputError

Edit = Callable[[list[str]], list[str]]


def _set(n: int, text: str) -> Edit:
    """Replace line n (1-based)."""
    return lambda lines: [*lines[: n - 1], text, *lines[n:]]


def _insert(n: int, text: str) -> Edit:
    """Insert a line so that it becomes line n."""
    return lambda lines: [*lines[: n - 1], text, *lines[n - 1 :]]


def _drop(n: int) -> Edit:
    return lambda lines: [*lines[: n - 1], *lines[n:]]


# mixing_fc2021.yaml: 8 header lines, `tags:` on line 9, tag i on lines 10+2i and 11+2i.
# hydra.yaml: 11 header lines, `tags:` on line 12, tag i on line 13+i.
CASES: list[tuple[str, str, Edit, int, str, bool]] = [
    # id, base pack, edit, line, what the message must hold, GraphSense refuses it too
    (
        "header-confidence",
        "hydra",
        _set(3, "confidence: authority"),
        3,
        "confidence: 'authority' is not in the confidence taxonomy (did you mean 'authority_data'",
        True,
    ),
    (
        "unknown-tag-field",
        "mixing",
        _insert(20, "  labl: x"),
        20,
        "tags[4].labl: field not allowed in a tag (did you mean 'label'?)",
        True,
    ),
    (
        "unknown-header-field",
        "mixing",
        _insert(3, "sourse: x"),
        3,
        "sourse: field not allowed in the header (did you mean 'source'?)",
        True,
    ),
    (
        "boolean-as-text",
        "mixing",
        _insert(20, "  is_cluster_definer: yes please"),
        20,
        "tags[4].is_cluster_definer: Field is_cluster_definer must be of type boolean",
        True,
    ),
    (
        "missing-source",
        "mixing",
        _drop(6),
        9,
        "tags[0]: missing mandatory field 'source' (in the tag or the header)",
        True,
    ),
    ("missing-title", "mixing", _drop(1), 1, "missing mandatory header field 'title'", True),
    (
        "bad-category",
        "mixing",
        _insert(20, "  category: mixxer"),
        20,
        "tags[4].category: 'mixxer' is not in the concept taxonomy",
        True,
    ),
    (
        "bad-concept-item",
        "mixing",
        _insert(20, "  concepts: [market, nope]"),
        20,
        "tags[4].concepts[1]: 'nope' is not in the concept taxonomy",
        True,
    ),
    ("key-twice", "mixing", _insert(20, "  label: twice"), 20, "key 'label' given twice", True),
    ("yaml-syntax", "mixing", _insert(20, "  label: [unclosed"), 21, "not valid YAML", True),
    (
        "date-as-text",
        "mixing",
        _insert(20, "  lastmod: yesterday"),
        20,
        "tags[4].lastmod: Field lastmod must be of type datetime",
        True,
    ),
    (
        "address-is-a-number",
        "mixing",
        _set(19, "  address: 1"),
        19,
        "tags[4].address: Field address must be of type text",
        True,
    ),
    (
        "address-and-tx",
        "mixing",
        _insert(20, "  tx_hash: ab"),
        18,
        "tags[4]: address and tx_hash are mutually exclusive",
        True,
    ),
    ("no-address", "mixing", _drop(19), 18, "tags[4]: a tag needs an address or a tx_hash", True),
    (
        "tags-not-a-list",
        "mixing",
        lambda lines: [*lines[:8], "tags: many"],
        9,
        "tags: must be a list",
        True,
    ),
    (
        "tag-not-a-mapping",
        "mixing",
        _insert(10, "- just a string"),
        10,
        "tags[0]: must be a mapping of fields",
        True,
    ),
    (
        "nul-in-label",
        "mixing",
        _set(18, '- label: "Chip\\0Mixer"'),
        18,
        "tags[4].label: contains a NUL character",
        True,
    ),
    (
        "empty-label",
        "mixing",
        _set(18, "- label: '  '"),
        18,
        "tags[4].label: Empty value in text field label",
        True,
    ),
    ("empty-value", "mixing", _set(18, "- label:"), 18, "tags[4].label: empty value", True),
    (
        "context-json-not-object",
        "mixing",
        _insert(20, "  context: '[1, 2]'"),
        20,
        "tags[4].context: JSON context must be an object",
        True,
    ),
    (
        "header-not-a-mapping",
        "mixing",
        _insert(1, "header: 5"),
        1,
        "header: must be a mapping of header fields",
        True,
    ),
    (
        "a-list-not-a-pack",
        "mixing",
        lambda lines: ["- a", "- b"],
        1,
        "not a TagPack or ActorPack: the file holds a list",
        True,
    ),
    ("empty-file", "mixing", lambda lines: [""], 1, "the file holds nothing", True),
    # Spector's own rule: GraphSense only warns of a bad checksum
    (
        "address-checksum",
        "hydra",
        _set(20, "- address: 1MQBDeRWsiJBf7K1VGjJ7PWEL6GJXMfmLX"),
        20,
        "tags[7].address: not a Bitcoin address: bad base58check checksum",
        False,
    ),
]


Case = tuple[str, str, Edit, int, str, bool]


def _bad_file(tmp_path: Path, shared_data: Path, case: Case) -> Path:
    name, base, edit, *_ = case
    text = shared_data / "tags" / f"{'hydra' if base == 'hydra' else 'mixing_fc2021'}.yaml"
    lines = edit(text.read_text(encoding="utf-8").split("\n"))
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory):
    """One workspace for every case: each must leave it as empty as it found it."""
    from spector.store import Workspace

    with Workspace.init(tmp_path_factory.mktemp("bad") / "ws") as ws:
        yield ws


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_pack_names_file_line_field_nothing_imported(case, tmp_path, shared_data, shared_ws):
    _, _, _, line, fragment, graphsense_refuses = case
    bad = _bad_file(tmp_path, shared_data, case)
    good = shared_data / "tags" / "hydra.yaml"
    with pytest.raises(InputError) as caught:
        import_packs(shared_ws, [good, bad])
    message = caught.value.one_line()
    assert message.startswith(f"{bad}:{line}: "), message
    assert fragment in message
    assert "\n" not in message
    con = shared_ws.store.con
    assert con.execute("SELECT count(*) FROM chain_tags").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM chain_tag_packs").fetchone() == (0,)
    verdict = graphsense_verdict(bad)
    assert (verdict is not None) == graphsense_refuses, verdict


@pytest.mark.parametrize("index", [0, 4, len(CASES) - 1], ids=lambda i: CASES[i][0])
def test_cli_prints_one_error_line_and_exits_2(index, tmp_path, shared_data, capsys):
    case = CASES[index]
    bad = _bad_file(tmp_path, shared_data, case)
    ws = str(tmp_path / "ws")
    run(capsys, "init", ws)
    good = shared_data / "tags" / "hydra.yaml"
    code, out, err = run(capsys, "chain", "tags", "import", str(good), str(bad), "-w", ws)
    assert code == 2
    assert out == ""  # not even the good file's line: nothing of the command was imported
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {bad}:{case[3]}: "), err
    assert case[4] in err


def test_skip_bad_imports_the_good_ones(tmp_path, shared_data, capsys):
    bad = _bad_file(tmp_path, shared_data, CASES[1])
    ws = str(tmp_path / "ws")
    run(capsys, "init", ws)
    good = shared_data / "tags" / "hydra.yaml"
    code, out, err = run(
        capsys, "chain", "tags", "import", str(bad), str(good), "--skip-bad", "-w", ws
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "imported 117 tags from hydra.yaml"
    where = re.escape(str(bad))
    assert re.match(rf"skipped unknown-tag-field\.yaml: {where}:20: tags\[4\]\.labl", lines[1])


def test_a_failing_file_leaves_the_earlier_import_untouched(workspace, shared_data, tmp_path):
    """A bad version of a pack already imported: the error, and the old tags stay."""
    import_packs(workspace, [shared_data / "tags" / "mixing_fc2021.yaml"])
    broken = tmp_path / "packs" / "mixing_fc2021.yaml"
    broken.parent.mkdir()
    lines = (shared_data / "tags" / "mixing_fc2021.yaml").read_text(encoding="utf-8").split("\n")
    broken.write_text("\n".join(_insert(30, "  confidence: sure")(lines)), encoding="utf-8")
    with pytest.raises(InputError, match=r":30: tags\[9\]\.confidence: 'sure'"):
        import_packs(workspace, [broken])
    assert workspace.store.con.execute(
        "SELECT count(*), count(DISTINCT label) FROM chain_tags"
    ).fetchone() == (66, 5)


def test_not_utf8_and_missing_file(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    run(capsys, "init", ws)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"title: Caf\xe9\ncreator: x\ntags: []\n")
    code, _, err = run(capsys, "chain", "tags", "import", str(latin), "-w", ws)
    assert code == 2
    assert err.startswith(f"error: {latin}:1: not UTF-8 text")
    code, _, err = run(capsys, "chain", "tags", "import", str(tmp_path / "nope.yaml"), "-w", ws)
    assert code == 2
    assert "no such file" in err


def test_actorpack_faults_name_their_line(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    run(capsys, "init", ws)
    base = (
        "title: A\ncreator: B\nactors:\n- id: acme\n  uri: https://acme.example\n"
        "  label: Acme\n  lastmod: 2024-01-01\n  categories: [exchange]\n"
    )
    cases = [
        (
            base.replace("  uri: https://acme.example\n", ""),
            4,
            "actors[0]: missing mandatory field 'uri'",
        ),
        (
            base.replace("[exchange]", "[exchange, bank]"),
            8,
            "actors[0].categories[1]: 'bank' is not in the concept taxonomy",
        ),
        (
            base + "  jurisdictions: [XX]\n",
            9,
            "actors[0].jurisdictions[0]: 'XX' is not in the country taxonomy",
        ),
        (base.replace("id: acme", "id: Acme Corp"), 3, "actors: For the following actor ids"),
        (base + "  colour: red\n", 9, "actors[0].colour: field not allowed in an actor"),
    ]
    for i, (text, line, fragment) in enumerate(cases):
        path = tmp_path / f"actors{i}.yaml"
        path.write_text(text, encoding="utf-8")
        code, out, err = run(capsys, "chain", "tags", "import", str(path), "-w", ws)
        assert (code, out) == (2, ""), err
        assert err.startswith(f"error: {path}:{line}: "), err
        assert fragment in err, err
    ok = tmp_path / "actors_ok.yaml"
    ok.write_text(base, encoding="utf-8")
    assert run(capsys, "chain", "tags", "import", str(ok), "-w", ws)[1] == (
        "imported 1 actors from actors_ok.yaml\n"
    )
