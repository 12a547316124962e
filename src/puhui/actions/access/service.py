"""Logins, page sessions and API tokens, user accounts and demo users, on the store.

Sessions are server-side: the client holds a random token, the store only its sha256, so
signing out or locking a user ends every session at once. Every login, refusal, lock-out and
sign-out is written to the hash-chained audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.access.passwords import Passwords
from puhui.actions.access.policy import AccessPolicy
from puhui.actions.access.roles import BRANCH_SCOPED, Principal, Role, Scope
from puhui.data.store.access_tables import (
    LoginAttempt,
    LoginOutcome,
    SessionKind,
    UserAccount,
    UserSession,
)
from puhui.data.store.audit import append_audit
from puhui.data.store.tables import Branch, Enterprise, Staff, utc_now
from puhui.errors import PuhuiError

_USERNAME_LENGTH = 64


class AccessError(PuhuiError):
    """A user, session or permission problem; the message names the user or staff member."""


class AuthenticationError(AccessError):
    """Wrong username or password (deliberately not saying which)."""


class LoginRefusedError(AccessError):
    """The login was not even checked: the account is locked or the client is throttled."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class UnknownStaffError(AccessError):
    """A user was to be linked to a staff id that is not in the store."""


class UserExistsError(AccessError):
    """A username or staff member already has an account."""


@dataclass(frozen=True)
class NewSession:
    """A session just opened: ``token`` is shown to the client once and never stored."""

    token: str
    csrf_token: str
    expires_at: datetime
    principal: Principal


@dataclass(frozen=True)
class DemoCredential:
    username: str
    password: str
    role: Role
    staff_id: str
    branch_id: str


_RECENT_API_LIMIT = 10_000
"""Remembered API token checks per worker before the stale ones are swept."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccessService:
    """Users, logins and sessions; clock, policy and hasher are handed in for tests."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        policy: AccessPolicy | None = None,
        passwords: Passwords | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = session_factory
        self.policy = policy or AccessPolicy()
        self._passwords = passwords or Passwords()
        self._clock = clock
        # token hash -> (principal, csrf, trusted until, token expiry): API tokens checked in the
        # last ``policy.api_recheck``, so a busy channel's token costs one store read per interval.
        self._recent_api: dict[str, tuple[Principal, str, datetime, datetime]] = {}

    # --- users ----------------------------------------------------------------------------

    def add_user(
        self, username: str, staff_id: str, password: str, *, actor: str = "system"
    ) -> None:
        """Create a login for ``staff_id``; its role and branch come from the staff record."""
        username = _check_username(username)
        password_hash = self._passwords.hash(password)
        with self._sessions.begin() as session:
            staff = session.get(Staff, staff_id)
            if staff is None:
                raise UnknownStaffError(f"staff {staff_id!r} is not in the store")
            if staff.role not in set(Role):
                raise AccessError(
                    f"staff {staff_id} has role {staff.role!r}, which has no workbench access"
                )
            if session.get(UserAccount, username) is not None:
                raise UserExistsError(f"user {username!r} already exists")
            taken = session.scalar(select(UserAccount).where(UserAccount.staff_id == staff_id))
            if taken is not None:
                raise UserExistsError(f"staff {staff_id} already has user {taken.username!r}")
            now = self._clock()
            session.add(
                UserAccount(
                    username=username,
                    staff_id=staff_id,
                    password_hash=password_hash,
                    active=True,
                    failed_logins=0,
                    password_changed_at=now,
                    created_at=now,
                )
            )
            session.flush()
            append_audit(
                session,
                actor=actor,
                actor_role="system" if actor == "system" else "admin",
                action="user.create",
                subject_type="user",
                subject_id=username,
                detail={"staff_id": staff_id, "role": staff.role},
                occurred_at=now,
            )

    def set_password(self, username: str, password: str, *, actor: str = "system") -> None:
        """Replace a password, unlock the account and end its sessions."""
        password_hash = self._passwords.hash(password)
        with self._sessions.begin() as session:
            account = self._account(session, username)
            now = self._clock()
            account.password_hash = password_hash
            account.password_changed_at = now
            account.failed_logins = 0
            account.locked_until = None
            self._revoke_all(session, username, now)
            append_audit(
                session,
                actor=actor,
                actor_role="system" if actor == "system" else "admin",
                action="user.password",
                subject_type="user",
                subject_id=username,
                occurred_at=now,
            )

    def usernames(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(UserAccount.username).order_by("username")))

    def _account(self, session: Session, username: str) -> UserAccount:
        account = session.get(UserAccount, username)
        if account is None:
            raise AccessError(f"user {username!r} does not exist")
        return account

    # --- logins ---------------------------------------------------------------------------

    def login(
        self, username: str, password: str, *, kind: SessionKind, client: str | None
    ) -> NewSession:
        """Check the password and open a session, or raise and record why not."""
        now = self._clock()
        typed = username.strip()[:_USERNAME_LENGTH]
        client = (client or "")[:64] or None
        with self._sessions() as session:
            refusal = self._throttled(session, client, now)
            if refusal is not None:
                self._record(session, typed, client, LoginOutcome.RATE_LIMITED, now)
                session.commit()
                raise refusal
            row = session.execute(
                select(UserAccount, Staff)
                .join(Staff, Staff.staff_id == UserAccount.staff_id)
                .where(UserAccount.username == typed)
            ).first()
            if row is None:
                self._passwords.dummy_verify(password)
                self._record(session, typed, client, LoginOutcome.UNKNOWN_USER, now)
                session.commit()
                raise AuthenticationError("wrong username or password")
            account, staff = row
            if account.locked_until is not None and account.locked_until > now:
                self._record(session, typed, client, LoginOutcome.LOCKED, now)
                session.commit()
                wait = int((account.locked_until - now).total_seconds()) + 1
                raise LoginRefusedError(
                    f"user {typed!r} is locked after {self.policy.max_failures} wrong passwords; "
                    f"try again in {wait // 60 + 1} minutes or ask an administrator",
                    retry_after_seconds=wait,
                )
            if not self._passwords.verify(account.password_hash, password):
                self._fail(session, account, client, now)
                session.commit()
                raise AuthenticationError("wrong username or password")
            if not account.active or not staff.active or staff.role not in set(Role):
                self._record(session, typed, client, LoginOutcome.INACTIVE, now)
                session.commit()
                raise AuthenticationError("wrong username or password")
            account.failed_logins = 0
            account.locked_until = None
            if self._passwords.needs_rehash(account.password_hash):
                account.password_hash = self._passwords.hash(password)
            opened = self._open(session, account.username, kind, client, now)
            self._record(session, typed, client, LoginOutcome.SUCCESS, now)
            append_audit(
                session,
                actor=staff.staff_id,
                actor_role=staff.role,
                action="auth.login",
                subject_type="user",
                subject_id=account.username,
                detail={"kind": kind.value, "client": client},
                occurred_at=now,
            )
            principal = self._principal(session, account, staff)
            session.commit()
        return NewSession(opened[0], opened[1], opened[2], principal)

    def _throttled(
        self, session: Session, client: str | None, now: datetime
    ) -> LoginRefusedError | None:
        if client is None:
            return None
        recent = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.client == client,
                LoginAttempt.attempted_at > now - self.policy.client_window,
            )
        )
        if (recent or 0) < self.policy.client_attempts:
            return None
        seconds = int(self.policy.client_window.total_seconds())
        return LoginRefusedError(
            f"too many login attempts from {client}: at most {self.policy.client_attempts} in "
            f"{seconds // 60} minutes; wait and try again",
            retry_after_seconds=seconds,
        )

    def _fail(
        self, session: Session, account: UserAccount, client: str | None, now: datetime
    ) -> None:
        account.failed_logins += 1
        self._record(session, account.username, client, LoginOutcome.BAD_PASSWORD, now)
        if account.failed_logins >= self.policy.max_failures:
            account.locked_until = now + self.policy.lockout
            account.failed_logins = 0
            self._revoke_all(session, account.username, now)
            append_audit(
                session,
                actor=account.staff_id,
                actor_role="user",
                action="auth.lockout",
                subject_type="user",
                subject_id=account.username,
                detail={"client": client, "until": account.locked_until.isoformat()},
                occurred_at=now,
            )

    def _record(
        self,
        session: Session,
        username: str,
        client: str | None,
        outcome: LoginOutcome,
        now: datetime,
    ) -> None:
        session.add(
            LoginAttempt(attempted_at=now, username=username, client=client, outcome=outcome)
        )

    def _open(
        self, session: Session, username: str, kind: SessionKind, client: str | None, now: datetime
    ) -> tuple[str, str, datetime]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        lifetime = self.policy.api_token if kind is SessionKind.API else self.policy.page_absolute
        expires = now + lifetime
        session.add(
            UserSession(
                token_hash=token_hash(token),
                username=username,
                kind=kind.value,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
                client=client,
            )
        )
        return token, csrf, expires

    # --- sessions -------------------------------------------------------------------------

    def resolve(self, token: str, kind: SessionKind) -> tuple[Principal, str] | None:
        """The principal and CSRF token of a live session, or None (expired, revoked, unknown).

        A page session also ends after ``page_idle`` without a request; using it moves that
        deadline (written at most every ``touch_every`` to spare the store).
        """
        if not token or len(token) > 200:
            return None
        now = self._clock()
        if kind is SessionKind.API:
            hit = self.recently_checked(token, now)
            if hit is not None:
                return hit
        with self._sessions() as session:
            found = session.execute(
                select(UserSession, UserAccount, Staff)
                .join(UserAccount, UserAccount.username == UserSession.username)
                .join(Staff, Staff.staff_id == UserAccount.staff_id)
                .where(UserSession.token_hash == token_hash(token), UserSession.kind == kind)
            ).first()
            if found is None:
                return None
            live, account, staff = found
            if live.revoked_at is not None or live.expires_at <= now:
                return None
            if kind is SessionKind.PAGE and live.last_seen_at + self.policy.page_idle <= now:
                return None
            if not account.active or not staff.active or staff.role not in set(Role):
                return None
            if account.locked_until is not None and account.locked_until > now:
                return None
            if now - live.last_seen_at >= self.policy.touch_every:
                live.last_seen_at = now
                session.commit()
            principal = self._principal(session, account, staff)
            if kind is SessionKind.API and self.policy.api_recheck > timedelta(0):
                if len(self._recent_api) >= _RECENT_API_LIMIT:
                    self._forget_stale_checks(now)
                trusted = now + self.policy.api_recheck
                self._recent_api[live.token_hash] = (
                    principal,
                    live.csrf_token,
                    trusted,
                    live.expires_at,
                )
            return principal, live.csrf_token

    def recently_checked(
        self, token: str, now: datetime | None = None
    ) -> tuple[Principal, str] | None:
        """The principal of an API token this worker checked within ``policy.api_recheck`` and
        that has not expired since, without touching the store; else None."""
        key = token_hash(token)
        hit = self._recent_api.get(key)
        if hit is None:
            return None
        now = now or self._clock()
        principal, csrf, trusted_until, expires_at = hit
        if now >= trusted_until or now >= expires_at:
            self._recent_api.pop(key, None)
            return None
        return principal, csrf

    def _forget_stale_checks(self, now: datetime) -> None:
        """Drop checks past their interval (tokens seen once never come back to be dropped),
        and all of them if that is not enough, so the memory stays bounded."""
        for key, (_, _, trusted_until, _) in list(self._recent_api.items()):
            if now >= trusted_until:
                self._recent_api.pop(key, None)
        if len(self._recent_api) >= _RECENT_API_LIMIT:
            self._recent_api.clear()

    def forget_checked_tokens(self) -> None:
        """Drop every remembered token check (after a change to accounts or sessions)."""
        self._recent_api.clear()

    def logout(self, token: str) -> None:
        now = self._clock()
        self._recent_api.pop(token_hash(token), None)
        with self._sessions.begin() as session:
            live = session.get(UserSession, token_hash(token))
            if live is None or live.revoked_at is not None:
                return
            live.revoked_at = now
            account = session.get(UserAccount, live.username)
            append_audit(
                session,
                actor=account.staff_id if account else live.username,
                actor_role="user",
                action="auth.logout",
                subject_type="user",
                subject_id=live.username,
                detail={"kind": live.kind},
                occurred_at=now,
            )

    def _revoke_all(self, session: Session, username: str, now: datetime) -> None:
        self.forget_checked_tokens()
        for live in session.scalars(
            select(UserSession).where(
                UserSession.username == username, UserSession.revoked_at.is_(None)
            )
        ):
            live.revoked_at = now

    def _principal(self, session: Session, account: UserAccount, staff: Staff) -> Principal:
        role = Role(staff.role)
        branch = session.get(Branch, staff.branch_id)
        return Principal(
            username=account.username,
            staff_id=staff.staff_id,
            name=staff.name,
            role=role,
            branch_id=staff.branch_id,
            branch_name=branch.name if branch else staff.branch_id,
            scope=branch_scope(session, role, staff.branch_id),
        )

    # --- demo -----------------------------------------------------------------------------

    def seed_demo_users(self) -> list[DemoCredential]:
        """One login per role (two account managers of different branches), new passwords.

        Picks the account manager with the most customers, the branch manager of that
        branch, a second account manager elsewhere, and the first staff member of each other
        role. Running it again resets the demo passwords.
        """
        with self._sessions() as session:
            picks = _demo_staff(session)
        credentials: list[DemoCredential] = []
        for username, staff in picks:
            password = "Demo-" + secrets.token_urlsafe(9)
            if username in self.usernames():
                self.set_password(username, password)
            else:
                self.add_user(username, staff.staff_id, password)
            credentials.append(
                DemoCredential(
                    username, password, Role(staff.role), staff.staff_id, staff.branch_id
                )
            )
        return credentials


def branch_scope(session: Session, role: Role, branch_id: str) -> Scope:
    """Account managers see their branch; branch managers their branch and those under it."""
    if role not in BRANCH_SCOPED:
        return Scope(all_branches=True)
    if role is Role.ACCOUNT_MANAGER:
        return Scope(all_branches=False, branch_ids=frozenset({branch_id}))
    children = session.scalars(select(Branch.branch_id).where(Branch.parent_branch_id == branch_id))
    return Scope(all_branches=False, branch_ids=frozenset({branch_id, *children}))


def _check_username(username: str) -> str:
    name = username.strip()
    if not (3 <= len(name) <= _USERNAME_LENGTH) or not all(c.isalnum() or c in "._-" for c in name):
        raise AccessError(
            f"username {username!r} must be 3–{_USERNAME_LENGTH} letters, digits, '.', '_' or '-'"
        )
    return name


def _demo_staff(session: Session) -> list[tuple[str, Staff]]:
    active = select(Staff).where(Staff.active.is_(True)).order_by(Staff.staff_id)
    busiest = session.execute(
        select(Enterprise.account_manager_id, func.count().label("firms"))
        .where(Enterprise.account_manager_id.is_not(None))
        .group_by(Enterprise.account_manager_id)
        .order_by(func.count().desc(), Enterprise.account_manager_id)
    ).all()
    managers = [session.get(Staff, row.account_manager_id) for row in busiest]
    managers = [m for m in managers if m is not None and m.active]
    picks: list[tuple[str, Staff]] = []
    if managers:
        first = managers[0]
        picks.append(("demo_account_manager", first))
        other = next((m for m in managers if m.branch_id != first.branch_id), None)
        if other is not None:
            picks.append(("demo_account_manager_2", other))
        boss = session.scalar(
            active.where(Staff.role == Role.BRANCH_MANAGER, Staff.branch_id == first.branch_id)
        )
        if boss is not None:
            picks.append(("demo_branch_manager", boss))
    for role in (Role.RISK_OFFICER, Role.MODEL_DEVELOPER, Role.ADMIN, Role.AUDITOR):
        staff = session.scalar(active.where(Staff.role == role))
        if staff is not None:
            picks.append((f"demo_{role.value}", staff))
    if not picks:
        raise AccessError("the store has no staff; run `puhui store seed` first")
    return picks
