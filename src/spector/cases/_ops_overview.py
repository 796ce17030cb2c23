"""Everything an operation report shows, as the principal may see it, in plain values.

:func:`operation_overview` is what ``spector.report`` (and the web app) read: the
operation's metadata and sharing group, its totals (``operation_totals``), the stated
totals, the seizures of kind "other", how many records of each kind there are, and the
dated events of its timeline: the announcement, dated arrests and seizures, cases of the
operation opened, and custody events of its evidence. Every Owned record is read
through the access filter, so a principal's report holds only what it may see.
"""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spector.cases._access import list_visible
from spector.cases._base import Principal
from spector.cases._ops import Arrest, Seizure, operation_totals
from spector.cases._ops_totals import fmt_amount
from spector.cases._records import Case
from spector.cases._who import Agency, OperationAgency, User, operation_by_name

__all__ = ["operation_overview"]


def _seizure_label(x: Seizure) -> str:
    if x.kind == "cash_crypto" and x.amount is not None:
        return f"seized {x.currency} {fmt_amount(x.amount)}"
    if x.kind == "firearms":
        return f"seized {x.count or 0:,} firearm{'s' if x.count != 1 else ''}"
    if x.kind == "drugs" and x.kg is not None:
        return f"seized {fmt_amount(x.kg, 'kg')} of {x.substance}"
    return f"seized {x.description or 'other'}"


def _custody_events(s: Session, p: Principal, operation_id: int) -> list[dict[str, Any]]:
    """Custody events of the operation's evidence (when part E's module is there)."""
    try:
        evidence = importlib.import_module("spector.cases._evidence")
    except ModuleNotFoundError:
        return []
    out = []
    items = list_visible(s, p, evidence.Evidence, evidence.Evidence.operation_id == operation_id)
    for item in items:
        for event in evidence.custody_chain(s, p, item.id):
            day = evidence.local_time(event).date()
            out.append({"day": day, "kind": "custody",
                        "label": f"evidence {item.id} {event.action}"})  # fmt: skip
    return out


def operation_overview(s: Session, p: Principal, name: str) -> dict[str, Any]:
    """The report's view of operation ``name`` for ``p`` (NotFound if there is none).

    Keys: name, announced (date | None), description, source, agencies [(name, country)],
    totals (the totals.json dict), stated (dict), other_seizures [(description, count)],
    seizure_records {kind: rows}, arrest_records (rows), timeline [{day, label, kind}]
    (sorted), viewer ("username (agency)").
    """
    op = operation_by_name(s, name)
    totals = operation_totals(s, p, op.name)
    agencies = [
        (a.name, a.country)
        for a in s.scalars(
            select(Agency)
            .join(OperationAgency, OperationAgency.agency_id == Agency.id)
            .where(OperationAgency.operation_id == op.id)
            .order_by(Agency.name)
        )
    ]
    arrests = list_visible(s, p, Arrest, Arrest.operation_id == op.id)
    seizures = list_visible(s, p, Seizure, Seizure.operation_id == op.id)
    timeline: list[dict[str, Any]] = []
    if op.announced is not None:
        timeline.append({"day": op.announced, "kind": "announced", "label": "operation announced"})
    for a in arrests:
        if a.date is not None:
            label = f"{a.count:,} arrest{'s' if a.count != 1 else ''} in {a.country}"
            timeline.append({"day": a.date, "kind": "arrest", "label": label})
    for x in seizures:
        if x.date is not None:
            timeline.append({"day": x.date, "kind": "seizure", "label": _seizure_label(x)})
    for case in list_visible(s, p, Case, Case.operation_id == op.id):
        timeline.append({"day": case.created_at.date(), "kind": "case",
                         "label": f"case {case.reference} opened"})  # fmt: skip
    timeline += _custody_events(s, p, op.id)
    timeline.sort(key=lambda e: (e["day"], e["kind"], e["label"]))
    records: dict[str, int] = {}
    for x in seizures:
        records[x.kind] = records.get(x.kind, 0) + 1
    own = s.get(Agency, p.agency_id)
    user = s.get(User, p.user_id)
    display = (user.display_name if user is not None else None) or p.username
    return {
        "name": op.name,
        "announced": op.announced,
        "description": op.description,
        "source": op.source,
        "agencies": agencies,
        "totals": totals,
        "stated": dict(op.stated_totals or {}),
        "other_seizures": [
            (x.description or "other", x.count) for x in seizures if x.kind == "other"
        ],
        "seizure_records": records,
        "arrest_records": len(arrests),
        "timeline": timeline,
        "viewer": f"{display} ({own.name if own else p.agency_id})",
    }
