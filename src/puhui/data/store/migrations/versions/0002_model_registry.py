"""The model registry: trained model versions and their status history.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-15 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_STATUSES = "status IN ('candidate', 'challenger', 'champion', 'retired')"
_ACTIONS = "action IN ('register', 'promote', 'rollback', 'set_challenger', 'retire')"


def upgrade() -> None:
    op.create_table(
        "model_version",
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("artifact_dir", sa.String(500), nullable=False),
        sa.Column("data_window_start", sa.Date(), nullable=True),
        sa.Column("data_window_end", sa.Date(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("trained_by", sa.String(32), nullable=False),
        sa.Column("trained_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("registered_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_model_version_status")),
        sa.PrimaryKeyConstraint("model_name", "version", name=op.f("pk_model_version")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_model_version_model_name_status"), "model_version", ["model_name", "status"]
    )

    op.create_table(
        "model_status_change",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("replaced_version", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("occurred_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_ACTIONS, name=op.f("ck_model_status_change_action")),
        sa.ForeignKeyConstraint(
            ["model_name", "version"],
            ["model_version.model_name", "model_version.version"],
            name=op.f("fk_model_status_change_model_name_model_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_status_change")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_model_status_change_model_name_occurred_at"),
        "model_status_change",
        ["model_name", "occurred_at"],
    )


def downgrade() -> None:
    op.drop_table("model_status_change")
    op.drop_table("model_version")
