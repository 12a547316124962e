"""Precision marketing: target lists, prospects, allocations, outcomes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_RUN_STATUS = "status IN ('built', 'allocated')"
_ASSIGNMENT_STATUS = "status IN ('open', 'closed')"
_OUTCOMES = "('contacted', 'not_interested', 'applied', 'approved', 'disbursed')"


def upgrade() -> None:
    op.create_table(
        "marketing_run",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config_version", sa.String(32), nullable=False),
        sa.Column("catalog_version", sa.String(32), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("universe", sa.Integer(), nullable=False),
        sa.Column("prospects", sa.Integer(), nullable=False),
        sa.Column("first_loan", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("total_value", store_types.Money(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("artifact_dir", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("allocated_at", store_types.UtcDateTime(), nullable=True),
        sa.CheckConstraint(_RUN_STATUS, name=op.f("ck_marketing_run_status")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_marketing_run")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_marketing_run_as_of"), "marketing_run", ["as_of"])

    op.create_table(
        "marketing_prospect",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=True),
        sa.Column("outlet_id", sa.String(16), nullable=True),
        sa.Column("themes", sa.String(200), nullable=False),
        sa.Column("first_loan", sa.Boolean(), nullable=False),
        sa.Column("pd", sa.Float(), nullable=False),
        sa.Column("p_takeup", sa.Float(), nullable=False),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("offer_limit", store_types.Money(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("expected_balance", store_types.Money(), nullable=False),
        sa.Column("margin_bp", sa.Integer(), nullable=False),
        sa.Column("expected_value", store_types.Money(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("decile", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["marketing_run.run_id"],
            name=op.f("fk_marketing_prospect_run_id_marketing_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_prospect")),
        sa.UniqueConstraint("run_id", "uscc", name=op.f("uq_marketing_prospect_run_id_uscc")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_marketing_prospect_run_id_rank"), "marketing_prospect", ["run_id", "rank"]
    )
    op.create_index(op.f("ix_marketing_prospect_uscc"), "marketing_prospect", ["uscc"])

    op.create_table(
        "marketing_assignment",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("staff_id", sa.String(32), nullable=False),
        sa.Column("outlet_id", sa.String(16), nullable=False),
        sa.Column("expected_value", store_types.Money(), nullable=False),
        sa.Column("via_city", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("latest_outcome", sa.String(16), nullable=True),
        sa.Column("assigned_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_ASSIGNMENT_STATUS, name=op.f("ck_marketing_assignment_status")),
        sa.CheckConstraint(
            f"latest_outcome IS NULL OR latest_outcome IN {_OUTCOMES}",
            name=op.f("ck_marketing_assignment_latest_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["marketing_run.run_id"],
            name=op.f("fk_marketing_assignment_run_id_marketing_run"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.staff_id"], name=op.f("fk_marketing_assignment_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"],
            ["branch.branch_id"],
            name=op.f("fk_marketing_assignment_outlet_id_branch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_assignment")),
        sa.UniqueConstraint("run_id", "uscc", name=op.f("uq_marketing_assignment_run_id_uscc")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_marketing_assignment_staff_id_status"),
        "marketing_assignment",
        ["staff_id", "status"],
    )
    op.create_index(
        op.f("ix_marketing_assignment_outlet_id"), "marketing_assignment", ["outlet_id"]
    )

    op.create_table(
        "marketing_outcome",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("staff_id", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("amount", store_types.Money(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(f"outcome IN {_OUTCOMES}", name=op.f("ck_marketing_outcome_outcome")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["marketing_run.run_id"],
            name=op.f("fk_marketing_outcome_run_id_marketing_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_outcome")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_marketing_outcome_run_id_uscc"), "marketing_outcome", ["run_id", "uscc"]
    )


def downgrade() -> None:
    op.drop_table("marketing_outcome")
    op.drop_table("marketing_assignment")
    op.drop_table("marketing_prospect")
    op.drop_table("marketing_run")
