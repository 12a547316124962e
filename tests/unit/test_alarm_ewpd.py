"""The EW-PD (预警PD) as configuration: the policy validates its algorithm and feature budget,
a LightGBM EW-PD learns only from snapshots whose outcomes end by the training end, and the
PD-derived level follows the learned (or fixed) cut-offs."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

import puhui.data.store.model_registry_tables  # noqa: F401 - registers the tables on Base.metadata
from puhui.actions.alarm.ewpd import (
    EarlyWarningPD,
    EarlyWarningPDLeak,
    lead_shifted,
    train_ew_pd,
    training_dates,
)
from puhui.actions.alarm.history import History, learn_pd_cutoffs, learn_weights, write_learning
from puhui.actions.alarm.wiring import load_weights
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import upgrade
from puhui.decisions.alarm.combine import Weights, assess
from puhui.decisions.alarm.policy import (
    POLICY_FILE,
    EarlyWarningPDPolicy,
    LevelPolicy,
    load_policy,
    with_cutoffs,
)
from puhui.decisions.alarm.spec import SignalLibraryError, load_signal_library
from puhui.features.store import BUILD_FILE, FEATURES_FILE, snapshot_dir
from puhui.features.timing import add_months
from puhui.models.datasets import TARGETS, TrainingDataset
from puhui.models.errors import TrainingDataError
from puhui.models.registry import ModelRegistry

TRAIN_END = date(2025, 6, 30)
SNAPSHOTS = [add_months(date(2024, 1, 1), i) for i in range(24)]  # 2024-01 … 2025-12
FIRMS = [f"F{i:04d}" for i in range(400)]
NO_SIGNALS = pl.DataFrame(schema={"uscc": pl.String, "signal_id": pl.String})


# --- configuration -------------------------------------------------------------------------


def _policy_file(tmp_path: Path, **ew_pd) -> Path:
    raw = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    raw["ew_pd"] = raw["ew_pd"] | ew_pd
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_policy_configures_the_ew_pd():
    config = load_policy().ew_pd
    assert config.algorithm in {"scorecard", "lightgbm", "ebm"}
    assert 1 <= config.max_features <= config.screen_top
    assert load_policy().pd_horizon_months in config.horizons


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"algorithm": "xgboost"}, "ew_pd.algorithm"),
        ({"max_features": 0}, "ew_pd.max_features"),
        ({"max_features": 200, "screen_top": 100}, "cannot exceed screen_top"),
        ({"horizons": [1, 12]}, "horizons must be among 3, 6, 12"),
        ({"levels": "learned", "target_shares": None}, "needs target_shares"),
        (
            {"levels": "learned", "target_shares": {"blue": 0.1, "orange": 0.2}},
            "target_shares must give every level",
        ),
        ({"levels": "sometimes"}, "ew_pd.levels"),
        ({"selection": "stepwise"}, "ew_pd.selection"),
        ({"colour": "red"}, "ew_pd.colour"),
        ({"algorithm": "lightgbm", "params": {"depth": 3}}, "unknown setting(s) depth"),
        ({"algorithm": "scorecard", "params": {"num_leaves": 15}}, "params are LightGBM"),
        ({"algorithm": "scorecard", "params": {}, "monotone": False}, "not to a scorecard"),
        (
            {"algorithm": "scorecard", "params": {}, "monotone": True, "selection": "all"},
            "selection: all suits trees",
        ),
    ],
)
def test_a_wrong_ew_pd_entry_is_refused_on_load_naming_the_file_and_entry(tmp_path, entry, message):
    path = _policy_file(tmp_path, **entry)
    with pytest.raises(SignalLibraryError) as error:
        load_policy(path)
    assert str(error.value).startswith("policy.yaml: ")
    assert message in str(error.value)


def test_the_level_horizon_must_be_one_of_the_trained_horizons(tmp_path):
    path = _policy_file(tmp_path, horizons=[3, 12])
    with pytest.raises(SignalLibraryError, match="pd_horizon_months 6 must be one of"):
        load_policy(path)


# --- training: a LightGBM EW-PD on the snapshots whose outcomes have ended ----------------


def _risk(firm: int, day: date) -> float:
    """A firm's latent risk, drifting by month: what the synthetic features reveal."""
    rng = np.random.default_rng(firm * 1000 + day.year * 12 + day.month)
    return float((firm % 10) / 10 + 0.3 * rng.normal())


def _write_snapshots(root: Path, dates: list[date]) -> None:
    rng = np.random.default_rng(5)
    for day in dates:
        risk = np.array([_risk(i, day) for i in range(len(FIRMS))])
        columns = {
            "uscc": FIRMS,
            "as_of": [day] * len(FIRMS),
            "overdue_signal": risk + 0.2 * rng.normal(size=len(FIRMS)),
            "inflow_drop": 0.5 * risk + 0.4 * rng.normal(size=len(FIRMS)),
        }
        columns["overdue_echo"] = columns["overdue_signal"] + 0.01 * rng.normal(size=len(FIRMS))
        for k in range(10):
            columns[f"noise_{k}"] = rng.normal(size=len(FIRMS))
        folder = snapshot_dir(root, day)
        folder.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(columns).write_parquet(folder / FEATURES_FILE)
        (folder / BUILD_FILE).write_text("{}", encoding="utf-8")


class FakeBuilder:
    """``build_dataset`` over the synthetic snapshots: records which dates it was asked for and
    labels each row from the firm's latent risk; ``leak`` adds a row whose outcome ends late."""

    def __init__(self, leak: bool = False) -> None:
        self.calls: list[tuple[str, list[date]]] = []
        self.leak = leak

    def __call__(self, connection, features_root, target_name, *, dates):
        from puhui.features.store import load_features

        self.calls.append((target_name, list(dates)))
        spec = TARGETS[target_name]
        frame = load_features(features_root, list(dates))
        rng = np.random.default_rng(len(self.calls))
        firm = frame["uscc"].str.slice(1).cast(pl.Int64).to_numpy()
        risk = np.array(
            [_risk(int(i), d) for i, d in zip(firm, frame["as_of"].to_list(), strict=True)]
        )
        bad = (risk + 0.3 * rng.normal(size=len(risk)) > 1.0).astype(np.int8)
        frame = frame.with_columns(
            pl.col("as_of").alias("outcome_from"),
            pl.col("as_of").dt.offset_by(f"{spec.horizon_months}mo").alias("outcome_to"),
            pl.Series("target", bad),
        )
        if self.leak:
            late = frame.tail(1).with_columns(
                pl.col("outcome_to").dt.offset_by(f"{spec.horizon_months}mo")
            )
            frame = pl.concat([frame, late])
        features = [c for c in frame.columns if c not in {"uscc", "as_of", "outcome_from"}]
        features = [c for c in features if c not in {"outcome_to", "target"}]
        return TrainingDataset(spec, frame, features, sorted(set(dates)), date(2026, 6, 1))


@pytest.fixture
def snapshots(tmp_path) -> Path:
    root = tmp_path / "features"
    _write_snapshots(root, SNAPSHOTS)
    return root


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    return ModelRegistry(make_session_factory(engine), tmp_path / "models")


def test_a_lightgbm_ew_pd_trains_on_every_snapshot_whose_outcome_ends_by_the_training_end(
    snapshots, registry
):
    config = EarlyWarningPDPolicy(
        algorithm="lightgbm", max_features=6, screen_top=12, horizons=(6, 12)
    )
    builder = FakeBuilder()
    trained = train_ew_pd(
        None, snapshots, registry, train_end=TRAIN_END, config=config, build=builder
    )

    assert [t.horizon for t in trained] == [6, 12]
    for (target_name, dates), result in zip(builder.calls, trained, strict=True):
        horizon = result.horizon
        assert target_name == f"behaviour_pd_{horizon}m"
        allowed = [d for d in SNAPSHOTS if add_months(d, horizon) <= TRAIN_END]
        assert dates == allowed  # all of them, and nothing later
        assert dates == training_dates(snapshots, horizon, TRAIN_END)
        assert result.outcomes_end is not None and result.outcomes_end <= TRAIN_END
        assert result.algorithm == "lightgbm" and 1 <= result.features <= 6
        _, meta = registry.load_champion(result.name)
        assert meta.kind == "lightgbm"
        assert len(meta.features) <= 6
        # the workflow fits on the development periods, before the out-of-time test
        assert meta.data_window_end is not None and meta.data_window_end <= max(allowed)
        assert date.fromisoformat(meta.training["development_end"][:10]) < max(allowed)
        assert result.auc_out_of_time is not None and result.auc_out_of_time > 0.6
    twelve = next(t for t in trained if t.horizon == 12)
    assert twelve.snapshots[-1] == date(2024, 6, 1)  # 2024-07 + 12 months > 2025-06-30
    # what `puhui alarm learn` writes into weights.json
    written = json.loads(json.dumps([t.as_dict() for t in trained]))
    assert written[1]["outcomes_end"] == twelve.outcomes_end.isoformat()
    assert written[1]["snapshots"][-1] == "2024-06-01"


def test_screen_selection_keeps_correlated_features_that_the_workflow_prunes(snapshots, registry):
    chosen = {}
    for selection in ("workflow", "screen"):
        config = EarlyWarningPDPolicy(
            algorithm="lightgbm", selection=selection, max_features=3, horizons=(12,)
        )
        [result] = train_ew_pd(
            None,
            snapshots,
            registry,
            train_end=TRAIN_END,
            config=config,
            build=FakeBuilder(),
            name_prefix=f"ew_pd_{selection}",
        )
        _, meta = registry.load_champion(result.name)
        chosen[selection] = set(meta.features)
        assert len(meta.features) <= 3
    assert {"overdue_signal", "overdue_echo"} <= chosen["screen"]
    assert not {"overdue_signal", "overdue_echo"} <= chosen["workflow"]
    assert not any(name.startswith("noise") for name in chosen["screen"])


def test_tree_settings_and_monotone_constraints_reach_the_registered_model(
    snapshots, registry, monkeypatch
):
    from puhui.models import workflow

    # the synthetic features are not in the catalog: give one of them a business direction
    monkeypatch.setattr(workflow, "catalog_monotone", lambda features, catalog: {"inflow_drop": 1})
    config = EarlyWarningPDPolicy(
        algorithm="lightgbm",
        selection="all",
        horizons=(12,),
        params={"num_leaves": 5, "n_estimators": 40, "colsample_bytree": 0.3},
        monotone=False,
    )
    [result] = train_ew_pd(
        None, snapshots, registry, train_end=TRAIN_END, config=config, build=FakeBuilder()
    )
    model, meta = registry.load_champion(result.name)
    assert (model.num_leaves, model.n_estimators, model.colsample_bytree) == (5, 40, 0.3)
    assert isinstance(model.num_leaves, int)
    assert set(model.monotone_.values()) == {0}
    # selection: all keeps every feature filled on the development rows, noise included
    assert {"overdue_signal", "overdue_echo", "inflow_drop"} <= set(meta.features)
    assert sum(name.startswith("noise") for name in meta.features) == 10
    constrained = train_ew_pd(
        None,
        snapshots,
        registry,
        train_end=TRAIN_END,
        config=config.model_copy(update={"monotone": True}),
        build=FakeBuilder(),
        name_prefix="ew_pd_monotone",
    )
    model, _ = registry.load_champion(constrained[0].name)
    assert model.monotone_["inflow_drop"] == 1
    assert {d for name, d in model.monotone_.items() if name != "inflow_drop"} == {0}


def test_refit_serves_a_model_fitted_on_every_training_row_and_keeps_the_split_metrics(
    snapshots, registry
):
    base = EarlyWarningPDPolicy(algorithm="lightgbm", max_features=6, horizons=(12,))
    trained = {}
    for refit in (False, True):
        [result] = train_ew_pd(
            None,
            snapshots,
            registry,
            train_end=TRAIN_END,
            config=base.model_copy(update={"refit": refit}),
            build=FakeBuilder(),
            name_prefix=f"ew_pd_refit{int(refit)}",
        )
        trained[refit] = (result, *registry.load_champion(result.name))
    (plain, plain_model, plain_meta), (refitted, model, meta) = trained[False], trained[True]
    # the out-of-time figure is the development-only fit's, the same either way
    assert refitted.auc_out_of_time == pytest.approx(plain.auc_out_of_time)
    assert meta.features == plain_meta.features
    assert any("refit on all" in note for note in meta.training["notes"])
    assert not any("refit on all" in note for note in plain_meta.training.get("notes", []))
    # the served model learned from the later months too, so it scores differently
    frame = pl.read_parquet(snapshot_dir(snapshots, date(2024, 6, 1)) / FEATURES_FILE).to_pandas()
    served = model.predict_proba(frame[meta.features])[:, 1]
    development_only = plain_model.predict_proba(frame[meta.features])[:, 1]
    assert not np.allclose(served, development_only)


def test_excluded_features_are_never_learned_and_an_unknown_name_is_refused(snapshots, registry):
    config = EarlyWarningPDPolicy(
        algorithm="lightgbm",
        selection="screen",
        max_features=5,
        horizons=(12,),
        exclude_features=("overdue_signal", "overdue_echo"),
    )
    [result] = train_ew_pd(
        None, snapshots, registry, train_end=TRAIN_END, config=config, build=FakeBuilder()
    )
    _, meta = registry.load_champion(result.name)
    assert not {"overdue_signal", "overdue_echo"} & set(meta.features)
    assert "inflow_drop" in meta.features
    typo = config.model_copy(update={"exclude_features": ("reg_activ",)})
    with pytest.raises(TrainingDataError, match="exclude_features names unknown feature"):
        train_ew_pd(
            None, snapshots, registry, train_end=TRAIN_END, config=typo, build=FakeBuilder()
        )


def test_the_shipped_policy_keeps_the_non_point_in_time_registration_status_out():
    assert "reg_active" in load_policy().ew_pd.exclude_features


def test_the_lightgbm_ew_pd_scores_later_months_and_ranks_risky_firms_higher(snapshots, registry):
    config = EarlyWarningPDPolicy(algorithm="lightgbm", max_features=6, horizons=(12,))
    train_ew_pd(None, snapshots, registry, train_end=TRAIN_END, config=config, build=FakeBuilder())
    ew_pd = EarlyWarningPD(registry, snapshots)
    scored, missing = ew_pd.score(date(2025, 11, 12), [*FIRMS, "NOT_A_BORROWER"])
    assert "model ew_pd_3m" in missing and "model ew_pd_12m" not in missing
    assert scored["pd_3m"].null_count() == scored.height  # no model: missing, never 0
    pd12 = dict(zip(scored["uscc"], scored["pd_12m"], strict=True))
    assert pd12["NOT_A_BORROWER"] is None  # no snapshot row: missing
    safe = np.mean([pd12[f] for f in FIRMS if int(f[1:]) % 10 == 0])
    risky = np.mean([pd12[f] for f in FIRMS if int(f[1:]) % 10 == 9])
    assert risky > 2 * safe


def test_scoring_in_chunks_of_borrowers_gives_the_same_pds_as_one_pass(snapshots, registry):
    config = EarlyWarningPDPolicy(algorithm="lightgbm", max_features=6, horizons=(6, 12))
    train_ew_pd(None, snapshots, registry, train_end=TRAIN_END, config=config, build=FakeBuilder())
    day, usccs = date(2025, 11, 12), [*FIRMS, "NOT_A_BORROWER"]
    whole, _ = EarlyWarningPD(registry, snapshots, chunk_rows=10_000).score(day, usccs)
    chunked, _ = EarlyWarningPD(registry, snapshots, chunk_rows=37).score(day, usccs)
    assert chunked.sort("uscc").equals(whole.sort("uscc"))
    assert whole["pd_6m"].null_count() == 1 and whole["pd_12m"].null_count() == 1


def test_a_training_row_whose_outcome_ends_after_the_training_end_stops_the_training(
    snapshots, registry
):
    config = EarlyWarningPDPolicy(algorithm="lightgbm", max_features=6, horizons=(12,))
    with pytest.raises(EarlyWarningPDLeak, match="after the training end 2025-06-30"):
        train_ew_pd(
            None,
            snapshots,
            registry,
            train_end=TRAIN_END,
            config=config,
            build=FakeBuilder(leak=True),
        )
    assert registry.versions("ew_pd_12m") == []  # nothing registered


def test_the_early_warning_target_leaves_out_rows_close_to_their_default():
    spec = TARGETS["behaviour_pd_12m"]
    as_of = date(2024, 3, 1)
    frame = pl.DataFrame(
        {
            "uscc": ["SOON", "LATER", "NEVER", "AFTER_WINDOW"],
            "as_of": [as_of] * 4,
            "outcome_from": [as_of] * 4,
            "outcome_to": [date(2025, 3, 1)] * 4,
            "target": [1, 1, 0, 0],
            "x": [1.0, 2.0, 3.0, 4.0],
        },
        schema_overrides={"target": pl.Int8},
    )
    dataset = TrainingDataset(spec, frame, ["x"], [as_of], date(2026, 6, 1))
    defaults = pl.DataFrame(
        {
            "uscc": ["SOON", "LATER", "AFTER_WINDOW"],
            "default_date": [
                as_of + timedelta(days=40),
                as_of + timedelta(days=200),
                date(2025, 6, 1),
            ],
        }
    )
    shifted = lead_shifted(dataset, defaults, lead_days=90)
    labels = dict(zip(shifted.frame["uscc"], shifted.frame["target"], strict=True))
    assert labels == {"LATER": 1, "NEVER": 0, "AFTER_WINDOW": 0}  # SOON left out
    assert shifted.frame["outcome_to"].max() <= date(2025, 3, 1)
    assert shifted.features == ["x"]


# --- the PD-derived level -----------------------------------------------------------------


def _learned_policy(**shares) -> LevelPolicy:
    """The shipped policy with the level read off the 12-month PD (what ``_history`` scores)."""
    policy = load_policy()
    config = policy.ew_pd.model_copy(
        update={
            "levels": "learned",
            "target_shares": {"blue": 0.2, "yellow": 0.1, "orange": 0.05, "red": 0.01} | shares,
        }
    )
    return policy.model_copy(update={"ew_pd": config, "pd_horizon_months": 12})


def _fixed_policy() -> LevelPolicy:
    """The same with the fixed PD bands of ``pd_levels``."""
    policy = _learned_policy()
    return policy.model_copy(update={"ew_pd": policy.ew_pd.model_copy(update={"levels": "fixed"})})


def _history() -> History:
    """300 borrowers × 20 fortnightly scans, PDs spread over 0 … 10% (all below the fixed
    orange of 15%), a tenth of them missing; one noisy signal; a few defaults."""
    rng = np.random.default_rng(7)
    scans = [date(2024, 7, 1) + timedelta(days=14 * i) for i in range(20)]
    firms = [f"F{i:03d}" for i in range(300)]
    borrowers = pl.DataFrame(
        {"uscc": [f for f in firms for _ in scans], "scan_date": [d for _ in firms for d in scans]}
    )
    values = rng.uniform(0.0, 0.10, size=borrowers.height)
    values[rng.uniform(size=borrowers.height) < 0.1] = np.nan
    pds = borrowers.with_columns(
        pl.Series("pd_12m", values).fill_nan(None),
        pl.lit(None, dtype=pl.Float64).alias("pd_3m"),
        pl.lit(None, dtype=pl.Float64).alias("pd_6m"),
    )
    fired = borrowers.filter(pl.col("uscc").str.ends_with("7")).with_columns(
        pl.lit("account.concentration.1m.t1").alias("signal_id")
    )
    return History(fired, borrowers, pds)


def _defaults() -> pl.DataFrame:
    return pl.DataFrame(
        {"uscc": ["F000", "F001", "F002"], "default_date": [date(2025, 3, 1)] * 3},
        schema={"uscc": pl.String, "default_date": pl.Date},
    )


def test_learned_pd_cutoffs_put_the_target_share_of_training_borrower_days_at_orange():
    history, policy = _history(), _learned_policy()
    cutoffs = learn_pd_cutoffs(history.pds, policy)
    assert cutoffs is not None
    with_pd = history.pds["pd_12m"].drop_nulls()
    for level, share in policy.ew_pd.target_shares.items():
        reached = float((with_pd >= cutoffs[level]).mean())
        assert reached == pytest.approx(share, abs=0.005), level
    assert cutoffs["orange"] < policy.pd_levels["orange"]  # below the fixed 15%
    assert learn_pd_cutoffs(history.pds, _fixed_policy()) is None  # levels: fixed
    assert learn_pd_cutoffs(history.pds.head(0), policy) is None  # no PD scored


def test_the_pd_level_follows_the_learned_cutoffs_and_a_missing_pd_raises_nothing(tmp_path):
    library = load_signal_library()
    policy = _learned_policy()
    _, weights = learn_weights(
        _history(), _defaults(), library, policy, outcome_end=date(2025, 6, 30)
    )
    assert weights.pd_cutoffs is not None
    orange, red = weights.pd_cutoffs["orange"], weights.pd_cutoffs["red"]
    pds = pl.DataFrame(
        {
            "uscc": ["BELOW", "ORANGE", "RED", "MISSING"],
            "pd": [orange * 0.9, (orange + red) / 2, red * 1.01, None],
        }
    )
    out = assess(NO_SIGNALS, library, policy, weights, pds, keep_all=True)
    level = dict(zip(out["uscc"], out["level"], strict=True))
    assert level["ORANGE"] == "orange" and level["RED"] == "red"
    assert level["BELOW"] in {"blue", "yellow"}
    assert level["MISSING"] is None

    # the same PDs under fixed bands: all below 15%, so nothing reaches orange from the PD
    fixed = assess(NO_SIGNALS, library, _fixed_policy(), weights, pds, keep_all=True)
    assert set(fixed["level"].drop_nulls()) <= {"blue", "yellow"}
    assert with_cutoffs(_fixed_policy(), None, weights.pd_cutoffs).pd_levels == dict(
        load_policy().pd_levels
    )

    # learned cut-offs travel through weights.json to the daily scan
    write_learning(tmp_path, _Learned(), weights, {"train_end": "2025-06-30"})
    loaded = load_weights(tmp_path)
    assert loaded.pd_cutoffs == pytest.approx(dict(weights.pd_cutoffs))
    again = assess(NO_SIGNALS, library, policy, loaded, pds, keep_all=True)
    assert again["level"].to_list() == out["level"].to_list()


def test_without_an_ew_pd_the_score_is_calibrated_to_the_shares_meant_for_it_alone(monkeypatch):
    from puhui.actions.alarm import history as history_module

    shares_seen: list[dict[str, float]] = []
    calibrate = history_module.calibrate_cutoffs

    def recording(values, shares):
        shares_seen.append(dict(shares))
        return calibrate(values, shares)

    monkeypatch.setattr(history_module, "calibrate_cutoffs", recording)
    library, shipped = load_signal_library(), load_policy()
    policy = _learned_policy()  # the level reads pd_12m, which _history scores
    beside = _history()
    alone = History(
        beside.fired,
        beside.borrowers,
        beside.pds.with_columns(pl.lit(None, pl.Float64).alias("pd_12m")),
    )
    first_calls = []
    for history in (beside, alone):
        shares_seen.clear()
        learn_weights(history, _defaults(), library, policy, outcome_end=date(2025, 6, 30))
        first_calls.append(shares_seen[0])  # the score's cut-offs come first
    assert first_calls[0] == dict(shipped.target_shares)  # beside the EW-PD: orange 1%
    assert first_calls[1] == dict(shipped.target_shares_without_pd)  # alone: orange 5%
    assert shipped.target_shares_without_pd["orange"] > shipped.target_shares["orange"]


def test_a_signal_level_above_the_pd_level_wins_and_a_veto_is_red_whatever_the_pd():
    library = load_signal_library()
    policy = _learned_policy()
    pd_cutoffs = {"blue": 0.01, "yellow": 0.02, "orange": 0.03, "red": 0.5}
    weights = Weights({}, (), None, None, pd_cutoffs)
    veto = next(s.signal_id for s in library.signals if s.veto)
    fired = pl.DataFrame({"uscc": ["V"], "signal_id": [veto]})
    pds = pl.DataFrame({"uscc": ["V", "P"], "pd": [0.001, 0.04]})
    out = assess(fired, library, policy, weights, pds, keep_all=True)
    level = dict(zip(out["uscc"], out["level"], strict=True))
    assert level == {"V": "red", "P": "orange"}


class _Learned:
    """The parts of ``LearnedSignals`` that ``write_learning`` reads."""

    base_rate = 0.01
    observations = 0
    defaults = 0
    lift = pl.DataFrame({"signal_id": []}, schema={"signal_id": pl.String})
    lead_times = pl.DataFrame()
    combinations = pl.DataFrame({"a": []}, schema={"a": pl.String})
