"""Operations: scheduled job runs, the scheduler lease and erasure requests.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_RUN_STATUSES = "status IN ('running', 'succeeded', 'failed', 'blocked')"
_RUN_TRIGGERS = "run_trigger IN ('schedule', 'manual')"
_ERASURE_OUTCOMES = "outcome IN ('erased', 'partial', 'nothing_found')"


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("work_id", sa.String(36), nullable=False),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("scheduled_for", store_types.UtcDateTime(), nullable=False),
        sa.Column("data_date", sa.Date(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_trigger", sa.String(16), nullable=False),
        sa.Column("started_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("ended_at", store_types.UtcDateTime(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("rows_in", sa.BigInteger(), nullable=True),
        sa.Column("rows_out", sa.BigInteger(), nullable=True),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("message", sa.String(1000), nullable=True),
        sa.CheckConstraint(_RUN_STATUSES, name=op.f("ck_job_run_status")),
        sa.CheckConstraint(_RUN_TRIGGERS, name=op.f("ck_job_run_run_trigger")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_job_run_job_name_scheduled_for"), "job_run", ["job_name", "scheduled_for"]
    )
    op.create_index(op.f("ix_job_run_started_at"), "job_run", ["started_at"])
    op.create_index(op.f("ix_job_run_work_id"), "job_run", ["work_id"])

    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("acquired_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", store_types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
        **_MYSQL,
    )

    op.create_table(
        "erasure_request",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("request_ref", sa.String(64), nullable=False),
        sa.Column("received_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("performed_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("performed_by", sa.String(32), nullable=False),
        sa.Column("subject_masked", sa.String(18), nullable=False),
        sa.Column("legal_basis", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.CheckConstraint(_ERASURE_OUTCOMES, name=op.f("ck_erasure_request_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_request")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_erasure_request_request_ref"), "erasure_request", ["request_ref"], unique=True
    )


def downgrade() -> None:
    op.drop_table("erasure_request")
    op.drop_table("scheduler_lease")
    op.drop_table("job_run")
