"""The applications pages: branch scoping, the manual-review queue and a review resolved from
the workbench with the signed-in reviewer on record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from puhui.actions.access import AccessPolicy
from puhui.actions.origination.ports import AcceptAnyConsent
from puhui.actions.origination.service import OriginationService
from puhui.actions.origination.wiring import Origination
from puhui.api import create_app
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.origination_tables import (
    ApplicationTransition,
    LoanApplication,
    ManualReview,
)
from puhui.data.store.tables import Enterprise
from puhui.settings import Settings
from support.workbench import (
    CSRF,
    cheap_passwords,
    other_branch_firm,
    own_firm,
    shared_province,
    signed_in,
)

T0 = datetime(2026, 1, 5, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def province():  # type: ignore[no-untyped-def]
    return shared_province()


@pytest.fixture(scope="module")
def world(province):  # type: ignore[no-untyped-def]
    """Two referred applications, one in the demo account manager's branch, one elsewhere."""
    engine = make_engine(province.store_url)
    sessions = make_session_factory(engine)
    manager = province.credentials["demo_account_manager"]
    ids = {}
    for label, uscc in (
        ("own", own_firm(province, manager.staff_id)),
        ("other", other_branch_firm(province, {manager.branch_id})),
    ):
        application_id = str(uuid.uuid4())
        with sessions.begin() as session:
            branch = session.get(Enterprise, uscc).branch_id  # booked where the firm is
            session.add(
                LoanApplication(
                    application_id=application_id,
                    idempotency_key=f"web-{label}-{application_id[:8]}",
                    request_hash="0" * 64,
                    channel="wechat",
                    uscc=uscc,
                    requested_product="xiaowei_edai",
                    branch_id=branch,
                    state="referred",
                    version=1,
                    decision_outcome="refer",
                    decision={"reasons": ["评分属 C 档, 转人工审批"]},
                    created_at=T0,
                    updated_at=T0,
                )
            )
            session.flush()
            session.add(
                ApplicationTransition(
                    application_id=application_id,
                    seq=1,
                    from_state="screened",
                    to_state="referred",
                    action="decide",
                    occurred_at=T0,
                    actor="system",
                    detail={"outcome": "refer"},
                )
            )
            session.add(
                ManualReview(
                    application_id=application_id,
                    queued_at=T0,
                    reason="score band C is referred",
                    branch_id=branch,
                )
            )
        ids[label] = application_id
    app = create_app(
        Settings(data_dir=province.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    # Reviews need only the store side of origination (no snapshot, no sentinel).
    service = OriginationService(sessions, None, AcceptAnyConsent())  # type: ignore[arg-type]
    app.state.origination = Origination(engine, None, service, None)  # type: ignore[arg-type]
    yield app, ids
    engine.dispose()


def test_an_account_manager_sees_only_applications_of_the_branch(world, province) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    client = signed_in(app, province, "demo_account_manager")
    listing = client.get("/applications")
    assert listing.status_code == 200
    assert ids["own"][:8] in listing.text and ids["other"][:8] not in listing.text
    assert client.get(f"/applications/{ids['own']}").status_code == 200
    assert client.get(f"/applications/{ids['other']}").status_code == 404
    assert client.get("/reviews").status_code == 403


def test_a_risk_officer_resolves_a_referral_with_a_note_and_is_the_reviewer_on_record(
    world,  # type: ignore[no-untyped-def]
    province,  # type: ignore[no-untyped-def]
) -> None:
    app, ids = world
    client = signed_in(app, province, "demo_risk_officer")
    queue = client.get("/reviews")
    assert ids["own"][:8] in queue.text and ids["other"][:8] in queue.text
    page = client.get(f"/applications/{ids['other']}")
    csrf = CSRF.search(page.text).group(1)
    path = f"/applications/{ids['other']}/review"
    no_note = client.post(path, data={"csrf": csrf, "resolution": "approve", "note": " "})
    assert no_note.status_code == 422
    forged = client.post(path, data={"csrf": "forged", "resolution": "approve", "note": "ok"})
    assert forged.status_code == 403
    done = client.post(
        path,
        data={"csrf": csrf, "resolution": "decline", "note": "营业额与用电不符"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get(f"/applications/{ids['other']}")
    assert 'data-testid="state">declined' in after.text
    officer = province.credentials["demo_risk_officer"].staff_id
    assert officer in after.text and "营业额与用电不符" in after.text
    assert ids["other"][:8] not in client.get("/reviews").text


def test_the_firm_profile_shows_its_related_party_graph_and_warning_history(
    world, province
) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from puhui.data.store.alarm_tables import AlarmWarning

    app, _ = world
    manager = province.credentials["demo_account_manager"]
    uscc = own_firm(province, manager.staff_id)
    engine = make_engine(province.store_url)
    try:
        with make_session_factory(engine).begin() as session:
            warning = AlarmWarning(
                uscc=uscc,
                status="open",
                level="orange",
                opened_on=date(2026, 6, 3),
                updated_on=date(2026, 6, 10),
                score=61.0,
                veto=False,
                pd_6m=0.083,
                conditions=["tax_revenue_drop_3m", "court_defendant_new"],
                evidence=[],
                missing_sources=[],
                branch_id=manager.branch_id,
                account_manager_id=manager.staff_id,
            )
            session.add(warning)
            session.flush()
            warning_id = warning.id
    finally:
        engine.dispose()
    try:
        page = signed_in(app, province, "demo_account_manager").get(f"/firms/{uscc}")
    finally:  # the province is shared with the alarm tests: leave no warning behind
        engine = make_engine(province.store_url)
        with make_session_factory(engine).begin() as session:
            session.delete(session.get(AlarmWarning, warning_id))
        engine.dispose()
    assert page.status_code == 200
    graph = page.text.split('data-testid="related-graph"')[1].split("</figure>")[0]
    assert 'class="node node-person"' in graph  # the legal representative, masked
    assert "*" in graph
    history = page.text.split('data-testid="warning-history"')[1].split("</section>")[0]
    assert f'href="/alarm/warnings/{warning_id}"' in history
    assert "orange" in history and "8.3%" in history and "tax_revenue_drop_3m" in history
