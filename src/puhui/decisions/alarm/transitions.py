"""Escalation and de-escalation (升级与降级) of one borrower's warning, day by day (pure).

A level rises at once (a veto makes it red the same day) and each rise sends a new task. A
level falls only after ``deescalate_after_days`` days below it, so a borrower does not flap
between levels; with nothing left for ``close_after_days`` the warning closes. The same
condition is never raised twice: a condition already in the open warning only updates its
evidence, and a new condition at the same level adds evidence without a new task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from puhui.decisions.alarm.policy import LevelPolicy
from puhui.decisions.alarm.spec import LEVELS

Action = Literal["none", "open", "escalate", "deescalate", "close", "update", "hold"]


@dataclass(frozen=True)
class OpenWarning:
    level: str
    conditions: frozenset[str]
    below_since: date | None


@dataclass(frozen=True)
class Today:
    level: str | None  # None: nothing fired and the PD is below every band
    conditions: frozenset[str]
    veto: bool = False


@dataclass(frozen=True)
class Transition:
    action: Action
    level: str | None
    below_since: date | None
    new_task: bool
    reason: str


def _rank(level: str | None) -> int:
    return -1 if level is None else LEVELS.index(level)


def decide(
    previous: OpenWarning | None, today: Today | None, day: date, policy: LevelPolicy
) -> Transition:
    """What today's assessment does to the borrower's open warning (if any)."""
    level = today.level if today else None
    conditions = today.conditions if today else frozenset()
    if previous is None:
        if level is None:
            return Transition("none", None, None, False, "")
        reason = "veto indicator 一票否决" if today and today.veto else "new warning"
        return Transition("open", level, None, True, reason)
    if _rank(level) > _rank(previous.level):
        reason = "veto indicator 一票否决" if today and today.veto else "level rose"
        return Transition("escalate", level, None, True, reason)
    if _rank(level) == _rank(previous.level):
        if not conditions <= previous.conditions or previous.below_since is not None:
            new = ", ".join(sorted(conditions - previous.conditions)) or "level holds again"
            return Transition("update", level, None, False, new)
        return Transition("hold", previous.level, None, False, "")
    below_since = previous.below_since or day
    days_below = (day - below_since).days
    if level is None and days_below >= policy.close_after_days:
        return Transition("close", None, None, False, f"no signal for {days_below} days")
    if days_below >= policy.deescalate_after_days:
        target = level or "blue"
        if _rank(target) < _rank(previous.level):
            return Transition(
                "deescalate",
                target,
                None if level else below_since,
                False,
                f"below {previous.level} for {days_below} days",
            )
    if previous.below_since is None:
        return Transition("update", previous.level, below_since, False, "below the level")
    return Transition("hold", previous.level, previous.below_since, False, "")
