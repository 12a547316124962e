"""Sentinel (anti-fraud): verdicts, blacklist versions, strategy sets.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_VERDICTS = "('pass', 'review', 'reject')"


def upgrade() -> None:
    op.create_table(
        "sentinel_verdict",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(64), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("screened_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("arm", sa.String(16), nullable=False),
        sa.Column("strategy_version", sa.String(64), nullable=False),
        sa.Column("shadow_verdict", sa.String(16), nullable=True),
        sa.Column("shadow_version", sa.String(64), nullable=True),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("elapsed_ms", sa.Float(), nullable=False),
        sa.CheckConstraint(f"verdict IN {_VERDICTS}", name=op.f("ck_sentinel_verdict_verdict")),
        sa.CheckConstraint(
            f"shadow_verdict IN {_VERDICTS}", name=op.f("ck_sentinel_verdict_shadow_verdict")
        ),
        sa.CheckConstraint(
            "arm IN ('champion', 'challenger')", name=op.f("ck_sentinel_verdict_arm")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentinel_verdict")),
        **_MYSQL,
    )
    for column in ("application_id", "uscc", "screened_at"):
        op.create_index(op.f(f"ix_sentinel_verdict_{column}"), "sentinel_verdict", [column])


def downgrade() -> None:
    for column in ("application_id", "uscc", "screened_at"):
        op.drop_index(op.f(f"ix_sentinel_verdict_{column}"), table_name="sentinel_verdict")
    op.drop_table("sentinel_verdict")
