"""风险提示 · Flags a banker must see first: blacklists, dishonest-debtor listings, enforcement,
ratings, and the 数字雷达 (digital radar) cross-checks, each read from the firm's features."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from puhui.features.profile_schema import Flag


def _off_by_half(feature: str) -> Callable[[Mapping[str, float | None]], bool]:
    def check(row: Mapping[str, float | None]) -> bool:
        value = row.get(feature)
        return value is not None and abs(value - 1) > 0.5

    return check


def _present(feature: str, absent: str) -> Callable[[Mapping[str, float | None]], bool]:
    """``feature`` positive while ``absent`` was *observed* as zero. A source with no data for
    the firm at all (null, e.g. no utility account matched) is not evidence of a shell."""

    def check(row: Mapping[str, float | None]) -> bool:
        value = row.get(feature)
        return value is not None and value > 0 and row.get(absent) == 0

    return check


def _above(feature: str, limit: float) -> Callable[[Mapping[str, float | None]], bool]:
    def check(row: Mapping[str, float | None]) -> bool:
        value = row.get(feature)
        return value is not None and value > limit

    return check


@dataclass(frozen=True)
class FlagRule:
    code: str
    severity: str
    zh: str
    en: str
    feature: str  # the evidence shown with the flag
    raised: Callable[[Mapping[str, float | None]], bool]


# The four 数字雷达 checks follow `radar_mismatches_12m` (definitions/radar.yaml), except that a
# source with no data for the firm does not count as an observed zero.
FLAG_RULES: tuple[FlagRule, ...] = (
    FlagRule("blacklist_enterprise", "high", "企业在黑名单", "firm on a blacklist",
             "blacklist_enterprise_listed", _above("blacklist_enterprise_listed", 0)),
    FlagRule("blacklist_legal_rep", "high", "法定代表人在黑名单",
             "legal representative on a blacklist",
             "blacklist_legal_rep_listed", _above("blacklist_legal_rep_listed", 0)),
    FlagRule("blacklist_phone", "medium", "联系电话在黑名单", "contact phone on a blacklist",
             "blacklist_phone_listed", _above("blacklist_phone_listed", 0)),
    FlagRule("dishonest", "high", "企业失信被执行(近24月)",
             "firm listed as a dishonest debtor, last 24 months",
             "dishonest_count_24m", _above("dishonest_count_24m", 0)),
    FlagRule("legal_rep_dishonest", "high", "法定代表人失信(近24月)",
             "legal representative listed as a dishonest debtor, last 24 months",
             "lr_dishonest_count_24m", _above("lr_dishonest_count_24m", 0)),
    FlagRule("enforcement", "medium", "被执行案件(近12月)", "enforcement cases, last 12 months",
             "enforcement_count_12m", _above("enforcement_count_12m", 0)),
    FlagRule("tax_rating_d", "high", "纳税信用D级", "latest tax credit rating is D",
             "tax_rating_latest_is_d", _above("tax_rating_latest_is_d", 0)),
    FlagRule("customs_untrustworthy", "medium", "海关失信企业", "customs rates it untrustworthy",
             "customs_rating_untrustworthy", _above("customs_rating_untrustworthy", 0)),
    FlagRule("sibling_dishonest", "medium", "关联企业失信", "a sibling firm is a dishonest debtor",
             "network_sibling_firms_dishonest", _above("network_sibling_firms_dishonest", 0)),
    FlagRule("radar_tax_vs_bank", "medium", "数字雷达: 申报收入与行内入账相差超过50%",
             "radar: declared revenue and bank inflows differ by more than 50%",
             "radar_tax_vs_bank_inflow_12m", _off_by_half("radar_tax_vs_bank_inflow_12m")),
    FlagRule("radar_invoice_vs_tax", "medium", "数字雷达: 开票金额与申报收入相差超过50%",
             "radar: e-invoices and declared revenue differ by more than 50%",
             "radar_invoice_vs_tax_12m", _off_by_half("radar_invoice_vs_tax_12m")),
    FlagRule("radar_revenue_without_power", "medium", "数字雷达: 有申报收入但无用电",
             "radar: revenue declared but no electricity used",
             "tax_declared_revenue_sum_12m",
             _present("tax_declared_revenue_sum_12m", "utility_electricity_kwh_sum_12m")),
    FlagRule("radar_revenue_without_staff", "medium", "数字雷达: 有申报收入但无参保人员",
             "radar: revenue declared but nobody insured",
             "tax_declared_revenue_sum_12m",
             _present("tax_declared_revenue_sum_12m", "social_insured_headcount_mean_12m")),
    FlagRule("radar_revenue_spike", "info", "数字雷达: 近3月收入超过24月月均的2倍(养数据嫌疑)",
             "radar: last quarter's revenue over twice the 24-month pace (data farming?)",
             "radar_revenue_spike_3m", _above("radar_revenue_spike_3m", 2.0)),
)  # fmt: skip


def raised_flags(values: Mapping[str, float | None]) -> list[Flag]:
    """The flags one firm's feature values raise, in the order of ``FLAG_RULES``."""
    return [
        Flag(
            code=rule.code,
            severity=rule.severity,  # type: ignore[arg-type]
            zh=rule.zh,
            en=rule.en,
            feature=rule.feature,
            value=values.get(rule.feature),
        )
        for rule in FLAG_RULES
        if rule.raised(values)
    ]
