"""The CLI contract: commands, JSON output, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from spector import __version__
from spector.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"spector {__version__}\n", "")


def test_init_then_status_json(capsys, tmp_path):
    ws = tmp_path / "ws"
    code, out, _ = run(capsys, "init", str(ws))
    assert code == 0
    assert "initialised" in out
    code, out, _ = run(capsys, "status", "--workspace", str(ws), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] >= 1
    assert data["tables"]["markets"] == 0
    assert set(data["tables"]) >= {
        "markets",
        "vendor_accounts",
        "listings",
        "feedback",
        "selectors",
        "captures",
    }


def test_status_finds_the_workspace_it_runs_in(capsys, tmp_path, monkeypatch):
    run(capsys, "init", str(tmp_path / "ws"))
    monkeypatch.chdir(tmp_path / "ws" / "warc")
    monkeypatch.delenv("SPECTOR_WORKSPACE", raising=False)
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    assert json.loads(out)["workspace"] == str(tmp_path / "ws")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("status", "--workspace", "/nonexistent/ws"), "not a Spector workspace"),
        (("no-such-command",), "No such command"),
        (("status", "--bogus"), "No such option"),
        (("selectors", "check", "onion", "abc.onion"), "invalid onion"),
        (("selectors", "check", "fax", "123"), "unknown selector kind"),
        (("import", "parquet", "/nonexistent"), "workspace"),
    ],
)
def test_user_errors_are_one_line_exit_2(capsys, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPECTOR_WORKSPACE", raising=False)
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_corrupt_store_is_a_user_error(capsys, tmp_path):
    run(capsys, "init", str(tmp_path / "ws"))
    (tmp_path / "ws" / "store.duckdb").write_bytes(b"not a database" * 100)
    code, _, err = run(capsys, "status", "-w", str(tmp_path / "ws"))
    assert code == 2
    assert "store.duckdb" in err
    assert err.startswith("error: ")


def test_export_and_import_parquet(capsys, tmp_path):
    run(capsys, "init", str(tmp_path / "a"))
    run(capsys, "init", str(tmp_path / "b"))
    code, out, _ = run(capsys, "export", "parquet", str(tmp_path / "x"), "-w", str(tmp_path / "a"))
    assert code == 0
    assert (tmp_path / "x" / "manifest.json").is_file()
    code, out, _ = run(capsys, "import", "parquet", str(tmp_path / "x"), "-w", str(tmp_path / "b"))
    assert code == 0
    assert "imported" in out


def test_selectors_check_json(capsys):
    code, out, _ = run(
        capsys,
        "selectors",
        "check",
        "eth_address",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["value"] == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_demo_runs_and_shows_status(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--no-serve", "--workspace", str(tmp_path / "demo"))
    assert code == 0
    assert "markets" in out
    assert (tmp_path / "demo" / "spector.toml").is_file()
    # [I]'s step: BKA and Politie hold the same PGP key (one notice each), the FBI another
    # actor's address; an arrest per agency; the report and an intact audit log.
    flat = " ".join(out.split())
    assert "2 deconfliction notices" in flat
    assert "audit log intact" in flat
    report = tmp_path / "demo" / "reports" / "operation"
    totals = json.loads((report / "totals.json").read_text())
    assert totals["arrests_by_country"] == {"DE": 1, "NL": 1, "US": 1}
    assert (report / "report.pdf").read_bytes()[:5] == b"%PDF-"
    # a second run reuses the workspace
    code, _, _ = run(capsys, "demo", "--no-serve", "--workspace", str(tmp_path / "demo"))
    assert code == 0
