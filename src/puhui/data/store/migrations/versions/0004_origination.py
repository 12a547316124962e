"""Origination and servicing: loan applications and their state transitions, the manual-review
queue, loans and repayments.

Revision ID: 0004
Revises: 0003
Create Date: 2025-06-25 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from puhui.data.store import types as store_types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at the time of this revision; later changes need a migration.
_MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATES = (
    "'submitted', 'authorized', 'screened', 'decided', 'offered', 'accepted', "
    "'contract_signed', 'disbursed', 'repaying', 'settled', 'overdue', 'defaulted', "
    "'declined', 'referred', 'withdrawn', 'expired'"
)
_CHANNELS = (
    "channel IN ('wechat', 'zheliban', 'etax', 'single_window', 'procurement_platform', "
    "'supply_chain_platform', 'open_api', 'branch')"
)
_OUTCOMES = "decision_outcome IN ('approve', 'decline', 'refer')"
_SENTINEL = "sentinel_verdict IN ('pass', 'review', 'reject')"
_METHODS = "repayment_method IN ('equal_instalment', 'interest_only_balloon', 'revolving')"
_REVIEW_RESOLUTIONS = "resolution IN ('approve', 'decline')"
_LOAN_STATUSES = "status IN ('repaying', 'overdue', 'defaulted', 'settled')"
_CLASSES = "classification IN ('normal', 'special_mention', 'substandard', 'doubtful', 'loss')"


def upgrade() -> None:
    op.create_table(
        "loan_application",
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("requested_product", sa.String(32), nullable=True),
        sa.Column("requested_amount", store_types.Money(), nullable=True),
        sa.Column("requested_term_months", sa.Integer(), nullable=True),
        sa.Column("phone_hash", sa.String(64), nullable=True),
        sa.Column("phone_masked", sa.String(20), nullable=True),
        sa.Column("device_id", sa.String(128), nullable=True),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column("branch_id", sa.String(16), nullable=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.String(36), nullable=True),
        sa.Column("sentinel_verdict", sa.String(16), nullable=True),
        sa.Column("decision_outcome", sa.String(16), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("offer_product", sa.String(32), nullable=True),
        sa.Column("offer_limit", store_types.Money(), nullable=True),
        sa.Column("offer_rate_bp", sa.Integer(), nullable=True),
        sa.Column("offer_term_months", sa.Integer(), nullable=True),
        sa.Column("offer_repayment_method", sa.String(32), nullable=True),
        sa.Column("accepted_amount", store_types.Money(), nullable=True),
        sa.Column("contract_id", sa.String(64), nullable=True),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(f"state IN ({_STATES})", name=op.f("ck_loan_application_state")),
        sa.CheckConstraint(_CHANNELS, name=op.f("ck_loan_application_channel")),
        sa.CheckConstraint(_OUTCOMES, name=op.f("ck_loan_application_decision_outcome")),
        sa.CheckConstraint(_SENTINEL, name=op.f("ck_loan_application_sentinel_verdict")),
        sa.CheckConstraint(
            "offer_repayment_method IN ('equal_instalment', 'interest_only_balloon', 'revolving')",
            name=op.f("ck_loan_application_offer_repayment_method"),
        ),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_loan_application")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_loan_application_idempotency_key")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_loan_application_uscc"), "loan_application", ["uscc"])
    op.create_index(
        op.f("ix_loan_application_state_updated_at"),
        "loan_application",
        ["state", "updated_at"],
    )
    op.create_index(op.f("ix_loan_application_branch_id"), "loan_application", ["branch_id"])
    op.create_index(op.f("ix_loan_application_device_id"), "loan_application", ["device_id"])
    op.create_index(op.f("ix_loan_application_phone_hash"), "loan_application", ["phone_hash"])

    op.create_table(
        "application_transition",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(24), nullable=True),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("occurred_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["loan_application.application_id"],
            name=op.f("fk_application_transition_application_id_loan_application"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_transition")),
        sa.UniqueConstraint(
            "application_id", "seq", name=op.f("uq_application_transition_application_id_seq")
        ),
        sa.UniqueConstraint(
            "application_id",
            "idempotency_key",
            name=op.f("uq_application_transition_application_id_idempotency_key"),
        ),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_application_transition_application_id"),
        "application_transition",
        ["application_id"],
    )

    op.create_table(
        "manual_review",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("queued_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("branch_id", sa.String(16), nullable=True),
        sa.Column("assigned_to", sa.String(32), nullable=True),
        sa.Column("resolved_at", store_types.UtcDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(32), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.CheckConstraint(_REVIEW_RESOLUTIONS, name=op.f("ck_manual_review_resolution")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["loan_application.application_id"],
            name=op.f("fk_manual_review_application_id_loan_application"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_review")),
        sa.UniqueConstraint("application_id", name=op.f("uq_manual_review_application_id")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_manual_review_resolved_at_queued_at"),
        "manual_review",
        ["resolved_at", "queued_at"],
    )

    op.create_table(
        "loan",
        sa.Column("loan_id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("branch_id", sa.String(16), nullable=True),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("principal", store_types.Money(), nullable=False),
        sa.Column("annual_rate_bp", sa.Integer(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("repayment_method", sa.String(32), nullable=False),
        sa.Column("disbursed_on", sa.Date(), nullable=False),
        sa.Column("maturity_date", sa.Date(), nullable=False),
        sa.Column("outstanding_principal", store_types.Money(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("overdue_days", sa.Integer(), nullable=False),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("is_first_loan", sa.Boolean(), nullable=False),
        sa.Column("renewal_of_loan_id", sa.String(36), nullable=True),
        sa.Column("disbursal_reference", sa.String(64), nullable=False),
        sa.Column("created_at", store_types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", store_types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(_METHODS, name=op.f("ck_loan_repayment_method")),
        sa.CheckConstraint(_LOAN_STATUSES, name=op.f("ck_loan_status")),
        sa.CheckConstraint(_CLASSES, name=op.f("ck_loan_classification")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["loan_application.application_id"],
            name=op.f("fk_loan_application_id_loan_application"),
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loan")),
        sa.UniqueConstraint("application_id", name=op.f("uq_loan_application_id")),
        sa.UniqueConstraint("disbursal_reference", name=op.f("uq_loan_disbursal_reference")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_loan_uscc"), "loan", ["uscc"])
    op.create_index(op.f("ix_loan_branch_id_status"), "loan", ["branch_id", "status"])

    op.create_table(
        "loan_repayment",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("loan_id", sa.String(36), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", store_types.Money(), nullable=False),
        sa.Column("principal", store_types.Money(), nullable=False),
        sa.Column("interest", store_types.Money(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("recorded_at", store_types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loan.loan_id"], name=op.f("fk_loan_repayment_loan_id_loan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_repayment")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_loan_repayment_idempotency_key")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_loan_repayment_loan_id"), "loan_repayment", ["loan_id"])


def downgrade() -> None:
    op.drop_table("loan_repayment")
    op.drop_table("loan")
    op.drop_table("manual_review")
    op.drop_table("application_transition")
    op.drop_table("loan_application")
