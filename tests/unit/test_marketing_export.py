"""A run through the store without a province: save the list, allocate it, export each
manager's CSV and Excel file, record outcomes with role and branch scoping, read feedback."""

from __future__ import annotations

import csv
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from puhui.actions.access.roles import Principal, Role, Scope
from puhui.actions.marketing import allocate, export, outcomes, report, runs
from puhui.actions.marketing.build import summarize
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.marketing_tables import MarketingAssignment
from puhui.data.store.tables import AuditEvent, Base, Branch, Staff
from puhui.decisions.marketing.outcomes import OutcomeOrderError
from puhui.decisions.marketing.spec import AllocationParameters, load_marketing_config
from puhui.decisions.products.spec import load_product_catalog

NOW = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)
AS_OF = date(2026, 7, 1)


def _universe() -> pl.DataFrame:
    n = 12
    return pl.DataFrame(
        {
            "uscc": [f"91330100MA{i:08d}" for i in range(n)],
            "name": [f"企业{i}" for i in range(n)],
            "division_code": ["330102"] * 6 + ["330105"] * 6,
            "outlet_id": ["O1"] * 6 + ["O2"] * 6,
            "city_branch_id": ["C1"] * n,
            "themes": [["tax_a", "park"] if i % 2 else ["exporter"] for i in range(n)],
            "is_prospect": [True] * (n - 1) + [False],
            "first_loan": [i % 3 == 0 for i in range(n)],
            "screen_passed": [True] * n,
            "exclusion_reasons": [[] for _ in range(n)],
            "pd": [0.02] * n,
            "p_takeup": [0.1] * n,
            "offer_product": ["xiaowei_edai"] * n,
            "offer_limit": [100_000.0 * (i + 1) for i in range(n)],
            "offer_rate_bp": [380] * n,
            "expected_balance": [60_000.0 * (i + 1) for i in range(n)],
            "margin_bp": [180] * n,
            "expected_value": [float(100 * (n - i)) for i in range(n)],
            "rank": list(range(1, n + 1)),
            "decile": [min(10, i + 1) for i in range(n)],
            "status": ["listed"] * (n - 1) + ["borrower"],
        }
    )


@pytest.fixture
def sessions(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    Base.metadata.create_all(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as session:
        session.add(Branch(branch_id="C1", name="杭州分行", level="branch", division_code="330100"))
        session.flush()
        for outlet, county in (("O1", "330102"), ("O2", "330105")):
            session.add(
                Branch(
                    branch_id=outlet,
                    name=f"{outlet}支行",
                    level="sub_branch",
                    parent_branch_id="C1",
                    division_code=county,
                )
            )
        session.flush()
        for staff_id, role, branch in (
            ("M1", "account_manager", "O1"),
            ("M2", "account_manager", "O2"),
            ("BM2", "branch_manager", "O2"),
        ):
            session.add(Staff(staff_id=staff_id, name=staff_id, role=role, branch_id=branch))
    yield factory
    engine.dispose()


def _principal(staff_id: str, role: Role, branches: set[str] | None) -> Principal:
    scope = Scope(all_branches=branches is None, branch_ids=frozenset(branches or ()))
    return Principal(staff_id, staff_id, staff_id, role, "O1", "O1", scope)


@pytest.fixture
def allocated_run(sessions, tmp_path: Path) -> str:
    config = load_marketing_config()
    frame = _universe()
    with sessions.begin() as session:
        run = runs.save_run(
            session,
            tmp_path,
            frame,
            summarize(frame, config),
            as_of=AS_OF,
            config_version=config.config_version,
            catalog_version="test",
            model_versions={"application_pd": "1", "propensity": "1"},
            actor="tester",
            actor_role="risk_officer",
            now=NOW,
        )
        parameters = AllocationParameters(manager_capacity=4, city_fallback_factor=0.5)
        result = allocate.allocate_run(
            session, run, parameters, actor="tester", actor_role="risk_officer", now=NOW
        )
        assert len(result.placements) == 8  # two managers of capacity 4; 11 listed
        return run.run_id


def test_the_run_keeps_every_firm_on_disk_and_the_listed_ones_in_the_store(
    sessions, allocated_run, tmp_path: Path
) -> None:
    with sessions() as session:
        run = runs.get_run(session, allocated_run)
        assert run.listed == 11 and run.status == "allocated"
        assert runs.load_universe_file(run).height == 12
        assignments = session.scalars(select(MarketingAssignment)).all()
    assert len({a.uscc for a in assignments}) == len(assignments) == 8
    counts: dict[str, int] = {}
    for a in assignments:
        counts[a.staff_id] = counts.get(a.staff_id, 0) + 1
    assert counts == {"M1": 4, "M2": 4}


def test_each_manager_gets_a_csv_and_an_excel_file_best_first(
    sessions, allocated_run, tmp_path: Path
) -> None:
    config, catalog = load_marketing_config(), load_product_catalog()
    with sessions() as session:
        rows = export.manager_rows(session, allocated_run, config, catalog)
    written = export.write_lists(rows, tmp_path / "out")
    assert [w.staff_id for w in written] == ["M1", "M2"]
    for item in written:
        with item.csv_path.open(encoding="utf-8-sig") as handle:
            table = list(csv.reader(handle))
        assert table[0][0] == "排名 rank" and len(table) == 1 + item.prospects == 5
        ranks = [int(r[0]) for r in table[1:]]
        assert ranks == sorted(ranks)
        assert all(r[5] == "小微e贷" for r in table[1:])
        with zipfile.ZipFile(item.xlsx_path) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode()
            strings = book.read("xl/sharedStrings.xml").decode()
        assert "<sheetData>" in sheet
        assert table[1][1] in strings  # the USCCs are in the workbook


def test_outcomes_are_recorded_in_order_within_the_callers_scope(sessions, allocated_run) -> None:
    with sessions() as session:
        mine = session.scalars(
            select(MarketingAssignment).where(MarketingAssignment.staff_id == "M1")
        ).first()
        theirs = session.scalars(
            select(MarketingAssignment).where(MarketingAssignment.staff_id == "M2")
        ).first()
    m1 = _principal("M1", Role.ACCOUNT_MANAGER, {"O1"})
    with sessions.begin() as session:
        outcomes.record_outcome(session, m1, allocated_run, mine.uscc, "contacted", now=NOW)
    with sessions.begin() as session:
        done = outcomes.record_outcome(session, m1, allocated_run, mine.uscc, "disbursed", now=NOW)
    assert done.status == "closed"
    with pytest.raises(OutcomeOrderError), sessions.begin() as session:
        outcomes.record_outcome(session, m1, allocated_run, mine.uscc, "applied", now=NOW)
    with pytest.raises(outcomes.AssignmentNotFoundError), sessions.begin() as session:
        outcomes.record_outcome(session, m1, allocated_run, theirs.uscc, "contacted", now=NOW)
    branch_manager = _principal("BM2", Role.BRANCH_MANAGER, {"O2"})
    with sessions.begin() as session:
        outcomes.record_outcome(
            session, branch_manager, allocated_run, theirs.uscc, "not_interested", now=NOW
        )
    auditor = _principal("A", Role.AUDITOR, None)
    with pytest.raises(outcomes.OutcomeNotAllowedError), sessions.begin() as session:
        outcomes.record_outcome(session, auditor, allocated_run, theirs.uscc, "applied", now=NOW)
    with sessions() as session:
        feedback = report.recorded_feedback(session, allocated_run)
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert feedback.extra == {"contacted": 2, "assigned": 8}
    assert feedback.lift.converted == 1 and feedback.lift.random_conversion == 0.5
    actions = [e.action for e in events]
    assert actions.count("marketing.outcome") == 3
    assert actions[:2] == ["marketing.build", "marketing.allocate"]
    with sessions() as session:
        assert verify_audit_chain(session).ok
