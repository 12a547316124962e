"""The audit hash chain: pure hashing and verification, then appending to a SQLite store."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puhui.data.store import audit as audit_module
from puhui.data.store.audit import AuditEntryError, append_audit, verify_audit_chain
from puhui.data.store.audit_chain import (
    GENESIS_HASH,
    AuditEntry,
    ChainLink,
    entry_hash,
    normalize_detail,
    verify_links,
)
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.tables import AuditAppendOnlyError, AuditEvent

MOMENT = datetime(2025, 6, 1, 9, 0, 0, 250000, tzinfo=UTC)
ENTRY = AuditEntry(
    occurred_at=MOMENT,
    actor="CM0001",
    actor_role="account_manager",
    action="bureau.query",
    subject_type="enterprise",
    subject_id="91330100MA0000001X",
    purpose="贷前审查",
    detail={"authorization": "AUTH-2025-001", "report": "enterprise"},
)


def _chain(count: int) -> list[ChainLink]:
    links, prev = [], GENESIS_HASH
    for number in range(1, count + 1):
        entry = replace(ENTRY, occurred_at=MOMENT + timedelta(seconds=number))
        digest = entry_hash(prev, entry)
        links.append(ChainLink(id=number, prev_hash=prev, hash=digest, entry=entry))
        prev = digest
    return links


# --- pure chain logic ------------------------------------------------------------------------


def test_entry_hash_is_deterministic_sha256_hex() -> None:
    digest = entry_hash(GENESIS_HASH, ENTRY)

    assert digest == entry_hash(GENESIS_HASH, ENTRY)
    assert len(digest) == 64 and int(digest, 16) >= 0


@pytest.mark.parametrize(
    "changed",
    [
        {"actor": "CM0002"},
        {"action": "pii.view"},
        {"purpose": "营销"},
        {"subject_id": "91330100MA0000002X"},
        {"detail": {"authorization": "AUTH-2025-002", "report": "enterprise"}},
        {"occurred_at": MOMENT + timedelta(microseconds=1)},
    ],
)
def test_entry_hash_changes_when_any_field_changes(changed: dict[str, object]) -> None:
    assert entry_hash(GENESIS_HASH, replace(ENTRY, **changed)) != entry_hash(GENESIS_HASH, ENTRY)  # type: ignore[arg-type]


def test_entry_hash_depends_on_the_previous_hash() -> None:
    assert entry_hash("a" * 64, ENTRY) != entry_hash(GENESIS_HASH, ENTRY)


def test_entry_hash_is_the_same_instant_whatever_the_time_zone() -> None:
    beijing = MOMENT.astimezone(timezone(timedelta(hours=8)))

    assert entry_hash(GENESIS_HASH, replace(ENTRY, occurred_at=beijing)) == entry_hash(
        GENESIS_HASH, ENTRY
    )


def test_entry_hash_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="time zone"):
        entry_hash(GENESIS_HASH, replace(ENTRY, occurred_at=datetime(2025, 6, 1)))


def test_detail_is_normalised_to_plain_json_before_hashing() -> None:
    detail = normalize_detail({"amount": Decimal("1.50"), "on": date(2025, 1, 2), 3: "三"})

    assert detail == {"amount": "1.50", "on": "2025-01-02", "3": "三"}


def test_detail_with_a_non_finite_number_is_refused() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        normalize_detail({"score": math.nan})


def test_intact_chain_verifies() -> None:
    result = verify_links(_chain(5))

    assert result.ok and result.checked == 5 and result.first_broken_id is None


def test_edited_entry_is_reported_as_the_first_broken_one() -> None:
    links = _chain(5)
    links[2] = replace(links[2], entry=replace(links[2].entry, actor="CM9999"))

    result = verify_links(links)

    assert not result.ok and result.first_broken_id == 3
    assert "edited" in (result.reason or "")


def test_deleted_entry_breaks_the_link_of_the_one_after_it() -> None:
    links = _chain(5)
    del links[1]

    result = verify_links(links)

    assert result.first_broken_id == 3
    assert "deleted" in (result.reason or "")


def test_first_entry_must_start_from_the_genesis_hash() -> None:
    result = verify_links(_chain(3)[1:])

    assert result.first_broken_id == 2


# --- appending to the store --------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    return engine


def _append(session: Session, number: int) -> AuditEvent:
    return append_audit(
        session,
        actor="CM0001",
        actor_role="account_manager",
        action="pii.view",
        subject_type="enterprise",
        subject_id=f"91330100MA000000{number}X",
        purpose="贷后检查",
        detail={"fields": ["phone"], "amount": Decimal("12.30")},
        occurred_at=MOMENT + timedelta(minutes=number),
    )


def test_appended_entries_link_to_each_other_from_genesis(engine: Engine) -> None:
    with make_session_factory(engine).begin() as session:
        events = [_append(session, number) for number in range(3)]

    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert [event.id for event in events] == sorted(event.id for event in events)


def test_stored_detail_is_the_normalised_detail_that_was_hashed(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        _append(session, 1)

    with factory() as session:
        stored = session.scalars(select(AuditEvent)).one()
        assert stored.detail == {"fields": ["phone"], "amount": "12.30"}
        assert stored.occurred_at == MOMENT + timedelta(minutes=1)
        assert verify_audit_chain(session).ok


def test_verify_audit_chain_pinpoints_a_row_tampered_with_in_sql(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        ids = [_append(session, number).id for number in range(4)]
    with engine.begin() as connection:
        connection.execute(
            update(AuditEvent.__table__).where(AuditEvent.id == ids[1]).values(actor="CM0666")
        )

    with factory() as session:
        result = verify_audit_chain(session)

    assert not result.ok and result.first_broken_id == ids[1] and result.checked == 2


def test_verify_audit_chain_notices_a_row_deleted_in_sql(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        ids = [_append(session, number).id for number in range(4)]
    with engine.begin() as connection:
        connection.execute(delete(AuditEvent.__table__).where(AuditEvent.id == ids[1]))

    with factory() as session:
        assert verify_audit_chain(session).first_broken_id == ids[2]


def test_empty_audit_log_verifies(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        result = verify_audit_chain(session)

    assert result.ok and result.checked == 0


def test_orm_refuses_to_change_an_audit_entry(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        _append(session, 1)

    with pytest.raises(AuditAppendOnlyError, match="append-only"), factory.begin() as session:
        session.scalars(select(AuditEvent)).one().purpose = "营销"


def test_orm_refuses_to_delete_an_audit_entry(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        _append(session, 1)

    with pytest.raises(AuditAppendOnlyError), factory.begin() as session:
        session.delete(session.scalars(select(AuditEvent)).one())


def test_an_entry_missing_its_actor_is_refused_before_touching_the_chain(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with pytest.raises(AuditEntryError, match="needs actor"), factory.begin() as session:
        append_audit(session, actor=None, actor_role="system", action="x")  # type: ignore[arg-type]


def test_an_overlong_field_is_refused_even_on_sqlite(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with (
        pytest.raises(AuditEntryError, match=r"action .* longer than 64"),
        factory.begin() as session,
    ):
        append_audit(session, actor="system", actor_role="system", action="x" * 65)


def test_a_database_failure_that_is_not_a_race_is_raised_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_tail = audit_module._tail_hash

    def counting_tail(session: Session) -> str:
        calls.append("tail")
        return real_tail(session)

    monkeypatch.setattr(audit_module, "_tail_hash", counting_tail)
    with make_session_factory(engine).begin() as session:
        session.execute(
            text(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: audit_event.x'); END"
            )
        )

    with pytest.raises(IntegrityError), make_session_factory(engine).begin() as session:
        append_audit(session, actor="system", actor_role="system", action="x")
    assert len(calls) == 2  # one try, one re-read that showed the tail had not moved


def test_a_failed_caller_transaction_leaves_no_audit_entry(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with pytest.raises(RuntimeError), factory.begin() as session:
        _append(session, 1)
        raise RuntimeError("origination failed after auditing")

    with factory() as session:
        assert session.scalars(select(AuditEvent)).all() == []
