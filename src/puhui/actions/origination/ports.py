"""What origination needs from outside, as small interfaces with default implementations:

- ``ConsentChecker``: is this consent id valid now for an enterprise report on this firm?
  ``LedgerConsentChecker`` reads the signed consent log (``actions/consent``).
- ``CreditReports``: fetch the enterprise credit report at authorization. ``BureauGateway``
  (``adapters/bureau``) is the implementation: it checks the consent again, logs the query in
  ``bureau_query`` and the audit log, and refuses without a valid consent.
- ``CoreBanking``: move the money. Transfers are idempotent by ``reference`` (the loan's
  disbursal reference), so a retry after a crash never pays twice. ``InMemoryCoreBanking``
  stands in for the core system in demos and tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from puhui.actions.consent.ledger import ConsentStatus, open_entry, status_at
from puhui.actions.consent.records import ConsentGrant, ConsentRevocation, ConsentScope
from puhui.actions.consent.service import ConsentRequiredError, UnknownConsentError
from puhui.actions.consent.signing import Keyring
from puhui.adapters.bureau.gateway import BureauAnswer
from puhui.adapters.bureau.reports import EnterpriseReport
from puhui.data.store.consent_log import links_for_subject


class ConsentChecker(Protocol):
    def check(self, session: Session, *, consent_id: str, uscc: str, at: datetime) -> None:
        """Return if the consent covers an enterprise report on ``uscc`` at ``at``; else raise
        ``ConsentRequiredError`` or ``UnknownConsentError`` naming the consent and why."""


class LedgerConsentChecker:
    """Checks the named consent in the signed, chained consent log (hash, signature, window,
    revocation), exactly as the bureau gateway would before a query."""

    def __init__(self, keyring: Keyring | Callable[[], Keyring]) -> None:
        # A callable is read on first use, so a missing key file fails authorizations only.
        self._keyring = keyring

    @property
    def keyring(self) -> Keyring:
        if not isinstance(self._keyring, Keyring):
            self._keyring = self._keyring()
        return self._keyring

    def check(self, session: Session, *, consent_id: str, uscc: str, at: datetime) -> None:
        grant: ConsentGrant | None = None
        revoked_at: datetime | None = None
        keyring = self.keyring
        for link in links_for_subject(session, uscc=uscc):
            record = open_entry(link, keyring).record
            if record.consent_id != consent_id:
                continue
            if isinstance(record, ConsentGrant):
                grant = record
            elif isinstance(record, ConsentRevocation):
                revoked_at = record.revoked_at
        if grant is None:
            raise UnknownConsentError(f"consent {consent_id} is not on record for firm {uscc}")
        if not grant.covers(ConsentScope.ENTERPRISE_REPORT, uscc=uscc, person_id=None):
            raise ConsentRequiredError(
                f"consent {consent_id} does not cover enterprise_report for {uscc}"
            )
        status = status_at(grant, revoked_at, at)
        if status is not ConsentStatus.VALID:
            raise ConsentRequiredError(
                f"consent {consent_id} for {uscc} is {status.value} at {at.isoformat()}"
            )


class AcceptAnyConsent:
    """For simulations only: records the consent id without checking it."""

    def check(self, session: Session, *, consent_id: str, uscc: str, at: datetime) -> None:
        return None


class CreditReports(Protocol):
    def enterprise_report(
        self, *, staff_id: str, uscc: str, purpose: str, as_of: date | None = None
    ) -> BureauAnswer[EnterpriseReport]:
        """The firm's enterprise report, queried under a valid consent and logged."""


class CoreBanking(Protocol):
    def transfer(self, *, reference: str, uscc: str, amount: Decimal) -> str:
        """Pay ``amount`` to the firm's account; the same ``reference`` pays once. Returns the
        core system's transaction id."""


class InMemoryCoreBanking:
    """A core system in memory: remembers each reference, so repeats return the first payment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.payments: dict[str, tuple[str, Decimal]] = {}

    def transfer(self, *, reference: str, uscc: str, amount: Decimal) -> str:
        with self._lock:
            if reference not in self.payments:
                self.payments[reference] = (uscc, amount)
            return f"core-{reference}"
