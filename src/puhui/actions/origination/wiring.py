"""Assemble origination from settings, once, at the edge (API, CLI, demo, benchmark)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent.keyfile import consent_key_file
from puhui.actions.consent.service import ConsentService
from puhui.actions.origination.decisioning import DEFAULT_MODEL_NAME, DecisionService
from puhui.actions.origination.ports import (
    AcceptAnyConsent,
    ConsentChecker,
    CoreBanking,
    LedgerConsentChecker,
)
from puhui.actions.origination.service import OriginationService
from puhui.actions.servicing.service import ServicingService
from puhui.adapters.bureau.gateway import BureauAnswer, BureauGateway
from puhui.adapters.bureau.reports import EnterpriseReport
from puhui.adapters.bureau.simulated import SimulatedBureau
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import require_up_to_date
from puhui.decisions.screening import Sentinel
from puhui.settings import Settings


@dataclass
class Origination:
    engine: Engine
    decisions: DecisionService
    origination: OriginationService
    servicing: ServicingService

    def close(self) -> None:
        self.engine.dispose()


def consent_checker(settings: Settings, *, simulated: bool = False) -> ConsentChecker:
    """The ledger checker on the consent key file; ``simulated`` accepts any id (demo only)."""
    if simulated:
        return AcceptAnyConsent()
    return LedgerConsentChecker(consent_key_file(settings.data_dir).keyring)


class _GatewayOnFirstUse:
    """The bureau gateway, built when the first report is asked for: like the consent checker,
    a missing key file fails authorizations only, not the whole service."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._settings = settings
        self._sessions = sessions
        self._gateway: BureauGateway | None = None

    def enterprise_report(
        self, *, staff_id: str, uscc: str, purpose: str, as_of: date | None = None
    ) -> BureauAnswer[EnterpriseReport]:
        if self._gateway is None:
            keyring = consent_key_file(self._settings.data_dir).keyring()
            consents = ConsentService(self._sessions, keyring)
            bureau = SimulatedBureau(self._settings.lake_dir)
            self._gateway = BureauGateway(bureau, self._sessions, consents)
        return self._gateway.enterprise_report(
            staff_id=staff_id, uscc=uscc, purpose=purpose, as_of=as_of
        )


def open_origination(
    settings: Settings,
    *,
    simulated_consent: bool = False,
    model_name: str = DEFAULT_MODEL_NAME,
    sentinel: Sentinel | None = None,
    core_banking: CoreBanking | None = None,
) -> Origination:
    """Engine on the migrated store, the decision service on the latest snapshot, services."""
    engine = make_engine(settings.resolved_store_url)
    require_up_to_date(engine)
    sessions = make_session_factory(engine)
    decisions = DecisionService.from_data(
        settings.data_dir,
        settings.lake_dir,
        session_factory=sessions,
        model_name=model_name,
        sentinel=sentinel,
        joint_model_weight=settings.joint_model_weight,
    )
    origination = OriginationService(
        sessions,
        decisions,
        consent_checker(settings, simulated=simulated_consent),
        core_banking,
        # Simulated consents cannot authorize a real query: no report is fetched then.
        reports=None if simulated_consent else _GatewayOnFirstUse(settings, sessions),
        online_staff_id=settings.bureau_staff_id,
    )
    return Origination(engine, decisions, origination, ServicingService(sessions, origination))
