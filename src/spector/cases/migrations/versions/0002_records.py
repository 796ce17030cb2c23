"""Cases, targets, notes and tasks (spector.cases._records), each an Owned record.

Revision ID: 0002_records
Revises: 0001_who
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_records"
down_revision: str | None = "0001_who"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, *, nullable: bool) -> sa.Column[int]:
    """A foreign-key column named as the metadata's naming convention names it."""
    return sa.Column(
        column,
        sa.Integer(),
        sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"),
        nullable=nullable,
    )


def _owned(table: str) -> list[sa.schema.SchemaItem]:
    """The columns and checks of spector.cases._base.Owned (see _access for the rules)."""
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


def _indexes(table: str, *columns: str) -> None:
    for column in ("agency_id", "operation_id", *columns):
        op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    op.create_table(
        "cases",
        *_owned("cases"),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        _fk("cases", "officer_id", "users", nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_cases_status"),
        sa.UniqueConstraint("agency_id", "reference", name="uq_cases_agency_id"),
    )
    _indexes("cases")

    op.create_table(
        "targets",
        *_owned("targets"),
        _fk("targets", "case_id", "cases", nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=300), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('actor', 'vendor_account', 'selector', 'cluster', 'person')",
            name="ck_targets_kind",
        ),
    )
    _indexes("targets", "case_id", "ref")

    op.create_table(
        "notes",
        *_owned("notes"),
        _fk("notes", "case_id", "cases", nullable=False),
        _fk("notes", "target_id", "targets", nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
    )
    _indexes("notes", "case_id", "target_id")

    op.create_table(
        "tasks",
        *_owned("tasks"),
        _fk("tasks", "case_id", "cases", nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        _fk("tasks", "assignee_id", "users", nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.CheckConstraint("status IN ('todo', 'doing', 'done')", name="ck_tasks_status"),
    )
    _indexes("tasks", "case_id", "assignee_id")


def downgrade() -> None:
    for table in ("tasks", "notes", "targets", "cases"):
        op.drop_table(table)
