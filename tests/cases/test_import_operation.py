"""import_operation and operation_totals with the real SpecTor figures (both backends),
and every bad operation file of issue [I]: one clear error, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from spector.cases import _ops
from spector.cases._base import Principal
from spector.cases._db import CaseStore
from spector.cases._ops import Arrest, Seizure, import_operation, operation_totals
from spector.cases._who import (
    Agency,
    Operation,
    OperationAgency,
    create_agency,
    create_user,
    init_instance,
    operation_by_name,
    principal_of,
)
from spector.errors import AccessDenied, ConflictError, InputError, UserError
from tests.conftest import SHARED_DATA

SPECTOR = SHARED_DATA / "operations" / "spector-2023.json"
PASSWORD = "correct horse battery staple"

#: The totals of the published SpecTor figures, exactly (totals.json of issue [I]).
SPECTOR_TOTALS: dict[str, Any] = {
    "arrests": 288,
    "arrests_by_country": {
        "US": 153, "GB": 55, "DE": 52, "NL": 10, "AT": 9, "FR": 5, "CH": 2, "BR": 1, "PL": 1,
    },
    "firearms": 117,
    "drugs_kg": 354,
    "drugs_kg_by_substance": {
        "amphetamine": 258, "cocaine": 43, "MDMA": 43, "LSD and ecstasy pills": 10,
    },
    "cash_crypto": [{"amount": 50800000, "currency": "EUR"}],
    "discrepancies": ["drugs: 850 kg stated, 354 kg itemised (496 kg not itemised)"],
}  # fmt: skip
US_GAP = "arrests in US: 155 stated, 153 in the per-country records"


def spector_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPECTOR.read_text("utf-8"))
    return data


def write(tmp_path: Path, data: Any, name: str = "spector-2023.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2) if not isinstance(data, str) else data, "utf-8")
    return path


@pytest.fixture
def admin(store: CaseStore) -> Principal:
    """An instance whose first admin works for Europol (an agency the file names)."""
    with store.session() as s:
        return init_instance(
            s, agency="Europol (EC3)", country="EU", admin="admin", password=PASSWORD
        )


def user(store: CaseStore, admin: Principal, agency: str, name: str, *roles: str) -> Principal:
    with store.session() as s:
        made = create_user(s, fresh_admin(s, admin), agency=agency, username=name,
                           password=PASSWORD, roles=roles)  # fmt: skip
        return principal_of(s, made.id)


def fresh_admin(s: Any, admin: Principal) -> Principal:
    """``admin`` as it logs in now (its operations re-read)."""
    return principal_of(s, admin.user_id)


def counts(store: CaseStore) -> dict[str, int]:
    """Rows in every table an import writes to (and the audit log)."""
    with store.session() as s:
        return {
            t: int(s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("agencies", "operations", "operation_agencies", "arrests", "seizures",
                      "audit_log")
        }  # fmt: skip


def test_spector_totals_exactly(store: CaseStore, admin: Principal) -> None:
    with store.session() as s:
        op = import_operation(s, admin, SPECTOR)
        assert op.name == "SpecTor"
    with store.session() as s:
        totals = operation_totals(s, fresh_admin(s, admin), "spector")
    assert totals == SPECTOR_TOTALS
    assert list(totals) == list(SPECTOR_TOTALS)  # the key order of totals.json
    assert json.loads(json.dumps(totals)) == totals  # JSON-able as it is


def test_us_155_stated_is_a_discrepancy(store: CaseStore, admin: Principal, tmp_path: Path) -> None:
    data = spector_file()
    data["stated_totals"]["arrests_by_country"] = {"US": 155}
    with store.session() as s:
        import_operation(s, admin, write(tmp_path, data))
    with store.session() as s:
        totals = operation_totals(s, fresh_admin(s, admin), "SpecTor")
    assert totals["arrests"] == 288
    assert totals["discrepancies"] == [US_GAP, SPECTOR_TOTALS["discrepancies"][0]]


def test_no_discrepancy_when_everything_adds_up(
    store: CaseStore, admin: Principal, tmp_path: Path
) -> None:
    data = spector_file()
    data["stated_totals"]["drugs_kg"] = 354
    data["stated_totals"]["arrests_by_country"] = {"US": 153, "PL": 1}
    with store.session() as s:
        import_operation(s, admin, write(tmp_path, data))
        assert operation_totals(s, fresh_admin(s, admin), "SpecTor")["discrepancies"] == []


def test_what_the_import_writes(store: CaseStore, admin: Principal) -> None:
    with store.session() as s:
        import_operation(s, admin, SPECTOR)
    with store.session() as s:
        op = operation_by_name(s, "SpecTor")
        assert op.announced is not None
        assert op.announced.isoformat() == "2023-05-02"
        assert op.source is not None
        assert op.source.startswith("Europol press release")
        assert op.stated_totals == {
            "arrests": 288, "firearms": 117, "drugs_kg": "850",
            "cash_crypto": {"amount": "50800000", "currency": "EUR"},
        }  # fmt: skip
        agencies = {a.name: a for a in s.scalars(select(Agency))}
        assert len(agencies) == 10  # Europol existed; the nine national agencies were made
        members = set(s.scalars(select(OperationAgency.agency_id).where(
            OperationAgency.operation_id == op.id)))  # fmt: skip
        assert members == {a.id for a in agencies.values()}
        arrests = list(s.scalars(select(Arrest).order_by(Arrest.id)))
        assert [(a.country, a.count) for a in arrests][:3] == [("US", 153), ("GB", 55), ("DE", 52)]
        us = agencies["United States law enforcement (JCODE)"]
        assert arrests[0].agency_id == us.id  # owned by the country's agency from the file
        assert {a.distribution for a in arrests} == {"operation"}
        assert all(a.created_by == admin.user_id for a in arrests)
        seizures = list(s.scalars(select(Seizure)))
        assert len(seizures) == 6
        assert {x.agency_id for x in seizures} == {admin.agency_id}  # the importer's
        imports = s.execute(text("SELECT count(*) FROM audit_log WHERE action = 'import'"))
        assert imports.scalar_one() == 1


def test_arrests_in_a_country_without_agency_belong_to_the_importer(
    store: CaseStore, admin: Principal, tmp_path: Path
) -> None:
    data = spector_file()
    data["agencies"] = [a for a in data["agencies"] if a["country"] != "BR"]
    with store.session() as s:
        import_operation(s, admin, write(tmp_path, data))
        br = s.scalars(select(Arrest).where(Arrest.country == "BR")).one()
        assert br.agency_id == admin.agency_id


def test_who_sees_the_figures(store: CaseStore, admin: Principal) -> None:
    with store.session() as s:
        import_operation(s, admin, SPECTOR)
        create_agency(s, fresh_admin(s, admin), name="Interpol", country="INT")
    us_viewer = user(store, admin, "United States law enforcement (JCODE)", "us_viewer", "viewer")
    outsider = user(store, admin, "Interpol", "int_viewer", "viewer")
    with store.session() as s:
        assert operation_totals(s, us_viewer, "SpecTor") == SPECTOR_TOTALS
        seen = operation_totals(s, outsider, "SpecTor")
    assert seen["arrests"] == 0
    assert seen["cash_crypto"] == []
    assert seen["discrepancies"] == [
        "arrests: 288 stated, 0 in the per-country records (288 not itemised)",
        "firearms: 117 stated, 0 in the seizure records (117 not itemised)",
        "drugs: 850 kg stated, 0 kg itemised (850 kg not itemised)",
        "cash and crypto: EUR 50,800,000 stated, EUR 0 itemised (EUR 50,800,000 not itemised)",
    ]


def test_replace(store: CaseStore, admin: Principal, tmp_path: Path) -> None:
    with store.session() as s:
        import_operation(s, admin, SPECTOR)
    data = spector_file()
    data["arrests"][0]["count"] = 155
    data["stated_totals"]["arrests"] = 290
    data["seizures"] = data["seizures"][:2]
    with store.session() as s:
        import_operation(s, fresh_admin(s, admin), write(tmp_path, data), replace=True)
    with store.session() as s:
        totals = operation_totals(s, fresh_admin(s, admin), "SpecTor")
        assert s.scalar(select(func.count()).select_from(Arrest)) == 9  # replaced, not added
        assert s.scalar(select(func.count()).select_from(Seizure)) == 2
        assert s.scalar(select(func.count()).select_from(Operation)) == 1
    assert totals["arrests"] == 290
    assert totals["arrests_by_country"]["US"] == 155
    assert totals["drugs_kg"] == 0
    assert "drugs: 850 kg stated, 0 kg itemised (850 kg not itemised)" in totals["discrepancies"]


def test_non_admin_is_refused_naming_the_missing_agencies(
    store: CaseStore, admin: Principal
) -> None:
    analyst = user(store, admin, "Europol (EC3)", "analyst", "analyst")
    before = counts(store)
    with pytest.raises(AccessDenied) as caught, store.session() as s:
        import_operation(s, analyst, SPECTOR)
    message = str(caught.value)
    assert "'German law enforcement (BKA)'" in message
    assert "only an admin" in message
    assert "Europol (EC3)" not in message.split("(")[1]  # it exists: not named as missing
    assert counts(store) == before


def test_existing_agency_with_another_country(store: CaseStore, admin: Principal) -> None:
    with store.session() as s:
        create_agency(s, admin, name="Dutch law enforcement", country="BE")
    before = counts(store)
    with (
        pytest.raises(ConflictError, match=r"agencies\[3\].*country BE, the file says NL"),
        store.session() as s,
    ):
        import_operation(s, fresh_admin(s, admin), SPECTOR)
    assert counts(store) == before


Mutation = Callable[[dict[str, Any]], object]

BAD_FILES: list[tuple[str, Mutation, type[UserError], str]] = [
    ("unknown key", lambda d: d["seizures"][0].update(amout=1), InputError,
     r"spector-2023\.json: seizures\[0\]\.amout: unknown key 'amout'; did you mean 'amount'\?"),
    ("unknown top key", lambda d: d.update(stated_total={}), InputError,
     r"stated_total: unknown key 'stated_total'; did you mean 'stated_totals'\?"),
    ("bad country", lambda d: d["arrests"][1].update(country="UK"), InputError,
     r"arrests\[1\]\.country: unknown country code 'UK' .*did you mean 'GB'\?"),
    ("negative kg", lambda d: d["seizures"][2].update(kg=-258), InputError,
     r"spector-2023\.json: seizures\[2\]\.kg: must be ≥ 0"),
    ("wrong kind", lambda d: d["seizures"][1].update(kind="firearm"), InputError,
     r"seizures\[1\]\.kind: unknown kind 'firearm' \(expected one of cash_crypto, firearms, "
     r"drugs, other\); did you mean 'firearms'\?"),
    ("string count", lambda d: d["arrests"][0].update(count="153"), InputError,
     r"arrests\[0\]\.count: must be a whole number"),
    ("zero arrests", lambda d: d["arrests"][0].update(count=0), InputError,
     r"arrests\[0\]\.count: must be ≥ 1"),
    ("missing key", lambda d: d["seizures"][3].pop("substance"), InputError,
     r"seizures\[3\]\.substance: required key 'substance' is missing"),
    ("bad date", lambda d: d.update(announced="02/05/2023"), InputError,
     r"announced: must be a date written YYYY-MM-DD"),
    ("country twice", lambda d: d["arrests"].append({"country": "US", "count": 2}), InputError,
     r"arrests\[9\]\.country: 'US' is listed twice \(also arrests\[0\]\)"),
    ("bad stated country", lambda d: d["stated_totals"].update(arrests_by_country={"XX": 1}),
     InputError, r"stated_totals\.arrests_by_country\.XX: unknown country code 'XX'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "error", "pattern"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_bad_file_one_error_nothing_written(
    store: CaseStore,
    admin: Principal,
    tmp_path: Path,
    mutate: Mutation,
    error: type[UserError],
    pattern: str,
) -> None:
    data = spector_file()
    mutate(data)
    path = write(tmp_path, data)
    before = counts(store)
    with pytest.raises(error, match=pattern) as caught, store.session() as s:
        import_operation(s, admin, path)
    assert caught.value.exit_code == 2
    assert counts(store) == before


def test_malformed_json_names_line_and_column(
    store: CaseStore, admin: Principal, tmp_path: Path
) -> None:
    path = write(
        tmp_path, '{\n  "name": "SpecTor",\n  "arrests": [\n    {"country": "US",}\n  ]\n}'
    )
    before = counts(store)
    with (
        pytest.raises(InputError, match=r"spector-2023\.json:4:22: malformed JSON"),
        store.session() as s,
    ):
        import_operation(s, admin, path)
    assert counts(store) == before


def test_duplicate_import_is_a_conflict_naming_replace(store: CaseStore, admin: Principal) -> None:
    with store.session() as s:
        import_operation(s, admin, SPECTOR)
    before = counts(store)
    with (
        pytest.raises(ConflictError, match=r"operation 'SpecTor' exists already.*--replace"),
        store.session() as s,
    ):
        import_operation(s, fresh_admin(s, admin), SPECTOR)
    assert counts(store) == before


def test_a_failure_half_way_leaves_nothing(
    store: CaseStore, admin: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = getattr(_ops, "add_record")  # noqa: B009  (the name _ops calls)
    calls = {"n": 0}

    def failing(s: Any, p: Principal, rec: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            raise InputError("simulated failure on the fifth row")
        return real(s, p, rec)

    monkeypatch.setattr(_ops, "add_record", failing)
    before = counts(store)
    with pytest.raises(InputError, match="simulated"), store.session() as s:
        import_operation(s, admin, SPECTOR)
    assert calls["n"] == 5
    assert counts(store) == before
