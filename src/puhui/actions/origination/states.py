"""The application state machine as data (pure): which state may follow which.

    submitted → authorized → screened → decided ─→ offered → accepted → contract_signed
                                     ├→ referred ─┤ (manual review)            → disbursed
                                     └→ declined  └→ declined        disbursed → repaying
    repaying ⇄ overdue → defaulted; repaying / overdue / disbursed → settled
    submitted, authorized, offered, accepted → withdrawn; offered → expired

End states: settled, defaulted, declined, withdrawn, expired.
"""

from __future__ import annotations

from puhui.data.store.origination_tables import ApplicationState as S
from puhui.errors import PuhuiError

ALLOWED: dict[S, frozenset[S]] = {
    S.SUBMITTED: frozenset({S.AUTHORIZED, S.WITHDRAWN}),
    S.AUTHORIZED: frozenset({S.SCREENED, S.WITHDRAWN}),
    S.SCREENED: frozenset({S.DECIDED, S.REFERRED, S.DECLINED}),
    S.REFERRED: frozenset({S.DECIDED, S.DECLINED}),
    S.DECIDED: frozenset({S.OFFERED}),
    S.OFFERED: frozenset({S.ACCEPTED, S.WITHDRAWN, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.CONTRACT_SIGNED, S.WITHDRAWN}),
    S.CONTRACT_SIGNED: frozenset({S.DISBURSED}),
    S.DISBURSED: frozenset({S.REPAYING, S.OVERDUE, S.SETTLED}),
    S.REPAYING: frozenset({S.OVERDUE, S.SETTLED}),
    S.OVERDUE: frozenset({S.REPAYING, S.DEFAULTED, S.SETTLED}),
    S.DEFAULTED: frozenset(),
    S.SETTLED: frozenset(),
    S.DECLINED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.EXPIRED: frozenset(),
}
END_STATES = frozenset(state for state, nexts in ALLOWED.items() if not nexts)
# States the bank moves on its own (resume picks these up after a crash).
AUTOMATIC_NEXT: dict[S, str] = {
    S.SUBMITTED: "authorize",
    S.AUTHORIZED: "screen",
    S.SCREENED: "decide",
    S.DECIDED: "offer",
}


class OriginationError(PuhuiError):
    """Root of origination errors; messages name the application and the rule at fault."""


class IllegalTransitionError(OriginationError):
    """A move the state machine does not allow from the application's current state."""


def check_transition(application_id: str, current: S, target: S) -> None:
    """Refuse ``current → target`` unless the machine allows it."""
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(ALLOWED[current])) or "none (end state)"
        raise IllegalTransitionError(
            f"application {application_id}: cannot move from {current.value} to "
            f"{target.value}; allowed from {current.value}: {allowed}"
        )
