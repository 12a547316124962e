"""The one gateway through which every credit-bureau query goes (征信查询网关).

A query is served only when the staff member is known and active and a valid, in-scope,
unexpired, unrevoked consent covers the subject; otherwise it is refused with
``ConsentRequiredError`` (or ``StaffNotAuthorizedError``). Served and refused queries alike are
written to ``bureau_query`` (who, when, purpose, consent id, result size) and to the audit log,
in the same transaction, before the answer or the error leaves the gateway. A query about to be
served is first put on the audit chain (``bureau.query.started``) together with its consent
check, before the bureau is called, so even a crash between the call and the log leaves a trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent.records import ConsentScope
from puhui.actions.consent.service import ConsentRequiredError, ConsentService
from puhui.adapters.bureau.reports import (
    BureauError,
    CreditBureau,
    EnterpriseReport,
    PersonalReport,
)
from puhui.data.identifiers import is_valid_id_number, is_valid_uscc, mask_id_number
from puhui.data.store.audit import append_audit
from puhui.data.store.consent_tables import BureauQuery, QueryOutcome, ReportType
from puhui.data.store.tables import Staff, utc_now
from puhui.errors import PuhuiError

SHANGHAI = ZoneInfo("Asia/Shanghai")
ReportT = TypeVar("ReportT", bound=BaseModel)


class StaffNotAuthorizedError(PuhuiError):
    """The staff member is unknown, inactive, or lacks the role for what was asked."""


@dataclass(frozen=True)
class BureauAnswer(Generic[ReportT]):
    """A served report and how it was logged."""

    report: ReportT
    query_id: int
    consent_id: str
    result_size: int


class BureauGateway:
    """Every bureau query: consent check, the bureau call, the query log and the audit entry."""

    def __init__(
        self,
        bureau: CreditBureau,
        session_factory: sessionmaker[Session],
        consents: ConsentService,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._bureau = bureau
        self._sessions = session_factory
        self._consents = consents
        self._clock = clock

    def enterprise_report(
        self, *, staff_id: str, uscc: str, purpose: str, as_of: date | None = None
    ) -> BureauAnswer[EnterpriseReport]:
        """企业信用报告 for ``uscc``, if a consent allows it."""
        if not is_valid_uscc(uscc):
            raise BureauError(f"USCC {uscc!r} is not valid (GB 32100 check character)")
        return self._query(
            ReportType.ENTERPRISE,
            staff_id=staff_id,
            uscc=uscc,
            person_id=None,
            purpose=purpose,
            as_of=as_of,
            fetch=lambda day: self._bureau.enterprise_report(uscc, day),
        )

    def personal_report(
        self,
        *,
        staff_id: str,
        person_id: str,
        purpose: str,
        uscc: str | None = None,
        as_of: date | None = None,
    ) -> BureauAnswer[PersonalReport]:
        """个人信用报告 for ``person_id`` (e.g. a legal representative), if a consent allows it.

        ``uscc`` names the firm the query is for, so branch checks can place it.
        """
        if not is_valid_id_number(person_id):
            raise BureauError(f"identity number {mask_id_number(person_id)} is not valid")
        return self._query(
            ReportType.PERSONAL,
            staff_id=staff_id,
            uscc=uscc,
            person_id=person_id,
            purpose=purpose,
            as_of=as_of,
            fetch=lambda day: self._bureau.personal_report(person_id, day),
        )

    def _query(
        self,
        report_type: ReportType,
        *,
        staff_id: str,
        uscc: str | None,
        person_id: str | None,
        purpose: str,
        as_of: date | None,
        fetch: Callable[[date], ReportT],
    ) -> BureauAnswer[ReportT]:
        now = self._clock()
        day = as_of or now.astimezone(SHANGHAI).date()
        scope = ConsentScope(report_type.value)
        subject = uscc if report_type is ReportType.ENTERPRISE else mask_id_number(person_id or "")
        values = {
            "queried_at": now,
            "staff_id": staff_id[:32],
            "report_type": report_type.value,
            "subject_uscc": uscc,
            "subject_person_id": person_id,
            "purpose": purpose.strip()[:200],
            "as_of": day,
            "result_size": 0,
        }
        audit = {
            "actor": staff_id[:32],
            "subject_type": "enterprise" if uscc else "person",
            "subject_id": subject,
            "purpose": purpose.strip()[:200] or None,
            "occurred_at": now,
        }
        with self._sessions.begin() as session:
            staff = session.get(Staff, staff_id)
            role = staff.role if staff is not None else "unknown"
            refusal: PuhuiError | None = None
            consent_id: str | None = None
            if staff is None or not staff.active:
                refusal = StaffNotAuthorizedError(
                    f"staff {staff_id!r} is {'inactive' if staff else 'not in the store'}; "
                    "only active staff may query the credit bureau"
                )
            elif not purpose.strip():
                refusal = ConsentRequiredError("a bureau query must state its purpose")
            else:
                values["staff_branch_id"] = staff.branch_id
                try:
                    consent_id = self._consents.usable_consent(
                        session,
                        scope,
                        uscc=uscc if scope is ConsentScope.ENTERPRISE_REPORT else None,
                        person_id=person_id,
                        at=now,
                    ).consent_id
                except ConsentRequiredError as error:
                    refusal = error
            if refusal is None:
                # The intent is on the audit chain before the bureau is called, in the consent
                # check's transaction: a crash after the call cannot leave a query untraced.
                append_audit(
                    session,
                    actor_role=role,
                    action="bureau.query.started",
                    detail={"report": report_type.value, "consent_id": consent_id, "as_of": day},
                    **audit,
                )
            else:
                refused = BureauQuery(
                    **values, outcome=QueryOutcome.REFUSED.value, refusal_reason=str(refusal)[:300]
                )
                session.add(refused)
                session.flush()
                append_audit(
                    session,
                    actor_role=role,
                    action="bureau.query.refused",
                    detail={
                        "query_id": refused.id,
                        "report": report_type.value,
                        "reason": str(refusal),
                    },
                    **audit,
                )
        if refusal is not None:
            raise refusal
        assert consent_id is not None
        try:
            report: ReportT | None = fetch(day)
            failure: BureauError | None = None
        except BureauError as error:
            report, failure = None, error
        size = len(report.model_dump_json().encode()) if report is not None else 0
        with self._sessions.begin() as session:
            served = BureauQuery(
                **{**values, "result_size": size},
                consent_id=consent_id,
                outcome=QueryOutcome.SERVED.value,
                refusal_reason=str(failure)[:300] if failure else None,
            )
            session.add(served)
            session.flush()
            append_audit(
                session,
                actor_role=role,
                action="bureau.query",
                detail={
                    "query_id": served.id,
                    "report": report_type.value,
                    "consent_id": consent_id,
                    "as_of": day,
                    "result_size": size,
                },
                **audit,
            )
            query_id = served.id
        if failure is not None:
            raise failure
        assert report is not None
        return BureauAnswer(
            report=report, query_id=query_id, consent_id=consent_id, result_size=size
        )
