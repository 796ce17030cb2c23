"""Evidence items, custody events, the hash-chained audit log and its head.

Models: spector.cases._evidence (Evidence, CustodyEvent) and spector.cases._audit
(AuditEntry, AuditHead). The head row (id 1, seq 0, the genesis hash) is made here so
that the first writer only ever updates it.

``audit_log`` and ``custody_events`` are append-only in the database too: triggers
refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE). A database owner can drop the
triggers; the hash chain and an external anchor are what catch that (docs/evidence.md).

Revision ID: 0003_evidence_audit
Revises: 0002_records
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_evidence_audit"
down_revision: str | None = "0002_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GENESIS = "0" * 64
_KINDS = ("warc_capture", "export", "seized_dump", "device", "wallet_seizure", "other")
_ACTIONS = ("collected", "transferred", "examined", "returned")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _fk(table: str, column: str, target: str, *, nullable: bool) -> sa.Column[int]:
    """A foreign-key column named as the metadata's naming convention names it."""
    return sa.Column(
        column,
        sa.Integer(),
        sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"),
        nullable=nullable,
    )


def _owned(table: str) -> list[sa.schema.SchemaItem]:
    """The columns and checks of spector.cases._base.Owned (as in 0002_records)."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("distribution", sa.String(length=16), nullable=False),
        sa.Column("handling", sa.String(length=2), nullable=False),
        sa.Column("handling_note", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk(table, "agency_id", "agencies", nullable=False),
        _fk(table, "operation_id", "operations", nullable=True),
        _fk(table, "created_by", "users", nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.CheckConstraint(
            "distribution IN ('agency', 'operation', 'all')", name=f"ck_{table}_distribution"
        ),
        sa.CheckConstraint("handling IN ('H0', 'H1', 'H2', 'H3')", name=f"ck_{table}_handling"),
        sa.CheckConstraint(
            "distribution != 'operation' OR operation_id IS NOT NULL",
            name=f"ck_{table}_operation_named",
        ),
    ]


_APPEND_ONLY = ("audit_log", "custody_events")

_PG_FUNCTION = """
CREATE FUNCTION spector_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _protect(table: str) -> None:
    """Refuse UPDATE and DELETE of ``table`` in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION spector_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION spector_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
        )


def upgrade() -> None:
    op.create_table(
        "evidence",
        *_owned("evidence"),
        _fk("evidence", "case_id", "cases", nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("origin", sa.String(length=500), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("capture_id", sa.String(length=128), nullable=True),
        sa.Column("warc_offset", sa.BigInteger(), nullable=True),
        sa.Column("warc_record_id", sa.String(length=128), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("kind", _KINDS), name="ck_evidence_kind"),
    )
    for column in ("agency_id", "operation_id", "case_id", "sha256"):
        op.create_index(f"ix_evidence_{column}", "evidence", [column])

    op.create_table(
        "custody_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _fk("custody_events", "evidence_id", "evidence", nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("where_", sa.String(length=500), nullable=False),
        _fk("custody_events", "by_user_id", "users", nullable=False),
        sa.Column("from_person", sa.String(length=200), nullable=True),
        sa.Column("to_person", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_custody_events"),
        sa.CheckConstraint(_in("action", _ACTIONS), name="ck_custody_events_action"),
    )
    op.create_index("ix_custody_events_evidence_id", "custody_events", ["evidence_id"])

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_agency_id", "audit_log", ["agency_id"])
    op.create_index("ix_audit_log_hash", "audit_log", ["hash"])

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": _GENESIS}])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
    for table in _APPEND_ONLY:
        _protect(table)


def downgrade() -> None:
    # Dropping a table drops its triggers (both backends); the function goes after them.
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_hash", table_name="audit_log")
    op.drop_index("ix_audit_log_agency_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_custody_events_evidence_id", table_name="custody_events")
    op.drop_table("custody_events")
    for column in ("sha256", "case_id", "operation_id", "agency_id"):
        op.drop_index(f"ix_evidence_{column}", table_name="evidence")
    op.drop_table("evidence")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION spector_append_only()")
