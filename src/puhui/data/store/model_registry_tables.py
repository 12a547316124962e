"""The model registry's index in the operational store (模型登记册).

One row per trained model version (its artifacts live on disk under
``<data_dir>/models/<name>/<version>/``) and an append-only history of status changes, so
"who made version 3 the champion, and when" is answered from the store. The tables sit on
the same ``MetaData`` as ``tables.py``; migration ``0002_model_registry`` creates them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from puhui.data.store.tables import (
    MYSQL_TABLE_OPTIONS,
    Base,
    BigIntPrimaryKey,
    one_of,
    utc_now,
)
from puhui.data.store.types import UtcDateTime


class ModelStatus(StrEnum):
    """Where a model version stands: 冠军 serves, 挑战者 is scored alongside, 退役 is archived."""

    CANDIDATE = "candidate"
    CHALLENGER = "challenger"
    CHAMPION = "champion"
    RETIRED = "retired"


class ModelStatusAction(StrEnum):
    """What changed a version's status."""

    REGISTER = "register"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    SET_CHALLENGER = "set_challenger"
    RETIRE = "retire"


class ModelVersion(Base):
    """One trained, immutable version of a named model and what it was trained on."""

    __tablename__ = "model_version"
    __table_args__ = (
        CheckConstraint(one_of("status", ModelStatus), name="status"),
        Index(None, "model_name", "status"),
        MYSQL_TABLE_OPTIONS,
    )

    model_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    artifact_dir: Mapped[str] = mapped_column(String(500))
    data_window_start: Mapped[date | None] = mapped_column(Date(), nullable=True)
    data_window_end: Mapped[date | None] = mapped_column(Date(), nullable=True)
    features: Mapped[list[str]] = mapped_column(JSON())
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON())
    trained_by: Mapped[str] = mapped_column(String(32))
    trained_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class ModelStatusChange(Base):
    """One promotion, rollback or registration; append-only, mirrored in the audit log."""

    __tablename__ = "model_status_change"
    __table_args__ = (
        CheckConstraint(one_of("action", ModelStatusAction), name="action"),
        ForeignKeyConstraint(
            ["model_name", "version"],
            ["model_version.model_name", "model_version.version"],
        ),
        Index(None, "model_name", "occurred_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    replaced_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
