"""`spector resolve ...` and `spector actor ...`: the JSON contracts exactly, decisions
through the CLI, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spector.cli import main
from tests.resolve.resolved import build_range, build_resolved, fresh_copy

SUMMARY_KEYS = {
    "accounts", "candidate_pairs", "all_pairs", "links", "actors", "multi_account_actors",
    "skipped_blocks", "threshold", "model", "decided_pairs", "refused", "seconds",
    "cpu_seconds",
}  # fmt: skip
LIST_KEYS = {"actor_id", "accounts", "markets", "handles", "revenue_usd"}


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    out = build_range(root)
    return out, build_resolved(root, out)


@pytest.fixture
def ws(built, tmp_path):
    return str(fresh_copy(built[1], tmp_path / "ws"))


def _actors(capsys, ws):
    code, out, err = run(capsys, "actor", "list", "--json", "-w", ws)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_resolve_json_summary_and_a_rerun_changes_nothing(capsys, ws):
    code, out, err = run(capsys, "resolve", "--json", "-w", ws)
    assert code == 0, err
    first = json.loads(out)
    assert set(first) == SUMMARY_KEYS
    assert first["accounts"] > first["actors"] >= first["multi_account_actors"] > 0
    assert 0 < first["candidate_pairs"] < first["all_pairs"]
    before = _actors(capsys, ws)
    code, out, _ = run(capsys, "resolve", "-w", ws)
    assert code == 0
    assert out.startswith("resolved ")
    assert "actors" in out
    assert _actors(capsys, ws) == before


def test_actor_list_json_is_one_object_per_actor(capsys, ws):
    rows = _actors(capsys, ws)
    assert rows
    assert all(set(r) == LIST_KEYS for r in rows)
    assert [r["accounts"] for r in rows] == sorted((r["accounts"] for r in rows), reverse=True)
    assert all(r["actor_id"].startswith("actor-") and len(r["actor_id"]) == 18 for r in rows)
    assert all(isinstance(r["revenue_usd"], (float, type(None))) for r in rows)
    assert sum(r["accounts"] for r in rows) == json.loads(
        run(capsys, "resolve", "--json", "-w", ws)[1])["accounts"]  # fmt: skip


def test_actor_list_estimates_revenue_only_when_small_or_asked(capsys, ws, monkeypatch):
    from spector.resolve import cli

    calls = []
    real = cli._revenue_by_actor

    def counted(workspace):
        calls.append(1)
        return real(workspace)

    monkeypatch.setattr(cli, "_revenue_by_actor", counted)
    small = _actors(capsys, ws)
    assert len(calls) == 1
    assert any(r["revenue_usd"] for r in small)  # the tiny range sells
    monkeypatch.setattr(cli, "REVENUE_AUTO_ACCOUNTS", 5)  # now "too big" to estimate
    big = _actors(capsys, ws)
    assert len(calls) == 1
    assert all(r["revenue_usd"] is None for r in big)
    assert [r["actor_id"] for r in big] == [r["actor_id"] for r in small]
    code, out, _ = run(capsys, "actor", "list", "-w", ws)
    assert code == 0
    assert out.rstrip().endswith("(add --revenue)")
    code, out, _ = run(capsys, "actor", "list", "--revenue", "--json", "-w", ws)
    assert len(calls) == 2
    assert [json.loads(line) for line in out.splitlines()] == small
    run(capsys, "actor", "list", "--no-revenue", "--json", "-w", ws)
    assert len(calls) == 2


def test_stored_evidence_itemises_the_links_and_near_pairs_only(capsys, ws):
    from spector.resolve._model import load_model
    from spector.resolve._run import EVIDENCE_SHARE
    from spector.store import Workspace

    cut = load_model().threshold
    run(capsys, "resolve", "-w", ws)
    with Workspace.open(Path(ws)) as w:
        rows = w.store.con.execute(
            "SELECT score, linked, evidence, features FROM resolve_links"
        ).fetchall()
    linked = [json.loads(e) for s, ok, e, _ in rows if ok]
    low = [json.loads(e) for s, ok, e, _ in rows if not ok and s < EVIDENCE_SHARE * cut]
    assert linked
    assert low
    assert all(len(e) > 2 and e[-1].startswith("model score") for e in linked)
    assert all(len(e) == 1 and "evidence not itemised" in e[0] for e in low)
    from spector.resolve._features import FEATURES
    from spector.resolve._model import DERIVED

    for *_, features in rows:
        got = json.loads(features)
        assert list(got) == sorted((*FEATURES, *DERIVED))
        assert all(isinstance(v, float) for v in got.values())


def test_actor_show_json_has_exactly_the_contract_keys_and_formats(capsys, ws, tmp_path):
    actor = _actors(capsys, ws)[0]["actor_id"]
    code, out, err = run(capsys, "actor", "show", actor, "--json", "-w", ws)
    assert code == 0, err
    package = json.loads(out)
    assert {"actor_id", "accounts", "links", "selectors", "revenue_usd"} <= set(package)
    assert package["actor_id"] == actor
    assert all({"account_id", "market", "handle"} <= set(a) for a in package["accounts"])
    assert all({"a", "b", "score", "evidence"} <= set(link) for link in package["links"])
    assert isinstance(package["selectors"], list)
    code, out, _ = run(capsys, "actor", "show", actor, "--format", "md", "-w", ws)
    assert code == 0
    assert out.startswith(f"# Target package: {actor}")
    page = tmp_path / "out" / "p.html"
    code, out, _ = run(capsys, "actor", "show", actor, "--format", "html", "--out", str(page),
                       "-w", ws)  # fmt: skip
    assert code == 0
    assert out.startswith(f"wrote {page}")
    assert page.read_text().startswith("<!doctype html>")


def test_confirm_reject_split_through_the_cli(capsys, ws):
    actor = _actors(capsys, ws)[0]
    code, out, err = run(capsys, "actor", "show", actor["actor_id"], "--json", "-w", ws)
    link = json.loads(out)["links"][0]
    code, out, err = run(capsys, "resolve", "reject", link["a"], link["b"], "--why", "test",
                         "--who", "m", "--json", "-w", ws)  # fmt: skip
    assert code == 0, err
    decided = json.loads(out)
    assert (decided["kind"], decided["who"], decided["why"]) == ("reject", "m", "test")
    assert decided["actors"][0] != decided["actors"][1]
    code, out, err = run(capsys, "resolve", "confirm", link["a"], link["b"], "--json", "-w", ws)
    decided = json.loads(out)
    assert decided["actors"][0] == decided["actors"][1]
    code, out, err = run(capsys, "resolve", "split", decided["actors"][0], "-w", ws)
    assert code == 0
    assert out.startswith(f"split {decided['actors'][0]}:")


@pytest.mark.parametrize(
    "args",
    [
        ("actor", "show", "actor-000000000000"),
        ("actor", "show", "x", "--format", "pdf"),
        ("resolve", "confirm", "vendor_account-nope", "vendor_account-nix"),
        ("resolve", "split", "actor-nope"),
        ("resolve", "--threshold", "1.5"),
        ("resolve", "--model", "/no/such/model.json"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(capsys, ws, args):
    code, out, err = run(capsys, *args, "-w", ws)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err


def test_unknown_actor_error_names_the_closest(capsys, ws):
    actor = _actors(capsys, ws)[0]["actor_id"]
    code, _, err = run(capsys, "actor", "show", actor[:-1] + "q", "-w", ws)
    assert code == 2
    assert f"closest known: {actor}" in err


def test_train_writes_a_model_resolve_can_use(capsys, built, ws, tmp_path):
    model = tmp_path / "model.json"
    code, out, err = run(capsys, "resolve", "train", str(built[0]), "--out", str(model))
    assert code == 0, err
    assert "threshold" in out
    assert model.is_file()
    code, out, err = run(capsys, "resolve", "--model", str(model), "--json", "-w", ws)
    assert code == 0, err
    assert json.loads(out)["model"] == str(model)
    code, _, err = run(capsys, "resolve", "train", str(tmp_path), "--out", str(model))
    assert code == 2
    assert "no truth.json" in err
