"""Seeding reference data: lake frames → validated rows (pure), then idempotent upserts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, update

from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.engine import StoreError, make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.reference import (
    SEED_ACTION,
    LakeTableMissingError,
    ReferenceDataError,
    ReferenceFrames,
    build_reference_rows,
    read_lake_table,
    read_reference_frames,
    seed_from_lake,
    seed_reference,
)
from puhui.data.store.tables import AuditEvent, Branch, Enterprise, Staff

NOW = datetime(2025, 6, 1, 8, tzinfo=UTC)
USCC = [f"91330100MA{number:07d}X" for number in range(4)]


def _frames() -> ReferenceFrames:
    """A tiny province: one 分行, two 支行, three staff, four firms of which two are customers."""
    return ReferenceFrames(
        branches=pl.DataFrame(
            {
                # Children listed before their parent on purpose: the seed must reorder.
                "branch_id": ["330100-03", "330100-04", "330100-00"],
                "name": ["西湖支行", "滨江支行", "杭州分行"],
                "level": ["sub_branch", "sub_branch", "branch"],
                "parent_branch_id": ["330100-00", "330100-00", None],
                "division_code": ["330106", "330108", "330100"],
            }
        ),
        staff=pl.DataFrame(
            {
                "staff_id": ["CM0001", "CM0002", "BM0001"],
                "name": ["张三", "李四", "王五"],
                "role": ["account_manager", "account_manager", "branch_manager"],
                "branch_id": ["330100-03", "330100-04", "330100-00"],
                "phone": ["13812345678", "13912345678", None],
            }
        ),
        enterprises=pl.DataFrame(
            {
                "uscc": USCC,
                "name": [
                    "杭州甲纺织有限公司",
                    "杭州乙电气有限公司",
                    "杭州丙贸易商行",
                    "杭州丁科技有限公司",
                ],
                "division_code": ["330106", "330108", "330106", "330108"],
                "industry_code": ["C17", "C38", "F51", "I65"],
                "size_class": ["small", "micro", "micro", "medium"],
                "founded_on": [
                    date(2012, 3, 1),
                    date(2019, 7, 9),
                    date(2021, 1, 5),
                    date(2008, 11, 30),
                ],
                "registered_capital": [5_000_000.0, 1_000_000.5, None, 30_000_000.0],
                "legal_representative": ["甲", "乙", "丙", "丁"],
            }
        ),
        customers=pl.DataFrame(
            {
                "uscc": [USCC[0], USCC[1]],
                "branch_id": ["330100-03", "330100-04"],
                "account_manager_id": ["CM0001", None],
                "opened_on": [date(2020, 1, 1), date(2022, 5, 1)],
            }
        ),
    )


def _write(folder: Path, frame: pl.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / "part-0.parquet")


def _write_lake(lake: Path, frames: ReferenceFrames) -> None:
    """Flat files for the bank tables, ``month=`` partitions for the registry tables."""
    _write(lake / "bank_branch", frames.branches)
    _write(lake / "bank_staff", frames.staff)
    _write(lake / "reg_enterprise" / "month=2025-05", frames.enterprises)
    _write(lake / "bank_customer" / "month=2025-05", frames.customers)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    return engine


# --- frames → rows ---------------------------------------------------------------------------


def test_rows_put_parent_branches_before_their_sub_branches() -> None:
    rows = build_reference_rows(_frames(), now=NOW)

    order = [row["branch_id"] for row in rows.branches]
    assert order[0] == "330100-00" and set(order[1:]) == {"330100-03", "330100-04"}
    assert all(row["created_at"] == NOW for row in rows.branches)


def test_customers_carry_their_branch_and_account_manager_into_the_enterprise_master() -> None:
    rows = {row["uscc"]: row for row in build_reference_rows(_frames(), now=NOW).enterprises}

    assert rows[USCC[0]]["is_customer"] and rows[USCC[0]]["account_manager_id"] == "CM0001"
    assert rows[USCC[1]]["is_customer"] and rows[USCC[1]]["account_manager_id"] is None
    assert not rows[USCC[2]]["is_customer"] and rows[USCC[2]]["branch_id"] is None
    assert rows[USCC[0]]["founded_on"] == date(2012, 3, 1)


def test_registered_capital_becomes_exact_decimal_yuan() -> None:
    rows = {row["uscc"]: row for row in build_reference_rows(_frames(), now=NOW).enterprises}

    assert rows[USCC[1]]["registered_capital"] == Decimal("1000000.50")
    assert rows[USCC[2]]["registered_capital"] is None


def test_new_staff_are_active() -> None:
    rows = build_reference_rows(_frames(), now=NOW)

    assert all(row["active"] for row in rows.staff)


def test_founding_dates_written_as_text_are_parsed() -> None:
    frames = _frames()
    frames = replace(
        frames,
        enterprises=frames.enterprises.with_columns(pl.col("founded_on").cast(pl.String)),
    )

    rows = build_reference_rows(frames, now=NOW)

    assert rows.enterprises[0]["founded_on"] == date(2012, 3, 1)


def test_unknown_branch_level_is_reported_with_the_row_and_column() -> None:
    frames = _frames()
    frames = replace(
        frames, branches=frames.branches.with_columns(pl.col("level").replace("branch", "head"))
    )

    with pytest.raises(
        ReferenceDataError, match=r"bank_branch row branch_id='330100-00': level 'head'"
    ):
        build_reference_rows(frames, now=NOW)


def test_parent_branch_missing_from_the_lake_is_reported() -> None:
    frames = _frames()
    frames = replace(frames, branches=frames.branches.filter(pl.col("branch_id") != "330100-00"))

    with pytest.raises(
        ReferenceDataError, match="parent_branch_id '330100-00' is not in bank_branch"
    ):
        build_reference_rows(frames, now=NOW)


def test_branches_that_are_each_others_parents_are_reported_as_a_cycle() -> None:
    frames = _frames()
    frames = replace(
        frames,
        branches=frames.branches.with_columns(
            pl.when(pl.col("branch_id") == "330100-00")
            .then(pl.lit("330100-03"))
            .otherwise(pl.col("parent_branch_id"))
            .alias("parent_branch_id")
        ),
    )

    with pytest.raises(ReferenceDataError, match="cycle"):
        build_reference_rows(frames, now=NOW)


def test_staff_with_an_unknown_role_is_reported() -> None:
    frames = _frames()
    frames = replace(frames, staff=frames.staff.with_columns(pl.lit("teller").alias("role")))

    with pytest.raises(ReferenceDataError, match="bank_staff row staff_id='CM0001': role 'teller'"):
        build_reference_rows(frames, now=NOW)


def test_customer_of_an_enterprise_not_in_the_registry_is_reported() -> None:
    frames = _frames()
    frames = replace(frames, enterprises=frames.enterprises.filter(pl.col("uscc") != USCC[0]))

    with pytest.raises(ReferenceDataError, match=f"bank_customer row uscc='{USCC[0]}'"):
        build_reference_rows(frames, now=NOW)


def test_customer_served_by_unknown_staff_is_reported() -> None:
    frames = _frames()
    frames = replace(
        frames,
        customers=frames.customers.with_columns(pl.lit("CM9999").alias("account_manager_id")),
    )

    with pytest.raises(
        ReferenceDataError, match="account_manager_id 'CM9999' is not in bank_staff"
    ):
        build_reference_rows(frames, now=NOW)


def test_name_longer_than_its_column_is_reported_with_the_limit() -> None:
    frames = _frames()
    frames = replace(
        frames, enterprises=frames.enterprises.with_columns(pl.lit("长" * 201).alias("name"))
    )

    with pytest.raises(ReferenceDataError, match=r"longer than 200 characters \(enterprise.name\)"):
        build_reference_rows(frames, now=NOW)


def test_malformed_industry_code_is_reported() -> None:
    frames = _frames()
    frames = replace(
        frames,
        enterprises=frames.enterprises.with_columns(pl.lit("C1711").alias("industry_code")),
    )

    with pytest.raises(ReferenceDataError, match="industry_code 'C1711'"):
        build_reference_rows(frames, now=NOW)


def test_conflicting_duplicates_without_a_month_are_refused() -> None:
    frames = _frames()
    clash = frames.enterprises.head(1).with_columns(pl.lit("另一个名字有限公司").alias("name"))
    frames = replace(frames, enterprises=pl.concat([frames.enterprises, clash]))

    with pytest.raises(
        ReferenceDataError, match=f"reg_enterprise has 2 rows sharing uscc.*{USCC[0]}"
    ):
        build_reference_rows(frames, now=NOW)


def test_the_latest_month_wins_when_a_table_has_monthly_snapshots() -> None:
    frames = _frames()
    older = frames.enterprises.with_columns(pl.lit("2025-04").alias("month"))
    newer = frames.enterprises.with_columns(
        pl.lit("2025-05").alias("month"), pl.lit("杭州新名有限公司").alias("name")
    )
    frames = replace(frames, enterprises=pl.concat([newer, older]))

    rows = build_reference_rows(frames, now=NOW)

    assert len(rows.enterprises) == 4
    assert {row["name"] for row in rows.enterprises} == {"杭州新名有限公司"}


# --- reading the lake ------------------------------------------------------------------------


def test_missing_lake_table_raises_an_error_naming_the_table(tmp_path: Path) -> None:
    frames = _frames()
    _write(tmp_path / "lake" / "bank_branch", frames.branches)

    with pytest.raises(LakeTableMissingError, match="'bank_staff'") as caught:
        read_reference_frames(tmp_path / "lake")
    assert isinstance(caught.value, StoreError)


def test_lake_table_without_a_required_column_is_reported(tmp_path: Path) -> None:
    _write(tmp_path / "bank_staff", _frames().staff.drop("role"))

    with pytest.raises(ReferenceDataError, match=r"'bank_staff' .* lacks column\(s\) role"):
        read_lake_table(tmp_path, "bank_staff", ("staff_id", "role"))


def test_lake_tables_are_read_flat_or_partitioned_by_month(tmp_path: Path) -> None:
    _write_lake(tmp_path, _frames())

    frames = read_reference_frames(tmp_path)

    assert frames.branches.height == 3 and "month" not in frames.branches.columns
    assert frames.enterprises.height == 4 and set(frames.enterprises["month"]) == {"2025-05"}
    assert "legal_representative" not in frames.enterprises.columns


# --- rows → store ----------------------------------------------------------------------------


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with make_session_factory(engine)() as session:
        return {
            "branch": [
                (b.branch_id, b.name, b.level, b.parent_branch_id, b.created_at)
                for b in session.scalars(select(Branch).order_by(Branch.branch_id))
            ],
            "staff": [
                (s.staff_id, s.name, s.role, s.branch_id, s.phone, s.active, s.created_at)
                for s in session.scalars(select(Staff).order_by(Staff.staff_id))
            ],
            "enterprise": [
                (
                    e.uscc,
                    e.name,
                    e.industry_code,
                    e.registered_capital,
                    e.branch_id,
                    e.account_manager_id,
                    e.is_customer,
                    e.updated_at,
                )
                for e in session.scalars(select(Enterprise).order_by(Enterprise.uscc))
            ],
        }


def test_seeding_twice_leaves_exactly_the_same_rows(engine: Engine, tmp_path: Path) -> None:
    _write_lake(tmp_path / "lake", _frames())
    factory = make_session_factory(engine)

    with factory.begin() as session:
        first = seed_from_lake(session, tmp_path / "lake", now=NOW)
    after_first = _snapshot(engine)
    with factory.begin() as session:
        second = seed_from_lake(session, tmp_path / "lake", now=NOW + timedelta(days=7))

    assert _snapshot(engine) == after_first
    assert {name: count.new for name, count in first.tables.items()} == {
        "branch": 3,
        "staff": 3,
        "enterprise": 4,
    }
    assert all(count.new == 0 for count in second.tables.values())
    assert len(after_first["enterprise"]) == 4


def test_each_seed_writes_one_chained_audit_event_with_the_counts(
    engine: Engine, tmp_path: Path
) -> None:
    _write_lake(tmp_path / "lake", _frames())
    factory = make_session_factory(engine)
    with factory.begin() as session:
        result = seed_from_lake(session, tmp_path / "lake", now=NOW)

    with factory() as session:
        event = session.scalars(select(AuditEvent)).one()
        assert verify_audit_chain(session).ok

    assert event.id == result.audit_event_id and event.action == SEED_ACTION
    assert event.actor == "system" and event.occurred_at == NOW
    assert event.detail["tables"]["enterprise"] == {"rows": 4, "new": 4}
    assert event.detail["source"] == str(tmp_path / "lake")


def test_reseeding_keeps_a_staff_member_deactivated_in_the_store(
    engine: Engine, tmp_path: Path
) -> None:
    _write_lake(tmp_path / "lake", _frames())
    factory = make_session_factory(engine)
    with factory.begin() as session:
        seed_from_lake(session, tmp_path / "lake", now=NOW)
    with factory.begin() as session:
        session.execute(update(Staff).where(Staff.staff_id == "CM0002").values(active=False))

    with factory.begin() as session:
        seed_from_lake(session, tmp_path / "lake", now=NOW + timedelta(days=1))

    with factory() as session:
        assert session.get(Staff, "CM0002").active is False  # type: ignore[union-attr]


def test_a_changed_enterprise_is_updated_and_only_its_timestamp_moves(engine: Engine) -> None:
    factory = make_session_factory(engine)
    frames = _frames()
    with factory.begin() as session:
        seed_reference(session, build_reference_rows(frames, now=NOW), source="t", now=NOW)
    renamed = replace(
        frames,
        enterprises=frames.enterprises.with_columns(
            pl.when(pl.col("uscc") == USCC[3])
            .then(pl.lit("杭州丁智能科技有限公司"))
            .otherwise(pl.col("name"))
            .alias("name")
        ),
    )
    later = NOW + timedelta(days=30)

    with factory.begin() as session:
        seed_reference(session, build_reference_rows(renamed, now=later), source="t", now=later)

    with factory() as session:
        changed = session.get(Enterprise, USCC[3])
        unchanged = session.get(Enterprise, USCC[0])
    assert changed is not None and unchanged is not None
    assert changed.name == "杭州丁智能科技有限公司" and changed.updated_at == later
    assert unchanged.updated_at == NOW


def test_seed_writes_in_batches_and_reports_progress(engine: Engine) -> None:
    seen: list[tuple[str, int, int]] = []
    rows = build_reference_rows(_frames(), now=NOW)

    with make_session_factory(engine).begin() as session:
        seed_reference(
            session,
            rows,
            source="t",
            now=NOW,
            batch_size=2,
            on_progress=lambda table, done, total: seen.append((table, done, total)),
        )

    assert [entry for entry in seen if entry[0] == "enterprise"] == [
        ("enterprise", 0, 4),
        ("enterprise", 2, 4),
        ("enterprise", 4, 4),
    ]
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Enterprise)) == 4


def test_registered_capital_stored_as_lake_decimal_keeps_every_fen() -> None:
    frames = _frames()
    amounts = [Decimal("9999999999999999.99"), Decimal("0.01"), None, Decimal("123.45")]
    frames = replace(
        frames,
        enterprises=frames.enterprises.with_columns(
            pl.Series("registered_capital", amounts, dtype=pl.Decimal(18, 2))
        ),
    )

    rows = build_reference_rows(frames, now=NOW)

    assert [row["registered_capital"] for row in rows.enterprises] == amounts


def _two_batches_of_registry(lake: Path) -> tuple[Path, Path]:
    """An entity table written twice, as the lake does: the second batch renames one firm."""
    frames = _frames()
    _write_lake(lake, frames)
    registry = lake / "reg_enterprise"
    for old in registry.rglob("*.parquet"):
        old.unlink()
    first, second = registry / "part-b1.parquet", registry / "part-a2.parquet"
    frames.enterprises.write_parquet(first)
    frames.enterprises.with_columns(
        pl.when(pl.col("uscc") == USCC[0])
        .then(pl.lit("杭州甲新材料有限公司"))
        .otherwise(pl.col("name"))
        .alias("name")
    ).write_parquet(second)
    return first, second


def test_the_later_batch_wins_when_the_lake_gives_its_commit_order(tmp_path: Path) -> None:
    first, second = _two_batches_of_registry(tmp_path)

    def committed(table: str) -> list[Path]:
        if table == "reg_enterprise":
            return [first, second]  # oldest first, whatever the file names sort like
        return sorted((tmp_path / table).rglob("*.parquet"))

    frames = read_reference_frames(tmp_path, list_files=committed)
    rows = {row["uscc"]: row for row in build_reference_rows(frames, now=NOW).enterprises}

    assert rows[USCC[0]]["name"] == "杭州甲新材料有限公司" and len(rows) == 4


def test_files_the_lake_has_not_committed_are_not_read(tmp_path: Path) -> None:
    first, _uncommitted = _two_batches_of_registry(tmp_path)

    frame = read_lake_table(tmp_path, "reg_enterprise", ("uscc", "name"), files=[first])

    assert frame.height == 4 and "杭州甲新材料有限公司" not in frame["name"].to_list()


def test_two_versions_of_a_firm_with_no_known_batch_order_are_refused(tmp_path: Path) -> None:
    _two_batches_of_registry(tmp_path)

    frames = read_reference_frames(tmp_path)

    with pytest.raises(ReferenceDataError, match=f"same month and batch, first uscc='{USCC[0]}'"):
        build_reference_rows(frames, now=NOW)


def test_identical_copies_of_a_row_in_several_files_are_harmless(tmp_path: Path) -> None:
    _write_lake(tmp_path, _frames())
    _write(tmp_path / "bank_staff" / "copy", _frames().staff)

    rows = build_reference_rows(read_reference_frames(tmp_path), now=NOW)

    assert len(rows.staff) == 3
