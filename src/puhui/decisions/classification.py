"""五级分类 · five-category loan classification by days past due (pure).

Under the 2023 rules on financial-asset risk classification: any overdue principal or interest
→ at least 关注; more than 90 days → at least 次级; more than 270 → at least 可疑; more than
360 → 损失. The thresholds are configuration (:class:`ClassificationRules`); NPL (不良) is
次级 + 可疑 + 损失.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from puhui.data.store.origination_tables import LoanClass
from puhui.errors import PuhuiError

NON_PERFORMING = frozenset({LoanClass.SUBSTANDARD, LoanClass.DOUBTFUL, LoanClass.LOSS})
ZH = {
    LoanClass.NORMAL: "正常",
    LoanClass.SPECIAL_MENTION: "关注",
    LoanClass.SUBSTANDARD: "次级",
    LoanClass.DOUBTFUL: "可疑",
    LoanClass.LOSS: "损失",
}


class ClassificationRulesError(PuhuiError):
    """Classification thresholds that are not increasing, or name an unknown class."""


@dataclass(frozen=True)
class ClassificationRules:
    """A loan more than ``days`` overdue is at least ``class``; ``default_after_days`` marks
    the loan defaulted in servicing."""

    special_mention_after: int = 0
    substandard_after: int = 90
    doubtful_after: int = 270
    loss_after: int = 360
    default_after_days: int = 90

    def __post_init__(self) -> None:
        steps = [
            ("special_mention_after", self.special_mention_after),
            ("substandard_after", self.substandard_after),
            ("doubtful_after", self.doubtful_after),
            ("loss_after", self.loss_after),
        ]
        for (name_a, a), (name_b, b) in itertools.pairwise(steps):
            if not 0 <= a < b:
                raise ClassificationRulesError(
                    f"classification rules: {name_b} ({b}) must be above {name_a} ({a}) ≥ 0"
                )

    @classmethod
    def from_mapping(cls, values: Mapping[str, int]) -> ClassificationRules:
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ClassificationRulesError(f"classification rules: unknown field {unknown[0]!r}")
        return cls(**values)


def classify(overdue_days: int, rules: ClassificationRules | None = None) -> LoanClass:
    """The minimum class the days past due impose."""
    rules = rules or ClassificationRules()
    if overdue_days > rules.loss_after:
        return LoanClass.LOSS
    if overdue_days > rules.doubtful_after:
        return LoanClass.DOUBTFUL
    if overdue_days > rules.substandard_after:
        return LoanClass.SUBSTANDARD
    if overdue_days > rules.special_mention_after:
        return LoanClass.SPECIAL_MENTION
    return LoanClass.NORMAL


def is_non_performing(loan_class: LoanClass | str) -> bool:
    return LoanClass(loan_class) in NON_PERFORMING
