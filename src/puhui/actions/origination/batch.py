"""Push a batch of simulated applications through origination (``puhui applications run-batch``
and the demo).

Every application is decided in memory (sentinel + score + match + pricing), which gives the
approval rate, average limit and rate by product; the first ``persist`` go through the persisted
state machine as well — submit, authorize, screen, decide, offer, accept, sign, disburse, with
referrals resolved by a simulated reviewer — so the store holds real applications and loans.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from puhui.actions.origination.service import ApplicationRequest
from puhui.actions.origination.wiring import Origination
from puhui.data.lake import Lake
from puhui.data.lake.errors import TableNotInLakeError
from puhui.data.store.origination_tables import (
    ApplicationState,
    Channel,
    DecisionOutcome,
    ReviewResolution,
)


@dataclass
class ProductLine:
    """Applications for one requested product and what became of them."""

    product: str
    applications: int = 0
    approved: int = 0
    referred: int = 0
    declined: int = 0
    limits: list[Decimal] = field(default_factory=list)
    rates_bp: list[int] = field(default_factory=list)

    @property
    def approval_rate(self) -> float:
        return self.approved / self.applications if self.applications else 0.0

    @property
    def average_limit(self) -> Decimal:
        return sum(self.limits, Decimal(0)) / len(self.limits) if self.limits else Decimal(0)

    @property
    def average_rate_bp(self) -> float:
        return sum(self.rates_bp) / len(self.rates_bp) if self.rates_bp else 0.0


@dataclass
class BatchResult:
    lines: dict[str, ProductLine]
    decided_seconds: float
    persisted: int = 0
    persisted_states: dict[str, int] = field(default_factory=dict)
    persisted_seconds: float = 0.0
    score_source: str = ""
    score_note: str = ""
    sentinel_note: str = ""

    @property
    def total(self) -> ProductLine:
        total = ProductLine("ALL")
        for line in self.lines.values():
            total.applications += line.applications
            total.approved += line.approved
            total.referred += line.referred
            total.declined += line.declined
            total.limits += line.limits
            total.rates_bp += line.rates_bp
        return total


def simulated_applications(
    lake: Lake, firms: set[str], *, limit: int, seed: int
) -> list[ApplicationRequest]:
    """The lake's most recent applications (``app_application``) for firms in the snapshot;
    generated ones (random firm, channel, product) when the lake has none."""
    rng = random.Random(seed)
    try:
        frame = (
            lake.scan("app_application")
            .select(
                "uscc",
                "channel",
                "product_code",
                "requested_amount",
                "device_id",
                "ip_address",
                "phone",
                "applied_at",
            )
            .sort("applied_at", descending=True)
            .collect()
            .filter(pl.col("uscc").is_in(list(firms)))
            .head(limit)
        )
    except TableNotInLakeError:
        frame = pl.DataFrame()
    requests = [
        ApplicationRequest(
            uscc=row["uscc"],
            channel=row["channel"],
            requested_product=row["product_code"],
            requested_amount=Decimal(str(row["requested_amount"]))
            if row["requested_amount"]
            else None,
            phone=row["phone"],
            device_id=row["device_id"],
            ip_address=row["ip_address"],
        )
        for row in frame.iter_rows(named=True)
    ]
    pool = sorted(firms)
    channels = [channel.value for channel in Channel]
    while len(requests) < limit and pool:
        requests.append(
            ApplicationRequest(
                uscc=rng.choice(pool),
                channel=rng.choice(channels),
                requested_product="xiaowei_edai",
                requested_amount=Decimal(rng.randrange(5, 100) * 10000),
            )
        )
    return requests


def run_batch(
    runtime: Origination,
    requests: list[ApplicationRequest],
    *,
    persist: int,
    seed: int,
    consent_for: Callable[[ApplicationRequest], str] | None = None,
) -> BatchResult:
    """Decide every request in memory; drive the first ``persist`` through the store.

    ``consent_for`` records a real consent for a persisted application (the demo verifies the
    legal representative and signs one); without it, ids are simulated and only accepted by a
    runtime opened with ``simulated_consent``.
    """
    decisions = runtime.decisions
    lines: dict[str, ProductLine] = defaultdict(lambda: ProductLine(""))
    started = time.perf_counter()
    source = note = sentinel_note = ""
    for request in requests:
        decision = decisions.decide(
            request.uscc,
            channel=request.channel,
            requested_product=request.requested_product,
            requested_amount=request.requested_amount,
        )
        source, note, sentinel_note = (
            decision.score.source,
            decision.score.note,
            decision.screening.note,
        )
        name = request.requested_product or "-"
        line = lines[name]
        line.product = name
        line.applications += 1
        if decision.outcome is DecisionOutcome.APPROVE:
            line.approved += 1
            offer = decision.chosen_offer()
            if offer is not None:
                line.limits.append(offer.limit.amount)
                line.rates_bp.append(offer.price.rate_bp)
        elif decision.outcome is DecisionOutcome.REFER:
            line.referred += 1
        else:
            line.declined += 1
    result = BatchResult(dict(lines), time.perf_counter() - started)
    result.score_source, result.score_note, result.sentinel_note = source, note, sentinel_note
    started = time.perf_counter()
    states: dict[str, int] = defaultdict(int)
    rng = random.Random(seed)
    batch_id = uuid.uuid4().hex[:8]
    for index, request in enumerate(requests[:persist]):
        key = f"batch-{batch_id}-{index}"
        consent_id = consent_for(request) if consent_for else f"sim-{key}"[:36]
        final = drive(runtime, request, key, rng, consent_id)
        states[final] += 1
    result.persisted = min(persist, len(requests))
    result.persisted_states = dict(states)
    result.persisted_seconds = time.perf_counter() - started
    return result


def drive(
    runtime: Origination,
    request: ApplicationRequest,
    key: str,
    rng: random.Random,
    consent_id: str,
) -> str:
    """One application from intake to its end of origination: disbursed, declined, withdrawn."""
    service = runtime.origination
    row, _ = service.submit(request, key)
    row = service.advance(row.application_id, consent_id=consent_id)
    if row.state == ApplicationState.REFERRED:
        resolution = ReviewResolution.APPROVE if rng.random() < 0.5 else ReviewResolution.DECLINE
        row = service.review(row.application_id, resolution, "R-SIM", "simulated reviewer")
        if row.state == ApplicationState.DECIDED:
            row = service.offer(row.application_id)
    if row.state != ApplicationState.OFFERED:
        return row.state
    if rng.random() < 0.1:  # some firms walk away from the offer
        return service.withdraw(row.application_id, "simulated: offer not taken").state
    row = service.accept(row.application_id)
    row = service.sign(row.application_id)
    return service.disburse(row.application_id).state
