"""The JSON shapes of the cases API: what it answers (the keys of ``spector.cases``'s
views) and what it takes. Input models forbid unknown keys; every text field refuses
NUL characters and text that is not UTF-8 (a lone surrogate), which no store takes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "CaseIn",
    "CaseOut",
    "CaseView",
    "CloseIn",
    "CustodyIn",
    "CustodyOut",
    "EvidenceCheckOut",
    "EvidenceIn",
    "EvidenceItem",
    "EvidenceOut",
    "NoteIn",
    "NoteOut",
    "NoticeOut",
    "SelectorAdded",
    "SelectorIn",
    "SelectorOut",
    "ShareIn",
    "TargetIn",
    "TargetOut",
    "TaskIn",
    "TaskOut",
    "TaskStatusIn",
    "Told",
]


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text (a lone surrogate)") from None
    return value


Clean = AfterValidator(_clean)
T2 = Annotated[str, Field(max_length=2), Clean]
T8 = Annotated[str, Field(max_length=8), Clean]
T16 = Annotated[str, Field(max_length=16), Clean]
T32 = Annotated[str, Field(max_length=32), Clean]
T64 = Annotated[str, Field(max_length=64), Clean]
T128 = Annotated[str, Field(max_length=128), Clean]
T200 = Annotated[str, Field(max_length=200), Clean]
T300 = Annotated[str, Field(max_length=300), Clean]
T500 = Annotated[str, Field(max_length=500), Clean]
T512 = Annotated[str, Field(max_length=512), Clean]
T20K = Annotated[str, Field(max_length=20_000), Clean]
T100K = Annotated[str, Field(max_length=100_000), Clean]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _sane(value: datetime) -> datetime:
    if not 1900 <= value.year <= 2999:
        raise ValueError("a year between 1900 and 2999")
    return value


When = Annotated[datetime, AfterValidator(_sane)]

# --- answers -----------------------------------------------------------------------------


class OwnedOut(BaseModel):
    """The columns every shared record carries."""

    id: int
    agency_id: int
    operation_id: int | None
    distribution: str
    handling: str
    handling_note: str | None
    version: int
    created_by: int | None
    created_at: str
    updated_at: str


class CaseOut(OwnedOut):
    reference: str
    title: str
    summary: str | None
    status: str
    officer_id: int | None
    closed_at: str | None
    agency: str | None
    operation: str | None
    officer: str | None


class TargetOut(OwnedOut):
    case_id: int
    kind: str
    ref: str | None
    label: str | None
    details: dict[str, Any] | None


class NoteOut(OwnedOut):
    case_id: int
    target_id: int | None
    body: str
    author: str | None = None


class TaskOut(OwnedOut):
    case_id: int
    title: str
    assignee_id: int | None
    status: str
    due: str | None
    assignee: str | None = None


class SelectorOut(BaseModel):
    id: int
    target_id: int
    kind: str
    value: str
    noisy: bool
    distribution: str
    handling: str
    agency_id: int
    created_at: str


class EvidenceOut(BaseModel):
    id: int
    case_id: int
    kind: str
    sha256: str
    size: int | None
    origin: str
    path: str | None
    capture_id: str | None
    warc_offset: int | None
    warc_record_id: str | None
    description: str | None
    collected_at: str | None
    agency_id: int
    distribution: str
    handling: str
    version: int
    holder: str | None


class EvidenceItem(EvidenceOut):
    """An evidence item in a case's view: its custody in short."""

    custody_events: int
    last_action: str | None


class CustodyOut(BaseModel):
    id: int
    action: str
    at: str
    at_utc: str
    tz: str
    where: str
    by_user_id: int
    by: str | None
    from_person: str | None
    to_person: str | None
    note: str | None


class EvidenceDetail(EvidenceOut):
    """An evidence item with its whole chain of custody."""

    case_reference: str
    agency: str | None
    custody: list[CustodyOut]


class EvidenceCheckOut(BaseModel):
    evidence_id: int
    path: str
    expected: str
    actual: str
    size: int | None
    audit_sha256: str | None
    matches: bool
    problems: list[str]


class CaseView(BaseModel):
    case: CaseOut
    targets: list[TargetOut]
    notes: list[NoteOut]
    tasks: list[TaskOut]
    selectors: list[SelectorOut]
    evidence: list[EvidenceItem]


class NoticeOut(BaseModel):
    """A deconfliction notice of the caller's agency: its own selector, and of the other
    side only the agency's name, the selector and notice ids, and whom to call."""

    id: int
    kind: str
    selector_id: int
    selector_value: str | None
    target_id: int | None
    case_id: int | None
    case_reference: str | None
    other_agency: str | None
    other_selector_id: int | None
    other_notice_id: int | None
    remote_instance: str | None
    contact: str | None
    created_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None


class Told(BaseModel):
    """Another agency that got a notice of the hit (its notice id)."""

    agency: str
    notice_id: int


class SelectorAdded(BaseModel):
    selector: SelectorOut
    notices: list[NoticeOut]
    told: list[Told]


# --- requests ----------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Shared(_In):
    distribution: T16 | None = None
    operation: T300 | None = None
    handling: T2 | None = None
    handling_note: T500 | None = None


class CaseIn(_Shared):
    title: T300
    reference: T64 | None = None
    summary: T20K | None = None


class TargetIn(_Shared):
    kind: T32
    ref: T300 | None = None
    label: T300 | None = None
    details: dict[str, Any] | None = None


class NoteIn(_Shared):
    body: T100K
    target_id: Id | None = None


class TaskIn(_Shared):
    title: T300
    assignee: T200 | None = None
    due: date | None = None


class SelectorIn(_In):
    target_id: Id
    kind: T32
    value: T512
    region: T2 | None = None
    distribution: T16 | None = None
    handling: T2 | None = None
    handling_note: T500 | None = None


class EvidenceIn(_In):
    kind: T32
    origin: T500
    sha256: T64 | None = None
    capture_id: T128 | None = None
    description: T20K | None = None
    collected_at: When | None = None
    distribution: T16 | None = None
    handling: T2 | None = None


class CustodyIn(_In):
    action: T16
    at: When
    tz: T64 | None = None
    where: T500
    from_person: T200 | None = None
    to_person: T200 | None = None
    note: T20K | None = None


class CloseIn(_In):
    version: Id | None = None


class ShareIn(_In):
    distribution: T16
    operation: T300 | None = None
    version: Id | None = None
    children: bool = False


class TaskStatusIn(_In):
    status: T8
    version: Id | None = None
