"""Arrests and seizures of joint operations ([I] part O).

Revision ID: 0005_ops
Revises: 0002_records
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0005_ops"
down_revision = "0002_records"
branch_labels = None
depends_on = None


def _owned(table: str) -> list[SchemaItem]:
    """The columns and checks of ``spector.cases._base.Owned`` (operation_id required here),
    plus the target link and date both tables carry."""
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("distribution", sa.String(16), nullable=False),
        sa.Column("handling", sa.String(2), nullable=False),
        sa.Column("handling_note", sa.String(500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "agency_id",
            sa.Integer(),
            sa.ForeignKey("agencies.id", name=op.f(f"fk_{table}_agency_id_agencies")),
            nullable=False,
        ),
        sa.Column(
            "operation_id",
            sa.Integer(),
            sa.ForeignKey("operations.id", name=op.f(f"fk_{table}_operation_id_operations")),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", name=op.f(f"fk_{table}_created_by_users")),
            nullable=True,
        ),
        sa.Column(
            "target_id",
            sa.Integer(),
            sa.ForeignKey("targets.id", name=op.f(f"fk_{table}_target_id_targets")),
            nullable=True,
        ),
        sa.Column("date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.CheckConstraint(
            "distribution IN ('agency', 'operation', 'all')",
            name=op.f(f"ck_{table}_distribution"),
        ),
        sa.CheckConstraint(
            "handling IN ('H0', 'H1', 'H2', 'H3')", name=op.f(f"ck_{table}_handling")
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "arrests",
        *_owned("arrests"),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("count >= 1", name=op.f("ck_arrests_count_positive")),
    )
    op.create_table(
        "seizures",
        *_owned("seizures"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(28, 8), nullable=True),
        sa.Column("currency", sa.String(8), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("substance", sa.String(200), nullable=True),
        sa.Column("kg", sa.Numeric(18, 6), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('cash_crypto', 'firearms', 'drugs', 'other')", name=op.f("ck_seizures_kind")
        ),
        sa.CheckConstraint("amount IS NULL OR amount >= 0", name=op.f("ck_seizures_amount_nonneg")),
        sa.CheckConstraint("count IS NULL OR count >= 0", name=op.f("ck_seizures_count_nonneg")),
        sa.CheckConstraint("kg IS NULL OR kg >= 0", name=op.f("ck_seizures_kg_nonneg")),
    )
    for table in ("arrests", "seizures"):
        for column in ("agency_id", "operation_id", "target_id"):
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def downgrade() -> None:
    for table in ("seizures", "arrests"):
        for column in ("agency_id", "operation_id", "target_id"):
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
