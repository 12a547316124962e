"""The marketing use cases behind the CLI, the API and the pages (营销服务).

One object holds the store's sessions, the data folders, the configuration, the product
catalog and a clock; each method is one use case: build, allocate, export, record an outcome,
report feedback, evaluate on the synthetic province, retrain the take-up model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.access.roles import Principal, Role
from puhui.actions.marketing import allocate as allocation
from puhui.actions.marketing import evaluation, export, outcomes, report, runs
from puhui.actions.marketing.build import needed_columns, score_universe, summarize
from puhui.actions.marketing.propensity import (
    DEFAULT_ALGORITHM,
    DEFAULT_FEATURE_SET,
    PropensityTraining,
    train_propensity,
)
from puhui.actions.marketing.scoring import LoadedModel, load_champion_model
from puhui.actions.marketing.universe import branch_network, firm_locations, load_universe
from puhui.data.lake import Lake
from puhui.data.store.audit import append_audit
from puhui.data.store.marketing_tables import (
    MarketingAssignment,
    MarketingOutcomeRecord,
    MarketingProspect,
    MarketingRun,
)
from puhui.data.store.tables import Branch, utc_now
from puhui.decisions.joint_model import JOINT_VERSION_KEY, check_weight
from puhui.decisions.marketing.allocation import AllocationResult
from puhui.decisions.marketing.outcomes import TOOK_UP
from puhui.decisions.marketing.spec import MarketingConfig, load_marketing_config
from puhui.decisions.products.spec import ProductCatalog, load_product_catalog
from puhui.features.catalog import load_feature_catalog
from puhui.federated.joint_scores import load_joint_scores
from puhui.models.datasets import TARGET_COLUMN


@dataclass(frozen=True)
class BuiltRun:
    run_id: str
    as_of: date
    summary: runs.RunSummary
    model_versions: dict[str, str]
    seconds: float


@dataclass(frozen=True)
class BranchFigures:
    branch_id: str
    name: str
    listed: int
    assigned: int
    expected_value: float
    contacted: int
    converted: int


class MarketingService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        data_dir: Path,
        lake_dir: Path,
        *,
        config: MarketingConfig | None = None,
        catalog: ProductCatalog | None = None,
        clock: Callable[[], datetime] = utc_now,
        joint_model_weight: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.joint_model_weight = check_weight(joint_model_weight)
        self.data_dir = Path(data_dir)
        self.lake = Lake(lake_dir)
        names = load_feature_catalog().names
        self.config = config or load_marketing_config(known_features=names)
        self.catalog = catalog or load_product_catalog()
        self.clock = clock

    @property
    def features_root(self) -> Path:
        return self.data_dir / "features"

    def _registry(self) -> Any:
        from puhui.models.registry import ModelRegistry

        return ModelRegistry(self.sessions, self.data_dir / "models", clock=self.clock)

    def models(self) -> tuple[LoadedModel, LoadedModel]:
        registry = self._registry()
        value = self.config.value
        pd_model = load_champion_model(
            registry,
            value.pd_model,
            f"puhui model train --target application_pd --name {value.pd_model}",
        )
        takeup = load_champion_model(
            registry, value.propensity_model, "puhui marketing train-propensity"
        )
        return pd_model, takeup

    # --- build -----------------------------------------------------------------------------
    def score(self, as_of: date) -> tuple[pl.DataFrame, dict[str, str]]:
        """The scored universe as of ``as_of`` without saving it."""
        pd_model, takeup = self.models()
        locations = firm_locations(self.lake, branch_network(self.lake))
        columns = needed_columns(self.config, self.catalog, pd_model, takeup)
        universe = load_universe(self.features_root, as_of, columns, locations)
        joint = self.joint_scores(as_of)
        frame = score_universe(
            universe,
            self.config,
            self.catalog,
            as_of,
            pd_model,
            takeup,
            joint_pd=None if joint.is_empty() else joint,
            joint_weight=self.joint_model_weight,
        )
        versions = {pd_model.name: pd_model.version, takeup.name: takeup.version}
        if not joint.is_empty():
            versions[JOINT_VERSION_KEY] = joint["model_job"][0]
        return frame, versions

    def joint_scores(self, as_of: date) -> pl.DataFrame:
        """The joint model's PDs scored for ``as_of`` (``<data_dir>/federated/bank``), if any."""
        return load_joint_scores(self.data_dir / "federated" / "bank", as_of)

    def build(self, as_of: date, *, actor: str, actor_role: str = "risk_officer") -> BuiltRun:
        import time

        started = time.perf_counter()
        frame, versions = self.score(as_of)
        summary = summarize(frame, self.config)
        with self.sessions.begin() as session:
            run = runs.save_run(
                session,
                self.data_dir,
                frame,
                summary,
                as_of=as_of,
                config_version=self.config.config_version,
                catalog_version=self.catalog.catalog_version,
                model_versions=versions,
                actor=actor,
                actor_role=actor_role,
                now=self.clock(),
            )
            run_id = run.run_id
        return BuiltRun(run_id, as_of, summary, versions, time.perf_counter() - started)

    # --- allocate and export ---------------------------------------------------------------
    def allocate(
        self, run_id: str | None = None, *, actor: str, actor_role: str = "risk_officer"
    ) -> tuple[str, AllocationResult]:
        with self.sessions.begin() as session:
            run = runs.get_run(session, run_id)
            result = allocation.allocate_run(
                session,
                run,
                self.config.allocation,
                actor=actor,
                actor_role=actor_role,
                now=self.clock(),
            )
            return run.run_id, result

    def export(
        self,
        run_id: str | None,
        folder: Path,
        *,
        staff_id: str | None = None,
        actor: str = "marketing",
        actor_role: str = "risk_officer",
    ) -> list[export.ExportedList]:
        """Write the managers' files; the export (data leaving the platform) is audited."""
        with self.sessions.begin() as session:
            run = runs.get_run(session, run_id)
            rows = export.manager_rows(session, run.run_id, self.config, self.catalog, staff_id)
            append_audit(
                session,
                actor=actor,
                actor_role=actor_role,
                action="marketing.export",
                subject_type="marketing_run",
                subject_id=run.run_id,
                detail={
                    "managers": len(rows),
                    "prospects": sum(len(r) for r in rows.values()),
                    "staff_id": staff_id,
                },
                occurred_at=self.clock(),
            )
        return export.write_lists(rows, folder / run.run_id)

    # --- reading ---------------------------------------------------------------------------
    def run(self, run_id: str | None = None) -> MarketingRun:
        with self.sessions() as session:
            return runs.get_run(session, run_id)

    def list_runs(self, limit: int = 20) -> list[MarketingRun]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(MarketingRun).order_by(MarketingRun.created_at.desc()).limit(limit)
                )
            )

    def my_list(self, principal: Principal, run_id: str | None = None) -> list[dict[str, Any]]:
        """The principal's assigned prospects (a branch manager: their branches'), best first."""
        with self.sessions() as session:
            run = runs.get_run(session, run_id)
            query = (
                select(MarketingAssignment, MarketingProspect)
                .join(
                    MarketingProspect,
                    (MarketingProspect.run_id == MarketingAssignment.run_id)
                    & (MarketingProspect.uscc == MarketingAssignment.uscc),
                )
                .where(MarketingAssignment.run_id == run.run_id)
                .order_by(MarketingProspect.rank)
            )
            if principal.role is Role.ACCOUNT_MANAGER:
                query = query.where(MarketingAssignment.staff_id == principal.staff_id)
            elif not principal.scope.all_branches:
                query = query.where(
                    MarketingAssignment.outlet_id.in_(sorted(principal.scope.branch_ids))
                )
            return [
                _list_row(assignment, prospect)
                for assignment, prospect in session.execute(query.limit(2000))
            ]

    def branch_figures(
        self, run_id: str | None = None, principal: Principal | None = None
    ) -> list[BranchFigures]:
        """Per outlet: listed prospects (by location), assigned, expected value, progress."""
        with self.sessions() as session:
            run = runs.get_run(session, run_id)
            names = dict(session.execute(select(Branch.branch_id, Branch.name)).all())
            listed = dict(
                session.execute(
                    select(MarketingProspect.outlet_id, func.count())
                    .where(MarketingProspect.run_id == run.run_id)
                    .group_by(MarketingProspect.outlet_id)
                ).all()
            )
            assigned = session.execute(
                select(
                    MarketingAssignment.outlet_id,
                    func.count(),
                    func.sum(MarketingAssignment.expected_value),
                    func.count(MarketingAssignment.latest_outcome),
                    func.sum(case((MarketingAssignment.latest_outcome == "disbursed", 1), else_=0)),
                )
                .where(MarketingAssignment.run_id == run.run_id)
                .group_by(MarketingAssignment.outlet_id)
            ).all()
        by_outlet = {row[0]: row for row in assigned}
        out = []
        for outlet in sorted({*listed, *by_outlet} - {None}):
            if principal is not None and not principal.scope.allows_branch(outlet):
                continue
            row = by_outlet.get(outlet)
            out.append(
                BranchFigures(
                    branch_id=outlet,
                    name=names.get(outlet, outlet),
                    listed=int(listed.get(outlet, 0)),
                    assigned=int(row[1]) if row else 0,
                    expected_value=float(row[2] or 0) if row else 0.0,
                    contacted=int(row[3]) if row else 0,
                    converted=int(row[4] or 0) if row else 0,
                )
            )
        return out

    # --- outcomes and feedback -------------------------------------------------------------
    def record_outcome(
        self,
        principal: Principal,
        run_id: str,
        uscc: str,
        outcome: str,
        *,
        amount: Decimal | None = None,
        note: str | None = None,
    ) -> outcomes.RecordedOutcome:
        with self.sessions.begin() as session:
            return outcomes.record_outcome(
                session,
                principal,
                run_id,
                uscc,
                outcome,
                now=self.clock(),
                amount=amount,
                note=note,
            )

    def feedback(self, run_id: str | None = None) -> report.FeedbackReport:
        with self.sessions() as session:
            run = runs.get_run(session, run_id)
            return report.recorded_feedback(session, run.run_id)

    def evaluate(
        self, run_id: str | None = None, *, seed: int = 0, by: str = "response"
    ) -> report.FeedbackReport:
        """The simulated evaluation (truth_enterprise is read here and nowhere else)."""
        run = self.run(run_id)
        universe = runs.load_universe_file(run)
        truth = (
            self.lake.scan("truth_enterprise")
            .select("uscc", "credit_demand", "default_month")
            .collect()
        )
        contacts = report.simulate_contacts(universe, truth, run.as_of, seed=seed)
        feedback = report.simulated_feedback(run.run_id, contacts, by=by)
        feedback.extra.update(evaluation.expected_and_ceiling(universe, truth, by=by))
        return feedback

    def validation(self, run_id: str | None = None) -> report.ValidationFeedback:
        with self.sessions() as session:
            run = runs.get_run(session, run_id)
            recorded = report.recorded_frame(session, run.run_id)
        universe = runs.load_universe_file(run)
        return report.validation_feedback(universe, self.lake.connect(), run.as_of, recorded)

    def outcome_labels(self) -> pl.DataFrame:
        """Recorded outcomes as take-up labels (uscc, as_of of the list, target) for retraining."""
        with self.sessions() as session:
            rows = session.execute(
                select(
                    MarketingAssignment.uscc, MarketingRun.as_of, MarketingAssignment.latest_outcome
                )
                .join(MarketingRun, MarketingRun.run_id == MarketingAssignment.run_id)
                .where(MarketingAssignment.latest_outcome.is_not(None))
            ).all()
        took = {o.value for o in TOOK_UP}
        return pl.DataFrame(
            [(u, d, int(o in took)) for u, d, o in rows],
            schema={"uscc": pl.String, "as_of": pl.Date, TARGET_COLUMN: pl.Int8},
            orient="row",
        )

    def train_propensity(
        self,
        *,
        with_outcomes: bool = True,
        dates: list[date] | None = None,
        algorithm: str = DEFAULT_ALGORITHM,
        trained_by: str = "marketing",
        event: str = "applied",
        feature_set: str = DEFAULT_FEATURE_SET,
    ) -> PropensityTraining:
        """Train (or retrain, adding recorded outcomes) and promote the take-up model."""
        return train_propensity(
            self._registry(),
            self.lake.connect(),
            self.features_root,
            dates=dates,
            outcomes=self.outcome_labels() if with_outcomes else None,
            algorithm=algorithm,
            trained_by=trained_by,
            event=event,
            feature_set=feature_set,
        )

    def staff_branch(self, staff_id: str) -> str | None:
        """The branch a member of staff works at (None when unknown)."""
        from puhui.data.store.tables import Staff

        with self.sessions() as session:
            member = session.get(Staff, staff_id)
            return member.branch_id if member else None

    def recorded_outcomes(self, run_id: str) -> list[MarketingOutcomeRecord]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(MarketingOutcomeRecord)
                    .where(MarketingOutcomeRecord.run_id == run_id)
                    .order_by(MarketingOutcomeRecord.id)
                )
            )


def _list_row(assignment: MarketingAssignment, prospect: MarketingProspect) -> dict[str, Any]:
    return {
        "run_id": assignment.run_id,
        "uscc": prospect.uscc,
        "name": prospect.name,
        "rank": prospect.rank,
        "decile": prospect.decile,
        "themes": [t for t in prospect.themes.split(",") if t],
        "first_loan": prospect.first_loan,
        "product_code": prospect.product_code,
        "offer_limit": str(prospect.offer_limit),
        "rate_bp": prospect.rate_bp,
        "expected_value": str(assignment.expected_value),
        "p_takeup": round(prospect.p_takeup, 4),
        "pd": round(prospect.pd, 4),
        "staff_id": assignment.staff_id,
        "outlet_id": assignment.outlet_id,
        "via_city": assignment.via_city,
        "status": assignment.status,
        "latest_outcome": assignment.latest_outcome,
    }
