"""Warnings by level and branch on the portfolio dashboard (贷后预警 · 按级别与机构): open
warnings only, counted per branch and level, and a branch manager sees their branches only."""

from __future__ import annotations

import re
import shutil
from datetime import date

import pytest
from sqlalchemy import select

from puhui.actions.access import AccessPolicy, Principal, Role, Scope
from puhui.api import create_app
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.alarm_tables import AlarmWarning
from puhui.data.store.tables import Branch
from puhui.settings import Settings
from puhui.web.portfolio import read_warning_levels
from support.workbench import cheap_passwords, shared_province, signed_in

# (branch key, level, status): "own" is the demo branch manager's branch, "other" one outside
# their scope. The closed warning must not be counted.
WARNINGS = [
    ("own", "red", "open"),
    ("own", "orange", "open"),
    ("own", "orange", "open"),
    ("own", "blue", "open"),
    ("own", "red", "closed"),
    ("other", "yellow", "open"),
    ("other", "red", "open"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The shared province's store copied (so the counts are exactly ours) with the warnings
    above; the lake and features linked."""
    province = shared_province()
    folder = tmp_path_factory.mktemp("portfolio-warnings")
    for name in ("lake", "features"):
        (folder / name).symlink_to((province.data_dir / name).resolve())
    shutil.copy(province.data_dir / "puhui.db", folder / "puhui.db")
    manager = province.credentials["demo_branch_manager"]
    engine = make_engine(f"sqlite:///{folder / 'puhui.db'}")
    try:
        with make_session_factory(engine).begin() as session:
            session.query(AlarmWarning).delete()  # whatever the shared store held
            other = session.scalars(
                select(Branch.branch_id)
                .where(
                    Branch.branch_id != manager.branch_id,
                    (Branch.parent_branch_id != manager.branch_id)
                    | Branch.parent_branch_id.is_(None),
                )
                .order_by(Branch.branch_id)
            ).first()
            assert other is not None, "the province has a single branch"
            branches = {"own": manager.branch_id, "other": other}
            for i, (key, level, status) in enumerate(WARNINGS):
                session.add(
                    AlarmWarning(
                        uscc=f"91330000TEST{i:06d}",
                        status=status,
                        level=level,
                        opened_on=date(2026, 6, 1),
                        updated_on=date(2026, 6, 10),
                        closed_on=date(2026, 6, 10) if status == "closed" else None,
                        score=50.0 + i,
                        veto=False,
                        conditions=[],
                        evidence=[],
                        missing_sources=[],
                        branch_id=branches[key],
                    )
                )
    finally:
        engine.dispose()
    app = create_app(
        Settings(data_dir=folder),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    return app, province, branches, folder


def _table(html: str) -> dict[str, dict[str, int]]:
    """``{branch or "total": {level or "total": count}}`` from the rendered table."""
    table = html.split('data-testid="warnings-by-level"')[1].split("</table>")[0]
    out: dict[str, dict[str, int]] = {}
    for branch, cells in re.findall(r'<tr data-branch="([^"]+)">(.*?)</tr>', table, re.S):
        out[branch] = {
            level: int(n) for level, n in re.findall(r'data-level="(\w+)">(\d+)<', cells)
        }
    return out


def test_the_risk_officer_sees_open_warnings_by_level_for_every_branch(world) -> None:  # type: ignore[no-untyped-def]
    app, province, branches, _ = world
    page = signed_in(app, province, "demo_risk_officer").get("/portfolio")
    assert page.status_code == 200
    table = _table(page.text)
    assert table[branches["own"]] == {
        "red": 1,  # the closed red warning is not counted
        "orange": 2,
        "yellow": 0,
        "blue": 1,
        "total": 4,
    }
    assert table[branches["other"]] == {"red": 1, "orange": 0, "yellow": 1, "blue": 0, "total": 2}
    assert table["total"] == {"red": 2, "orange": 2, "yellow": 1, "blue": 1, "total": 6}
    assert "贷后预警 · 按级别与机构" in page.text and "红色" in page.text
    assert 'href="/alarm"' in page.text


def test_a_branch_manager_sees_only_their_branchs_warnings(world) -> None:  # type: ignore[no-untyped-def]
    app, province, branches, _ = world
    page = signed_in(app, province, "demo_branch_manager").get("/portfolio")
    assert page.status_code == 200
    table = _table(page.text)
    assert set(table) == {branches["own"], "total"}
    assert table["total"] == {"red": 1, "orange": 2, "yellow": 0, "blue": 1, "total": 4}


def test_the_table_speaks_english_after_the_switch(world) -> None:  # type: ignore[no-untyped-def]
    app, province, _, _ = world
    client = signed_in(app, province, "demo_risk_officer")
    page = client.get("/lang/en?next=/portfolio")
    assert page.status_code == 200
    section = page.text.split('data-testid="warnings-by-level"')[1].split("</thead>")[0]
    assert "Open warnings by level and branch" in page.text
    assert "orange" in section and "橙色" not in section


def test_branches_without_open_warnings_give_an_empty_table(world) -> None:  # type: ignore[no-untyped-def]
    _, _, branches, folder = world
    engine = make_engine(f"sqlite:///{folder / 'puhui.db'}")
    try:
        sessions = make_session_factory(engine)
        scope = Scope(all_branches=False, branch_ids=frozenset({"B_NONE"}))
        quiet = Principal("q", "S_Q", "q", Role.BRANCH_MANAGER, "B_NONE", "无", scope)
        empty = read_warning_levels(sessions, quiet)
        bank = Principal("r", "S_R", "r", Role.RISK_OFFICER, "HQ", "总行", Scope(True))
        everything = read_warning_levels(sessions, bank)
    finally:
        engine.dispose()
    assert empty.branches == [] and empty.total == 0
    assert empty.totals == {"red": 0, "orange": 0, "yellow": 0, "blue": 0}
    assert [b.branch_id for b in everything.branches] == sorted(branches.values())
    assert everything.total == 6
