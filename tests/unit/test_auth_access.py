"""Access service: argon2 passwords, lock-out, client rate limit, session expiry, branch scope."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from puhui.actions.access import (
    AccessPolicy,
    AccessService,
    AuthenticationError,
    LoginRefusedError,
    Role,
)
from puhui.actions.access.passwords import WeakPasswordError
from puhui.actions.access.service import AccessError, UnknownStaffError
from puhui.data.store import make_engine, make_session_factory, upgrade
from puhui.data.store.access_tables import SessionKind, UserAccount
from puhui.data.store.tables import AuditEvent, Branch, Staff
from support.workbench import cheap_passwords

PASSWORD = "Correct-Horse-7"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated store file per module; each test works on a copy."""
    path = tmp_path_factory.mktemp("access") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def store(tmp_path: Path, migrated: Path):  # type: ignore[no-untyped-def]
    shutil.copyfile(migrated, tmp_path / "store.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        session.add_all(
            [
                Branch(branch_id="B1", name="杭州分行", level="branch", division_code="330100"),
                Branch(
                    branch_id="B1-1",
                    name="西湖支行",
                    level="sub_branch",
                    parent_branch_id="B1",
                    division_code="330106",
                ),
                Branch(branch_id="B2", name="宁波分行", level="branch", division_code="330200"),
            ]
        )
        session.flush()
        session.add_all(
            [
                Staff(staff_id="AM1", name="张三", role="account_manager", branch_id="B1-1"),
                Staff(staff_id="BM1", name="李四", role="branch_manager", branch_id="B1"),
                Staff(staff_id="RO1", name="王五", role="risk_officer", branch_id="B2"),
                Staff(staff_id="IE1", name="赵六", role="integration_engineer", branch_id="B2"),
            ]
        )
    yield sessions
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(store, clock) -> AccessService:  # type: ignore[no-untyped-def]
    service = AccessService(
        store,
        policy=AccessPolicy(max_failures=3, client_attempts=8),
        passwords=cheap_passwords(),
        clock=clock,
    )
    service.add_user("zhangsan", "AM1", PASSWORD)
    service.add_user("lisi", "BM1", PASSWORD)
    service.add_user("wangwu", "RO1", PASSWORD)
    return service


def _login(access: AccessService, user: str = "zhangsan", password: str = PASSWORD, **kw):  # type: ignore[no-untyped-def]
    return access.login(
        user, password, kind=kw.get("kind", SessionKind.PAGE), client=kw.get("client", "10.0.0.1")
    )


def test_passwords_are_stored_as_argon2id_hashes_never_in_clear(access, store) -> None:
    with store() as session:
        stored = session.get(UserAccount, "zhangsan").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_weak_password_is_refused_naming_the_rule(access) -> None:
    with pytest.raises(WeakPasswordError, match="at least 12"):
        access.add_user("wangwu2", "RO1", "short")


def test_a_user_needs_a_known_staff_member_with_a_workbench_role(access) -> None:
    with pytest.raises(UnknownStaffError, match="S999"):
        access.add_user("ghost", "S999", PASSWORD)
    with pytest.raises(AccessError, match="integration_engineer"):
        access.add_user("zhaoliu", "IE1", PASSWORD)


def test_a_wrong_password_and_an_unknown_user_fail_alike(access) -> None:
    with pytest.raises(AuthenticationError) as wrong:
        _login(access, password="Wrong-password-1")
    with pytest.raises(AuthenticationError) as unknown:
        _login(access, user="nobody")
    assert str(wrong.value) == str(unknown.value) == "wrong username or password"


def test_repeated_wrong_passwords_lock_the_account_until_the_lockout_ends(access, clock) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            _login(access, password="Wrong-password-1")
    with pytest.raises(LoginRefusedError, match="locked") as locked:
        _login(access)  # even the right password
    assert locked.value.retry_after_seconds > 0
    clock.advance(minutes=16)
    assert _login(access).principal.username == "zhangsan"


def test_a_lockout_ends_the_users_open_sessions(access) -> None:
    opened = _login(access)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            _login(access, password="Wrong-password-1")
    assert access.resolve(opened.token, SessionKind.PAGE) is None


def test_too_many_attempts_from_one_client_are_refused_for_every_user(access, clock) -> None:
    for user in ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]:
        with pytest.raises(AuthenticationError):
            _login(access, user=user, client="203.0.113.9")
    with pytest.raises(LoginRefusedError, match=r"203\.0\.113\.9"):
        _login(access, client="203.0.113.9")
    assert _login(access, client="10.0.0.2").principal.username == "zhangsan"
    clock.advance(minutes=6)
    assert _login(access, client="203.0.113.9").principal.username == "zhangsan"


def test_a_page_session_ends_after_idle_time_and_at_its_absolute_limit(access, clock) -> None:
    opened = _login(access)
    clock.advance(minutes=20)
    assert access.resolve(opened.token, SessionKind.PAGE) is not None
    clock.advance(minutes=20)  # 20 minutes since the last use: still inside 30
    assert access.resolve(opened.token, SessionKind.PAGE) is not None
    clock.advance(minutes=31)
    assert access.resolve(opened.token, SessionKind.PAGE) is None


def test_an_api_token_expires_and_is_not_a_page_session(access, clock) -> None:
    opened = _login(access, kind=SessionKind.API)
    assert access.resolve(opened.token, SessionKind.PAGE) is None
    assert access.resolve(opened.token, SessionKind.API) is not None
    clock.advance(hours=1, seconds=1)
    assert access.resolve(opened.token, SessionKind.API) is None


def _revoke_in_the_store(store, token: str, clock) -> None:  # type: ignore[no-untyped-def]
    """What another worker's logout does: the session row revoked, this worker not told."""
    from puhui.actions.access.service import token_hash
    from puhui.data.store.access_tables import UserSession

    with store.begin() as session:
        session.get(UserSession, token_hash(token)).revoked_at = clock()


def test_a_checked_api_token_is_trusted_for_the_recheck_interval_then_read_again(
    access, store, clock
) -> None:
    opened = _login(access, kind=SessionKind.API)
    assert access.resolve(opened.token, SessionKind.API) is not None
    _revoke_in_the_store(store, opened.token, clock)  # revoked by another worker
    clock.advance(seconds=1)
    found = access.resolve(opened.token, SessionKind.API)
    assert found is not None and found[0].username == "zhangsan"  # within 2 s: from memory
    clock.advance(seconds=1)
    assert access.resolve(opened.token, SessionKind.API) is None  # read again: revoked
    assert access.recently_checked(opened.token) is None


def test_logout_and_a_new_password_end_a_remembered_api_token_at_once(access) -> None:
    first = _login(access, kind=SessionKind.API)
    second = _login(access, kind=SessionKind.API)
    assert access.resolve(first.token, SessionKind.API) is not None
    assert access.resolve(second.token, SessionKind.API) is not None
    access.logout(first.token)
    assert access.resolve(first.token, SessionKind.API) is None
    assert access.recently_checked(second.token) is not None
    access.set_password("zhangsan", "Another-Secret-8")
    assert access.recently_checked(second.token) is None
    assert access.resolve(second.token, SessionKind.API) is None


def test_a_remembered_api_token_still_expires_on_time(store, clock) -> None:  # type: ignore[no-untyped-def]
    service = AccessService(
        store,
        policy=AccessPolicy(api_token=timedelta(seconds=30), api_recheck=timedelta(minutes=5)),
        passwords=cheap_passwords(),
        clock=clock,
    )
    service.add_user("zhangsan", "AM1", PASSWORD)
    opened = _login(service, kind=SessionKind.API)
    assert service.resolve(opened.token, SessionKind.API) is not None
    clock.advance(seconds=31)
    assert service.recently_checked(opened.token) is None
    assert service.resolve(opened.token, SessionKind.API) is None


def test_a_zero_recheck_interval_reads_the_store_on_every_request(store, clock) -> None:  # type: ignore[no-untyped-def]
    service = AccessService(
        store,
        policy=AccessPolicy(api_recheck=timedelta(0)),
        passwords=cheap_passwords(),
        clock=clock,
    )
    service.add_user("zhangsan", "AM1", PASSWORD)
    opened = _login(service, kind=SessionKind.API)
    assert service.resolve(opened.token, SessionKind.API) is not None
    _revoke_in_the_store(store, opened.token, clock)
    assert service.resolve(opened.token, SessionKind.API) is None


def test_logout_revokes_the_session_and_a_new_password_ends_all_sessions(access) -> None:
    first, second = _login(access), _login(access)
    access.logout(first.token)
    assert access.resolve(first.token, SessionKind.PAGE) is None
    assert access.resolve(second.token, SessionKind.PAGE) is not None
    access.set_password("zhangsan", "Another-Secret-8")
    assert access.resolve(second.token, SessionKind.PAGE) is None


def test_scope_account_manager_own_branch_branch_manager_subtree_risk_all(access) -> None:
    am = _login(access).principal
    bm = _login(access, user="lisi").principal
    ro = _login(access, user="wangwu").principal
    assert am.role is Role.ACCOUNT_MANAGER and am.scope.branch_ids == {"B1-1"}
    assert not am.scope.allows_branch("B1") and not am.scope.allows_branch(None)
    assert bm.scope.branch_ids == {"B1", "B1-1"} and not bm.scope.allows_branch("B2")
    assert ro.scope.all_branches and ro.scope.allows_branch("B1-1")


def test_logins_lockouts_and_logouts_are_in_the_audit_log(access, store) -> None:
    opened = _login(access)
    access.logout(opened.token)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            _login(access, password="Wrong-password-1")
    with store() as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions.count("user.create") == 3
    assert {"auth.login", "auth.logout", "auth.lockout"} <= set(actions)


def test_a_staff_member_made_inactive_can_no_longer_use_a_session(access, store) -> None:
    opened = _login(access)
    with store.begin() as session:
        session.get(Staff, "AM1").active = False
    assert access.resolve(opened.token, SessionKind.PAGE) is None
    with pytest.raises(AuthenticationError):
        _login(access)


def test_remembered_api_token_checks_stay_bounded(access, clock, monkeypatch) -> None:
    import puhui.actions.access.service as service_module

    monkeypatch.setattr(service_module, "_RECENT_API_LIMIT", 3)
    tokens = [_login(access, kind=SessionKind.API, client=f"10.0.0.{i}").token for i in range(3)]
    for token in tokens:
        assert access.resolve(token, SessionKind.API) is not None
    clock.advance(seconds=3)  # all three past their recheck interval
    fresh = _login(access, kind=SessionKind.API).token
    assert access.resolve(fresh, SessionKind.API) is not None
    assert len(access._recent_api) == 1  # the stale ones were swept, the new one kept
