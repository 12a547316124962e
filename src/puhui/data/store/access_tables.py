"""Who may use the workbench and the API (访问控制): logins, sessions, login attempts.

- ``user_account``: one login per member of staff; the role and branch come from ``staff``,
  so a transfer in the HR master moves the user's data scope with it. ``password_hash`` is an
  argon2id string (never the password); ``failed_logins`` and ``locked_until`` drive lock-out.
- ``user_session``: server-side sessions for pages (cookie) and tokens for the API (bearer).
  Only the sha256 of the token is stored, so a copy of the table opens nothing.
- ``login_attempt``: every login, for rate limiting by client and for the audit.

The tables sit on the same ``MetaData`` as ``tables.py``; migration ``0005`` creates them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from puhui.data.store.tables import MYSQL_TABLE_OPTIONS, Base, BigIntPrimaryKey, one_of, utc_now
from puhui.data.store.types import UtcDateTime


class SessionKind(StrEnum):
    """A page session lives in a cookie; an API token travels as ``Authorization: Bearer``."""

    PAGE = "page"
    API = "api"


class LoginOutcome(StrEnum):
    SUCCESS = "success"
    BAD_PASSWORD = "bad_password"
    UNKNOWN_USER = "unknown_user"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"
    INACTIVE = "inactive"


class UserAccount(Base):
    """A login for one member of staff."""

    __tablename__ = "user_account"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("staff.staff_id"), unique=True, index=True
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean(), default=True)
    failed_logins: Mapped[int] = mapped_column(Integer(), default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class UserSession(Base):
    """One page session or API token; ``token_hash`` is sha256 of the secret the client holds."""

    __tablename__ = "user_session"
    __table_args__ = (
        CheckConstraint(one_of("kind", SessionKind), name="kind"),
        Index(None, "username"),
        Index(None, "expires_at"),
        MYSQL_TABLE_OPTIONS,
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), ForeignKey("user_account.username"))
    kind: Mapped[str] = mapped_column(String(8))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LoginAttempt(Base):
    """One login attempt, successful or not; ``username`` is what was typed (cut to 64)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        CheckConstraint(one_of("outcome", LoginOutcome), name="outcome"),
        Index(None, "username", "attempted_at"),
        Index(None, "client", "attempted_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True, autoincrement=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
