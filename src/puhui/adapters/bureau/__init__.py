"""The credit bureau (征信): reports, the simulated bureau over the lake, the consent-checking
gateway every query goes through, and anomaly flags for auditors."""

from puhui.adapters.bureau.gateway import BureauAnswer, BureauGateway, StaffNotAuthorizedError
from puhui.adapters.bureau.reports import (
    BureauError,
    CreditBureau,
    EnterpriseReport,
    PersonalReport,
    SubjectNotInBureauError,
)

__all__ = [
    "BureauAnswer",
    "BureauError",
    "BureauGateway",
    "CreditBureau",
    "EnterpriseReport",
    "PersonalReport",
    "StaffNotAuthorizedError",
    "SubjectNotInBureauError",
]
