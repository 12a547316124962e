"""Access control for the workbench and the API: user accounts, sessions, login attempts.

Revision ID: 0005
Revises: 0004
Create Date: 2025-07-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SESSION_KINDS = "kind IN ('page', 'api')"
_LOGIN_OUTCOMES = (
    "outcome IN ('success', 'bad_password', 'unknown_user', 'locked', 'rate_limited', 'inactive')"
)


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("staff_id", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", store_types.UtcDateTime(), nullable=True),
        sa.Column("password_changed_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.staff_id"], name=op.f("fk_user_account_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_user_account")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_user_account_staff_id"), "user_account", ["staff_id"], unique=True)

    op.create_table(
        "user_session",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("revoked_at", store_types.UtcDateTime(), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.CheckConstraint(_SESSION_KINDS, name=op.f("ck_user_session_kind")),
        sa.ForeignKeyConstraint(
            ["username"],
            ["user_account.username"],
            name=op.f("fk_user_session_username_user_account"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_user_session")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_user_session_username"), "user_session", ["username"])
    op.create_index(op.f("ix_user_session_expires_at"), "user_session", ["expires_at"])

    op.create_table(
        "login_attempt",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("attempted_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.CheckConstraint(_LOGIN_OUTCOMES, name=op.f("ck_login_attempt_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_login_attempt_username_attempted_at"),
        "login_attempt",
        ["username", "attempted_at"],
    )
    op.create_index(
        op.f("ix_login_attempt_client_attempted_at"), "login_attempt", ["client", "attempted_at"]
    )


def downgrade() -> None:
    op.drop_table("login_attempt")
    op.drop_table("user_session")
    op.drop_table("user_account")
