"""`spector cases evidence|custody|audit ...` end to end, on SQLite and PostgreSQL:
output, --json, exit codes (0 ok, 1 a finding, 2 a user error)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

import spector.cli as root_cli
from spector.cases import _records
from spector.cases import cli as cases_cli
from spector.cli import main
from tests.cases.harness import PASSWORD, Instance
from tests.cases.test_audit import unprotect
from tests.cases.test_evidence import PAGE, _workspace_with_captures

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Run:
    """``run(user, *args)`` -> (exit code, stdout, stderr) of `spector cases ARGS --db URL`."""
    original = root_cli.build_app

    def build():  # type: ignore[no-untyped-def]
        app = original()
        if not any(g.name == "cases" for g in app.registered_groups):
            cases_cli.register(app, None)  # type: ignore[arg-type]  (until the lead wires it)
        return app

    monkeypatch.setattr(root_cli, "build_app", build)
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    monkeypatch.delenv("SPECTOR_WORKSPACE", raising=False)
    monkeypatch.delenv("SPECTOR_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    url = instance.store.url

    def invoke(user: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["cases", *args, "--db", url, "--user", user])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _case(inst: Instance) -> int:
    with inst.store.session() as s:
        return _records.open_case(s, inst["bka_analyst"], title="Vendor gh0st").id


def test_evidence_add_list_show_verify(instance: Instance, run: Run, tmp_path: Path) -> None:
    case_id = _case(instance)
    f = tmp_path / "export.csv"
    f.write_bytes(b"order,btc\n1,0.5\n")
    args = ["evidence", "add", str(case_id), "--kind", "export", "--file", str(f)]
    code, out, err = run("bka_analyst", *args, "--origin", "orders export", "--json")
    assert (code, err) == (0, "")
    item = json.loads(out)
    assert item["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert item["size"] == 16
    ev = item["id"]
    code, out, _ = run("bka_analyst", "evidence", "list")
    assert code == 0
    assert f"case {case_id}" in out
    assert item["sha256"][:16] in out
    code, out, _ = run("bka_viewer", "evidence", "show", str(ev), "--json")
    assert code == 0
    assert json.loads(out)["custody"] == []
    code, out, _ = run("bka_analyst", "evidence", "verify", str(ev))
    assert code == 0
    assert out.strip() == f"evidence {ev} matches: {f.resolve()} hashes to {item['sha256']}"
    f.write_bytes(b"order,btc\n1,0.05\n")
    code, out, _ = run("bka_analyst", "evidence", "verify", str(ev))
    assert code == 1
    assert out.startswith(f"evidence {ev} does NOT match:\n  {f.resolve()} now hashes to ")
    code, out, _ = run("bka_analyst", "evidence", "verify", str(ev), "--json")
    assert code == 1
    assert json.loads(out)["matches"] is False


def test_evidence_errors_exit_2(instance: Instance, run: Run, tmp_path: Path) -> None:
    case_id = str(_case(instance))
    cases = [
        (["--kind", "exprt", "--sha256", "a" * 64], "unknown evidence kind 'exprt'"),
        (["--kind", "export"], "give the evidence content"),
        (["--kind", "export", "--file", str(tmp_path / "nope")], "no such file or folder"),
        (["--kind", "warc_capture", "--capture", "capture-x"], "is looked up in a workspace"),
    ]
    for extra, message in cases:
        code, out, err = run("bka_analyst", "evidence", "add", case_id, *extra, "--origin", "x")
        assert code == 2
        assert out == ""
        assert err.startswith("error: ")
        assert message in err
        assert len(err.strip().splitlines()) == 1
    code, _, err = run("fbi_analyst", "evidence", "show", "1")
    assert code == 2
    assert "no evidence 1" in err


def test_capture_by_id_through_the_cli(instance: Instance, run: Run, tmp_path: Path) -> None:
    root, rows = _workspace_with_captures(tmp_path)
    vendor = next(r for r in rows if str(r["url"]).endswith("gh0st"))
    case_id = str(_case(instance))
    code, out, err = run(
        "bka_analyst", "evidence", "add", case_id, "--kind", "warc_capture",
        "--capture", str(vendor["id"]), "--origin", "crawl", "-w", str(root), "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    item = json.loads(out)
    assert item["sha256"] == hashlib.sha256(PAGE).hexdigest()
    assert item["path"] == vendor["warc_file"]
    code, out, _ = run("bka_analyst", "evidence", "verify", str(item["id"]), "-w", str(root))
    assert code == 0
    assert "matches" in out


def test_custody_add_and_show(instance: Instance, run: Run) -> None:
    case_id = str(_case(instance))
    _, out, _ = run(
        "bka_analyst", "evidence", "add", case_id, "--kind", "device", "--sha256", "b" * 64,
        "--origin", "phone of suspect A", "--json",
    )  # fmt: skip
    ev = str(json.loads(out)["id"])
    code, out, err = run(
        "bka_analyst", "custody", "add", ev, "--action", "collected",
        "--at", "2023-05-02T09:30", "--tz", "Europe/Berlin", "--where", "Wiesbaden",
        "--to", "KHK Meier",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "collected 2023-05-02T09:30:00+02:00 [Europe/Berlin] at Wiesbaden" in out
    code, out, err = run(
        "bka_analyst", "custody", "add", ev, "--action", "transferred",
        "--at", "2023-05-03T14:00 America/New_York", "--where", "JFK", "--to", "SA Smith",
    )  # fmt: skip
    assert (code, err) == (0, "")
    code, out, err = run(
        "bka_analyst", "custody", "add", ev, "--action", "examined",
        "--at", "2023-05-01T10:00+02:00", "--where", "lab",
    )  # fmt: skip
    assert code == 2
    assert "is before the previous event" in err
    code, _, err = run("bka_analyst", "custody", "add", ev, "--action", "examined",
                       "--at", "2023-05-04T10:00", "--where", "lab")  # fmt: skip
    assert code == 2
    assert "has no time zone" in err
    code, out, _ = run("bka_viewer", "custody", "show", ev, "--json")
    assert code == 0
    chain = json.loads(out)
    assert [(e["action"], e["at"], e["tz"], e["by"]) for e in chain] == [
        ("collected", "2023-05-02T09:30:00+02:00", "Europe/Berlin", "bka_analyst"),
        ("transferred", "2023-05-03T14:00:00-04:00", "America/New_York", "bka_analyst"),
    ]
    assert chain[1]["from_person"] == "KHK Meier"
    code, out, _ = run("bka_viewer", "custody", "show", ev)
    assert "KHK Meier -> SA Smith at JFK by bka_analyst" in out


def test_audit_verify_show_and_anchor(instance: Instance, run: Run) -> None:
    _case(instance)
    code, out, err = run("admin", "audit", "show", "--head")
    assert (code, err) == (0, "")
    anchor = out.strip()
    seq = int(anchor.split(":")[0])
    # Every command signs in, and a sign-in is an audit entry: the log grows by one.
    code, out, _ = run("bka_viewer", "audit", "verify")
    assert code == 0
    assert out.startswith(f"audit log intact: {seq + 1} entries, head {seq + 1}:")
    code, out, _ = run("bka_viewer", "audit", "verify", "--anchor", anchor, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["entries"] == seq + 2
    assert report["anchor_checked"] is True
    assert report["problems"] == []
    code, _, err = run("admin", "audit", "verify", "--anchor", "12:abc")
    assert code == 2
    assert "expected SEQ:HASH" in err
    code, out, _ = run("admin", "audit", "show", "--limit", "3", "--json")
    assert [r["seq"] for r in json.loads(out)] == [
        seq + 3,
        seq + 2,
        seq + 1,
    ]  # (bad anchor: no sign-in)
    code, out, _ = run("nl_analyst", "audit", "show", "--json")
    politie = instance.agencies["Politie"]
    assert code == 0
    assert {r["agency_id"] for r in json.loads(out)} <= {politie}
    code, _, err = run("bka_viewer", "audit", "show")
    assert code == 2
    assert "may not read the audit log" in err


def _tamper_edit(inst: Instance) -> str:
    _sql(inst, "UPDATE audit_log SET detail = '{}' WHERE seq = 4")
    return "entry 4 was edited"


def _tamper_delete(inst: Instance) -> str:
    _sql(inst, "DELETE FROM audit_log WHERE seq BETWEEN 5 AND 7")
    return "entries 5-7 are missing"


def _tamper_swap(inst: Instance) -> str:
    _sql(inst, "UPDATE audit_log SET seq = -1 WHERE seq = 3")
    _sql(inst, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    _sql(inst, "UPDATE audit_log SET seq = 4 WHERE seq = -1")
    return "entry 3 is out of order"


def _tamper_truncate(inst: Instance) -> str:
    # The next sign-in appends after the cut: the cut shows as a run of missing entries.
    _sql(inst, "DELETE FROM audit_log WHERE seq > 10")
    return "entries 11-"


def _tamper_head(inst: Instance) -> str:
    # The next sign-in chains onto the forged head hash: the link after it breaks.
    _sql(inst, "UPDATE audit_head SET hash = :h", h="0" * 64)
    return "does not follow entry"


def _sql(inst: Instance, statement: str, **params: object) -> None:
    unprotect(inst)
    with inst.store.engine.begin() as conn:
        conn.execute(text(statement), params)


@pytest.mark.parametrize(
    "tamper", [_tamper_edit, _tamper_delete, _tamper_swap, _tamper_truncate, _tamper_head]
)
def test_audit_verify_exits_1_on_tampering(
    instance: Instance, run: Run, tamper: Callable[[Instance], str]
) -> None:
    _case(instance)
    expected = tamper(instance)
    code, out, err = run("admin", "audit", "verify")
    assert code == 1
    assert err == ""
    lines = out.strip().splitlines()
    assert any(expected in line for line in lines[:-1]), lines
    assert lines[-1].startswith("audit log NOT intact: ")


def test_audit_verify_exits_1_when_the_anchor_is_gone(instance: Instance, run: Run) -> None:
    _case(instance)
    _, out, _ = run("admin", "audit", "show", "--head")
    anchor = out.strip()
    unprotect(instance)
    with instance.store.engine.begin() as conn:
        row = conn.execute(text("SELECT seq, hash FROM audit_log WHERE seq = 10")).one()
        conn.execute(text("DELETE FROM audit_log WHERE seq > 10"))
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": row[0], "h": row[1]})
    code, out, _ = run("admin", "audit", "verify")
    assert code == 0  # consistent again without the anchor: what the anchor is for
    code, out, _ = run("admin", "audit", "verify", "--anchor", anchor)
    assert code == 1
    assert out.startswith(f"anchor {anchor.split(':')[0]}:")
    assert "is not in the log" in out
