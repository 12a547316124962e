"""The sentinel's seat in the decision (反欺诈筛查): an interface, and a stand-in until the
real sentinel (``puhui.decisions.sentinel``, issue 7) plugs in.

Origination calls ``Sentinel.screen`` once per application; whatever implements it answers
``pass``, ``review`` (send to manual review) or ``reject``, with the hits that decided it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from puhui.data.store.origination_tables import SentinelVerdict


@dataclass(frozen=True)
class ScreeningRequest:
    """What the sentinel sees of an application."""

    application_id: str
    uscc: str
    channel: str
    device_id: str | None = None
    ip_address: str | None = None
    phone_hash: str | None = None
    features: Mapping[str, float | None] = field(default_factory=dict)
    # What the applicant asked for and when: amount-vs-revenue, product switching and time
    # strategies read these; None where the caller does not know them.
    requested_amount: Decimal | None = None
    requested_product: str | None = None
    applied_at: datetime | None = None
    applicant_id: str | None = None
    staff_id: str | None = None


@dataclass(frozen=True)
class ScreeningResult:
    verdict: SentinelVerdict
    hits: tuple[str, ...] = ()
    note: str = ""
    strategy_version: str | None = None


class Sentinel(Protocol):
    """Anything that screens an application for fraud."""

    def screen(self, request: ScreeningRequest) -> ScreeningResult: ...


class NoSentinel:
    """Passes every application, saying so: the sentinel (issue 7) is not installed yet."""

    NOTE = "sentinel not installed (issue 7): screening passed by default"

    def screen(self, request: ScreeningRequest) -> ScreeningResult:
        return ScreeningResult(SentinelVerdict.PASS, (), self.NOTE, None)
