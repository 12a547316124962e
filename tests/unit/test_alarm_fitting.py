"""Jointly fitted weights: persistence, the 90–365-day outcome, PD points, and the score."""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl
import pytest

from puhui.decisions.alarm.combine import Weights, assess
from puhui.decisions.alarm.fitting import FittedTerms, fit, persistence, worst_grades
from puhui.decisions.alarm.policy import load_policy
from puhui.decisions.alarm.spec import load_signal_library

LASTING = "tax.revenue_drop.3m.t3"  # fires for the bad firms month after month
NOISE = "account.concentration.1m.t1"  # fires for a third of everyone, bad or good
BLIP = "account.inflow_drop.1m.t3"  # fires once for many good firms


@pytest.fixture(scope="module")
def library():
    return load_signal_library()


def history():
    scans = [date(2024, 1, 1) + timedelta(days=14 * i) for i in range(40)]
    firms = [f"F{i:03d}" for i in range(300)]
    borrowers = pl.DataFrame(
        {"uscc": [f for f in firms for _ in scans], "scan_date": [d for _ in firms for d in scans]}
    )
    bad = firms[:15]
    defaults = pl.DataFrame(
        {"uscc": bad, "default_date": [date(2025, 3, 1)] * len(bad)},
        schema={"uscc": pl.String, "default_date": pl.Date},
    )
    rows = [(f, d, LASTING) for f in bad for d in scans if d >= date(2024, 6, 1)]
    rows += [(f, d, NOISE) for f in firms[::3] for d in scans]
    rows += [(f, scans[i % 40], BLIP) for i, f in enumerate(firms[15:])]
    fired = pl.DataFrame(rows, schema=["uscc", "scan_date", "signal_id"], orient="row")
    return fired, borrowers, defaults


def test_persistence_counts_the_looks_back_at_which_the_condition_fired_too(library):
    fired, borrowers, _ = history()
    shares = persistence(worst_grades(fired, library), borrowers, 91)
    lasting = shares.filter(
        (pl.col("uscc") == "F000") & (pl.col("condition") == "tax.revenue_drop")
    )
    by_day = dict(zip(lasting["scan_date"], lasting["share"], strict=True))
    assert by_day[date(2024, 12, 2)] == pytest.approx(1.0)  # fired 30, 60 and 90 days back
    assert date(2024, 6, 3) not in by_day  # its first firing has no earlier look
    blip = shares.filter(pl.col("condition") == "account.inflow_drop")
    assert blip["share"].max() <= 1 / 3 + 1e-9


def test_fitted_weights_favour_lasting_early_signals_and_score_through_assess(library):
    fired, borrowers, defaults = history()
    policy = load_policy()
    empty = borrowers.with_columns(pl.lit(None, dtype=pl.Float64).alias("pd_12m")).head(0)
    model = fit(
        fired,
        borrowers,
        empty,
        defaults,
        library,
        policy.grade_points,
        outcome_end=date(2025, 6, 30),
    )
    assert model.bads > 0 and model.rows > model.bads
    assert model.signal_weights[LASTING] > model.signal_weights[NOISE]
    assert model.signal_weights[LASTING] > model.signal_weights[BLIP]
    assert model.terms.persistence.get("tax.revenue_drop", 0) > 0
    weights = Weights(model.signal_weights, (), None, model.terms)
    today = pl.DataFrame({"uscc": ["A", "B"], "signal_id": [LASTING, LASTING]})
    shares = pl.DataFrame(
        {"uscc": ["A"], "condition": ["tax.revenue_drop"], "share": [1.0]},
    )
    scored = assess(today, library, policy, weights, persistence=shares).sort("uscc")
    assert scored["score"][0] > scored["score"][1]  # the same signal, lasting for A


def test_pd_points_raise_the_score_only_above_the_reference(library):
    policy = load_policy()
    weights = Weights({}, (), None, FittedTerms({}, pd_points=2.0, pd_reference=0.02))
    pds = pl.DataFrame({"uscc": ["LOW", "HIGH", "NONE"], "pd": [0.01, 0.2, None]})
    out = assess(
        pl.DataFrame(schema={"uscc": pl.String, "signal_id": pl.String}),
        library,
        policy,
        weights,
        pds,
        keep_all=True,
    ).sort("uscc")
    score = dict(zip(out["uscc"], out["score"], strict=True))
    assert score["LOW"] == 0.0 and score["NONE"] == 0.0
    excess = math.log(0.2 / 0.8) - math.log(0.02 / 0.98)
    assert score["HIGH"] == pytest.approx(2.0 * excess)


def test_the_daily_scan_reads_persistence_from_the_scans_kept_30_60_90_days_back(tmp_path):
    from puhui.actions.alarm.lasting import earlier_shares

    day = date(2026, 6, 30)
    for back, usccs in ((30, ["A", "B"]), (65, ["A"]), (200, ["A", "B"])):
        folder = tmp_path / (day - timedelta(days=back)).isoformat()
        folder.mkdir()
        pl.DataFrame({"uscc": usccs, "condition": ["tax.revenue_drop"] * len(usccs)}).write_parquet(
            folder / "evidence.parquet"
        )
    today = pl.DataFrame({"uscc": ["A", "B", "C"], "condition": ["tax.revenue_drop"] * 3})
    shares = earlier_shares(tmp_path, day, today, 91).sort("uscc")
    # A: seen at the 30- and 60-day looks (65 days is within 14 days of 60); 90 has no scan
    assert dict(zip(shares["uscc"], shares["share"], strict=True)) == pytest.approx(
        {"A": 2 / 3, "B": 1 / 3}
    )
