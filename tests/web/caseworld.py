"""A case store populated for the access matrix: every agency × distribution × handling.

``populate(state)`` adds, to the demo's case store (agencies BKA, Politie, FBI; operation
"Range Sweep" of all three), one more agency outside that operation ("Guardia", IT) and a
second operation "Pair" (BKA and Guardia), so that the "operation" level differs from
"all". Then, through ``spector.cases`` functions only (the access filter, the audit log):

- one user per agency × role (``mx_<agency>_<role>``), each with an API token;
- for each agency, each distribution variant ("agency", "all", and "operation" once per
  operation the agency belongs to) and each handling code H0–H3: a case holding a target,
  a note, a task, a selector and an evidence item (a file under
  ``WS/matrix-evidence``, so it can be verified); and an arrest and a seizure of the
  agency's first operation with the same distribution and handling (H0–H2: they take no
  handling note, which H3 needs);
- one handle every agency's H0 "agency" case holds (``SHARED_HANDLE``), so every pair of
  agencies has deconfliction notices.

Every record carries a marker of its own (``mxrec0007z``: lower-case, so a selector's
canonical form keeps it) in its title, label, body or description. A response that
contains the marker of a record its caller may not read has leaked it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spector.cases import DISTRIBUTIONS, HANDLING_CODES, ROLES, Principal

__all__ = ["MARKER", "SHARED_HANDLE", "Actor", "Record", "World", "populate"]

MARKER = re.compile(r"mxrec\d{4}z", re.IGNORECASE)
SHARED_HANDLE = "mx-shared-handle"
NEW_AGENCY = ("Guardia", "IT")
PAIR = "Pair"


@dataclass(frozen=True)
class Actor:
    """A user of the matrix: its principal and bearer token."""

    username: str
    agency: str
    role: str
    token: str
    principal: Principal

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def writes(self) -> bool:
        return self.role in ("analyst", "admin")


@dataclass(frozen=True)
class Record:
    """One fixture record: its table, id, owner, distribution, handling, marker, and the
    object as loaded (for ``can_read``)."""

    table: str
    id: int
    agency: str
    distribution: str
    operation: str | None
    handling: str
    marker: str
    obj: Any = field(compare=False, repr=False)


@dataclass
class World:
    """What ``populate`` made."""

    actors: list[Actor]
    records: list[Record]
    agencies: dict[str, int]
    notices: dict[int, int]  # notice id -> the agency it is addressed to

    def refresh(self, state: Any) -> None:
        """Reload every record (a write test may have changed its distribution)."""
        from dataclasses import replace

        from spector.cases._access import owned_models

        models = {m.__tablename__: m for m in owned_models()}  # type: ignore[attr-defined]
        fresh = []
        with state.session(readonly=True) as s:
            for rec in self.records:
                obj = s.get(models[rec.table], rec.id)
                s.expunge(obj)
                fresh.append(replace(rec, distribution=obj.distribution, obj=obj))
        self.records = fresh

    def of_table(self, table: str) -> list[Record]:
        return [r for r in self.records if r.table == table]

    def unreadable_markers(self, actor: Actor) -> set[str]:
        from spector.cases import can_read

        return {r.marker for r in self.records if not can_read(actor.principal, r.obj)}

    def leaks(self, actor: Actor, text: str) -> set[str]:
        """The markers in ``text`` of records ``actor`` may not read."""
        found = {m.lower() for m in MARKER.findall(text)}
        return found & self.unreadable_markers(actor)


class _Markers:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"mxrec{self.n:04d}z"


def _variants(ops: list[str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for dist in DISTRIBUTIONS:
        if dist == "operation":
            out += [("operation", op) for op in ops]
        else:
            out.append((dist, None))
    return out


def populate(state: Any) -> World:
    """Fill the case store of the app state ``state`` (``WebState``); see the module doc."""
    from sqlalchemy import select

    from spector.cases import (
        add_arrest,
        add_evidence,
        add_note,
        add_seizure,
        add_selector,
        add_target,
        add_task,
        create_agency,
        create_operation,
        create_user,
        issue_token,
        open_case,
        principal_of,
    )
    from spector.cases._who import list_operations
    from spector.cases._who_models import Agency, User

    with state.session() as s:
        admin = principal_of(s, s.scalar(select(User.id).where(User.username == "admin")))
        create_agency(s, admin, name=NEW_AGENCY[0], country=NEW_AGENCY[1])
        create_operation(s, admin, name=PAIR, agencies=["BKA", NEW_AGENCY[0]])
        agencies = {a.name: a.id for a in s.scalars(select(Agency))}
        members: dict[str, list[str]] = {name: [] for name in agencies}
        for op in list_operations(s):
            for name in op["agencies"]:
                members[name].append(op["name"])
        users: dict[tuple[str, str], str] = {}
        for agency in sorted(agencies):
            for role in ROLES:
                name = f"mx_{agency.lower()}_{role}"
                create_user(
                    s, admin, agency=agency, username=name, password=secrets.token_urlsafe(16),
                    roles=[role], email=f"{name}@{agency.lower()}.example",
                )  # fmt: skip
                users[(agency, role)] = issue_token(s, admin, username=name, days=2)
    marks = _Markers()
    made: list[tuple[str, int, str]] = []  # (table, id, marker)
    with state.session() as s:
        for agency in sorted(agencies):
            analyst = _principal(s, f"mx_{agency.lower()}_analyst")
            ops = sorted(members[agency])
            for dist, op in _variants(ops):
                for handling in HANDLING_CODES:
                    note = "matrix: not outside the test" if handling == "H3" else None
                    m = marks.next()
                    case = open_case(
                        s, analyst, title=f"case {m}", distribution=dist, operation=op,
                        handling=handling, handling_note=note,
                    )  # fmt: skip
                    made.append(("cases", case.id, m))
                    m = marks.next()
                    target = add_target(
                        s, analyst, case.id, kind="actor",
                        ref=f"actor-{secrets.token_hex(6)}", label=f"target {m}",
                    )  # fmt: skip
                    made.append(("targets", target.id, m))
                    m = marks.next()
                    made.append(("notes", add_note(s, analyst, case.id, body=f"note {m}").id, m))
                    m = marks.next()
                    made.append(("tasks", add_task(s, analyst, case.id, title=f"task {m}").id, m))
                    m = marks.next()
                    sel, _ = add_selector(s, analyst, target.id, "handle", f"handle-{m}")
                    made.append(("selectors", sel.id, m))
                    m = marks.next()
                    held = Path(state.ws_root) / "matrix-evidence" / f"{m}.txt"
                    held.parent.mkdir(exist_ok=True)
                    held.write_text(f"evidence {m}\n")
                    ev = add_evidence(
                        s, analyst, case.id, kind="other", path=held, ws_root=state.ws_root,
                        origin=f"origin {m}", description=f"evidence {m}",
                    )  # fmt: skip
                    made.append(("evidence", ev.id, m))
                    if dist == "agency" and handling == "H0":
                        add_selector(s, analyst, target.id, "handle", SHARED_HANDLE)
                    if handling == "H3":  # arrests and seizures carry no handling note
                        continue
                    first = op or ops[0]
                    m = marks.next()
                    arrest = add_arrest(
                        s, analyst, first, country="DE", note=f"arrest {m}",
                        distribution=dist, handling=handling,
                    )  # fmt: skip
                    made.append(("arrests", arrest.id, m))
                    m = marks.next()
                    seizure = add_seizure(
                        s, analyst, first, kind="other", description=f"seizure {m}",
                        distribution=dist, handling=handling,
                    )  # fmt: skip
                    made.append(("seizures", seizure.id, m))
    return _load(state, users, made, agencies)


def _principal(s: Any, username: str) -> Principal:
    from sqlalchemy import select

    from spector.cases import principal_of
    from spector.cases._who_models import User

    return principal_of(s, s.scalar(select(User.id).where(User.username == username)))


def _load(
    state: Any,
    tokens: dict[tuple[str, str], str],
    made: list[tuple[str, int, str]],
    agencies: dict[str, int],
) -> World:
    """The records as detached objects (for ``can_read``) and the actors."""
    from sqlalchemy import select

    from spector.cases import DeconflictionNotice
    from spector.cases._access import owned_models

    models = {m.__tablename__: m for m in owned_models()}  # type: ignore[attr-defined]
    names = {v: k for k, v in agencies.items()}
    records: list[Record] = []
    with state.session() as s:
        from spector.cases._who_models import Operation

        ops = {o.id: o.name for o in s.scalars(select(Operation))}
        for table, rid, marker in made:
            obj = s.get(models[table], rid)
            s.expunge(obj)
            rec = Record(
                table=table, id=rid, agency=names[obj.agency_id],
                distribution=obj.distribution, operation=ops.get(obj.operation_id),
                handling=obj.handling, marker=marker, obj=obj,
            )  # fmt: skip
            records.append(rec)
        actors = []
        for (agency, role), token in sorted(tokens.items()):
            name = f"mx_{agency.lower()}_{role}"
            actors.append(Actor(name, agency, role, token, _principal(s, name)))
        notices = {n.id: n.agency_id for n in s.scalars(select(DeconflictionNotice))}
    return World(actors=actors, records=records, agencies=agencies, notices=notices)
