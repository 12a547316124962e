"""The operational store's tables (运营库表) as typed SQLAlchemy models.

Reference data (branches, staff, the enterprise master) and the append-only audit log.
The schema itself is created by the Alembic migrations; these models must match them, which
a test checks by comparing the two on every backend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

from puhui.data.identifiers import mask_phone
from puhui.data.store.engine import StoreError
from puhui.data.store.types import Money, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# utf8mb4 so Chinese names (and any CJK extension character) survive on MySQL/MariaDB.
MYSQL_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
# SQLite only auto-increments an INTEGER primary key.
BigIntPrimaryKey = BigInteger().with_variant(Integer(), "sqlite")


def utc_now() -> datetime:
    """The current time in UTC; the default clock for rows written without an explicit time."""
    return datetime.now(UTC)


class BranchLevel(StrEnum):
    """分行 (prefecture branch) or 支行 (sub-branch under it)."""

    BRANCH = "branch"
    SUB_BRANCH = "sub_branch"


class StaffRole(StrEnum):
    """What a member of staff may do; drives permissions and who receives lists and warnings."""

    ACCOUNT_MANAGER = "account_manager"
    BRANCH_MANAGER = "branch_manager"
    RISK_OFFICER = "risk_officer"
    MODEL_DEVELOPER = "model_developer"
    AUDITOR = "auditor"
    INTEGRATION_ENGINEER = "integration_engineer"
    ADMIN = "admin"


class SizeClass(StrEnum):
    """Enterprise size class under 工信部联企业〔2011〕300号."""

    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"


def one_of(column: str, values: type[StrEnum]) -> str:
    """SQL for a CHECK that ``column`` holds one of the enum's values."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class Base(DeclarativeBase):
    """Declarative base with constraint names that are stable across backends."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Branch(Base):
    """A 分行 or 支行; sub-branches point at their prefecture branch."""

    __tablename__ = "branch"
    __table_args__ = (
        CheckConstraint(one_of("level", BranchLevel), name="level"),
        Index(None, "parent_branch_id"),
        MYSQL_TABLE_OPTIONS,
    )

    branch_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_branch_id: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("branch.branch_id"), nullable=True
    )
    division_code: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    parent: Mapped[Branch | None] = relationship(remote_side=[branch_id])


class Staff(Base):
    """A member of bank staff; ``phone`` is personal data, shown only through ``mask_phone``."""

    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint(one_of("role", StaffRole), name="role"),
        Index(None, "branch_id"),
        MYSQL_TABLE_OPTIONS,
    )

    staff_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[str] = mapped_column(String(16), ForeignKey("branch.branch_id"))
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean(), default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    branch: Mapped[Branch] = relationship()

    @property
    def masked_phone(self) -> str:
        """The phone number with its middle digits hidden."""
        return mask_phone(self.phone) if self.phone else ""

    def __repr__(self) -> str:
        return (
            f"Staff(staff_id={self.staff_id!r}, name={self.name!r}, role={self.role!r}, "
            f"branch_id={self.branch_id!r}, phone={self.masked_phone!r}, active={self.active!r})"
        )


class Enterprise(Base):
    """企业主档: one row per enterprise the bank knows, customer or prospect."""

    __tablename__ = "enterprise"
    __table_args__ = (
        CheckConstraint(one_of("size_class", SizeClass), name="size_class"),
        Index(None, "branch_id"),
        Index(None, "account_manager_id"),
        Index(None, "division_code"),
        MYSQL_TABLE_OPTIONS,
    )

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6))
    industry_code: Mapped[str] = mapped_column(String(3))
    size_class: Mapped[str] = mapped_column(String(8))
    founded_on: Mapped[date] = mapped_column(Date())
    registered_capital: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    branch_id: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("branch.branch_id"), nullable=True
    )
    account_manager_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("staff.staff_id"), nullable=True
    )
    is_customer: Mapped[bool] = mapped_column(Boolean(), default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    branch: Mapped[Branch | None] = relationship()
    account_manager: Mapped[Staff | None] = relationship()


class AuditEvent(Base):
    """One entry of the append-only audit log, chained to the previous entry by hash.

    ``prev_hash`` is unique so two writers can never fork the chain; see ``audit.py``.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("prev_hash"),
        Index(None, "occurred_at"),
        Index(None, "actor"),
        Index(None, "action"),
        Index(None, "subject_type", "subject_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditAppendOnlyError(StoreError):
    """Someone tried to change or delete an audit entry through the ORM."""


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_audit_change(_mapper: Mapper[Any], _connection: Any, target: AuditEvent) -> None:
    raise AuditAppendOnlyError(
        f"audit_event is append-only; refusing to change or delete entry id={target.id}"
    )


# Tables of later capabilities live in their own modules on the same metadata; importing them
# here keeps `Base.metadata` (migrations, schema comparison) complete wherever tables is loaded.
from puhui.data.store import (  # noqa: E402, F401
    access_tables,
    alarm_tables,
    consent_tables,
    marketing_tables,
    model_registry_tables,
    operations_tables,
    origination_tables,
    sentinel_tables,
)
