"""Alarm (post-loan early warning): scans, warnings, level history, tasks, disposals.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LEVELS = "('blue', 'yellow', 'orange', 'red')"
_SCAN_STATUS = "status IN ('running', 'done')"
_FEED_STATUS = "status IN ('present', 'missing')"
_WARNING_STATUS = "status IN ('open', 'closed')"
_ACTIONS = "action IN ('open', 'escalate', 'deescalate', 'close')"
_TASK_STATUS = "status IN ('open', 'done', 'superseded')"
_DISPOSALS = (
    "action IN ('no_action', 'watch', 'reduce_line', 'freeze_line', 'demand_collateral', "
    "'accelerate', 'exit')"
)


def upgrade() -> None:
    op.create_table(
        "alarm_scan",
        sa.Column("scan_date", sa.Date(), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("applied_through", sa.String(18), nullable=True),
        sa.Column("borrowers", sa.Integer(), nullable=False),
        sa.Column("signals_fired", sa.Integer(), nullable=False),
        sa.Column("warnings_opened", sa.Integer(), nullable=False),
        sa.Column("warnings_changed", sa.Integer(), nullable=False),
        sa.Column("tasks_created", sa.Integer(), nullable=False),
        sa.Column("started_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", store_types.UtcDateTime(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.CheckConstraint(_SCAN_STATUS, name=op.f("ck_alarm_scan_status")),
        sa.PrimaryKeyConstraint("scan_date", name=op.f("pk_alarm_scan")),
        **_MYSQL,
    )
    op.create_table(
        "alarm_feed",
        sa.Column("scan_date", sa.Date(), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expected_period", sa.Date(), nullable=False),
        sa.Column("latest_period", sa.Date(), nullable=True),
        sa.CheckConstraint(_FEED_STATUS, name=op.f("ck_alarm_feed_status")),
        sa.PrimaryKeyConstraint("scan_date", "table_name", name=op.f("pk_alarm_feed")),
        **_MYSQL,
    )
    op.create_table(
        "alarm_warning",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("updated_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("below_since", sa.Date(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("veto", sa.Boolean(), nullable=False),
        sa.Column("pd_3m", sa.Float(), nullable=True),
        sa.Column("pd_6m", sa.Float(), nullable=True),
        sa.Column("pd_12m", sa.Float(), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("missing_sources", sa.JSON(), nullable=False),
        sa.Column("branch_id", sa.String(16), nullable=True),
        sa.Column("account_manager_id", sa.String(32), nullable=True),
        sa.CheckConstraint(f"level IN {_LEVELS}", name=op.f("ck_alarm_warning_level")),
        sa.CheckConstraint(_WARNING_STATUS, name=op.f("ck_alarm_warning_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_warning")),
        sa.UniqueConstraint("uscc", "opened_on", name=op.f("uq_alarm_warning_uscc_opened_on")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_alarm_warning_status_level"), "alarm_warning", ["status", "level"])
    op.create_index(op.f("ix_alarm_warning_branch_id"), "alarm_warning", ["branch_id"])
    op.create_index(
        op.f("ix_alarm_warning_account_manager_id"), "alarm_warning", ["account_manager_id"]
    )
    op.create_table(
        "alarm_level_change",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("warning_id", _BIGINT_ID, nullable=False),
        sa.Column("scan_date", sa.Date(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_level", sa.String(8), nullable=True),
        sa.Column("to_level", sa.String(8), nullable=True),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.CheckConstraint(_ACTIONS, name=op.f("ck_alarm_level_change_action")),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["alarm_warning.id"],
            name=op.f("fk_alarm_level_change_warning_id_alarm_warning"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_level_change")),
        sa.UniqueConstraint(
            "warning_id", "scan_date", name=op.f("uq_alarm_level_change_warning_id_scan_date")
        ),
        **_MYSQL,
    )
    op.create_index(op.f("ix_alarm_level_change_scan_date"), "alarm_level_change", ["scan_date"])
    op.create_table(
        "alarm_task",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("warning_id", _BIGINT_ID, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("scan_date", sa.Date(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("assignee_id", sa.String(32), nullable=True),
        sa.Column("branch_id", sa.String(16), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("escalated_to", sa.String(32), nullable=True),
        sa.Column("escalated_on", sa.Date(), nullable=True),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("closed_at", store_types.UtcDateTime(), nullable=True),
        sa.CheckConstraint(f"level IN {_LEVELS}", name=op.f("ck_alarm_task_level")),
        sa.CheckConstraint(_TASK_STATUS, name=op.f("ck_alarm_task_status")),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["alarm_warning.id"],
            name=op.f("fk_alarm_task_warning_id_alarm_warning"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_task")),
        sa.UniqueConstraint(
            "warning_id", "scan_date", name=op.f("uq_alarm_task_warning_id_scan_date")
        ),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_alarm_task_assignee_id_status"), "alarm_task", ["assignee_id", "status"]
    )
    op.create_index(op.f("ix_alarm_task_branch_id_status"), "alarm_task", ["branch_id", "status"])
    op.create_index(op.f("ix_alarm_task_due_on"), "alarm_task", ["due_on"])
    op.create_table(
        "alarm_disposal",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("task_id", _BIGINT_ID, nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("verified_on", sa.Date(), nullable=False),
        sa.Column("site_visit", sa.Boolean(), nullable=False),
        sa.Column("verification", sa.String(1000), nullable=False),
        sa.Column("recorded_by", sa.String(32), nullable=False),
        sa.Column("recorded_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_DISPOSALS, name=op.f("ck_alarm_disposal_action")),
        sa.ForeignKeyConstraint(
            ["task_id"], ["alarm_task.id"], name=op.f("fk_alarm_disposal_task_id_alarm_task")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_disposal")),
        sa.UniqueConstraint("task_id", name=op.f("uq_alarm_disposal_task_id")),
        **_MYSQL,
    )
    op.create_table(
        "alarm_notification",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("task_id", _BIGINT_ID, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(32), nullable=True),
        sa.Column("sent_at", store_types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["alarm_task.id"], name=op.f("fk_alarm_notification_task_id_alarm_task")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_notification")),
        sa.UniqueConstraint(
            "task_id", "channel", "kind", name=op.f("uq_alarm_notification_task_id_channel_kind")
        ),
        **_MYSQL,
    )


def downgrade() -> None:
    for table in (
        "alarm_notification",
        "alarm_disposal",
        "alarm_task",
        "alarm_level_change",
        "alarm_warning",
        "alarm_feed",
        "alarm_scan",
    ):
        op.drop_table(table)
