"""`puhui alarm learn` end to end on a small simulated province, with the shipped policy:
snapshots, the EW-PD trained and registered, historical scans, learned weights and cut-offs
written where the daily scan reads them, and the hold-out graded."""

from __future__ import annotations

import json
from datetime import date

import pytest

from puhui.actions.alarm.learning_service import learn_and_evaluate
from puhui.actions.alarm.wiring import alarm_dir, load_weights
from puhui.cli.model import open_registry
from puhui.data.store import make_engine
from puhui.data.store.migrate import upgrade
from puhui.decisions.alarm.policy import load_policy
from puhui.settings import Settings
from support.province import ingest, simulate

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    folder = tmp_path_factory.mktemp("alarm-learning")
    incoming = simulate(folder, enterprises=1500, months=30, seed=11, end_month="2025-12")
    ingest(incoming, folder / "lake")
    settings = Settings(data_dir=folder)
    engine = make_engine(settings.resolved_store_url)
    upgrade(engine)
    engine.dispose()
    return settings


def test_alarm_learn_trains_the_ew_pd_learns_cutoffs_and_grades_the_holdout(settings):
    policy = load_policy()
    result = learn_and_evaluate(
        settings,
        train_end=date(2025, 6, 30),
        history_from=date(2024, 7, 1),
        holdout_end=date(2025, 12, 31),
        step_days=30,
    )

    # the 6-month model the level reads was trained on snapshots whose outcomes had ended
    horizons = {t.horizon: t for t in result.trained}
    assert policy.pd_horizon_months in horizons
    six = horizons[policy.pd_horizon_months]
    assert six.algorithm == policy.ew_pd.algorithm
    assert six.outcomes_end is not None and six.outcomes_end <= date(2025, 6, 30)
    with open_registry(settings) as registry:
        _, meta = registry.load_champion(six.name)
    assert len(meta.features) == six.features > 100  # selection: all
    assert any("refit on all" in note for note in meta.training["notes"])

    # weights.json carries the learned score and PD cut-offs and the models' provenance
    written = json.loads((alarm_dir(settings) / "weights.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in written["ew_pd"]] == [t.name for t in result.trained]
    weights = load_weights(alarm_dir(settings))
    assert weights.pd_cutoffs is not None
    assert list(weights.pd_cutoffs.values()) == sorted(weights.pd_cutoffs.values())
    assert weights.cutoffs is not None

    # the hold-out was graded with the same figures as the 20,000-firm evaluation
    evaluation = result.evaluation
    assert evaluation is not None
    assert evaluation.borrowers > 0
    assert 0 <= evaluation.warned_90 <= evaluation.defaulters
