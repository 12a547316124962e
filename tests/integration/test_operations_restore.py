"""Backup → restore into a fresh SQLite, PostgreSQL and MariaDB database: every row comes
back, the audit log and consent chain verify, and the restored store keeps working."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from puhui.actions.consent.service import ConsentService
from puhui.actions.consent.signing import Signer
from puhui.data.store.audit import append_audit, verify_audit_chain
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.operations_tables import JobRunStatus, JobTrigger
from puhui.data.store.tables import Base
from puhui.operations.backup import (
    BackupError,
    RestoreTargetNotEmptyError,
    restore_backup,
    write_backup,
)
from puhui.operations.erasure import ErasureRequestInput, forget_person
from puhui.operations.report import RowCounts
from puhui.operations.retention import RetentionPolicy
from puhui.operations.runs import RunStamp, RunStore
from unit.operations_factories import (
    add_application,
    add_audit,
    add_bureau_query,
    add_reference,
    grant,
    keyring_of,
    migrated,
    person_id,
    uscc,
)

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 1, 2, 3, 456789, tzinfo=UTC)
SIGNER = Signer.generate("k-restore")


def table_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Path]:
    """A SQLite store with reference data, signed consents, queries, applications, job runs,
    an erasure and audit entries; and its backup file."""
    root = tmp_path_factory.mktemp("restore-source")
    engine, sessions = migrated(root / "source.db")
    add_reference(sessions)
    keyring = keyring_of(SIGNER)
    for number in range(12):
        at = T0 + timedelta(days=number)
        consent = grant(
            sessions, SIGNER, person=person_id(number), firm=uscc(number), at=at, keyring=keyring
        )
        add_bureau_query(sessions, person=person_id(number), at=at, consent_id=consent)
        add_application(sessions, firm=uscc(number), consent_id=consent, state="declined", at=at)
    add_audit(sessions, 25, T0)
    runs = RunStore(sessions)
    stamp = RunStamp("w-1", "alarm_scan", T0, T0.date(), JobTrigger.SCHEDULE, "v1", "c" * 64)
    run_id = runs.start(stamp, 1, T0)
    runs.finish(
        run_id,
        status=JobRunStatus.SUCCEEDED,
        ended_at=T0 + timedelta(minutes=3),
        exit_code=0,
        rows=RowCounts(10, 9),
        message=None,
    )
    forget_person(
        sessions,
        ErasureRequestInput(person_id(0), "DEL-1", "个保法第四十七条", T0, "ADM001"),
        RetentionPolicy(),
        now=T0 + timedelta(days=30),
    )
    backup = write_backup(engine, root / "store.jsonl.gz", created_at=T0)
    assert backup.rows["consent_log"] == 12 and backup.rows["audit_event"] > 25
    return engine, backup.path


def test_backup_restores_into_a_fresh_database_and_both_chains_verify(
    source: tuple[Engine, Path], store_engine: Engine, tmp_path: Path
) -> None:
    source_engine, backup = source

    report = restore_backup(store_engine, backup)

    assert report.verified, (report.audit, report.consent, report.tails_match)
    assert report.consent is not None and report.consent.checked == 12
    assert table_rows(store_engine) == table_rows(source_engine)
    sessions = make_session_factory(store_engine)
    now = T0 + timedelta(days=40)
    assert ConsentService(sessions, keyring_of(SIGNER), clock=lambda: now).verify().ok
    # The restored store keeps working: new ids follow the restored ones.
    with sessions.begin() as session:
        appended = append_audit(session, actor="ops", actor_role="admin", action="restore.check")
    with sessions() as session:
        assert verify_audit_chain(session).ok
    assert appended.id == max(row[0] for row in table_rows(source_engine)["audit_event"]) + 1

    # And back: a backup of the restored database restores into SQLite with the same rows.
    again = write_backup(store_engine, tmp_path / "again.jsonl.gz", created_at=now)
    fresh = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        assert restore_backup(fresh, again.path).verified
        assert table_rows(fresh) == table_rows(store_engine)
    finally:
        fresh.dispose()


def test_restore_refuses_a_database_that_is_not_empty(
    source: tuple[Engine, Path], tmp_path: Path
) -> None:
    engine, _sessions = migrated(tmp_path / "used.db")
    with pytest.raises(RestoreTargetNotEmptyError, match="not empty"):
        restore_backup(engine, source[1])


def test_restore_refuses_a_truncated_or_edited_backup(
    source: tuple[Engine, Path], tmp_path: Path
) -> None:
    lines = gzip.decompress(source[1].read_bytes()).splitlines(keepends=True)
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(gzip.compress(b"".join(lines[:-1])))
    edited = tmp_path / "edited.jsonl.gz"
    index = next(
        i for i, line in enumerate(lines) if b"\\u7ea6\\u7a0e" in line or "纳税".encode() in line
    )
    edited_lines = list(lines)
    edited_lines[index] = edited_lines[index].replace("纳税".encode(), "伪造".encode())
    edited.write_bytes(gzip.compress(b"".join(edited_lines)))

    for broken, message in ((truncated, "truncated"), (edited, "checksum differs")):
        target = make_engine(f"sqlite:///{tmp_path / (broken.stem + '.db')}")
        try:
            with pytest.raises(BackupError, match=message):
                restore_backup(target, broken)
        finally:
            target.dispose()
