"""Cases, targets, notes and tasks (spector.cases._records and _refs): references, ref
checks with and without a workspace, person details, closing, sharing, tasks. The
store tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from spector.cases import _access, _records
from spector.cases._audit import AuditEntry, verify
from spector.cases._records import Case, Note, Target, Task
from spector.cases._refs import check_ref, person_details
from spector.errors import AccessDenied, ConflictError, InputError, NotFound
from spector.store import Workspace
from tests.cases.harness import Instance

ACTOR = "actor-0123456789ab"
VENDOR = "vendor_account-" + "ab" * 20


# --- refs (no store) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "ref", "stored"),
    [
        ("actor", ACTOR, ACTOR),
        ("vendor_account", f" {VENDOR} ", VENDOR),
        ("cluster", "42", "42"),
        ("selector", "email:Vendor@Example.ORG", "email:vendor@example.org"),
        ("selector", "handle: @BigVendor ", "handle:bigvendor"),
    ],
)
def test_refs_are_checked_and_stored_canonical(kind: str, ref: str, stored: str):
    assert check_ref(kind, ref) == stored


@pytest.mark.parametrize(
    ("kind", "ref", "message"),
    [
        ("actor", "actor-XYZ", "not a actor ref"),
        ("actor", None, "needs a ref"),
        ("vendor_account", "vendor_account-12", "40 hex digits"),
        ("cluster", "-3", "non-negative integer"),
        ("selector", "nokind", "not a selector ref"),
        ("selector", "pgp_fingerprint:xyz", "pgp"),
        ("person", "someone", "has no ref"),
        ("actr", ACTOR, "did you mean 'actor'"),
    ],
)
def test_bad_refs_are_input_errors(kind: str, ref: str | None, message: str):
    from spector.errors import UserError

    with pytest.raises(UserError, match=message):
        check_ref(kind, ref)


def test_person_details_hold_only_the_known_fields():
    assert person_details({"names": [" Jan Doe "], "dob": "1990-02-03", "nationality": "nl",
                           "notes": "from the seized chat"}) == {
        "names": ["Jan Doe"], "dob": "1990-02-03", "nationality": "NL",
        "notes": "from the seized chat"}  # fmt: skip
    with pytest.raises(InputError, match="unknown key 'adress'"):
        person_details({"names": ["x"], "adress": "Main St"})
    with pytest.raises(InputError, match="nationality"):
        person_details({"nationality": "Germany"})
    with pytest.raises(InputError, match="at least one detail"):
        person_details({"names": []})


def test_refs_are_checked_against_the_workspace_when_it_has_them(tmp_path: Path):
    with Workspace.init(tmp_path / "ws") as ws:
        # before `spector resolve` ran its table is empty: nothing to check against
        assert check_ref("actor", ACTOR, ws) == ACTOR
        ws.store.con.execute(
            "INSERT INTO actor_accounts VALUES (?, 'acc-1', 'vendor', 'm1', 'bigvendor')", [ACTOR]
        )
        assert check_ref("actor", ACTOR, ws) == ACTOR
        with pytest.raises(NotFound, match="spector resolve writes them"):
            check_ref("actor", "actor-ffffffffffff", ws)
        assert check_ref("cluster", "7", ws) == "7"
        ws.store.con.execute("INSERT INTO chain_clusters VALUES ('1BoatSLRHtKNngkdX', 3)")
        assert check_ref("cluster", "3", ws) == "3"
        with pytest.raises(NotFound, match="no cluster 7"):
            check_ref("cluster", "7", ws)
        # a selector or a person never needs the workspace
        assert check_ref("selector", "email:a@b.org", ws) == "email:a@b.org"


# --- the store ---------------------------------------------------------------------------


def test_open_case_numbers_references_per_agency(instance: Instance):
    with instance.store.session() as s:
        a = _records.open_case(s, instance["bka_analyst"], title="one")
        b = _records.open_case(s, instance["admin"], title="two")
        c = _records.open_case(s, instance["nl_analyst"], title="three")
        year = a.created_at.year
        assert (a.reference, b.reference, c.reference) == (
            f"{year}-0001", f"{year}-0002", f"{year}-0001")  # fmt: skip
        assert a.officer_id == instance["bka_analyst"].user_id
        assert (a.status, a.version, a.distribution, a.handling) == ("open", 1, "agency", "H0")
        _records.open_case(s, instance["bka_analyst"], title="mine", reference="BKA-77")
    with instance.store.session() as s, pytest.raises(ConflictError, match="'BKA-77'"):
        _records.open_case(s, instance["admin"], title="again", reference="BKA-77")
    with instance.store.session() as s:  # another agency may use the same reference
        assert _records.open_case(s, instance["nl_analyst"], title="x", reference="BKA-77").id


@pytest.mark.parametrize("title", ["", "   ", "x" * 301])
def test_a_case_needs_a_sensible_title(instance: Instance, title: str):
    with instance.store.session() as s, pytest.raises(InputError, match="case title"):
        _records.open_case(s, instance["bka_analyst"], title=title)


def test_targets_of_every_kind(instance: Instance):
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        cid = _records.open_case(s, p, title="x").id
        kinds = {
            "actor": {"ref": ACTOR},
            "vendor_account": {"ref": VENDOR},
            "selector": {"ref": "btc_address:1BoatSLRHtKNngkdXEeobR76b53LETtpyT"},
            "cluster": {"ref": "123"},
            "person": {"details": {"names": ["Jan Doe"], "nationality": "DE"}},
        }
        for kind, kw in kinds.items():
            _records.add_target(s, p, cid, kind=kind, **kw)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="a actor target has no details"):
            _records.add_target(s, p, cid, kind="actor", ref=ACTOR, details={"names": ["x"]})
    with instance.store.session() as s:
        got = [(t.kind, t.ref, t.label, t.details) for t in _records.list_targets(s, p, cid)]
    assert got == [
        ("actor", ACTOR, None, None),
        ("vendor_account", VENDOR, None, None),
        ("selector", "btc_address:1BoatSLRHtKNngkdXEeobR76b53LETtpyT", None, None),
        ("cluster", "123", None, None),
        ("person", None, "Jan Doe", {"names": ["Jan Doe"], "nationality": "DE"}),
    ]


def test_a_note_on_a_target_of_another_case_is_refused(instance: Instance):
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        one = _records.open_case(s, p, title="one").id
        two = _records.open_case(s, p, title="two").id
        target = _records.add_target(s, p, one, kind="actor", ref=ACTOR).id
        with pytest.raises(InputError, match=f"not a target of case {two}"):
            _records.add_note(s, p, two, body="x", target_id=target)


def test_tasks_go_to_users_of_the_agency(instance: Instance):
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        cid = _records.open_case(s, p, title="x").id
        task = _records.add_task(s, p, cid, title="ask the exchange", assignee="bka_viewer",
                                 due=date(2026, 12, 24))  # fmt: skip
        assert task.assignee_id == instance["bka_viewer"].user_id
        with pytest.raises(NotFound, match="no user 'nl_analyst' in your agency"):
            _records.add_task(s, p, cid, title="x", assignee="nl_analyst")
        tid = task.id
    with instance.store.session() as s:
        assert [t.id for t in _records.list_tasks(s, instance["bka_viewer"], mine=True)] == [tid]
        assert _records.list_tasks(s, p, mine=True) == []
        _records.set_task_status(s, p, tid, "doing", expected_version=1)
        with pytest.raises(InputError, match="unknown task status 'finished'"):
            _records.set_task_status(s, p, tid, "finished")
    with instance.store.session() as s:
        assert [t.status for t in _records.list_tasks(s, p, case_id=cid)] == ["doing"]
        with pytest.raises(AccessDenied):
            _records.set_task_status(s, instance["bka_viewer"], tid, "done")


def test_close_case_and_closed_cases_take_nothing_new(instance: Instance):
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        cid = _records.open_case(s, p, title="x").id
    with instance.store.session() as s:
        case = _records.close_case(s, p, cid, expected_version=1)
        assert (case.status, case.version) == ("closed", 2)
        assert case.closed_at is not None
    with instance.store.session() as s:
        assert [c.id for c in _records.list_cases(s, p, status="closed")] == [cid]
        assert _records.list_cases(s, p, status="open") == []
        with pytest.raises(ConflictError, match="is closed"):
            _records.add_target(s, p, cid, kind="actor", ref=ACTOR)
        with pytest.raises(ConflictError, match="already closed"):
            _records.close_case(s, p, cid)


def test_share_case_with_children_carries_the_whole_case(instance: Instance):
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        cid = _records.open_case(s, p, title="x").id
        tid = _records.add_target(s, p, cid, kind="actor", ref=ACTOR).id
        _records.add_note(s, p, cid, body="on the target", target_id=tid)
        _records.add_task(s, p, cid, title="t")
    with instance.store.session() as s:
        _records.share_case(s, p, cid, operation=instance.operation, distribution="operation")
    nl = instance["nl_viewer"]
    with instance.store.session() as s:
        view = _records.case_view(s, nl, cid)
        assert (view["targets"], view["notes"], view["tasks"]) == ([], [], [])
    with instance.store.session() as s:
        _records.share_case(s, p, cid, distribution="operation", operation=instance.operation,
                            children=True)  # fmt: skip
    with instance.store.session() as s:
        view = _records.case_view(s, nl, cid)
        assert [len(view[k]) for k in ("targets", "notes", "tasks")] == [1, 1, 1]
        assert view["case"]["version"] == 2  # unchanged by the second call
        with pytest.raises(NotFound):
            _records.case_view(s, instance["fbi_analyst"], cid)


def test_case_view_audits_restricted_records_it_shows(instance: Instance):
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        cid = _records.open_case(s, p, title="x", distribution="all").id
        _records.add_target(s, p, cid, kind="actor", ref=ACTOR, handling="H2")
        _records.add_note(s, p, cid, body="plain")
    with instance.store.session() as s:
        _records.case_view(s, instance["fbi_viewer"], cid)
    with instance.store.session() as s:
        reads = list(s.execute(select(AuditEntry.table_name, AuditEntry.user_id)
                               .where(AuditEntry.action == "read")).all())  # fmt: skip
        assert reads == [("targets", instance["fbi_viewer"].user_id)]
        assert verify(s).ok


def test_every_record_model_is_owned_and_filtered():
    for model in (Case, Target, Note, Task):
        assert model in _access.owned_models()
