"""The tables of evidence items and their custody events (models only, no behaviour).

Kept apart from :mod:`spector.cases._evidence` (the functions) so that the module
stays small; ``_evidence`` re-exports both models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spector.cases._base import Base, Owned, UtcDateTime, utcnow

__all__ = ["CUSTODY_ACTIONS", "EVIDENCE_KINDS", "CustodyEvent", "Evidence"]

#: What an evidence item is: a WARC capture of [C] (by capture id), an export made by
#: Spector or another tool, a seized server dump of [D], a device (registered by the
#: hash of its forensic image), a wallet seizure (the signed seizure record), other.
EVIDENCE_KINDS: tuple[str, ...] = (
    "warc_capture",
    "export",
    "seized_dump",
    "device",
    "wallet_seizure",
    "other",
)

#: Custody actions (NIST SP 800-86 collection / examination; SP 800-61 chain of custody).
CUSTODY_ACTIONS: tuple[str, ...] = ("collected", "transferred", "examined", "returned")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Evidence(Owned, Base):
    """One evidence item of a case, with the SHA-256 (and size) of its content.

    For a ``warc_capture``: ``path`` is the WARC file (relative to the workspace),
    ``warc_offset`` the record's offset in it, ``warc_record_id`` its WARC-Record-ID and
    ``sha256`` the SHA-256 of the record's payload, checked against its digest header.
    """

    __tablename__ = "evidence"
    __table_args__ = (CheckConstraint(_in("kind", EVIDENCE_KINDS), name="kind"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    origin: Mapped[str] = mapped_column(String(500))
    path: Mapped[str | None] = mapped_column(String(1000), default=None)
    capture_id: Mapped[str | None] = mapped_column(String(128), default=None)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger, default=None)
    warc_record_id: Mapped[str | None] = mapped_column(String(128), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    collected_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class CustodyEvent(Base):
    """One custody event: who (``by_user_id``), when (``at``, with the zone it was given
    in, ``tz``), where, what (``action``), from whom to whom. Append-only."""

    __tablename__ = "custody_events"
    __table_args__ = (CheckConstraint(_in("action", CUSTODY_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    tz: Mapped[str] = mapped_column(String(64))
    where_: Mapped[str] = mapped_column(String(500))
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_person: Mapped[str | None] = mapped_column(String(200), default=None)
    to_person: Mapped[str | None] = mapped_column(String(200), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
