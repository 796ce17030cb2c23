"""`spector cases arrest|seizure|import-operation` and `spector report operation` end to
end, on SQLite and PostgreSQL: JSON and text output, one-line errors with exit 2 that
leave the store as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import spector.cli as root_cli
from spector.cases import cli as cases_cli
from spector.cases._ops import Arrest, Seizure
from spector.cli import main
from spector.report import cli as report_cli
from tests.cases.harness import PASSWORD, Instance
from tests.conftest import SHARED_DATA

Run = Callable[..., tuple[int, str, str]]
SPECTOR = SHARED_DATA / "operations" / "spector-2023.json"


@pytest.fixture
def run(
    instance: Instance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Run:
    """``run(user, *args)`` -> (exit code, stdout, stderr) of `spector ARGS --db URL`, with
    the `cases` and `report` groups added (until the lead wires them into spector.cli)."""
    original = root_cli.build_app

    def build():  # type: ignore[no-untyped-def]
        app = original()
        names = {g.name for g in app.registered_groups}
        if "cases" not in names:
            cases_cli.register(app, None)  # type: ignore[arg-type]
        if "report" not in names:
            report_cli.register(app, None)  # type: ignore[arg-type]
        return app

    monkeypatch.setattr(root_cli, "build_app", build)
    monkeypatch.setenv("SPECTOR_PASSWORD", PASSWORD)
    for name in ("SPECTOR_WORKSPACE", "SPECTOR_TOKEN", "SPECTOR_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    url = instance.store.url

    def invoke(user: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, "--db", url, "--user", user])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _json(run: Run, user: str, *args: str) -> Any:
    code, out, err = run(user, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _rows(instance: Instance) -> tuple[int, int]:
    with instance.store.session() as s:
        arrests = s.scalar(select(func.count()).select_from(Arrest))
        seizures = s.scalar(select(func.count()).select_from(Seizure))
    return int(arrests or 0), int(seizures or 0)


def test_arrest_and_seizure_add_and_list(run: Run, instance: Instance) -> None:
    made = _json(run, "bka_analyst", "cases", "arrest", "add", "SpecTor", "--country", "DE",
                 "--count", "3", "--date", "2023-04-30", "--note", "Wiesbaden")  # fmt: skip
    assert made["count"] == 3
    assert made["date"] == "2023-04-30"
    assert made["distribution"] == "operation"
    code, out, _ = run("nl_viewer", "cases", "arrest", "list", "--operation", "SpecTor")
    assert code == 0
    assert "DE" in out
    assert "1 arrest record(s), 3 arrest(s)" in out
    assert _json(run, "fbi_viewer", "cases", "arrest", "list") == []
    seized = _json(run, "nl_analyst", "cases", "seizure", "add", "SpecTor", "--kind", "drugs",
                   "--substance", "cocaine", "--kg", "12.5")  # fmt: skip
    assert seized["kg"] == "12.5"
    assert seized["substance"] == "cocaine"
    code, out, _ = run("bka_viewer", "cases", "seizure", "list")
    assert code == 0
    assert "12.5 kg cocaine" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("arrest", "add", "SpecTor", "--country", "UK"), "did you mean 'GB'"),
        (("arrest", "add", "SpecTor", "--country", "DE", "--date", "30.04.2023"), "YYYY-MM-DD"),
        (
            ("seizure", "add", "SpecTor", "--kind", "drugs", "--substance", "x", "--kg", "-2"),
            "kg must be ≥ 0",
        ),
        (("seizure", "add", "SpecTor", "--kind", "gun", "--count", "1"), "unknown seizure kind"),
    ],
)
def test_bad_input_is_one_error_line(
    run: Run, instance: Instance, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run("bka_analyst", "cases", *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert _rows(instance) == (0, 0)


def test_import_operation_replace_and_report(run: Run, instance: Instance, tmp_path: Path) -> None:
    # the harness already has an operation "SpecTor" (BKA + Politie)
    code, _, err = run("admin", "cases", "import-operation", str(SPECTOR))
    assert code == 2
    assert "exists already" in err
    assert "--replace" in err
    assert _rows(instance) == (0, 0)
    done = _json(run, "admin", "cases", "import-operation", str(SPECTOR), "--replace")
    assert done["totals"]["arrests"] == 288
    assert done["totals"]["discrepancies"] == [
        "drugs: 850 kg stated, 354 kg itemised (496 kg not itemised)"
    ]
    assert _rows(instance) == (9, 6)

    out_dir = tmp_path / "rep"
    report = _json(run, "nl_viewer", "report", "operation", "SpecTor", "--out", str(out_dir))
    assert set(report) == {"operation", "html", "png", "pdf", "totals", "discrepancies"}
    for key in ("html", "png", "pdf", "totals"):
        assert Path(report[key]).is_file()
        assert Path(report[key]).parent == out_dir
    assert report["discrepancies"] == done["totals"]["discrepancies"]
    code, _out, _ = run("nl_viewer", "report", "operation", "Nope", "--out", str(tmp_path / "x"))
    assert code == 2
    assert not (tmp_path / "x").exists()


def test_import_of_a_bad_file_writes_nothing(run: Run, instance: Instance, tmp_path: Path) -> None:
    data = json.loads(SPECTOR.read_text("utf-8"))
    data["name"] = "SpecTor 2"
    data["seizures"][2]["kg"] = -1
    bad = tmp_path / "spector-2023.json"
    bad.write_text(json.dumps(data), "utf-8")
    code, out, err = run("admin", "cases", "import-operation", str(bad))
    assert code == 2
    assert out == ""
    assert err.strip().endswith("spector-2023.json: seizures[2].kg: must be ≥ 0")
    assert _rows(instance) == (0, 0)
    code, _, err = run("bka_analyst", "cases", "import-operation", str(SPECTOR), "--replace")
    assert code == 2
    assert "only an admin" in err


def test_import_by_an_agency_new_to_the_operation_counts_its_records(
    run: Run, instance: Instance, tmp_path: Path
) -> None:
    # FBI is in no operation yet: the import makes it a member, and its summary must count
    # the arrests as a member sees them (not as the principal it had before the import).
    data = json.loads(SPECTOR.read_text(encoding="utf-8"))
    data["name"] = "SpecTor again"
    copy = tmp_path / "again.json"
    copy.write_text(json.dumps(data), encoding="utf-8")
    done = _json(run, "fbi_admin", "cases", "import-operation", str(copy))
    assert done["totals"]["arrests"] == 288
    assert done["totals"]["arrests_by_country"]["US"] == 153
    assert done["totals"]["discrepancies"] == [
        "drugs: 850 kg stated, 354 kg itemised (496 kg not itemised)"
    ]
