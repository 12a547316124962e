"""征信报告事实 · what a freshly fetched enterprise credit report tells the decision.

The feature snapshot's bureau features lag by the bureau's reporting delay; the report fetched
through the consent gateway at authorization is the current view. Its facts enter the decision
under their own names (``bureau_report_*``), so product rules can veto on them and a decision
made without a report (no gateway wired) simply lacks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# name → (zh, en); the product catalog may refer to these besides the feature catalog's names.
REPORT_FEATURES: dict[str, tuple[str, str]] = {
    "bureau_report_overdue_amount": ("征信报告当前逾期金额", "current overdue amount"),
    "bureau_report_max_overdue_days": ("征信报告当前最长逾期天数", "current longest days overdue"),
    "bureau_report_non_performing_balance": ("征信报告不良余额", "non-performing balance"),
    "bureau_report_lender_count": ("征信报告授信机构数", "lenders on the report"),
    "bureau_report_queries_12m": ("近12个月查询次数", "bureau queries in 12 months"),
}


def report_facts(report: Mapping[str, Any]) -> dict[str, float]:
    """The decision's view of an enterprise report (a ``EnterpriseReport`` as a mapping)."""
    return {
        "bureau_report_overdue_amount": float(report["overdue_amount"]),
        "bureau_report_max_overdue_days": float(report["max_overdue_days"]),
        "bureau_report_non_performing_balance": float(report["non_performing_balance"]),
        "bureau_report_lender_count": float(report["lender_count"]),
        "bureau_report_queries_12m": float(report["queries_last_12_months"]),
    }
