"""Selectors and deconfliction notices ([I] part D).

Revision ID: 0004_deconflict
Revises: 0002_records
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_deconflict"
down_revision = "0002_records"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    referred = target.split(".", 1)[0]
    return sa.ForeignKey(target, name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "selectors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("distribution", sa.String(16), nullable=False),
        sa.Column("handling", sa.String(2), nullable=False),
        sa.Column("handling_note", sa.String(500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "agency_id", sa.Integer(), _fk("selectors", "agency_id", "agencies.id"), nullable=False
        ),
        sa.Column(
            "operation_id",
            sa.Integer(),
            _fk("selectors", "operation_id", "operations.id"),
            nullable=True,
        ),
        sa.Column(
            "created_by", sa.Integer(), _fk("selectors", "created_by", "users.id"), nullable=True
        ),
        sa.Column(
            "target_id", sa.Integer(), _fk("selectors", "target_id", "targets.id"), nullable=False
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("noisy", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selectors")),
        sa.UniqueConstraint("target_id", "digest", name=op.f("uq_selectors_target_id")),
    )
    op.create_index(op.f("ix_selectors_agency_id"), "selectors", ["agency_id"])
    op.create_index(op.f("ix_selectors_operation_id"), "selectors", ["operation_id"])
    op.create_index(op.f("ix_selectors_target_id"), "selectors", ["target_id"])
    op.create_index(op.f("ix_selectors_digest"), "selectors", ["digest"])

    t = "deconfliction_notices"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.Integer(), _fk(t, "agency_id", "agencies.id"), nullable=False),
        sa.Column(
            "selector_id", sa.Integer(), _fk(t, "selector_id", "selectors.id"), nullable=False
        ),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("counterpart", sa.String(300), nullable=False),
        sa.Column(
            "other_agency_id", sa.Integer(), _fk(t, "other_agency_id", "agencies.id"), nullable=True
        ),
        sa.Column(
            "other_selector_id",
            sa.Integer(),
            _fk(t, "other_selector_id", "selectors.id"),
            nullable=True,
        ),
        sa.Column("remote_instance", sa.String(100), nullable=True),
        sa.Column("remote_agency", sa.String(200), nullable=True),
        sa.Column("remote_contact", sa.String(400), nullable=True),
        sa.Column("contact", sa.String(400), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "acknowledged_by", sa.Integer(), _fk(t, "acknowledged_by", "users.id"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("agency_id", "counterpart", "digest", name=op.f(f"uq_{t}_agency_id")),
    )
    op.create_index(op.f(f"ix_{t}_agency_id"), t, ["agency_id"])


def downgrade() -> None:
    op.drop_table("deconfliction_notices")
    op.drop_table("selectors")
