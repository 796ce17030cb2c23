"""`spector cases init|agency|user|token|operation`: JSON output, who may do what, and
one-line errors with exit code 2 that leave the store as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from spector.cases._audit import AuditEntry
from spector.cases._db import CaseStore
from spector.cases.cli import build_cases_app
from spector.store import Workspace
from tests.cases.harness import PASSWORD

Cli = Callable[..., tuple[int, str, str]]
ADMIN_PW = "admin password, long enough"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SPECTOR_TOKEN",
        "SPECTOR_USER",
        "SPECTOR_PASSWORD",
        "SPECTOR_NEW_PASSWORD",
        "SPECTOR_WORKSPACE",
    ):
        monkeypatch.delenv(name, raising=False)


def _json(cli: Cli, *args: str) -> object:
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def _error(cli: Cli, *args: str) -> str:
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def ready(cli: Cli, case_url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A store with agency BKA and its admin "chief"; returns the --db option to pass."""
    monkeypatch.setenv("SPECTOR_NEW_PASSWORD", ADMIN_PW)
    db = ["--db", case_url]
    data = _json(
        cli, "cases", "init", "--agency", "BKA", "--country", "DE", "--admin", "Chief", *db
    )
    assert isinstance(data, dict)
    assert data["admin"] == "chief"
    assert data["roles"] == ["admin", "analyst"]
    assert str(data["store"]).startswith(("sqlite:///", "postgresql+psycopg://"))
    monkeypatch.delenv("SPECTOR_NEW_PASSWORD")
    return db


def test_who_workflow(cli: Cli, ready: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = ready
    admin = [*db, "--user", "chief"]
    monkeypatch.setenv("SPECTOR_PASSWORD", ADMIN_PW)
    assert _json(cli, "cases", "agency", "add", "Politie", "--country", "nl", *admin) == {
        "id": 2,
        "name": "Politie",
        "country": "NL",
    }
    _json(cli, "cases", "agency", "add", "FBI", "--country", "US", *admin)
    monkeypatch.setenv("SPECTOR_NEW_PASSWORD", PASSWORD)
    added = _json(
        cli,
        "cases",
        "user",
        "add",
        "nl_analyst",
        "--agency",
        "politie",
        "--role",
        "analyst",
        "--role",
        "liaison",
        "--email",
        "a@politie.example",
        *admin,
    )
    assert added == {
        "id": 2,
        "username": "nl_analyst",
        "agency": "Politie",
        "roles": ["analyst", "liaison"],
    }
    op = _json(
        cli,
        "cases",
        "operation",
        "add",
        "SpecTor",
        "--agency",
        "BKA",
        "--agency",
        "Politie",
        "--announced",
        "2023-05-02",
        *admin,
    )
    assert op == {"id": 1, "name": "SpecTor", "agencies": ["BKA", "Politie"]}
    _json(cli, "cases", "operation", "join", "SpecTor", "FBI", *admin)
    assert _json(cli, "cases", "operation", "list", *admin) == [
        {
            "id": 1,
            "name": "SpecTor",
            "announced": "2023-05-02",
            "description": None,
            "agencies": ["BKA", "FBI", "Politie"],
        }
    ]
    agencies = _json(cli, "cases", "agency", "list", *admin)
    assert [(a["name"], a["country"], a["users"]) for a in agencies] == [  # type: ignore[union-attr]
        ("BKA", "DE", 1),
        ("FBI", "US", 0),
        ("Politie", "NL", 1),
    ]

    # the analyst issues its own token and works with it (no password needed then)
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    issued = _json(
        cli, "cases", "token", "issue", "--days", "7", "--label", "ci", *db, "-u", "nl_analyst"
    )
    assert isinstance(issued, dict)
    assert issued["user"] == "nl_analyst"
    token = str(issued["token"])
    monkeypatch.delenv("SPECTOR_PASSWORD")
    monkeypatch.setenv("SPECTOR_TOKEN", token)
    users = _json(cli, "cases", "user", "list", *db)
    assert [(u["username"], u["agency"], u["active"]) for u in users] == [  # type: ignore[union-attr]
        ("chief", "BKA", True),
        ("nl_analyst", "Politie", True),
    ]
    listed = _json(cli, "cases", "token", "list", *db)
    assert [(t["prefix"], t["state"], t["label"]) for t in listed] == [  # type: ignore[union-attr]
        (issued["prefix"], "valid", "ci")
    ]
    assert listed[0]["last_used_at"] is not None  # type: ignore[index]
    assert "only an admin may list other users' tokens" in _error(
        cli, "cases", "token", "list", "--all", *db
    )
    _json(cli, "cases", "token", "revoke", str(issued["prefix"]), *db)
    assert "was revoked" in _error(cli, "cases", "agency", "list", *db)

    # the admin revokes the analyst: its password stops working
    monkeypatch.delenv("SPECTOR_TOKEN")
    monkeypatch.setenv("SPECTOR_PASSWORD", ADMIN_PW)
    assert _json(cli, "cases", "user", "revoke", "nl_analyst", *admin) == {"revoked": "nl_analyst"}
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    assert "login refused" in _error(cli, "cases", "agency", "list", *db, "-u", "nl_analyst")


def test_text_output(cli: Cli, ready: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTOR_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("SPECTOR_USER", "chief")
    code, out, _ = cli("cases", "agency", "add", "Europol", "--country", "EU", *ready)
    assert code == 0
    assert out.strip() == "added agency Europol (EU)"
    code, out, _ = cli("cases", "agency", "list", *ready)
    assert code == 0
    assert [line.split()[:2] for line in out.strip().splitlines()] == [
        ["BKA", "DE"],
        ["Europol", "EU"],
    ]
    code, out, _ = cli("cases", "token", "issue", *ready)
    assert code == 0
    assert out.startswith("spk_")
    assert "shown only now" in out


def test_errors_are_one_line_and_write_nothing(
    cli: Cli, ready: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ready
    admin = [*db, "--user", "chief"]
    monkeypatch.setenv("SPECTOR_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("SPECTOR_NEW_PASSWORD", PASSWORD)
    _json(cli, "cases", "user", "add", "viewer1", "--agency", "BKA", "--role", "viewer", *admin)
    before = (
        _json(cli, "cases", "agency", "list", *admin),
        _json(cli, "cases", "user", "list", *admin),
    )

    assert "unknown country code 'XX'" in _error(
        cli, "cases", "agency", "add", "NCA", "--country", "XX", *admin
    )
    assert "'BKA' exists already" in _error(
        cli, "cases", "agency", "add", "bka", "--country", "DE", *admin
    )
    line = _error(cli, "cases", "user", "add", "u2", "--agency", "BKB", "--role", "viewer", *admin)
    assert "no agency 'BKB'" in line
    assert "did you mean 'BKA'" in line
    assert "'viewer1' exists already" in _error(
        cli, "cases", "user", "add", "viewer1", "--agency", "BKA", "--role", "viewer", *admin
    )
    assert "unknown role 'analist'" in _error(
        cli, "cases", "user", "add", "u3", "--agency", "BKA", "--role", "analist", *admin
    )
    monkeypatch.setenv("SPECTOR_NEW_PASSWORD", "short")
    assert "too short" in _error(
        cli, "cases", "user", "add", "u4", "--agency", "BKA", "--role", "viewer", *admin
    )
    assert "YYYY-MM-DD" in _error(
        cli, "cases", "operation", "add", "Op", "--agency", "BKA", "--announced", "May 2", *admin
    )
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    viewer = [*db, "--user", "viewer1"]
    assert "only an admin may create agencies" in _error(
        cli, "cases", "agency", "add", "NCA", "--country", "GB", *viewer
    )
    assert "only an admin may create operations" in _error(
        cli, "cases", "operation", "add", "Op", "--agency", "BKA", *viewer
    )
    assert "only an admin may revoke users" in _error(
        cli, "cases", "user", "revoke", "chief", *viewer
    )
    assert "issue tokens for other users" in _error(
        cli, "cases", "token", "issue", "--for", "chief", *viewer
    )
    assert "token lifetime 0 days" in _error(cli, "cases", "token", "issue", "--days", "0", *viewer)
    assert "login refused for 'chief'" in _error(cli, "cases", "agency", "list", *db, "-u", "chief")
    with CaseStore.open(db[1]) as store, store.session() as s:  # the refusal is audited
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None
        assert (last.action, last.user_id, last.detail) == (
            "login_failed",
            None,
            '{"username":"chief"}',
        )
    assert "who is acting?" in _error(cli, "cases", "agency", "list", *db)
    monkeypatch.setenv("SPECTOR_TOKEN", "spk_0123456789ab_" + "x" * 43)
    assert "unknown API token" in _error(cli, "cases", "agency", "list", *db)
    monkeypatch.setenv("SPECTOR_TOKEN", "not-a-token")
    assert "not a Spector API token" in _error(cli, "cases", "agency", "list", *db)
    monkeypatch.delenv("SPECTOR_TOKEN")
    assert "set up already" in _error(
        cli, "cases", "init", "--agency", "X", "--country", "DE", "--admin", "x", *db
    )

    monkeypatch.setenv("SPECTOR_PASSWORD", ADMIN_PW)
    after = (
        _json(cli, "cases", "agency", "list", *admin),
        _json(cli, "cases", "user", "list", *admin),
    )
    assert after == before


def test_bad_db_url(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTOR_PASSWORD", ADMIN_PW)
    line = _error(cli, "cases", "agency", "list", "--db", "mysql://u:topsecret@h/db", "-u", "x")
    assert "unsupported database" in line
    assert "topsecret" not in line
    line = _error(
        cli, "cases", "agency", "list", "--db", "postgresql://u:topsecret@127.0.0.1:1/db", "-u", "x"
    )
    assert "cannot use the case store postgresql+psycopg://u:***@127.0.0.1:1/db" in line
    assert "topsecret" not in line


def test_no_workspace_and_no_db(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPECTOR_NEW_PASSWORD", ADMIN_PW)
    line = _error(cli, "cases", "init", "--agency", "BKA", "--country", "DE", "--admin", "chief")
    assert "--db" in line
    assert "--workspace" in line


def test_workspace_store_is_cases_sqlite(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        root = ws.root
    monkeypatch.setenv("SPECTOR_NEW_PASSWORD", ADMIN_PW)
    _json(
        cli,
        "cases",
        "init",
        "--agency",
        "BKA",
        "--country",
        "DE",
        "--admin",
        "chief",
        "-w",
        str(root),
    )
    assert (root / "cases.sqlite").is_file()
    monkeypatch.chdir(root)  # the workspace we are in
    monkeypatch.setenv("SPECTOR_PASSWORD", ADMIN_PW)
    assert [a["name"] for a in _json(cli, "cases", "agency", "list", "-u", "chief")] == ["BKA"]  # type: ignore[union-attr]


def test_passwords_are_prompted_hidden_and_confirmed(tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(build_cases_app(), name="cases")
    app.callback()(lambda: None)
    db = ["--db", f"sqlite:///{tmp_path / 'c.sqlite'}"]
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["cases", "init", "--agency", "BKA", "--country", "DE", "--admin", "chief", *db],
        input=f"{ADMIN_PW}\nmistyped password!!\n{ADMIN_PW}\n{ADMIN_PW}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert ADMIN_PW not in result.output
    result = runner.invoke(
        app,
        ["cases", "user", "add", "ana", "--agency", "BKA", "--role", "analyst", "-u", "chief", *db],
        input=f"{ADMIN_PW}\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "password for chief" in result.output
    assert "new password for ana" in result.output
    result = runner.invoke(
        app, ["cases", "agency", "list", "-u", "ana", "--json", *db], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert '"name": "BKA"' in result.output
