"""The strategy set: 100+ strategies in 11 groups, each group firing on what it looks for,
verdicts from actions and points, what-if changes and the champion/challenger split."""

from __future__ import annotations

from pathlib import Path

import pytest

from puhui.actions.sentinel.service import challenger_arm, feature_schema
from puhui.data.store.origination_tables import SentinelVerdict
from puhui.decisions.sentinel.spec import (
    GROUPS,
    StrategyError,
    Thresholds,
    load_strategy_set,
    screen_row,
)


@pytest.fixture(scope="module")
def strategies():  # type: ignore[no-untyped-def]
    return load_strategy_set(feature_schema())


def test_the_set_holds_over_100_strategies_in_all_11_groups(strategies) -> None:  # type: ignore[no-untyped-def]
    assert len(strategies.strategies) >= 100
    assert {s.group for s in strategies.strategies} == set(GROUPS)
    for s in strategies.strategies:
        assert s.zh and s.en and s.reason and s.severity
        assert s.action.value in {"reject", "refer", "score"}


# One application per group showing what that group looks for, and a strategy it must fire.
GROUP_CASES = {
    "identity": ({"applicant_is_legal_rep": False, "phone_known": False}, "ID010"),
    "behaviour": ({"device_other_firms": 4.0}, "BH004"),
    "velocity": ({"device_apps_30d": 6.0}, "VL003"),
    "authenticity": ({"status_active": False}, "EA011"),
    "credit": ({"ent_max_overdue_days": 120.0}, "CR002"),
    "legal": ({"firm_dishonest": True}, "LG001"),
    "radar": ({"revenue_vs_inflow_12m": 5.0}, "RD001"),
    "blacklist": ({"bl_device": True}, "BL005"),
    "network": ({"net_fraud_distance": 1.0}, "NW005"),
    "farming": ({"farm_revenue_growth": 2.0, "farm_kwh_growth": 1.0}, "DF001"),
    "gaming": ({"prior_apps_30d": 2.0}, "MG002"),
}


@pytest.mark.parametrize("group", sorted(GROUP_CASES))
def test_each_group_fires_on_its_pattern_and_explains_it(strategies, group: str) -> None:  # type: ignore[no-untyped-def]
    row, expected = GROUP_CASES[group]
    outcome = screen_row(strategies, row)
    fired = {s.id for s in outcome.hits}
    assert expected in fired
    assert strategies.by_id(expected).group == group
    assert any(reason.startswith(expected) for reason in outcome.reasons())
    assert screen_row(strategies, {}).verdict is SentinelVerdict.PASS


def test_points_add_up_to_review_and_reject(strategies) -> None:  # type: ignore[no-untyped-def]
    row = {"farm_revenue_growth": 2.0, "farm_kwh_growth": 1.0, "farm_break": 0.6}
    outcome = screen_row(strategies, row)
    assert outcome.points > 0
    low = strategies.with_changes(thresholds=Thresholds(1, 1_000_000))
    assert screen_row(low, row).verdict is SentinelVerdict.REVIEW
    assert screen_row(strategies.with_changes(thresholds=Thresholds(1, 2)), row).verdict is (
        SentinelVerdict.REJECT
    )


def test_what_if_can_switch_a_strategy_off_or_edit_it(strategies) -> None:  # type: ignore[no-untyped-def]
    row = {"bl_device": True}
    assert screen_row(strategies, row).verdict is SentinelVerdict.REJECT
    assert (
        screen_row(strategies.with_changes(disabled=["BL005"]), row).verdict is SentinelVerdict.PASS
    )
    edited = strategies.with_changes(
        expressions={"BL005": "bl_device and bl_ip"}, schema=feature_schema()
    )
    assert screen_row(edited, row).verdict is SentinelVerdict.PASS
    with pytest.raises(StrategyError, match="no strategy 'NOPE'"):
        strategies.with_changes(disabled=["NOPE"])


def test_a_broken_strategy_file_is_refused_naming_the_strategy(tmp_path: Path) -> None:
    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / "set.yaml").write_text("version: v1\neffective_from: 2026-01-01\n", encoding="utf-8")
    (folder / "01.yaml").write_text(
        "group: identity\nstrategies:\n  - {id: BAD1, zh: z, en: e, when: 'no_such > 1', "
        "severity: low, action: refer, reason: r}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        StrategyError, match=r"strategy BAD1 \(01.yaml\): unknown feature 'no_such'"
    ):
        load_strategy_set(feature_schema(), root=tmp_path)


def test_the_challenger_split_is_stable_and_near_its_percentage() -> None:
    ids = [f"APP{i}" for i in range(4000)]
    arms = [challenger_arm(a, 20.0) for a in ids]
    assert arms == [challenger_arm(a, 20.0) for a in ids]
    assert 0.17 < sum(arms) / len(arms) < 0.23
    assert not any(challenger_arm(a, 0.0) for a in ids)
