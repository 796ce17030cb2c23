"""The access filter, proved on random worlds: random agencies, joint operations with
random memberships, users with random roles, and records of every Owned model with
random owners, distributions and handling codes. For every user and every model the
query path (select_visible, list_visible, count_visible, get_visible) returns exactly the
records the oracle below allows: no read returns a record the user may not see, and none
it may see is missing; ``can_read`` agrees with the SQL.

Records are written straight into the tables (not through add_record), so the filter is
proved on any data, also data its write checks would refuse. One database per test;
the tables are emptied between examples. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from spector.cases import _access
from spector.cases._base import DISTRIBUTIONS, HANDLING_CODES, ROLES, Base, Owned, Principal
from spector.cases._db import CaseStore, import_models
from spector.errors import NotFound

import_models()

#: Every Owned model the filter guards, by table, with the columns a row of it needs
#: beyond the Owned ones (``parents`` holds a running number, a case id and a target id).
#: Adding an Owned model anywhere in spector.cases adds it here, or
#: test_every_owned_model_is_covered fails.
MAKERS: dict[str, Callable[[dict[str, int]], dict[str, Any]]] = {
    "cases": lambda p: {"reference": f"R-{p['n']}", "title": "t", "status": "open"},
    "targets": lambda p: {"case_id": p["case"], "kind": "actor", "ref": "actor-0123456789ab"},
    "notes": lambda p: {"case_id": p["case"], "target_id": p["target"], "body": "b"},
    "tasks": lambda p: {"case_id": p["case"], "title": "t", "status": "todo"},
    "selectors": lambda p: {
        "target_id": p["target"],
        "kind": "email",
        "value": f"v{p['n']}",
        "digest": f"{p['n']:064x}",
        "noisy": False,
    },
    "evidence": lambda p: {
        "case_id": p["case"],
        "kind": "other",
        "sha256": "0" * 64,
        "origin": "test",
    },
    "arrests": lambda p: {"country": "DE", "count": 1},
    "seizures": lambda p: {"kind": "firearms", "count": 2},
}
#: tables whose rows need an operation_id whatever their distribution (operation 0)
NEEDS_OPERATION = {"arrests", "seizures"}


def _models() -> list[type[Owned]]:
    return [m for m in _access.owned_models() if m.__tablename__ in MAKERS]  # type: ignore[attr-defined]


def test_every_owned_model_is_covered():
    tables = {m.__tablename__ for m in _access.owned_models()}  # type: ignore[attr-defined]
    assert tables - set(MAKERS) == set(), "add a maker for every new Owned model"
    assert {"cases", "targets", "notes", "tasks"} <= tables


@dataclass(frozen=True)
class World:
    agencies: int
    memberships: list[frozenset[int]]  # per operation: member agency indexes
    users: list[tuple[int, frozenset[str]]]  # (agency index, roles)
    records: list[tuple[int, int, str, int | None, str]]  # (model, agency, dist, op, handling)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n_agencies = draw(st.integers(1, 4))
    agency = st.integers(0, n_agencies - 1)
    memberships = draw(st.lists(st.frozensets(agency, max_size=n_agencies), min_size=1, max_size=3))
    users = draw(
        st.lists(
            st.tuples(agency, st.frozensets(st.sampled_from(ROLES), max_size=3)),
            min_size=1,
            max_size=6,
        )
    )
    op = st.none() | st.integers(0, len(memberships) - 1)
    record = st.tuples(
        st.integers(0, len(_models()) - 1),
        agency,
        st.sampled_from(DISTRIBUTIONS),
        op,
        st.sampled_from(HANDLING_CODES),
    )
    return World(n_agencies, memberships, users, draw(st.lists(record, max_size=24)))


def _clear(store: CaseStore) -> None:
    keep = {"alembic_version", "audit_head", "audit_log", "instance"}  # the log is append-only
    with store.session() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in keep:
                s.execute(delete(table))


def _build(store: CaseStore, world: World) -> tuple[list[Principal], list[Owned]]:
    from spector.cases._who import Agency, Operation, OperationAgency

    models = _models()
    by_table = {m.__tablename__: m for m in models}  # type: ignore[attr-defined]
    with store.session() as s:
        agencies = [Agency(name=f"A{i}", country="DE") for i in range(world.agencies)]
        s.add_all(agencies)
        ops = [Operation(name=f"O{i}") for i in range(len(world.memberships))]
        s.add_all(ops)
        s.flush()
        for op, members in zip(ops, world.memberships, strict=True):
            s.add_all(
                OperationAgency(operation_id=op.id, agency_id=agencies[a].id) for a in members
            )

        def add(
            model: type[Owned], n: int, agency: int, dist: str, op: int | None, h: str
        ) -> Owned:
            table = model.__tablename__  # type: ignore[attr-defined]
            if op is None and (dist == "operation" or table in NEEDS_OPERATION):
                op = 0
            parents = {"n": n, "case": anchor_case, "target": anchor_target}
            rec = model(
                agency_id=agencies[agency].id,
                distribution=dist,
                operation_id=ops[op].id if op is not None else None,
                handling=h,
                handling_note="restricted" if h == "H3" else None,
                **MAKERS[table](parents),
            )
            s.add(rec)
            s.flush()
            return rec

        # the parents every child row points at are themselves random records
        anchor_case = anchor_target = 0
        records: list[Owned] = []
        first = add(by_table["cases"], 0, 0, "agency", None, "H0")
        anchor_case = first.id
        records.append(first)
        records.append(add(by_table["targets"], 0, world.agencies - 1, "all", None, "H2"))
        anchor_target = records[-1].id
        for n, (m, agency, dist, op, h) in enumerate(world.records, start=1):
            records.append(add(models[m], n, agency, dist, op, h))
        principals = [
            Principal(
                user_id=1000 + i,
                username=f"u{i}",
                agency_id=agencies[a].id,
                roles=roles,
                operations=frozenset(
                    ops[o].id for o, members in enumerate(world.memberships) if a in members
                ),
            )
            for i, (a, roles) in enumerate(world.users)
        ]
        keys = [(type(r), r.id) for r in records]
    with store.session() as s:
        fresh = [s.get(model, rid) for model, rid in keys]
    return principals, [r for r in fresh if r is not None]


def oracle(p: Principal, r: Owned, memberships: dict[int, set[int]]) -> bool:
    """The rule of the issue, written again from scratch: own agency's records, the
    records of an operation whose sharing group holds the agency, records for all; and
    nothing for a user whose only role is media_reviewer (or who has none)."""
    if not (p.roles - {"media_reviewer"}):
        return False
    if r.agency_id == p.agency_id or r.distribution == "all":
        return True
    return r.distribution == "operation" and p.agency_id in memberships.get(
        r.operation_id or -1, set()
    )


def _memberships(store: CaseStore) -> dict[int, set[int]]:
    from spector.cases._who import OperationAgency

    with store.session() as s:
        out: dict[int, set[int]] = {}
        for row in s.query(OperationAgency).all():
            out.setdefault(row.operation_id, set()).add(row.agency_id)
        return out


@pytest.fixture
def reused_store(case_url: str) -> Any:
    opened = CaseStore.open(case_url)
    yield opened
    opened.close()


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_no_read_returns_a_record_the_user_may_not_see(reused_store: CaseStore, world: World):
    _clear(reused_store)
    principals, records = _build(reused_store, world)
    memberships = _memberships(reused_store)
    with reused_store.session() as s:
        for p in principals:
            for model in _models():
                mine = [r for r in records if isinstance(r, model)]
                allowed = {r.id for r in mine if oracle(p, r, memberships)}
                stmt = _access.select_visible(p, model)
                assert {r.id for r in s.execute(stmt).scalars()} == allowed, (p, model)
                assert {r.id for r in _access.list_visible(s, p, model)} == allowed
                assert _access.count_visible(s, p, model) == len(allowed)
                for r in mine:
                    assert _access.can_read(p, r) is (r.id in allowed), (p, r.id)
                    if r.id in allowed:
                        assert _access.get_visible(s, p, model, r.id).id == r.id
                    else:
                        with pytest.raises(NotFound):
                            _access.get_visible(s, p, model, r.id)
