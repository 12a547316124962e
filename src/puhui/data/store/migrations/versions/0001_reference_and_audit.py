"""Reference data (branch, staff, enterprise master) and the hash-chained audit log.

Revision ID: 0001
Revises:
Create Date: 2025-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BRANCH_LEVELS = "level IN ('branch', 'sub_branch')"
_STAFF_ROLES = (
    "role IN ('account_manager', 'branch_manager', 'risk_officer', 'model_developer', "
    "'auditor', 'integration_engineer', 'admin')"
)
_SIZE_CLASSES = "size_class IN ('medium', 'small', 'micro')"


def upgrade() -> None:
    op.create_table(
        "branch",
        sa.Column("branch_id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_branch_id", sa.String(16), nullable=True),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_BRANCH_LEVELS, name=op.f("ck_branch_level")),
        sa.ForeignKeyConstraint(
            ["parent_branch_id"],
            ["branch.branch_id"],
            name=op.f("fk_branch_parent_branch_id_branch"),
        ),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_branch")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_branch_parent_branch_id"), "branch", ["parent_branch_id"])

    op.create_table(
        "staff",
        sa.Column("staff_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("branch_id", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_STAFF_ROLES, name=op.f("ck_staff_role")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.branch_id"], name=op.f("fk_staff_branch_id_branch")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_staff_branch_id"), "staff", ["branch_id"])

    op.create_table(
        "enterprise",
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("industry_code", sa.String(3), nullable=False),
        sa.Column("size_class", sa.String(8), nullable=False),
        sa.Column("founded_on", sa.Date(), nullable=False),
        sa.Column("registered_capital", store_types.Money(), nullable=True),
        sa.Column("branch_id", sa.String(16), nullable=True),
        sa.Column("account_manager_id", sa.String(32), nullable=True),
        sa.Column("is_customer", sa.Boolean(), nullable=False),
        sa.Column("updated_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_SIZE_CLASSES, name=op.f("ck_enterprise_size_class")),
        sa.ForeignKeyConstraint(
            ["account_manager_id"],
            ["staff.staff_id"],
            name=op.f("fk_enterprise_account_manager_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.branch_id"], name=op.f("fk_enterprise_branch_id_branch")
        ),
        sa.PrimaryKeyConstraint("uscc", name=op.f("pk_enterprise")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_enterprise_account_manager_id"), "enterprise", ["account_manager_id"])
    op.create_index(op.f("ix_enterprise_branch_id"), "enterprise", ["branch_id"])
    op.create_index(op.f("ix_enterprise_division_code"), "enterprise", ["division_code"])

    op.create_table(
        "audit_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=True),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("purpose", sa.String(200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_event_prev_hash")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"])
    op.create_index(op.f("ix_audit_event_actor"), "audit_event", ["actor"])
    op.create_index(op.f("ix_audit_event_occurred_at"), "audit_event", ["occurred_at"])
    op.create_index(
        op.f("ix_audit_event_subject_type_subject_id"),
        "audit_event",
        ["subject_type", "subject_id"],
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; dropping an index first fails on MySQL when a
    # foreign key still needs it.
    op.drop_table("audit_event")
    op.drop_table("enterprise")
    op.drop_table("staff")
    op.drop_table("branch")
