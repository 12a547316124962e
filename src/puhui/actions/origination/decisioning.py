"""The decision as a service: one feature snapshot in memory, a scorer, the sentinel and the
catalog, so a full decision (sentinel + scoring + product match + pricing) takes well under a
millisecond for a fallback score and a few for a champion model.

``DecisionService.from_data`` loads the latest (or a given) snapshot. When no champion model
is registered under ``model_name``, the profile's overall sub-score is the score and every
decision says so (``score_source = fallback:profile_overall``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.origination.states import OriginationError
from puhui.data.lake import Lake
from puhui.data.lake.errors import TableNotInLakeError
from puhui.decisions.bureau_facts import REPORT_FEATURES
from puhui.decisions.engine import Decision, decide
from puhui.decisions.products.matching import Match, match_products
from puhui.decisions.products.spec import ProductCatalog, load_product_catalog
from puhui.decisions.scoring import (
    ChampionScorer,
    PrecomputedScorer,
    ProfileFallbackScorer,
    Scorer,
    ScoreResult,
)
from puhui.decisions.screening import NoSentinel, ScreeningRequest, ScreeningResult, Sentinel
from puhui.features.catalog import FeatureCatalog, load_feature_catalog
from puhui.features.profile import (
    PEER_COLUMN,
    load_profile_definition,
    score_features,
    score_population,
)
from puhui.features.store import available_dates, load_features

DEFAULT_MODEL_NAME = "application_pd"
# Features origination reads besides the catalog's: first-loan status and the sentinel's view.
EXTRA_FEATURES = ("bureau_ent_lender_count_mean_1m", "bank_loans_disbursed_count_24m")


class UnknownFirmError(OriginationError):
    """The firm has no row in the feature snapshot the decision service holds."""


@dataclass(frozen=True)
class FirmFacts:
    """What origination knows of one firm: its features, score inputs and branch."""

    uscc: str
    features: Mapping[str, float | None]
    branch_id: str | None

    @property
    def is_first_loan(self) -> bool:
        """首贷户: no lender on the bureau file and no loan from this bank."""
        lenders = self.features.get("bureau_ent_lender_count_mean_1m")
        bank = self.features.get("bank_loans_disbursed_count_24m")
        return not (lenders or 0) and not (bank or 0)


class DecisionService:
    """Decides for firms of one snapshot; thread-safe (read-only after construction)."""

    def __init__(
        self,
        catalog: ProductCatalog,
        firms: Mapping[str, FirmFacts],
        scorer: Scorer,
        as_of: date,
        sentinel: Sentinel | None = None,
    ) -> None:
        self.catalog = catalog
        self.firms = dict(firms)
        self.scorer = scorer
        self.as_of = as_of
        self.sentinel = sentinel or NoSentinel()
        # Per snapshot, like the scores: each firm's product match (catalog, features and
        # score are fixed), keyed by the score it was computed for.
        self._matches: dict[str, tuple[ProductCatalog, float, Match]] = {}

    def precompute(self) -> None:
        """Match every firm of the snapshot once and screen one preview, so requests find the
        matches ready and the sentinel's generated code compiled (no first-request stall)."""
        for uscc, facts in self.firms.items():
            self._match(uscc, facts.features, self.scorer.score(uscc, facts.features).score)
        if self.firms:
            uscc, facts = next(iter(self.firms.items()))
            self.sentinel.screen(ScreeningRequest("-", uscc, "open_api", features=facts.features))

    def _match(self, uscc: str, features: Mapping[str, float | None], score: float) -> Match:
        cached = self._matches.get(uscc)
        if cached is not None and cached[0] is self.catalog and cached[1] == score:
            return cached[2]
        match = match_products(self.catalog, features, score, self.as_of)
        self._matches[uscc] = (self.catalog, score, match)
        return match

    def facts(self, uscc: str) -> FirmFacts:
        try:
            return self.firms[uscc]
        except KeyError:
            raise UnknownFirmError(
                f"enterprise {uscc} has no row in the feature snapshot as of "
                f"{self.as_of.isoformat()}"
            ) from None

    def score(self, uscc: str) -> ScoreResult:
        return self.scorer.score(uscc, self.facts(uscc).features)

    def screen(self, request: ScreeningRequest) -> ScreeningResult:
        return self.sentinel.screen(request)

    def match(self, uscc: str) -> tuple[Match, ScoreResult]:
        """Every product for the firm, without the sentinel (the ``products match`` view)."""
        facts = self.facts(uscc)
        score = self.scorer.score(uscc, facts.features)
        return self._match(uscc, facts.features, score.score), score

    def decide(
        self,
        uscc: str,
        *,
        screening: ScreeningResult | None = None,
        channel: str = "open_api",
        requested_product: str | None = None,
        requested_amount: Decimal | None = None,
        report_facts: Mapping[str, float] | None = None,
    ) -> Decision:
        """The full decision; screens first when no screening result is handed in.

        ``report_facts`` (``puhui.decisions.bureau_facts``) from the credit report fetched at
        authorization join the firm's features, so product rules can veto on them.
        """
        facts = self.facts(uscc)
        features = {**facts.features, **report_facts} if report_facts else facts.features
        if screening is None:
            screening = self.sentinel.screen(
                ScreeningRequest("-", uscc, channel, features=facts.features)
            )
        score = self.scorer.score(uscc, facts.features)
        return decide(
            self.catalog,
            uscc=uscc,
            as_of=self.as_of,
            features=features,
            score=score,
            screening=screening,
            requested_product=requested_product,
            requested_amount=requested_amount,
            # Report facts change the features, so such a match is computed afresh.
            match=None if report_facts else self._match(uscc, facts.features, score.score),
        )

    @classmethod
    def from_data(
        cls,
        data_dir: Path,
        lake_dir: Path,
        *,
        as_of: date | None = None,
        session_factory: sessionmaker[Session] | None = None,
        model_name: str = DEFAULT_MODEL_NAME,
        catalog: ProductCatalog | None = None,
        sentinel: Sentinel | None = None,
        joint_model_weight: float = 0.0,
    ) -> DecisionService:
        """Load a feature snapshot (the latest by default) and the champion, or the fallback.

        The joint (federated) model's PDs scored for the same date, when ``<data_dir>/federated/
        bank`` holds them, join each decision (``decisions.joint_model``)."""
        features_root = data_dir / "features"
        feature_catalog = load_feature_catalog()
        catalog = catalog or load_product_catalog(
            known_features={*feature_catalog.names, *REPORT_FEATURES}
        )
        dates = available_dates(features_root)
        if as_of is None:
            if not dates:
                raise OriginationError(
                    f"no feature snapshot in {features_root}; run "
                    "`puhui features build --as-of YYYY-MM-DD`"
                )
            as_of = dates[-1]
        champion = _champion(session_factory, data_dir, model_name, catalog)
        # Report facts arrive with each authorization, not from the snapshot.
        columns = {*catalog.features, *EXTRA_FEATURES} - REPORT_FEATURES.keys()
        if champion is not None:
            columns |= set(champion.feature_names)
        frame = load_features(features_root, as_of, columns=sorted(columns))
        lake = Lake(lake_dir)
        branches = _branches(lake)
        firms = {
            row["uscc"]: FirmFacts(row["uscc"], _clean(row), branches.get(row["uscc"]))
            for row in frame.iter_rows(named=True)
        }
        scorer: Scorer
        if champion is not None:
            scorer = PrecomputedScorer(champion, {u: f.features for u, f in firms.items()})
        else:
            scorer = _fallback(lake, features_root, as_of, feature_catalog)
        scorer = _with_joint_model(scorer, data_dir, as_of, catalog, joint_model_weight)
        if sentinel is None:
            sentinel = _default_sentinel(lake, data_dir, session_factory)
        service = cls(catalog, firms, scorer, as_of, sentinel)
        service.precompute()
        return service


def _with_joint_model(
    scorer: Scorer, data_dir: Path, as_of: date, catalog: ProductCatalog, weight: float
) -> Scorer:
    """The scorer, wrapped with today's joint PDs when the joint model scored this date."""
    from puhui.decisions.joint_model import JointModelScorer
    from puhui.federated.joint_scores import load_joint_scores

    joint = load_joint_scores(data_dir / "federated" / "bank", as_of)
    if joint.is_empty():
        return scorer
    return JointModelScorer(
        scorer,
        dict(zip(joint["uscc"], joint["joint_pd"], strict=True)),
        weight=weight,
        model_job=joint["model_job"][0],
        scale=catalog.model_score_scale,
    )


def _default_sentinel(
    lake: Lake, data_dir: Path, session_factory: sessionmaker[Session] | None
) -> Sentinel:
    """The real sentinel (issue 7) when the lake holds registrations and applications to build
    its index from; ``NoSentinel`` otherwise (it says so in every screening note)."""
    if not {"reg_enterprise", "app_application"} <= set(lake.tables()):
        return NoSentinel()
    from puhui.actions.sentinel.service import SentinelService

    return SentinelService.from_lake(
        lake.root, session_factory=session_factory, models_dir=data_dir / "models"
    )


def _clean(row: Mapping[str, object]) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    for key, value in row.items():
        if key in {"uscc", "as_of"}:
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            values[key] = None
        else:
            values[key] = float(value)  # type: ignore[arg-type]
    return values


def _champion(
    session_factory: sessionmaker[Session] | None,
    data_dir: Path,
    model_name: str,
    catalog: ProductCatalog,
) -> ChampionScorer | None:
    if session_factory is None:
        return None
    from puhui.models.errors import ModelError
    from puhui.models.registry import ModelRegistry

    try:
        model, metadata = ModelRegistry(session_factory, data_dir / "models").load_champion(
            model_name
        )
    except ModelError:
        return None
    return ChampionScorer(model, metadata, catalog.model_score_scale)


def _fallback(
    lake: Lake, features_root: Path, as_of: date, feature_catalog: FeatureCatalog
) -> ProfileFallbackScorer:
    """The documented fallback: each firm's overall profile score among this snapshot's firms."""
    definition = load_profile_definition(feature_catalog)
    features = load_features(features_root, as_of, columns=definition.feature_names())
    industries = (
        lake.scan("reg_enterprise").select("uscc", pl.col("industry_code").alias(PEER_COLUMN))
    ).collect()
    scored = score_features(features, definition, feature_catalog, peer_groups=industries)
    overall = score_population(scored, definition, feature_catalog)
    return ProfileFallbackScorer(dict(zip(overall["uscc"], overall["overall"], strict=True)))


def _branches(lake: Lake) -> dict[str, str]:
    try:
        frame = lake.scan("bank_customer").select("uscc", "branch_id").collect()
    except TableNotInLakeError:  # a lake without bank customers: no branch known
        return {}
    return dict(zip(frame["uscc"], frame["branch_id"], strict=True))
