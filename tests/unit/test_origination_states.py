"""The application state machine as data, and the CLI groups it ships with."""

from __future__ import annotations

from puhui.actions.origination.states import ALLOWED, AUTOMATIC_NEXT, END_STATES
from puhui.cli.main import run
from puhui.data.store.origination_tables import ApplicationState as S


def test_every_state_is_reachable_from_submitted() -> None:
    seen, frontier = {S.SUBMITTED}, [S.SUBMITTED]
    while frontier:
        for nxt in ALLOWED[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(S)


def test_end_states_are_the_five_outcomes_and_have_no_exit() -> None:
    assert END_STATES == {S.SETTLED, S.DEFAULTED, S.DECLINED, S.WITHDRAWN, S.EXPIRED}
    assert all(not ALLOWED[state] for state in END_STATES)


def test_the_bank_moves_only_its_own_steps_automatically() -> None:
    assert list(AUTOMATIC_NEXT) == [S.SUBMITTED, S.AUTHORIZED, S.SCREENED, S.DECIDED]
    assert S.OFFERED not in AUTOMATIC_NEXT  # the firm accepts, the bank does not


def test_products_list_runs_from_the_command_line(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["products", "list"]) == 0
    out = capsys.readouterr().out
    assert "小微e贷" in out and "renewal" in out and "2026.06.1" in out
