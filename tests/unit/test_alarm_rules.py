"""The alarm's pure rules: the signal library, veto, dedup, levels, escalation, learning."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from puhui.decisions.alarm.combine import Weights, assess, deduplicate, signal_frame
from puhui.decisions.alarm.compiler import compile_scan
from puhui.decisions.alarm.learning import calibrate_cutoffs, learn
from puhui.decisions.alarm.policy import load_policy, with_cutoffs
from puhui.decisions.alarm.spec import (
    LEVELS,
    SignalLibraryError,
    load_families,
    load_signal_library,
)
from puhui.decisions.alarm.transitions import OpenWarning, Today, decide

DAY = date(2026, 6, 15)


@pytest.fixture(scope="module")
def library():
    return load_signal_library()


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def fired(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "uscc": [u for u, _ in rows],
            "signal_id": [s for _, s in rows],
            "value": [1.0] * len(rows),
            "evidence_date": [DAY] * len(rows),
        },
        schema={
            "uscc": pl.String,
            "signal_id": pl.String,
            "value": pl.Float64,
            "evidence_date": pl.Date,
        },
    )


def test_the_library_expands_to_more_than_a_thousand_signals_over_every_source(library):
    assert len(library.signals) >= 1000
    assert len({s.signal_id for s in library.signals}) == len(library.signals)
    tables = {s.table for s in library.signals}
    for source in (
        "court_case",
        "court_enforcement",
        "court_dishonest",
        "env_penalty",
        "social_monthly",
        "tax_monthly",
        "tax_rating",
        "utility_monthly",
        "customs_monthly",
        "bureau_enterprise_monthly",
        "bureau_enterprise_query",
        "bureau_person_monthly",
        "reg_change_event",
        "bank_account_monthly",
        "bank_loan_monthly",
    ):
        assert source in tables
    vetoes = {s.family for s in library.signals if s.veto}
    assert {"dishonest", "dishonest_rep", "enforcement"} <= vetoes
    assert all(s.grade == "red" for s in library.signals if s.veto)


def test_a_bad_definition_names_the_file_and_the_family(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text(
        "families:\n  - family: broken\n    kind: event\n    table: court_case\n"
        "    key: party_id\n    date: filed_on\n    zh: x\n    en: x\n    windows: [30]\n"
        "    measures:\n      count: {zh: n, en: n, aggregate: count, thresholds: [3, 1],"
        " grades: [blue, red]}\n",
        encoding="utf-8",
    )
    with pytest.raises(SignalLibraryError, match=r"bad.yaml: families\[0\] \(broken\).*ascending"):
        load_families(tmp_path)


def test_signals_read_only_rows_observable_before_the_scan_date(library):
    plan = compile_scan(library, DAY, {"court_case": 7, "tax_monthly": 15})
    court = next(s for s in plan.families if s.family == "court_defendant")
    tax = next(s for s in plan.families if s.family == "tax")
    assert "< DATE '2026-06-08'" in court.aggregate.sql  # filed_on + 7 days < 15 June
    # May closes on the 31st and its declarations are due 15 days later: not yet on 15 June
    assert "and DATE '2026-04-01'" in tax.aggregate.sql and "2026-05-01" not in tax.aggregate.sql


def test_a_missing_feed_leaves_its_signals_out_of_the_plan(library):
    plan = compile_scan(library, DAY, {}, skip_tables=["tax_monthly", "court_case"])
    assert {s.table for s in plan.families}.isdisjoint({"tax_monthly", "court_case"})


def test_a_veto_indicator_makes_the_warning_red_on_its_own(library, policy):
    out = assess(fired(("A", "dishonest.count.30d.t1")), library, policy, Weights.neutral())
    assert out.row(0, named=True)["level"] == "red" and out["veto"][0]


def test_the_same_condition_counts_once_with_its_worst_signal(library, policy):
    rows = fired(
        ("A", "court_defendant.count.30d.t1"),
        ("A", "court_defendant.count.90d.t1"),
        ("A", "court_defendant.count.365d.t3"),
    )
    kept = deduplicate(rows, signal_frame(library, Weights.neutral()))
    assert kept.height == 1 and kept["signal_id"][0] == "court_defendant.count.365d.t3"
    once = assess(rows, library, policy, Weights.neutral())
    alone = assess(
        fired(("A", "court_defendant.count.365d.t3")), library, policy, Weights.neutral()
    )
    assert once["score"][0] == alone["score"][0] == policy.grade_points["orange"]


def test_levels_rise_with_the_weighted_score_and_with_the_pd(library, policy):
    weak = fired(("A", "shareholder_change.count.30d.t1"))  # blue, one point
    assert assess(weak, library, policy, Weights.neutral())["level"][0] == "blue"
    muted = assess(weak, library, policy, Weights({"shareholder_change.count.30d.t1": 0.0}))
    assert muted.is_empty()  # a signal learned to weigh nothing raises no warning
    pds = pl.DataFrame({"uscc": ["A"], "pd": [policy.pd_levels["orange"] + 0.01]})
    assert assess(weak, library, policy, Weights.neutral(), pds)["level"][0] == "orange"


def test_learned_cutoffs_never_fall_below_the_policy_floor(policy):
    raised = with_cutoffs(policy, {"blue": 0.0, "yellow": 50.0, "orange": 51.0, "red": 52.0})
    assert raised.score_levels["blue"] == policy.score_levels["blue"]
    assert raised.score_levels["red"] == 52.0
    cut = calibrate_cutoffs(pl.Series([0.0] * 90 + list(range(1, 11))), policy.target_shares)
    assert cut["red"] >= cut["orange"] >= cut["yellow"] >= cut["blue"]


def test_escalation_is_immediate_and_sends_a_new_task(policy):
    previous = OpenWarning("yellow", frozenset({"tax.revenue_drop"}), None)
    move = decide(previous, Today("red", frozenset({"dishonest.count"}), veto=True), DAY, policy)
    assert move.action == "escalate" and move.level == "red" and move.new_task
    assert "一票否决" in move.reason


def test_the_same_condition_is_not_raised_twice(policy):
    previous = OpenWarning("orange", frozenset({"tax.revenue_drop"}), None)
    same = decide(previous, Today("orange", frozenset({"tax.revenue_drop"})), DAY, policy)
    assert same.action == "hold" and not same.new_task
    more = decide(
        previous,
        Today("orange", frozenset({"tax.revenue_drop", "utility.kwh_drop"})),
        DAY,
        policy,
    )
    assert more.action == "update" and not more.new_task


def test_levels_fall_only_after_days_below_and_close_after_a_quiet_month(policy):
    previous = OpenWarning("red", frozenset({"x"}), None)
    first = decide(previous, Today("yellow", frozenset({"x"})), DAY, policy)
    assert first.action == "update" and first.level == "red" and first.below_since == DAY
    waiting = OpenWarning("red", frozenset({"x"}), DAY)
    early = DAY + timedelta(days=policy.deescalate_after_days - 1)
    assert decide(waiting, Today("yellow", frozenset({"x"})), early, policy).action == "hold"
    later = DAY + timedelta(days=policy.deescalate_after_days)
    down = decide(waiting, Today("yellow", frozenset({"x"})), later, policy)
    assert down.action == "deescalate" and down.level == "yellow" and not down.new_task
    quiet = DAY + timedelta(days=policy.close_after_days)
    assert decide(waiting, None, quiet, policy).action == "close"
    assert decide(None, None, DAY, policy).action == "none"


def test_learning_weights_signals_that_preceded_defaults_and_measures_lead_times():
    scans = [date(2025, 1, 1) + timedelta(days=30 * i) for i in range(6)]
    firms = [f"F{i:03d}" for i in range(200)]
    borrowers = pl.DataFrame(
        {"uscc": [f for f in firms for _ in scans], "scan_date": [d for _ in firms for d in scans]}
    )
    bad = firms[:10]
    defaults = pl.DataFrame(
        {"uscc": bad, "default_date": [date(2025, 7, 15)] * len(bad)},
        schema={"uscc": pl.String, "default_date": pl.Date},
    )
    rows = [(f, d, "tax.revenue_drop.3m.t3") for f in bad for d in scans[2:]]
    rows += [(f, d, "account.concentration.1m.t1") for f in firms[::3] for d in scans]
    history = pl.DataFrame(rows, schema=["uscc", "scan_date", "signal_id"], orient="row")
    conditions = pl.DataFrame(
        {
            "signal_id": ["tax.revenue_drop.3m.t3", "account.concentration.1m.t1"],
            "condition": ["tax.revenue_drop", "account.concentration"],
        }
    )
    learned = learn(
        history, borrowers, defaults, conditions, horizon_days=180, outcome_end=date(2025, 12, 31)
    )
    weights = learned.weights()
    assert weights["tax.revenue_drop.3m.t3"] > 1.0
    assert weights["tax.revenue_drop.3m.t3"] > weights["account.concentration.1m.t1"]
    lead = learned.lead_times.filter(pl.col("condition") == "tax.revenue_drop").row(0, named=True)
    assert lead["defaulters"] == 10 and lead["median_days"] == (date(2025, 7, 15) - scans[2]).days
    assert set(LEVELS) == set(load_policy().deadline_days)
