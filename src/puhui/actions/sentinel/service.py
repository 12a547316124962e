"""哨兵服务 · the sentinel as origination sees it (``Sentinel.screen``), with replay, what-if
and champion/challenger.

``SentinelService.from_lake`` builds the index, replays the lake's applications through it (so
velocity and the graph hold the history), trains or loads the risk models and loads the
strategy set. ``screen`` then runs every strategy and model for one application in a few
milliseconds, persists the verdict when a store is handed in, and splits traffic between the
champion set and a challenger by a stable hash of the application id.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.sentinel import training
from puhui.actions.sentinel.index import SentinelIndex
from puhui.actions.sentinel.replay import add_derived, replay_features
from puhui.data.lake import Lake
from puhui.data.store.sentinel_tables import SentinelScreening
from puhui.decisions.screening import ScreeningRequest, ScreeningResult
from puhui.decisions.sentinel.blacklist import BlacklistHit
from puhui.decisions.sentinel.expressions import Type
from puhui.decisions.sentinel.features import FEATURE_TYPES
from puhui.decisions.sentinel.history import PastApplication
from puhui.decisions.sentinel.models import load_model_specs, model_from_dict, row_vector
from puhui.decisions.sentinel.spec import (
    Outcome,
    StrategySet,
    load_strategy_set,
    screen_frame,
    screen_row,
)
from puhui.observability.metrics import SENTINEL_HITS

MODEL_PREFIX = "sentinel_"
PREVIEW_ID = "-"


def feature_schema() -> dict[str, Type]:
    """Sentinel features plus every model score, for type-checking expressions."""
    schema: dict[str, Type] = dict(FEATURE_TYPES)
    schema.update({spec.feature_name: "number" for spec in load_model_specs()})
    return schema


def local_day(at: datetime) -> date:
    """The Beijing-time day of an instant: the day every per-day feature is computed for."""
    return (at + timedelta(hours=8)).date()


def challenger_arm(application_id: str, percent: float) -> bool:
    """A stable split: the same application always lands in the same arm."""
    digest = hashlib.sha256(application_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 10_000 < percent * 100


@dataclass
class Screening:
    """The full answer for one application: outcome, features, blacklist hits and timing."""

    outcome: Outcome
    arm: str
    strategy_version: str
    features: dict[str, Any]
    blacklist_hits: list[BlacklistHit]
    elapsed_ms: float
    shadow: Outcome | None = None
    shadow_version: str | None = None


@dataclass
class SentinelService:
    index: SentinelIndex
    strategies: StrategySet
    models: list[training.TrainedModel]
    replay: pl.DataFrame  # every lake application's features and model scores
    labels: pl.DataFrame
    split: date
    challenger: StrategySet | None = None
    challenger_percent: float = 0.0
    session_factory: sessionmaker[Session] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    hits_by_application: dict[str, list[BlacklistHit]] = field(default_factory=dict)
    _firm_scores: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- assembly --------------------------------------------------------------------------

    @classmethod
    def from_lake(
        cls,
        lake_dir: Path,
        *,
        session_factory: sessionmaker[Session] | None = None,
        models_dir: Path | None = None,
        version: str | None = None,
    ) -> SentinelService:
        """Index, replay, models (registered champions when present, else trained now)."""
        lake = Lake(lake_dir)
        index = SentinelIndex.build(lake)
        frame, hits = replay_features(index)
        split = training.holdout_start(frame)
        labels = training.observable_labels(index, frame, split)
        models = registered_models(session_factory, models_dir) or training.train_models(
            frame, labels, split, matured=training.observable_labels(index, frame, index.as_of)
        )
        scored = training.score_models(frame, models)
        strategies = load_strategy_set(feature_schema(), version)
        service = cls(
            index,
            strategies,
            models,
            scored,
            labels,
            split,
            hits_by_application=hits,
            session_factory=session_factory,
        )
        service.precompute_firm_scores()
        service.index.prepare(local_day(service.clock()))
        return service

    def precompute_firm_scores(self) -> None:
        """Score the firm-level models (``level: firm``) for every firm at once, as a nightly
        job would: their inputs are registration and the newest panel month, which do not
        change between requests until the index is rebuilt."""
        firm_models = [m for m in self.models if m.spec.level == "firm"]
        if not firm_models or not self.index.firms:
            return
        day = self.index.as_of
        usccs = list(self.index.firms)
        rows = []
        for uscc in usccs:
            firm = self.index.firms[uscc]
            row = self.index.panel_row(uscc)
            row.update(self.index._firm_static(firm, day))
            row.update(self.index._legal(uscc, firm.legal_rep, day))
            rows.append(row)
        for trained in firm_models:
            values = np.array([row_vector(r, trained.spec.features) for r in rows], dtype=float)
            scores = trained.model.score_many(values)
            name = trained.spec.feature_name
            self._firm_scores.update(
                {(name, u): float(v) for u, v in zip(usccs, scores, strict=True)}
            )

    # --- real time -------------------------------------------------------------------------

    def features(
        self, request: ScreeningRequest, *, record: bool = True
    ) -> tuple[dict[str, Any], list[BlacklistHit]]:
        # Optional fields (amount, product, applicant, staff, time): origination passes amount,
        # product and time; strategies reading a missing one stay silent.
        at = request.applied_at or self.clock()
        amount = request.requested_amount
        applicant = request.applicant_id
        application = PastApplication(
            at=at.timestamp(),
            uscc=request.uscc,
            device=request.device_id,
            ip=request.ip_address,
            phone=request.phone_hash,
            person=applicant,
            channel=request.channel,
            staff=request.staff_id,
            product=request.requested_product,
            amount=float(amount) if amount is not None else None,
        )
        row, hits = self.index.application_features(application, applicant)
        row.update(self.index.panel_row(request.uscc))
        add_derived(row)
        for trained in self.models:
            name = trained.spec.feature_name
            if trained.spec.level == "firm":  # once per firm per index build (see models.yaml)
                key = (name, request.uscc)
                if key not in self._firm_scores:
                    self._firm_scores[key] = trained.model.score_one(
                        row_vector(row, trained.spec.features)
                    )
                row[name] = self._firm_scores[key]
            else:
                row[name] = trained.model.score_one(row_vector(row, trained.spec.features))
        if record:
            self.index.record(application, hits)
        return row, hits

    def screen_request(self, request: ScreeningRequest, *, record: bool = True) -> Screening:
        started = time.perf_counter()
        with self._lock:  # the history and the graph grow with each recorded application
            row, hits = self.features(request, record=record)
        champion = screen_row(self.strategies, row)
        arm, decided, version = "champion", champion, self.strategies.version
        shadow = shadow_version = None
        if self.challenger is not None:
            other = screen_row(self.challenger, row)
            if challenger_arm(request.application_id, self.challenger_percent):
                arm, decided, version = "challenger", other, self.challenger.version
                shadow, shadow_version = champion, self.strategies.version
            else:
                shadow, shadow_version = other, self.challenger.version
        elapsed = (time.perf_counter() - started) * 1000
        return Screening(decided, arm, version, row, hits, elapsed, shadow, shadow_version)

    def screen(self, request: ScreeningRequest) -> ScreeningResult:
        """The ``Sentinel`` port origination calls. Application id ``-`` is a preview (the
        in-memory decision of ``DecisionService.decide``): neither recorded nor persisted."""
        preview = request.application_id == PREVIEW_ID
        screening = self.screen_request(request, record=not preview)
        problem = "" if preview else self._persist(request, screening)
        outcome = screening.outcome
        if not preview:
            for strategy in outcome.hits:
                SENTINEL_HITS.labels(strategy=strategy.id).inc()
        reasons = list(outcome.reasons()) + [h.explain() for h in screening.blacklist_hits]
        note = (
            f"sentinel {screening.strategy_version} ({screening.arm}): "
            f"{len(outcome.hits)} hits, {outcome.points:.0f} points{problem}"
        )
        return ScreeningResult(
            outcome.verdict, tuple(reasons[:20]), note, screening.strategy_version
        )

    def _persist(self, request: ScreeningRequest, screening: Screening) -> str:
        """Store the verdict; a store migrated while 0006 was still a placeholder has no
        ``sentinel_verdict`` table: screening goes on and the note says so."""
        if self.session_factory is None:
            return ""
        try:
            self._write(request, screening)
        except SQLAlchemyError as error:
            return f"; verdict not persisted ({type(error).__name__}: re-create the store)"
        return ""

    def _write(self, request: ScreeningRequest, screening: Screening) -> None:
        assert self.session_factory is not None
        outcome = screening.outcome
        with self.session_factory() as session, session.begin():
            session.add(
                SentinelScreening(
                    application_id=request.application_id,
                    uscc=request.uscc,
                    screened_at=self.clock(),
                    verdict=outcome.verdict.value,
                    arm=screening.arm,
                    strategy_version=screening.strategy_version,
                    shadow_verdict=screening.shadow.verdict.value if screening.shadow else None,
                    shadow_version=screening.shadow_version,
                    points=float(outcome.points),
                    hits=[
                        {"id": s.id, "group": s.group, "action": s.action.value, "reason": s.reason}
                        for s in outcome.hits
                    ]
                    + [{"blacklist": h.explain()} for h in screening.blacklist_hits],
                    elapsed_ms=screening.elapsed_ms,
                )
            )

    # --- batch -----------------------------------------------------------------------------

    def replay_verdicts(self, strategies: StrategySet | None = None) -> pl.DataFrame:
        """The lake's applications screened by a set (the champion by default)."""
        result = screen_frame(strategies or self.strategies, self.replay)
        return (
            self.replay.select("application_id", "uscc", "applied_at", "decision")
            .hstack(result)
            .join(self.labels, on="application_id", how="left")
        )


def registered_models(
    session_factory: sessionmaker[Session] | None, models_dir: Path | None
) -> list[training.TrainedModel]:
    """Champion versions of every sentinel model in the registry, or nothing."""
    if session_factory is None or models_dir is None:
        return []
    from puhui.models.errors import ModelError
    from puhui.models.registry import ModelRegistry

    registry = ModelRegistry(session_factory, models_dir)
    loaded = []
    for spec in load_model_specs():
        try:
            version = registry.champion(MODEL_PREFIX + spec.name)
        except ModelError:
            return []
        data = json.loads((Path(version.artifact_dir) / "model.json").read_text("utf-8"))
        model = model_from_dict(data)
        if list(model.features) != list(spec.features):  # registered before models.yaml changed
            return []
        loaded.append(training.TrainedModel(spec, model, dict(version.metrics)))
    return loaded


# --- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmSummary:
    name: str
    version: str
    applications: int
    passed: int
    referred: int
    rejected: int
    fraud_caught: int
    fraud_total: int
    bad_rate_passed: float

    @property
    def pass_rate(self) -> float:
        return self.passed / self.applications if self.applications else 0.0


def summarise(name: str, version: str, verdicts: pl.DataFrame) -> ArmSummary:
    verdict = verdicts["verdict"]
    fraud = verdicts["observable_fraud"].fill_null(False)
    flagged = verdict != "pass"
    passed_approved = (verdict == "pass") & (verdicts["decision"] == "approved")
    bad = verdicts["early_default"].fill_null(False)
    approved_n = int(passed_approved.sum())
    return ArmSummary(
        name,
        version,
        verdicts.height,
        int((verdict == "pass").sum()),
        int((verdict == "review").sum()),
        int((verdict == "reject").sum()),
        int((fraud & flagged).sum()),
        int(fraud.sum()),
        float((bad & passed_approved).sum() / approved_n) if approved_n else 0.0,
    )


@dataclass(frozen=True)
class WhatIf:
    """Before deployment: the current set against a changed one over the same history."""

    base: ArmSummary
    candidate: ArmSummary
    changed: pl.DataFrame  # application_id, uscc, applied_at, base verdict, candidate verdict


def what_if(service: SentinelService, candidate: StrategySet, since: date | None = None) -> WhatIf:
    base = service.replay_verdicts()
    other = service.replay_verdicts(candidate)
    if since is not None:
        cut = datetime(since.year, since.month, since.day, tzinfo=UTC)
        base = base.filter(pl.col("applied_at") >= cut)
        other = other.filter(pl.col("applied_at") >= cut)
    changed = (
        base.select("application_id", "uscc", "applied_at", pl.col("verdict").alias("base_verdict"))
        .with_columns(candidate_verdict=other["verdict"])
        .filter(pl.col("base_verdict") != pl.col("candidate_verdict"))
    )
    return WhatIf(
        summarise("base", service.strategies.version, base),
        summarise("candidate", candidate.version, other),
        changed,
    )


def challenger_report(
    service: SentinelService, challenger: StrategySet, percent: float
) -> tuple[ArmSummary, ArmSummary, int]:
    """Split the replayed applications by arm; each arm decided by its own set. Also how many
    applications of the challenger arm the champion would have decided differently."""
    champion = service.replay_verdicts()
    other = service.replay_verdicts(challenger)
    arm = np.array([challenger_arm(a, percent) for a in champion["application_id"]])
    mask = pl.Series(arm)
    disagree = int(((champion["verdict"] != other["verdict"]) & mask).sum())
    return (
        summarise("champion", service.strategies.version, champion.filter(~mask)),
        summarise("challenger", challenger.version, other.filter(mask)),
        disagree,
    )


def hits_by_group(strategies: StrategySet, verdicts: pl.DataFrame) -> dict[str, int]:
    """Applications hit per strategy group."""
    counts: dict[str, int] = {}
    for strategy in strategies.active:
        if strategy.id in verdicts.columns:
            counts[strategy.group] = counts.get(strategy.group, 0) + int(
                verdicts[strategy.id].sum()
            )
    return counts


CREDIT_GROUPS = ("credit", "legal")


def fraud_view(strategies: StrategySet) -> StrategySet:
    """The set without the credit and legal groups: what the sentinel flags *as fraud*. Those
    two groups decline genuine firms for policy (一票否决: 90+ days overdue, dishonest debtor),
    which is right but is not a fraud alarm; the evaluation reports both views."""
    return strategies.with_changes(
        version=f"{strategies.version}/fraud",
        disabled=[s.id for s in strategies.strategies if s.group in CREDIT_GROUPS],
    )


def evaluation_table(
    service: SentinelService,
    lake: Lake,
    strategies: StrategySet | None = None,
    *,
    holdout_only: bool = True,
) -> tuple[list[training.RecallRow], float, int]:
    """EVALUATION ONLY (reads ``truth_application``): recall per fraud type and FPR among
    genuine applications on the time-ordered hold-out (or on every application)."""
    verdicts = service.replay_verdicts(strategies).join(
        training.truth_by_application(lake), on="application_id", how="left"
    )
    cut = datetime(service.split.year, service.split.month, service.split.day, tzinfo=UTC)
    holdout = verdicts.filter(pl.col("applied_at") >= cut) if holdout_only else verdicts
    flagged = (holdout["verdict"] != "pass").to_numpy()
    rows, fpr = training.recall_table(flagged, holdout["fraud_type"].fill_null("none").to_list())
    return rows, fpr, holdout.height


def metrics_of(models: Sequence[training.TrainedModel]) -> Mapping[str, dict[str, Any]]:
    return {m.spec.name: m.metrics for m in models}
