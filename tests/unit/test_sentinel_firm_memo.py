"""The sentinel's per-firm parts, kept per day instead of recomputed per application, change
no feature, listing hit or verdict: in replay (every recorded application changes the graph
and the listings) and in real time (previews, then recorded applications sharing a device)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from puhui.actions.sentinel.index import SentinelIndex
from puhui.actions.sentinel.replay import replay_features
from puhui.actions.sentinel.service import feature_schema
from puhui.data.lake import Lake
from puhui.decisions.sentinel.history import PastApplication
from puhui.decisions.sentinel.spec import load_strategy_set, screen_row
from support.province import ingest, simulate


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("sentinel_memo")
    incoming = simulate(root, enterprises=1500, months=18, seed=5, end_month="2026-06")
    return ingest(incoming, root / "lake")


def past_application(uscc: str, at: float, device: str | None) -> PastApplication:
    """An application over the open API carrying only a device."""
    return PastApplication(
        at=at,
        uscc=uscc,
        device=device,
        ip=None,
        phone=None,
        person=None,
        channel="open_api",
        staff=None,
        product=None,
        amount=None,
    )


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """NaN never equals itself; compare it as a marker."""
    return {k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def test_replay_features_and_hits_are_the_same_with_and_without_the_memo(lake: Lake) -> None:
    memoised, plain = SentinelIndex.build(lake), SentinelIndex.build(lake)
    plain.memoise = False
    frame, hits = replay_features(memoised)
    plain_frame, plain_hits = replay_features(plain)
    assert frame.height > 100
    assert frame.equals(plain_frame, null_equal=True)
    assert hits and hits == plain_hits
    assert memoised._firm_day_memo  # the memo was used, not bypassed


def test_real_time_features_verdicts_and_reasons_are_the_same_with_and_without_the_memo(
    lake: Lake,
) -> None:
    memoised, plain = SentinelIndex.build(lake), SentinelIndex.build(lake)
    plain.memoise = False
    replay_features(memoised)
    replay_features(plain)
    strategies = load_strategy_set(feature_schema())
    at = datetime.combine(memoised.as_of, datetime.min.time(), UTC).timestamp()
    firms = sorted(memoised.firms)
    verdicts: dict[str, int] = {}

    def screen_both(application: PastApplication, *, record: bool) -> None:
        row, hits = memoised.application_features(application, None)
        plain_row, plain_hits = plain.application_features(application, None)
        assert comparable(row) == comparable(plain_row), application.uscc
        assert [h.explain() for h in hits] == [h.explain() for h in plain_hits]
        outcome, plain_outcome = screen_row(strategies, row), screen_row(strategies, plain_row)
        assert outcome.verdict == plain_outcome.verdict
        assert outcome.points == plain_outcome.points
        assert list(outcome.reasons()) == list(plain_outcome.reasons())
        verdicts[outcome.verdict.value] = verdicts.get(outcome.verdict.value, 0) + 1
        if record:
            memoised.record(application, hits)
            plain.record(application, plain_hits)

    def application(uscc: str, minutes: int, device: str | None) -> PastApplication:
        return past_application(uscc, at + minutes * 60, device)

    for uscc in firms:  # previews: nothing recorded, the memo fills
        screen_both(application(uscc, 0, None), record=False)
    # Recorded applications from one device join their firms in the graph: the memoised
    # network features must follow.
    for i, uscc in enumerate(firms[:6]):
        screen_both(application(uscc, 10 + i, "DV-RING"), record=True)
    for uscc in firms[:12]:
        screen_both(application(uscc, 30, None), record=False)
    # A day later the per-day parts (ages, listings in effect) are computed afresh.
    for uscc in firms[:50]:
        screen_both(application(uscc, 24 * 60 + 5, None), record=False)
    assert sum(verdicts.values()) == len(firms) + 6 + 12 + 50
    assert memoised.graph.features(firms[0], {}, lambda _: False)["net_shared_device_firms"] == 5


def test_the_memo_does_not_outlive_a_recorded_application(lake: Lake) -> None:
    index = SentinelIndex.build(lake)
    uscc = sorted(index.firms)[0]
    day = index.as_of
    index.prepare(day)
    assert uscc in index._graph_memo and len(index._firm_day_memo) == len(index.firms)
    at = datetime.combine(day, datetime.min.time(), UTC).timestamp()
    index.record(past_application(uscc, at, "DV-1"), [])
    assert not index._graph_memo
    assert len(index._firm_day_memo) == len(index.firms)  # registration and listings stay
