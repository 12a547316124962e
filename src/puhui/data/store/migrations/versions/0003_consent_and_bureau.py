"""Credit-report authorization: the signed consent log, identity verification attempts and the
bureau query log.

Revision ID: 0003
Revises: 0002
Create Date: 2025-06-20 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CONSENT_ACTIONS = "action IN ('consent.grant', 'consent.revoke')"
_ATTEMPT_KINDS = "kind IN ('three_factor', 'face')"
_ATTEMPT_OUTCOMES = "outcome IN ('passed', 'mismatch', 'no_face', 'not_live', 'error', 'refused')"
_REPORT_TYPES = "report_type IN ('enterprise_report', 'personal_report')"
_QUERY_OUTCOMES = "outcome IN ('served', 'refused')"


def upgrade() -> None:
    op.create_table(
        "consent_log",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("occurred_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("subject_uscc", sa.String(18), nullable=True),
        sa.Column("subject_person_id", sa.String(18), nullable=True),
        sa.Column("valid_until", store_types.UtcDateTime(), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint(_CONSENT_ACTIONS, name=op.f("ck_consent_log_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_log")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_consent_log_prev_hash")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_consent_log_subject_id"), "consent_log", ["subject_id"])
    op.create_index(op.f("ix_consent_log_subject_uscc"), "consent_log", ["subject_uscc"])
    op.create_index(op.f("ix_consent_log_subject_person_id"), "consent_log", ["subject_person_id"])

    op.create_table(
        "identity_verification_attempt",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("attempted_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("flow_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("result_id", sa.String(128), nullable=True),
        sa.Column("evidence_hash", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("staff_id", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.CheckConstraint(_ATTEMPT_KINDS, name=op.f("ck_identity_verification_attempt_kind")),
        sa.CheckConstraint(
            _ATTEMPT_OUTCOMES, name=op.f("ck_identity_verification_attempt_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_verification_attempt")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_identity_verification_attempt_flow_key_attempted_at"),
        "identity_verification_attempt",
        ["flow_key", "attempted_at"],
    )

    op.create_table(
        "bureau_query",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("queried_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("staff_id", sa.String(32), nullable=False),
        sa.Column("staff_branch_id", sa.String(16), nullable=True),
        sa.Column("report_type", sa.String(32), nullable=False),
        sa.Column("subject_uscc", sa.String(18), nullable=True),
        sa.Column("subject_person_id", sa.String(18), nullable=True),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("consent_id", sa.String(36), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("refusal_reason", sa.String(300), nullable=True),
        sa.Column("result_size", sa.Integer(), nullable=False),
        sa.CheckConstraint(_REPORT_TYPES, name=op.f("ck_bureau_query_report_type")),
        sa.CheckConstraint(_QUERY_OUTCOMES, name=op.f("ck_bureau_query_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureau_query")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_bureau_query_consent_id"), "bureau_query", ["consent_id"])
    op.create_index(op.f("ix_bureau_query_queried_at"), "bureau_query", ["queried_at"])
    op.create_index(
        op.f("ix_bureau_query_staff_id_queried_at"), "bureau_query", ["staff_id", "queried_at"]
    )
    op.create_index(op.f("ix_bureau_query_subject_uscc"), "bureau_query", ["subject_uscc"])


def downgrade() -> None:
    op.drop_table("bureau_query")
    op.drop_table("identity_verification_attempt")
    op.drop_table("consent_log")
