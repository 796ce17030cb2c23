"""The access filter (spector.cases._access): each read rule, each role, writes by the
owner only, containment, optimistic locking, audited restricted reads. Every test runs
on SQLite and PostgreSQL (the ``instance`` fixture)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from spector.cases import _access
from spector.cases._audit import AuditEntry
from spector.cases._records import Case, Note, Target, Task, add_note, add_target, open_case
from spector.errors import AccessDenied, ConflictError, InputError, NotFound
from tests.cases.harness import USERS, Instance

#: users of the instance that read case records (everyone but the media reviewer)
READERS = [u for u, (_, roles) in USERS.items() if set(roles) != {"media_reviewer"}]
#: BKA and Politie are in the operation; the FBI is not.
IN_OPERATION = {"BKA", "Politie"}


def _case(inst: Instance, user: str = "bka_analyst", **kw: object) -> int:
    with inst.store.session() as s:
        return open_case(s, inst[user], title="Monopoly vendors", **kw).id  # type: ignore[arg-type]


def _expected_reader(inst: Instance, user: str, owner: str, distribution: str) -> bool:
    if user not in READERS:
        return False
    agency = inst.agency_of(user)
    if agency == owner or distribution == "all":
        return True
    return distribution == "operation" and agency in IN_OPERATION


@pytest.mark.parametrize("distribution", ["agency", "operation", "all"])
def test_each_distribution_reaches_exactly_its_agencies(instance: Instance, distribution: str):
    kw = {"operation": instance.operation} if distribution == "operation" else {}
    case_id = _case(instance, distribution=distribution, **kw)
    for user in USERS:
        expected = _expected_reader(instance, user, "BKA", distribution)
        p = instance[user]
        with instance.store.session() as s:
            listed = [c.id for c in s.execute(_access.select_visible(p, Case)).scalars()]
            assert (case_id in listed) is expected, (user, distribution)
            if expected:
                assert _access.get_visible(s, p, Case, case_id).id == case_id
                assert _access.can_read(p, _access.get_visible(s, p, Case, case_id))
            else:
                with pytest.raises(NotFound):
                    _access.get_visible(s, p, Case, case_id)


def test_media_reviewer_reads_no_case_record_even_its_own_agencys(instance: Instance):
    case_id = _case(instance)
    p = instance["bka_media"]
    with instance.store.session() as s:
        assert _access.list_visible(s, p, Case) == []
        with pytest.raises(NotFound):
            _access.get_visible(s, p, Case, case_id)
        rec = s.get(Case, case_id)
        assert rec is not None
        assert not _access.can_read(p, rec)


def test_operation_records_follow_membership_not_the_agency_list(instance: Instance):
    """An 'operation' record names its operation: agencies outside it never see it, and
    an agency in another operation does not either."""
    case_id = _case(instance, distribution="operation", operation=instance.operation)
    with instance.store.session() as s:
        from spector.cases._who import create_operation

        other = create_operation(s, instance["admin"], name="Other", agencies=["FBI", "BKA"])
        other_id = other.id
    from spector.cases._who import principal_of

    with instance.store.session() as s:  # the FBI's principal, made again: now in "Other"
        fbi = principal_of(s, instance["fbi_analyst"].user_id)
        assert other_id in fbi.operations
        with pytest.raises(NotFound):
            _access.get_visible(s, fbi, Case, case_id)
        assert _access.get_visible(s, instance["nl_viewer"], Case, case_id).id == case_id


def test_not_found_is_the_same_for_absent_and_hidden(instance: Instance):
    hidden = _case(instance)  # BKA only
    p = instance["fbi_analyst"]
    with instance.store.session() as s:
        with pytest.raises(NotFound) as invisible:
            _access.get_visible(s, p, Case, hidden)
        absent_id = hidden + 1000
        with pytest.raises(NotFound) as absent:
            _access.get_visible(s, p, Case, absent_id)
    assert type(invisible.value) is type(absent.value)
    assert str(invisible.value).replace(str(hidden), "#") == str(absent.value).replace(
        str(absent_id), "#"
    )
    assert str(invisible.value) == f"no case {hidden}; check the id"


def _reads(inst: Instance, table: str, record_id: int) -> list[AuditEntry]:
    with inst.store.session() as s:
        stmt = select(AuditEntry).where(
            AuditEntry.action == "read",
            AuditEntry.table_name == table,
            AuditEntry.record_id == str(record_id),
        )
        return list(s.execute(stmt).scalars())


@pytest.mark.parametrize(("handling", "audited"), [("H0", 0), ("H1", 0), ("H2", 1), ("H3", 1)])
def test_reads_of_restricted_records_are_audited(instance: Instance, handling: str, audited: int):
    note = {"handling_note": "no use in court without BKA's consent"} if handling == "H3" else {}
    case_id = _case(instance, distribution="all", handling=handling, **note)
    p = instance["nl_viewer"]
    with instance.store.session() as s:
        _access.get_visible(s, p, Case, case_id)
    with instance.store.session() as s:
        _access.list_visible(s, p, Case)
    entries = _reads(instance, "cases", case_id)
    assert len(entries) == 2 * audited
    assert all(e.user_id == p.user_id and e.agency_id == p.agency_id for e in entries)


def test_a_hidden_restricted_record_leaves_no_read(instance: Instance):
    case_id = _case(instance, handling="H2")
    with instance.store.session() as s, pytest.raises(NotFound):
        _access.get_visible(s, instance["fbi_analyst"], Case, case_id)
    assert _reads(instance, "cases", case_id) == []


@pytest.mark.parametrize("user", ["bka_viewer", "bka_media", "bka_liaison"])
def test_roles_that_write_nothing_cannot_add(instance: Instance, user: str):
    with instance.store.session() as s, pytest.raises(AccessDenied, match="may not open a case"):
        open_case(s, instance[user], title="x")
    case_id = _case(instance)
    with instance.store.session() as s, pytest.raises(AccessDenied, match="may not add a target"):
        add_target(s, instance[user], case_id, kind="actor", ref="actor-0123456789ab")


def test_other_agencies_cannot_write_a_record_they_can_read(instance: Instance):
    case_id = _case(instance, distribution="all")
    for user in ("nl_analyst", "fbi_admin"):
        p = instance[user]
        with instance.store.session() as s:
            with pytest.raises(AccessDenied, match="only its owner may edit"):
                _access.update_record(s, p, Case, case_id, expected_version=1, title="mine")
            with pytest.raises(AccessDenied, match="only its owner may delete"):
                _access.delete_record(s, p, Case, case_id)
            with pytest.raises(AccessDenied, match="only its owner adds a note"):
                add_note(s, p, case_id, body="hello")
    with instance.store.session() as s:
        assert s.get(Case, case_id).title == "Monopoly vendors"  # type: ignore[union-attr]


def test_a_hidden_record_cannot_be_written_either(instance: Instance):
    case_id = _case(instance)
    p = instance["fbi_analyst"]
    with instance.store.session() as s:
        with pytest.raises(NotFound):
            _access.update_record(s, p, Case, case_id, expected_version=None, title="x")
        with pytest.raises(NotFound):
            add_target(s, p, case_id, kind="actor", ref="actor-0123456789ab")


def test_liaison_shares_but_does_not_edit(instance: Instance):
    case_id = _case(instance)
    p = instance["bka_liaison"]
    with instance.store.session() as s:
        with pytest.raises(AccessDenied, match="may not edit a case"):
            _access.update_record(s, p, Case, case_id, expected_version=1, title="x")
        rec = _access.update_record(s, p, Case, case_id, expected_version=1, distribution="all")
        assert (rec.distribution, rec.version) == ("all", 2)
    with instance.store.session() as s:
        assert _access.get_visible(s, instance["fbi_viewer"], Case, case_id).version == 2
    with instance.store.session() as s, pytest.raises(AccessDenied):
        _access.update_record(
            s, instance["nl_liaison"], Case, case_id, expected_version=2, distribution="agency"
        )


def test_operation_distribution_needs_membership(instance: Instance):
    with instance.store.session() as s, pytest.raises(AccessDenied, match="not in operation"):
        open_case(s, instance["fbi_analyst"], title="x", operation=instance.operation,
                  distribution="operation")  # fmt: skip
    with instance.store.session() as s, pytest.raises(InputError, match="needs the joint"):
        open_case(s, instance["bka_analyst"], title="x", distribution="operation")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"distribution": "public"}, "unknown distribution 'public'"),
        ({"handling": "H9"}, "unknown handling code 'H9'"),
        ({"handling": "H3"}, "H3 needs its restrictions"),
    ],
)
def test_bad_codes_are_input_errors(instance: Instance, kw: dict[str, str], message: str):
    with instance.store.session() as s, pytest.raises(InputError, match=message):
        open_case(s, instance["bka_analyst"], title="x", **kw)  # type: ignore[arg-type]


def test_children_inherit_and_are_never_wider_than_their_case(instance: Instance):
    case_id = _case(instance, distribution="operation", operation=instance.operation,
                    handling="H1")  # fmt: skip
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        t = add_target(s, p, case_id, kind="actor", ref="actor-0123456789ab")
        assert (t.distribution, t.operation_id, t.handling) == (
            "operation", instance.operation_id, "H1")  # fmt: skip
        narrow = add_target(s, p, case_id, kind="actor", ref="actor-0123456789ac",
                            distribution="agency")  # fmt: skip
        assert narrow.distribution == "agency"
        with pytest.raises(AccessDenied, match="more widely than its case"):
            add_target(s, p, case_id, kind="actor", ref="actor-0123456789ad", distribution="all")
        t_id, narrow_id = t.id, narrow.id
    with instance.store.session() as s:
        note = add_note(s, p, case_id, body="on the narrow target", target_id=narrow_id)
        assert note.distribution == "agency"  # the closest container: the target
        with pytest.raises(AccessDenied, match="more widely than its target"):
            add_note(s, p, case_id, body="x", target_id=narrow_id, distribution="operation",
                     operation=instance.operation)  # fmt: skip
        wide_note = add_note(s, p, case_id, body="on the shared target", target_id=t_id).id
    with instance.store.session() as s, pytest.raises(AccessDenied, match="more widely"):
        _access.update_record(s, p, Target, narrow_id, expected_version=1, distribution="all")
    # narrowing the case narrows the children that would be wider, and their children
    with instance.store.session() as s:
        _access.update_record(s, p, Case, case_id, expected_version=1, distribution="agency")
    with instance.store.session() as s:
        assert s.get(Target, t_id).distribution == "agency"  # type: ignore[union-attr]
        assert s.get(Target, t_id).version == 2  # type: ignore[union-attr]
        assert s.get(Note, wide_note).distribution == "agency"  # type: ignore[union-attr]
        assert _access.list_visible(s, instance["nl_analyst"], Target) == []
        assert _access.list_visible(s, instance["nl_analyst"], Note) == []


def test_stale_expected_version_is_a_conflict(instance: Instance):
    case_id = _case(instance)
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        _access.update_record(s, p, Case, case_id, expected_version=1, title="v2")
        _access.update_record(s, p, Case, case_id, expected_version=2, title="v3")
    with instance.store.session() as s, pytest.raises(ConflictError) as err:
        _access.update_record(s, p, Case, case_id, expected_version=2, title="late")
    assert str(err.value).startswith(
        f"case {case_id} changed since you read it (version 3, you had 2)"
    )
    with instance.store.session() as s:
        assert s.get(Case, case_id).title == "v3"  # type: ignore[union-attr]
    with instance.store.session() as s, pytest.raises(ConflictError, match="version 3, you had 1"):
        _access.delete_record(s, p, Case, case_id, expected_version=1)


def test_a_write_racing_another_is_a_conflict_at_flush(instance: Instance):
    """The version lock itself (not only the expected_version check): the row changed
    under a record this session already holds."""
    case_id = _case(instance)
    p = instance["bka_analyst"]

    def race() -> None:
        with instance.store.session() as s:
            held = _access.get_visible(s, p, Case, case_id)
            assert held.version == 1
            s.execute(text("UPDATE cases SET version = 2, title = 'other' WHERE id = :i"),
                      {"i": case_id})  # fmt: skip
            _access.update_record(s, p, Case, case_id, expected_version=None, title="mine")

    with pytest.raises(ConflictError, match="another user saved it first"):
        race()
    with instance.store.session() as s:
        assert s.get(Case, case_id).title == "Monopoly vendors"  # type: ignore[union-attr]


def test_two_sessions_editing_at_once_one_wins_one_conflicts(instance: Instance):
    case_id = _case(instance)
    p = instance["bka_analyst"]
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def edit(title: str) -> None:
        with instance.store.session() as s:
            version = _access.get_visible(s, p, Case, case_id).version
        barrier.wait(timeout=10)
        try:
            with instance.store.session() as s:
                _access.update_record(s, p, Case, case_id, expected_version=version, title=title)
            outcome[title] = "saved"
        except ConflictError as exc:
            outcome[title] = f"conflict: {exc}"

    threads = [threading.Thread(target=edit, args=(t,)) for t in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(v.split(":")[0] for v in outcome.values()) == ["conflict", "saved"], outcome
    winner = next(k for k, v in outcome.items() if v == "saved")
    with instance.store.session() as s:
        rec = s.get(Case, case_id)
        assert rec is not None
        assert (rec.title, rec.version) == (winner, 2)


def test_delete_refuses_a_case_that_holds_records_and_audits(instance: Instance):
    case_id = _case(instance)
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        target = add_target(s, p, case_id, kind="actor", ref="actor-0123456789ab").id
    with instance.store.session() as s, pytest.raises(ConflictError, match="still holds 1 target"):
        _access.delete_record(s, p, Case, case_id)
    with instance.store.session() as s:
        _access.delete_record(s, p, Target, target, expected_version=1)
        _access.delete_record(s, p, Case, case_id)
    with instance.store.session() as s:
        assert s.get(Case, case_id) is None
        actions = list(s.execute(select(AuditEntry.action, AuditEntry.table_name)
                                 .order_by(AuditEntry.seq)).all())  # fmt: skip
    assert ("delete", "targets") in actions
    assert ("delete", "cases") in actions
    assert actions.index(("create", "cases")) < actions.index(("delete", "cases"))


def test_every_write_is_audited_with_its_fields(instance: Instance):
    case_id = _case(instance)
    p = instance["bka_analyst"]
    with instance.store.session() as s:
        _access.update_record(s, p, Case, case_id, expected_version=1, title="t", summary="s")
    with instance.store.session() as s:
        e = s.execute(select(AuditEntry).where(AuditEntry.action == "update")).scalar_one()
    assert e.as_dict()["detail"] == {"fields": ["summary", "title"], "version": 2}
    assert (e.table_name, e.record_id, e.user_id) == ("cases", str(case_id), p.user_id)


def test_fixed_fields_cannot_be_edited(instance: Instance):
    case_id = _case(instance)
    with instance.store.session() as s, pytest.raises(InputError, match="'agency_id' cannot"):
        _access.update_record(s, instance["bka_analyst"], Case, case_id, expected_version=1,
                              agency_id=instance.agencies["FBI"])  # fmt: skip


def test_visible_refuses_a_model_it_has_no_rule_for():
    from spector.cases._who import Agency
    from spector.errors import InternalError

    with pytest.raises(InternalError, match="not an Owned model"):
        _access.visible((Instance.__new__(Instance) and None) or _dummy(), Agency)  # type: ignore[arg-type]


def _dummy() -> object:
    from spector.cases._base import Principal

    return Principal(1, "x", 1, frozenset({"analyst"}), frozenset())


def test_tasks_are_filtered_like_every_record(instance: Instance):
    case_id = _case(instance, distribution="all")
    from spector.cases._records import add_task

    with instance.store.session() as s:
        add_task(s, instance["bka_analyst"], case_id, title="subpoena the exchange",
                 distribution="agency")  # fmt: skip
    with instance.store.session() as s:
        assert _access.list_visible(s, instance["fbi_viewer"], Task) == []
        assert len(_access.list_visible(s, instance["bka_viewer"], Task)) == 1
