"""`spector cases case|target|note|task ...` end to end, on SQLite and PostgreSQL:
JSON and text output, who sees what, --expect-version, one-line errors with exit 2
that leave the store as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import func, select

import spector.cli as root_cli
from spector.cases import cli as cases_cli
from spector.cases._records import Case, Target
from spector.cli import main
from tests.cases.harness import PASSWORD, Instance

Run = Callable[..., tuple[int, str, str]]


def _cases_only() -> typer.Typer:
    """The root app with only the `cases` group: building every stage's commands costs
    about a second per invocation, and these tests make many (one test below runs the
    full app)."""
    app = typer.Typer(no_args_is_help=True)
    app.callback()(lambda: None)
    cases_cli.register(app, None)  # type: ignore[arg-type]
    return app


@pytest.fixture
def run(
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Run:
    """``run(user, *args)`` -> (exit code, stdout, stderr) of `spector cases ARGS --db URL`."""
    app = _cases_only()
    monkeypatch.setattr(root_cli, "build_app", lambda: app)
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    for name in ("SPECTOR_WORKSPACE", "SPECTOR_TOKEN", "SPECTOR_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    url = instance.store.url

    def invoke(user: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["cases", *args, "--db", url, "--user", user])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_the_spector_command_has_the_record_commands(
    instance: Instance, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    code = main(["cases", "case", "open", "wired", "--json", "--db", instance.store.url,
                 "--user", "bka_analyst"])  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)["title"] == "wired"


def _json(run: Run, user: str, *args: str) -> Any:
    code, out, err = run(user, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _error(run: Run, user: str, *args: str) -> str:
    code, out, err = run(user, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def _count(inst: Instance, model: type[Any]) -> int:
    with inst.store.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_case_workflow(run: Run, instance: Instance):
    case = _json(run, "bka_analyst", "case", "open", "Monopoly vendors", "--operation",
                 "SpecTor", "--summary", "the top vendors of Monopoly Market")  # fmt: skip
    assert (case["reference"], case["distribution"], case["operation_id"], case["version"]) == (
        f"{case['created_at'][:4]}-0001", "operation", instance.operation_id, 1)  # fmt: skip
    cid = str(case["id"])
    target = _json(run, "bka_analyst", "target", "add", cid, "--kind", "selector", "--ref",
                   "email:Vendor@Example.ORG")  # fmt: skip
    assert target["ref"] == "email:vendor@example.org"
    assert target["distribution"] == "operation"  # inherited from the case
    person = _json(run, "bka_analyst", "target", "add", cid, "--kind", "person", "--name",
                   "Jan Doe", "--name", "JD", "--nationality", "de", "--dob", "1990-02-03",
                   "--distribution", "agency")  # fmt: skip
    assert person["details"] == {"names": ["Jan Doe", "JD"], "nationality": "DE",
                                 "dob": "1990-02-03"}  # fmt: skip
    assert person["label"] == "Jan Doe"
    note = _json(run, "bka_analyst", "note", "add", cid, "seen on Monopoly", "--target",
                 str(target["id"]))  # fmt: skip
    assert note["target_id"] == target["id"]
    task = _json(run, "bka_analyst", "task", "add", cid, "subpoena the exchange", "--assignee",
                 "bka_analyst", "--due", "2026-12-24")  # fmt: skip
    assert (task["status"], task["due"]) == ("todo", "2026-12-24")

    # the partner in the operation sees the case, the selector and the note, not the person
    view = _json(run, "nl_viewer", "case", "show", cid)
    assert [t["kind"] for t in view["targets"]] == ["selector"]
    assert [n["body"] for n in view["notes"]] == ["seen on Monopoly"]
    assert view["case"]["agency"] == "BKA"
    # the FBI is not in the operation: the case does not exist for it
    assert _json(run, "fbi_analyst", "case", "list") == []
    assert _error(run, "fbi_analyst", "case", "show", cid) == f"error: no case {cid}; check the id"

    code, out, _ = run("bka_analyst", "case", "show", cid)
    assert code == 0
    assert f"case {cid} ({case['reference']}) of BKA: Monopoly vendors" in out
    assert "target " in out
    assert "person" in out
    assert "Jan Doe" in out
    code, out, _ = run("nl_viewer", "case", "list")
    assert code == 0
    assert "Monopoly vendors" in out
    assert "operation" in out

    listed = _json(run, "bka_analyst", "task", "list", "--mine")
    assert [t["title"] for t in listed] == ["subpoena the exchange"]
    done = _json(run, "bka_analyst", "task", "done", str(task["id"]), "--expect-version", "1")
    assert (done["status"], done["version"]) == ("done", 2)
    assert _json(run, "bka_analyst", "task", "list", "--status", "todo") == []

    shared = _json(run, "bka_liaison", "case", "share", cid, "--distribution", "all")
    assert (shared["distribution"], shared["version"]) == ("all", 2)
    assert [c["id"] for c in _json(run, "fbi_viewer", "case", "list")] == [case["id"]]
    # the targets stay as they were: still only the operation's
    assert _json(run, "fbi_viewer", "target", "list", cid) == []
    _json(run, "bka_analyst", "case", "share", cid, "--distribution", "all", "--with-children",
          "--expect-version", "2")  # fmt: skip
    kinds = sorted(t["kind"] for t in _json(run, "fbi_viewer", "target", "list", cid))
    assert kinds == ["person", "selector"]

    # the case itself was already "all": only its records changed
    closed = _json(run, "bka_analyst", "case", "close", cid, "--expect-version", "2")
    assert (closed["status"], closed["version"]) == ("closed", 3)
    assert [c["id"] for c in _json(run, "bka_analyst", "case", "list", "--status", "closed")] == [
        case["id"]]  # fmt: skip
    assert "is closed" in _error(run, "bka_analyst", "target", "add", cid, "--kind", "actor",
                                 "--ref", "actor-0123456789ab")  # fmt: skip


def test_stale_expect_version_is_one_error_line(run: Run, instance: Instance):
    cid = str(_json(run, "bka_analyst", "case", "open", "x")["id"])
    _json(run, "bka_analyst", "case", "share", cid, "--distribution", "all")
    line = _error(run, "bka_analyst", "case", "close", cid, "--expect-version", "1")
    assert line.startswith(f"error: case {cid} changed since you read it (version 2, you had 1)")
    with instance.store.session() as s:
        assert s.get(Case, int(cid)).status == "open"  # type: ignore[union-attr]


REFUSED_CASES = [
    ("bka_viewer", ["case", "open", "x"], "may not open a case"),
    ("bka_media", ["case", "open", "x"], "may not open a case"),
    ("fbi_analyst", ["case", "open", "x", "--operation", "SpecTor"], "not in operation"),
    ("bka_analyst", ["case", "open", "x", "--distribution", "public"], "unknown distribution"),
    ("bka_analyst", ["case", "open", "x", "--handling", "H3"], "H3 needs its restrictions"),
    ("bka_analyst", ["case", "open", "x", "--operation", "Spectr"], "no operation 'Spectr'"),
]
BAD_TARGETS = [
    (["--kind", "actr", "--ref", "actor-0123456789ab"], "did you mean 'actor'"),
    (["--kind", "actor", "--ref", "vendor-1"], "is not a actor ref"),
    (["--kind", "selector", "--ref", "btc_address:not-an-address"], "btc_address"),
    (["--kind", "selector", "--ref", "emial:a@b.org"], "did you mean 'email'"),
    (["--kind", "person"], "needs at least one detail"),
    (["--kind", "person", "--details", '{"nmes": ["x"]}'], "did you mean 'names'"),
    (["--kind", "person", "--details", "[1"], "--details is not JSON"),
    (["--kind", "person", "--name", "x", "--dob", "1990-13-01"], "dob"),
    (["--kind", "cluster", "--ref", "12", "--distribution", "all"], "more widely than"),
]


def test_refusals_are_one_line_and_write_nothing(run: Run, instance: Instance):
    # one instance for all of them: the store setup costs more than the commands
    for user, args, message in REFUSED_CASES:
        assert message in _error(run, user, *args), (user, args)
    assert _count(instance, Case) == 0
    cid = str(_json(run, "bka_analyst", "case", "open", "x")["id"])
    for args, message in BAD_TARGETS:
        assert message in _error(run, "bka_analyst", "target", "add", cid, *args), args
    assert _count(instance, Target) == 0
    assert "is not a date" in _error(run, "bka_analyst", "task", "add", cid, "t", "--due", "soon")


def test_other_agency_cannot_edit_a_shared_case(run: Run, instance: Instance):
    cid = str(_json(run, "bka_analyst", "case", "open", "x", "--distribution", "all")["id"])
    assert "only its owner may edit" in _error(run, "nl_analyst", "case", "close", cid)
    assert "only its owner adds a note" in _error(run, "nl_analyst", "note", "add", cid, "hi")
    assert "may not edit a case" in _error(run, "bka_liaison", "case", "close", cid)


def test_in_a_workspace_target_refs_must_exist_there(run: Run, tmp_path: Path):
    from spector.store import Workspace

    with Workspace.init(tmp_path / "ws") as ws:  # run() works in tmp_path
        ws.store.con.execute(
            "INSERT INTO actor_accounts VALUES ('actor-0123456789ab', 'a', 'vendor', 'm', 'h')"
        )
    cid = str(_json(run, "bka_analyst", "case", "open", "x")["id"])
    args = ("target", "add", cid, "--kind", "actor", "--workspace", str(tmp_path / "ws"))
    assert _json(run, "bka_analyst", *args, "--ref", "actor-0123456789ab")["ref"]
    line = _error(run, "bka_analyst", *args, "--ref", "actor-ffffffffffff")
    assert line.startswith("error: no actor actor-ffffffffffff in the workspace")
