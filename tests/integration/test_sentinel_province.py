"""The sentinel on a small simulated province: replay parity, origination's port, persisted
verdicts, what-if and the per-fraud-type evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from puhui.actions.sentinel.registration import register_models
from puhui.actions.sentinel.service import (
    SentinelService,
    challenger_report,
    evaluation_table,
    registered_models,
    what_if,
)
from puhui.data.lake import Lake
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.data.store.origination_tables import SentinelVerdict
from puhui.data.store.sentinel_tables import SentinelScreening
from puhui.decisions.screening import ScreeningRequest
from puhui.decisions.sentinel.models import row_vector
from puhui.decisions.sentinel.spec import Thresholds, screen_row
from support.province import ingest, simulate


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sentinel")
    incoming = simulate(root, enterprises=2500, months=24, seed=11, end_month="2026-06")
    ingest(incoming, root / "lake")
    return root


@pytest.fixture(scope="module")
def service(province: Path) -> SentinelService:
    engine = make_engine(f"sqlite:///{province / 'store.sqlite'}")
    upgrade(engine)
    return SentinelService.from_lake(
        province / "lake", session_factory=make_session_factory(engine)
    )


def test_replay_and_real_time_evaluate_every_strategy_identically(service: SentinelService) -> None:
    verdicts = service.replay_verdicts()
    rows = service.replay.iter_rows(named=True)
    for row, batch in zip(rows, verdicts.iter_rows(named=True), strict=True):
        outcome = screen_row(service.strategies, row)
        assert outcome.verdict.value == batch["verdict"], row["application_id"]
        assert {s.id for s in outcome.hits} == {
            s.id for s in service.strategies.active if batch[s.id]
        }


def test_origination_port_screens_explains_and_persists(service: SentinelService) -> None:
    firm = service.replay["uscc"][0]
    request = ScreeningRequest("APP-T1", firm, "wechat", "DV-NEW", "198.18.0.1", None)
    result = service.screen(request)
    assert result.verdict in set(SentinelVerdict)
    assert result.strategy_version == service.strategies.version
    assert "sentinel" in result.note
    assert service.session_factory is not None
    with service.session_factory() as session:
        stored = session.query(SentinelScreening).filter_by(application_id="APP-T1").one()
    assert stored.verdict == result.verdict.value and stored.arm == "champion"


def test_a_device_shared_across_firms_trips_velocity_in_real_time(service: SentinelService) -> None:
    firms = service.replay["uscc"].unique().to_list()[:4]
    outcomes = [
        service.screen_request(ScreeningRequest(f"APP-V{i}", u, "wechat", "DV-SHARED", None, None))
        for i, u in enumerate(firms)
    ]
    assert outcomes[-1].features["device_firms_30d"] == 4
    assert "VL009" in {s.id for s in outcomes[-1].outcome.hits}


def test_fraud_is_caught_more_often_than_genuine_applications(
    service: SentinelService, province: Path
) -> None:
    rows, fpr, size = evaluation_table(service, Lake(province / "lake"))
    overall = rows[-1]
    assert size > 0 and overall.fraud_type == "all fraud"
    if overall.applications:
        assert overall.recall > fpr


def test_what_if_reports_changed_outcomes(service: SentinelService) -> None:
    stricter = service.strategies.with_changes(thresholds=Thresholds(40, 1000))
    result = what_if(service, stricter)
    assert result.candidate.passed <= result.base.passed
    assert result.changed.height >= result.base.passed - result.candidate.passed > 0
    champion, challenger, _ = challenger_report(service, stricter, 30.0)
    assert champion.applications + challenger.applications == service.replay.height


def test_models_are_registered_with_metrics_and_load_back(
    service: SentinelService, province: Path
) -> None:
    assert service.session_factory is not None
    versions = register_models(service.models, service.session_factory, province / "models")
    assert len(versions) >= 20
    assert all(v.status == "champion" and v.metrics for v in versions)
    loaded = registered_models(service.session_factory, province / "models")
    assert [m.spec.name for m in loaded] == [m.spec.name for m in service.models]
    row = service.replay.row(0, named=True)
    for before, after in zip(service.models, loaded, strict=True):
        values = row_vector(row, before.spec.features)
        assert before.model.score_one(values) == after.model.score_one(values)


def test_a_challenger_arm_decides_its_share_and_the_champion_is_kept_as_shadow(
    service: SentinelService,
) -> None:
    assert service.session_factory is not None
    stricter = service.strategies.with_changes(version="strict", thresholds=Thresholds(1, 2))
    service.challenger, service.challenger_percent = stricter, 100.0
    try:
        firm = service.replay["uscc"][1]
        service.screen(ScreeningRequest("APP-C1", firm, "wechat", "DV-C1", None, None))
    finally:
        service.challenger, service.challenger_percent = None, 0.0
    with service.session_factory() as session:
        stored = session.query(SentinelScreening).filter_by(application_id="APP-C1").one()
    assert (stored.arm, stored.strategy_version) == ("challenger", "strict")
    assert stored.shadow_version == service.strategies.version
