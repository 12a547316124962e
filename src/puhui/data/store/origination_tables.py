"""Origination and servicing in the operational store (进件、放款与贷后).

- ``loan_application``: one row per application, keyed by the caller's idempotency key; its
  ``state`` and ``version`` are the persisted state machine (``actions/origination``), updated
  only by conditional ``UPDATE … WHERE version = :seen`` so two writers cannot both move it.
- ``application_transition``: append-only, one row per state change; ``(application_id, seq)``
  is unique, so a transition can be recorded once.
- ``manual_review``: the queue of referred applications (人工审批队列).
- ``loan``: a disbursed loan; ``application_id`` is unique, so an application disburses once.
- ``loan_repayment``: repayments, each with an idempotency key.

Phone numbers are kept only as a hash (for shared-phone checks) and a masked form. The tables
sit on the same ``MetaData`` as ``tables.py``; migration ``0004_origination`` creates them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from puhui.data.store.engine import StoreError
from puhui.data.store.tables import (
    MYSQL_TABLE_OPTIONS,
    Base,
    BigIntPrimaryKey,
    one_of,
    utc_now,
)
from puhui.data.store.types import Money, UtcDateTime


class ApplicationState(StrEnum):
    """Where an application stands; see ``actions/origination/states.py`` for the moves."""

    SUBMITTED = "submitted"
    AUTHORIZED = "authorized"
    SCREENED = "screened"
    DECIDED = "decided"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    CONTRACT_SIGNED = "contract_signed"
    DISBURSED = "disbursed"
    REPAYING = "repaying"
    SETTLED = "settled"
    OVERDUE = "overdue"
    DEFAULTED = "defaulted"
    DECLINED = "declined"
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Channel(StrEnum):
    """Where an application came in (进件渠道); the values of the lake's ``app_application``."""

    WECHAT = "wechat"  # 微信公众号
    ZHELIBAN = "zheliban"  # 浙里办 government app
    ETAX = "etax"  # 电子税务局 e-tax bureau
    SINGLE_WINDOW = "single_window"  # 中国电子口岸 customs single window
    PROCUREMENT_PLATFORM = "procurement_platform"  # 政采云
    SUPPLY_CHAIN_PLATFORM = "supply_chain_platform"  # 供应链平台
    OPEN_API = "open_api"  # 开放接口
    BRANCH = "branch"  # 网点 (staff-assisted)


class DecisionOutcome(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    REFER = "refer"


class SentinelVerdict(StrEnum):
    PASS = "pass"
    REVIEW = "review"
    REJECT = "reject"


class RepaymentMethod(StrEnum):
    """等额本息 (equal instalment), 先息后本 (interest-only, balloon), 随借随还 (revolving)."""

    EQUAL_INSTALMENT = "equal_instalment"
    INTEREST_ONLY_BALLOON = "interest_only_balloon"
    REVOLVING = "revolving"


class ReviewResolution(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"


class LoanStatus(StrEnum):
    REPAYING = "repaying"
    OVERDUE = "overdue"
    DEFAULTED = "defaulted"
    SETTLED = "settled"


class LoanClass(StrEnum):
    """五级分类: 正常, 关注, 次级, 可疑, 损失."""

    NORMAL = "normal"
    SPECIAL_MENTION = "special_mention"
    SUBSTANDARD = "substandard"
    DOUBTFUL = "doubtful"
    LOSS = "loss"


class LoanApplication(Base):
    """One loan application (贷款申请) and the state machine's current position."""

    __tablename__ = "loan_application"
    __table_args__ = (
        CheckConstraint(one_of("state", ApplicationState), name="state"),
        CheckConstraint(one_of("channel", Channel), name="channel"),
        CheckConstraint(one_of("decision_outcome", DecisionOutcome), name="decision_outcome"),
        CheckConstraint(one_of("sentinel_verdict", SentinelVerdict), name="sentinel_verdict"),
        CheckConstraint(
            one_of("offer_repayment_method", RepaymentMethod), name="offer_repayment_method"
        ),
        UniqueConstraint("idempotency_key"),
        Index(None, "uscc"),
        Index(None, "state", "updated_at"),
        Index(None, "branch_id"),
        Index(None, "device_id"),
        Index(None, "phone_hash"),
        MYSQL_TABLE_OPTIONS,
    )

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    uscc: Mapped[str] = mapped_column(String(18))
    requested_product: Mapped[str | None] = mapped_column(String(32), nullable=True)
    requested_amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    requested_term_months: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    branch_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    state: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(Integer())
    consent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    sentinel_verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON(), nullable=True)
    offer_product: Mapped[str | None] = mapped_column(String(32), nullable=True)
    offer_limit: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    offer_rate_bp: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    offer_term_months: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    offer_repayment_method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    accepted_amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    contract_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class ApplicationTransition(Base):
    """One state change of an application; append-only, ``seq`` is the version it produced."""

    __tablename__ = "application_transition"
    __table_args__ = (
        UniqueConstraint("application_id", "seq"),
        UniqueConstraint("application_id", "idempotency_key"),
        Index(None, "application_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("loan_application.application_id")
    )
    seq: Mapped[int] = mapped_column(Integer())
    from_state: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_state: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON())


class ManualReview(Base):
    """A referred application waiting for (or resolved by) a credit officer."""

    __tablename__ = "manual_review"
    __table_args__ = (
        CheckConstraint(one_of("resolution", ReviewResolution), name="resolution"),
        UniqueConstraint("application_id"),
        Index(None, "resolved_at", "queued_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("loan_application.application_id")
    )
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(300))
    branch_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    assigned_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)


class Loan(Base):
    """A disbursed loan (借据) with its current balance, days past due and 五级分类."""

    __tablename__ = "loan"
    __table_args__ = (
        CheckConstraint(one_of("repayment_method", RepaymentMethod), name="repayment_method"),
        CheckConstraint(one_of("status", LoanStatus), name="status"),
        CheckConstraint(one_of("classification", LoanClass), name="classification"),
        UniqueConstraint("application_id"),
        UniqueConstraint("disbursal_reference"),
        Index(None, "uscc"),
        Index(None, "branch_id", "status"),
        MYSQL_TABLE_OPTIONS,
    )

    loan_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("loan_application.application_id")
    )
    uscc: Mapped[str] = mapped_column(String(18))
    branch_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    product_code: Mapped[str] = mapped_column(String(32))
    principal: Mapped[Decimal] = mapped_column(Money())
    annual_rate_bp: Mapped[int] = mapped_column(Integer())
    term_months: Mapped[int] = mapped_column(Integer())
    repayment_method: Mapped[str] = mapped_column(String(32))
    disbursed_on: Mapped[date] = mapped_column(Date())
    maturity_date: Mapped[date] = mapped_column(Date())
    outstanding_principal: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16))
    overdue_days: Mapped[int] = mapped_column(Integer())
    classification: Mapped[str] = mapped_column(String(16))
    is_first_loan: Mapped[bool] = mapped_column(Boolean())
    renewal_of_loan_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    disbursal_reference: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class LoanRepayment(Base):
    """One repayment received, split into principal and interest."""

    __tablename__ = "loan_repayment"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index(None, "loan_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(String(36), ForeignKey("loan.loan_id"))
    paid_on: Mapped[date] = mapped_column(Date())
    amount: Mapped[Decimal] = mapped_column(Money())
    principal: Mapped[Decimal] = mapped_column(Money())
    interest: Mapped[Decimal] = mapped_column(Money())
    idempotency_key: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class TransitionAppendOnlyError(StoreError):
    """Someone tried to change or delete a recorded transition or repayment through the ORM."""


@event.listens_for(ApplicationTransition, "before_update")
@event.listens_for(ApplicationTransition, "before_delete")
@event.listens_for(LoanRepayment, "before_update")
@event.listens_for(LoanRepayment, "before_delete")
def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    raise TransitionAppendOnlyError(
        f"{target.__tablename__} is append-only; refusing to change or delete row id={target.id}"
    )
