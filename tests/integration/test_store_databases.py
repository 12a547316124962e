"""The operational store on real SQLite, PostgreSQL and MariaDB databases."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from puhui.data.store import (
    AuditEvent,
    Base,
    Branch,
    Enterprise,
    Staff,
    append_audit,
    make_session_factory,
    migration_status,
    upgrade,
    verify_audit_chain,
)
from puhui.data.store.audit_chain import GENESIS_HASH
from puhui.data.store.migrate import downgrade, head_revision
from puhui.data.store.reference import SEED_ACTION, seed_from_lake

pytestmark = pytest.mark.integration

STORE_TABLES = {"branch", "staff", "enterprise", "audit_event"}
HANGZHOU = Branch(branch_id="330100-00", name="杭州分行", level="branch", division_code="330100")


def _add_branch(engine: Engine) -> None:
    with make_session_factory(engine).begin() as session:
        session.merge(HANGZHOU)


def _write(lake: Path, table: str, frame: pl.DataFrame, partition: str = "") -> None:
    folder = lake / table / partition
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / "part-0.parquet")


def _make_lake(lake: Path, enterprises: int = 50, first_name: str = "杭州㐂纺织有限公司") -> None:
    _write(
        lake,
        "bank_branch",
        pl.DataFrame(
            {
                "branch_id": ["330100-03", "330100-00"],
                "name": ["西湖支行", "杭州分行"],
                "level": ["sub_branch", "branch"],
                "parent_branch_id": ["330100-00", None],
                "division_code": ["330106", "330100"],
            }
        ),
    )
    _write(
        lake,
        "bank_staff",
        pl.DataFrame(
            {
                "staff_id": ["CM0001", "BM0001"],
                "name": ["张三", "李四"],
                "role": ["account_manager", "branch_manager"],
                "branch_id": ["330100-03", "330100-00"],
                "phone": ["13812345678", "13987654321"],
            }
        ),
    )
    usccs = [f"91330100MA{i:07d}X" for i in range(enterprises)]
    names = [first_name, *(f"杭州测试{i}有限公司" for i in range(1, enterprises))]
    _write(
        lake,
        "reg_enterprise",
        pl.DataFrame(
            {
                "uscc": usccs,
                "name": names,
                "division_code": ["330106"] * enterprises,
                "industry_code": ["C17"] * enterprises,
                "size_class": ["micro"] * enterprises,
                "founded_on": [date(2016, 3, 1)] * enterprises,
                "registered_capital": [Decimal("5000000.00")] * enterprises,
            }
        ),
        "month=2025-01",
    )
    customers = min(10, enterprises)
    _write(
        lake,
        "bank_customer",
        pl.DataFrame(
            {
                "uscc": usccs[:customers],
                "branch_id": ["330100-03"] * customers,
                "account_manager_id": ["CM0001"] * customers,
                "opened_on": [date(2021, 5, 1)] * customers,
            }
        ),
        "month=2025-01",
    )


def test_upgrade_to_head_creates_every_table_and_records_the_revision(
    store_engine: Engine,
) -> None:
    assert migration_status(store_engine).current is None

    status = upgrade(store_engine)

    assert status.up_to_date and status.current == head_revision()
    assert STORE_TABLES <= set(inspect(store_engine).get_table_names())


def test_migrated_schema_matches_the_orm_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_downgrade_to_base_and_upgrade_again_round_trips_the_schema(
    migrated_engine: Engine,
) -> None:
    down = downgrade(migrated_engine, "base")
    assert down.current is None
    assert not STORE_TABLES & set(inspect(migrated_engine).get_table_names())

    up = upgrade(migrated_engine)

    assert up.up_to_date
    assert STORE_TABLES <= set(inspect(migrated_engine).get_table_names())


def test_chinese_names_round_trip_including_supplementary_characters(
    migrated_engine: Engine,
) -> None:
    # 𠀀 lies outside the Basic Multilingual Plane: MySQL's 3-byte "utf8" would reject it.
    name = "浙江𠀀义乌小商品贸易有限公司"
    _add_branch(migrated_engine)
    factory = make_session_factory(migrated_engine)
    with factory.begin() as session:
        session.add(
            Enterprise(
                uscc="91330782MA0000001X",
                name=name,
                division_code="330782",
                industry_code="F51",
                size_class="micro",
                founded_on=date(2018, 1, 1),
                branch_id="330100-00",
            )
        )

    with factory() as session:
        assert session.get(Enterprise, "91330782MA0000001X").name == name  # type: ignore[union-attr]
        assert session.get(Branch, "330100-00").name == "杭州分行"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "amount",
    [Decimal("9999999999999999.99"), Decimal("0.01"), Decimal("-12345678901234.56")],
)
def test_money_keeps_exact_decimal_precision(migrated_engine: Engine, amount: Decimal) -> None:
    factory = make_session_factory(migrated_engine)
    with factory.begin() as session:
        session.add(
            Enterprise(
                uscc="91330100MA0000002X",
                name="精度测试有限公司",
                division_code="330100",
                industry_code="C38",
                size_class="small",
                founded_on=date(2010, 6, 1),
                registered_capital=amount,
            )
        )

    with factory() as session:
        stored = session.get(Enterprise, "91330100MA0000002X").registered_capital  # type: ignore[union-attr]

    assert isinstance(stored, Decimal)
    assert stored == amount and str(stored) == str(amount)


def test_timestamps_come_back_timezone_aware_in_utc_with_microseconds(
    migrated_engine: Engine,
) -> None:
    beijing = timezone(timedelta(hours=8))
    created = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=beijing)
    branch = Branch(
        branch_id="330200-00",
        name="宁波分行",
        level="branch",
        division_code="330200",
        created_at=created,
    )
    factory = make_session_factory(migrated_engine)
    with factory.begin() as session:
        session.add(branch)

    with factory() as session:
        stored = session.get(Branch, "330200-00").created_at  # type: ignore[union-attr]

    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == created
    assert stored.hour == 1 and stored.microsecond == 123456


def test_staff_of_an_unknown_branch_is_rejected_by_the_foreign_key(
    migrated_engine: Engine,
) -> None:
    with (
        pytest.raises(IntegrityError),
        make_session_factory(migrated_engine).begin() as session,
    ):
        session.add(
            Staff(staff_id="CM9999", name="王五", role="account_manager", branch_id="999999-99")
        )


def test_unknown_staff_role_is_rejected_by_the_check_constraint(migrated_engine: Engine) -> None:
    _add_branch(migrated_engine)
    # MariaDB reports a failed CHECK as an OperationalError, the others as IntegrityError.
    with (
        pytest.raises(DBAPIError, match="ck_staff_role"),
        make_session_factory(migrated_engine).begin() as session,
    ):
        session.add(Staff(staff_id="X1", name="赵六", role="janitor", branch_id="330100-00"))


def test_seed_from_lake_is_idempotent_and_audited_once_per_run(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    _make_lake(lake)
    factory = make_session_factory(migrated_engine)
    first_time = datetime(2025, 6, 1, tzinfo=UTC)

    with factory.begin() as session:
        first = seed_from_lake(session, lake, now=first_time)
    with factory() as session:
        snapshot = session.execute(select(Enterprise).order_by(Enterprise.uscc)).scalars().all()
        rows_after_first = [
            (e.uscc, e.name, e.branch_id, e.account_manager_id, e.is_customer, e.updated_at)
            for e in snapshot
        ]
    with factory.begin() as session:
        second = seed_from_lake(session, lake, now=first_time + timedelta(days=1))
    with factory() as session:
        rows_after_second = [
            (e.uscc, e.name, e.branch_id, e.account_manager_id, e.is_customer, e.updated_at)
            for e in session.execute(select(Enterprise).order_by(Enterprise.uscc)).scalars()
        ]
        seeds = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == SEED_ACTION)
        )
        chain = verify_audit_chain(session)

    assert first.tables["enterprise"].new == 50 and first.tables["branch"].new == 2
    assert second.tables["enterprise"].new == 0 and second.tables["enterprise"].rows == 50
    assert rows_after_second == rows_after_first
    assert rows_after_first[0][1] == "杭州㐂纺织有限公司"
    assert sum(1 for row in rows_after_first if row[4]) == 10
    assert seeds == 2 and chain.ok and chain.checked == 2


def test_reseeding_a_changed_enterprise_updates_it_and_its_timestamp_only(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    factory = make_session_factory(migrated_engine)
    first_time = datetime(2025, 6, 1, tzinfo=UTC)
    _make_lake(tmp_path / "v1", enterprises=4)
    _make_lake(tmp_path / "v2", enterprises=4, first_name="杭州更名纺织有限公司")
    with factory.begin() as session:
        seed_from_lake(session, tmp_path / "v1", now=first_time)

    later = first_time + timedelta(days=30)
    with factory.begin() as session:
        seed_from_lake(session, tmp_path / "v2", now=later)

    with factory() as session:
        renamed = session.get(Enterprise, "91330100MA0000000X")
        untouched = session.get(Enterprise, "91330100MA0000001X")
    assert renamed is not None and untouched is not None
    assert renamed.name == "杭州更名纺织有限公司" and renamed.updated_at == later
    assert untouched.updated_at == first_time


def test_audit_chain_verifies_and_pinpoints_a_tampered_row(migrated_engine: Engine) -> None:
    factory = make_session_factory(migrated_engine)
    with factory.begin() as session:
        for number in range(5):
            append_audit(
                session,
                actor="CM0001",
                actor_role="account_manager",
                action="pii.view",
                subject_type="enterprise",
                subject_id=f"91330100MA000000{number}X",
                purpose="贷前调查",
                detail={"fields": ["legal_representative", "phone"], "amount": Decimal("1.50")},
            )
    with factory() as session:
        assert verify_audit_chain(session).ok
        ids = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()

    with migrated_engine.begin() as connection:
        connection.execute(
            update(AuditEvent.__table__).where(AuditEvent.id == ids[2]).values(purpose="营销")
        )

    with factory() as session:
        result = verify_audit_chain(session)
    assert not result.ok
    assert result.first_broken_id == ids[2]
    assert "edited" in (result.reason or "")


def test_audit_chain_cannot_fork_because_prev_hash_is_unique(migrated_engine: Engine) -> None:
    factory = make_session_factory(migrated_engine)
    with factory.begin() as session:
        append_audit(session, actor="system", actor_role="system", action="store.seed")
    fork = {
        "occurred_at": datetime.now(UTC),
        "actor": "mallory",
        "actor_role": "admin",
        "action": "pii.view",
        "detail": {},
        "prev_hash": GENESIS_HASH,
        "hash": "f" * 64,
    }

    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        connection.execute(insert(AuditEvent.__table__), fork)


def test_concurrent_audit_appends_stay_in_one_unbroken_chain(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers with its file lock; racing appends get 'locked'")
    factory = make_session_factory(migrated_engine)
    writers, appends = 4, 10
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        try:
            start.wait()
            for number in range(appends):
                with factory.begin() as session:
                    append_audit(
                        session,
                        actor=f"writer{writer}",
                        actor_role="system",
                        action="test.append",
                        detail={"number": number},
                    )
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    with factory() as session:
        result = verify_audit_chain(session)
    assert result.ok and result.checked == writers * appends


def test_server_sessions_read_committed_so_appenders_see_the_latest_tail(
    store_engine: Engine,
) -> None:
    if store_engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time and no isolation levels to choose")
    with store_engine.connect() as connection:
        assert connection.get_isolation_level() == "READ COMMITTED"


def test_a_value_too_long_for_its_column_is_refused_not_truncated(
    migrated_engine: Engine,
) -> None:
    if migrated_engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths; the seed validates them instead")
    with pytest.raises(DBAPIError), make_session_factory(migrated_engine).begin() as session:
        session.add(
            Branch(branch_id="330100-99", name="长" * 101, level="branch", division_code="330100")
        )
