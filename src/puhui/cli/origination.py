"""``puhui products …`` and ``puhui applications …``: the product factory and origination.

Registered with one ``app.add_typer(origination.app)`` (no name): its two groups, ``products``
and ``applications``, appear at the top level.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from puhui.actions.origination.batch import BatchResult, run_batch, simulated_applications
from puhui.actions.origination.decisioning import DEFAULT_MODEL_NAME
from puhui.actions.origination.wiring import Origination, open_origination
from puhui.actions.servicing.portfolio import branch_figures, load_positions
from puhui.cli.context import console, current_settings
from puhui.data.lake import Lake
from puhui.decisions.engine import Decision
from puhui.settings import Settings

app = typer.Typer(no_args_is_help=True)
products_app = typer.Typer(
    no_args_is_help=True, help="产品工厂 · the product catalog and matching."
)
applications_app = typer.Typer(
    no_args_is_help=True, help="进件 · applications: batches, review queue, servicing, portfolio."
)
app.add_typer(products_app, name="products")
app.add_typer(applications_app, name="applications")

ModelOption = Annotated[
    str, typer.Option("--model", help="冠军模型名 · champion model used for scoring")
]


def _open(model: str = DEFAULT_MODEL_NAME, *, simulated_consent: bool = False) -> Origination:
    return open_origination(
        current_settings(), model_name=model, simulated_consent=simulated_consent
    )


@products_app.command("list")
def list_products() -> None:
    """产品目录 · the products, their terms, limits and price bounds."""
    from puhui.decisions.products.spec import load_product_catalog

    catalog = load_product_catalog()
    table = Table(title=f"产品目录 catalog {catalog.catalog_version}")
    table.add_column("code", no_wrap=True)
    for column in ("产品", "kind", "terms (months)", "repayment", "limit", "rate bp"):
        table.add_column(column)
    for p in catalog.products:
        table.add_row(
            p.code,
            p.zh,
            p.kind,
            ", ".join(map(str, p.term_months)),
            ", ".join(m.value for m in p.repayment_methods),
            f"{p.limit.min_amount:,.0f}–{p.limit.max_amount:,.0f}",
            f"{p.pricing.floor_bp}–{p.pricing.cap_bp}",
        )
    console.print(table)


@products_app.command("match")
def match(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码 · USCC")],
    product: Annotated[str | None, typer.Option("--product", help="申请产品")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the API's JSON body")] = False,
    model: ModelOption = DEFAULT_MODEL_NAME,
) -> None:
    """产品匹配 · every product a firm qualifies for, ranked, and why not the others."""
    runtime = _open(model)
    try:
        decision = runtime.decisions.decide(uscc, requested_product=product)
    finally:
        runtime.close()
    if as_json:
        console.print_json(json.dumps(decision.to_dict(), ensure_ascii=False))
        return
    render_decision(decision, console)


def render_decision(decision: Decision, out: Console) -> None:
    body = decision.to_dict()
    out.print(
        f"[bold]{decision.uscc}[/] as of {body['as_of']}: [bold]{body['outcome']}[/] · "
        f"score {body['score']} band {body['band']} ({body['score_source']}) · "
        f"LPR {body['lpr_bp']} bp · catalog {body['catalog_version']}",
        highlight=False,
    )
    table = Table(title="产品 offers")
    for column in ("#", "产品", "limit", "rate bp", "= LPR + premium + spread − discounts", "term"):
        table.add_column(column)
    for offer in body["offers"]:
        discounts = sum(d["bp"] for d in offer["discounts"])
        table.add_row(
            str(offer["rank"]),
            f"{offer['name']} {offer['product']}",
            f"{float(offer['limit']):,.0f}",
            str(offer["rate_bp"]),
            f"{offer['lpr_bp']} + {offer['risk_premium_bp']} + {offer['product_spread_bp']} "
            f"− {discounts}" + (f" ({offer['rate_clamped']})" if offer["rate_clamped"] else ""),
            f"{offer['term_months']}m {offer['repayment_method']}",
        )
    out.print(table)
    for rejection in body["rejections"]:
        out.print(f"✗ {rejection['name']} {rejection['product']}: {rejection['reasons'][0]}")
    for reason in body["reasons"]:
        out.print(f"· {reason}", highlight=False)
    for note in body["notes"]:
        out.print(f"[dim]note: {note}[/]")


@applications_app.command("run-batch")
def run_batch_command(
    limit: Annotated[int, typer.Option("--limit", help="申请数 · applications to decide")] = 2000,
    persist: Annotated[
        int, typer.Option("--persist", help="how many also go through the store's state machine")
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", help="随机种子")] = 7,
    model: ModelOption = DEFAULT_MODEL_NAME,
) -> None:
    """批量进件 · decide a batch of simulated applications; persist the first ``--persist``.

    Consents are simulated (any id accepted): this is a simulation, not real authorization.
    """
    settings = current_settings()
    _batch(settings, console, limit=limit, persist=persist, seed=seed, model=model)


def _batch(
    settings: Settings,
    out: Console,
    *,
    limit: int,
    persist: int,
    seed: int,
    model: str,
    real_consents: bool = False,
) -> BatchResult:
    """Decide ``limit`` applications in memory and drive ``persist`` through the store; with
    ``real_consents`` each persisted one is authorized by a verified, signed consent and its
    enterprise report is fetched through the bureau gateway."""
    if not real_consents:
        runtime = open_origination(settings, model_name=model, simulated_consent=True)
        consent_for = None
    else:
        settings = settings.model_copy(
            update={"bureau_staff_id": settings.bureau_staff_id or _online_query_user(settings)}
        )
        out.print(
            f"线上查询用户 online query user {settings.bureau_staff_id} (firms without an account "
            "manager; PUHUI_BUREAU_STAFF_ID in production)",
            highlight=False,
        )
        runtime = open_origination(settings, model_name=model)
        consent_for = _demo_consents(settings, runtime)
    try:
        requests = simulated_applications(
            Lake(settings.lake_dir), set(runtime.decisions.firms), limit=limit, seed=seed
        )
        if real_consents:
            requests = _verifiable_first(settings, requests, persist)
        result = run_batch(runtime, requests, persist=persist, seed=seed, consent_for=consent_for)
        render_batch(result, out)
        if real_consents:
            _print_bureau_queries(runtime, out)
    finally:
        runtime.close()
    return result


def _verifiable_first(settings: Settings, requests: list, persist: int) -> list:  # type: ignore[type-arg]
    """Put applications whose legal representative has a phone on file (needed for the
    three-factor check behind a consent) among the ``persist`` that go through the store."""
    with Lake(settings.lake_dir).connect() as connection:
        reachable = {
            row[0]
            for row in connection.execute(
                "select e.uscc from reg_enterprise e join reg_person p "
                "on p.person_id = e.legal_rep_id where p.phone is not null"
            ).fetchall()
        }
    first = [r for r in requests if r.uscc in reachable][:persist]
    chosen = {id(r) for r in first}
    return first + [r for r in requests if id(r) not in chosen]


def _online_query_user(settings: Settings) -> str:
    """Demo only: the head office's first risk officer queries for firms without a manager."""
    from sqlalchemy import select

    from puhui.cli.consent import store_sessions
    from puhui.data.store.tables import Staff

    with store_sessions(settings) as sessions, sessions() as session:
        staff_id = session.execute(
            select(Staff.staff_id)
            .where(Staff.role == "risk_officer", Staff.active)
            .order_by(Staff.staff_id)
            .limit(1)
        ).scalar_one_or_none()
    if staff_id is None:
        raise typer.BadParameter("no active risk officer in the store to query the bureau")
    return staff_id


def _demo_consents(settings: Settings, runtime: Origination):  # type: ignore[no-untyped-def]
    """Per application: verify the legal representative and sign a consent (cached per firm)."""
    from sqlalchemy import select

    from puhui.cli.consent import consent_service, verified_consent
    from puhui.data.store.tables import Enterprise

    sessions = runtime.origination.sessions
    consents = consent_service(settings, sessions, signing=True)
    granted: dict[str, str] = {}

    def consent_for(request):  # type: ignore[no-untyped-def]
        if request.uscc not in granted:
            with sessions() as session:
                manager = session.execute(
                    select(Enterprise.account_manager_id).where(Enterprise.uscc == request.uscc)
                ).scalar_one_or_none()
            staff_id = manager or settings.bureau_staff_id
            grant = verified_consent(
                settings, sessions, consents, uscc=request.uscc, staff_id=staff_id
            )
            granted[request.uscc] = grant.consent_id
        return granted[request.uscc]

    return consent_for


def _print_bureau_queries(runtime: Origination, out: Console) -> None:
    from sqlalchemy import func, select

    from puhui.data.store.consent_tables import BureauQuery

    with runtime.origination.sessions() as session:
        rows = session.execute(
            select(BureauQuery.outcome, func.count()).group_by(BureauQuery.outcome)
        ).all()
    out.print(
        "征信查询 bureau queries through the consent gateway: "
        + ", ".join(f"{outcome} {count}" for outcome, count in sorted(rows)),
        highlight=False,
    )


def render_batch(result: BatchResult, out: Console) -> None:
    table = Table(title="批量进件 simulated applications by requested product")
    for column in (
        "product",
        "applications",
        "approved",
        "referred",
        "approval",
        "avg limit",
        "avg rate bp",
    ):
        table.add_column(column, justify="right")
    for line in [*sorted(result.lines.values(), key=lambda line: -line.applications), result.total]:
        table.add_row(
            line.product,
            f"{line.applications:,}",
            f"{line.approved:,}",
            f"{line.referred:,}",
            f"{line.approval_rate:.1%}",
            f"{line.average_limit:,.0f}",
            f"{line.average_rate_bp:.0f}",
        )
    out.print(table)
    total = result.total.applications
    out.print(
        f"decided {total:,} in {result.decided_seconds * 1000:,.0f} ms "
        f"({result.decided_seconds / max(total, 1) * 1e6:,.0f} µs each); "
        f"persisted {result.persisted} through the state machine in "
        f"{result.persisted_seconds:,.1f} s: {dict(sorted(result.persisted_states.items()))}",
        highlight=False,
    )
    if result.score_note:
        out.print(f"[yellow]score: {result.score_note}[/]")
    if result.sentinel_note:
        out.print(f"[yellow]sentinel: {result.sentinel_note}[/]")


def demo_origination(settings: Settings, out: Console) -> BatchResult:
    """Demo hook: 2,000 of the lake's latest applications decided, 60 through the store, each
    under a verified, signed consent with its credit report fetched through the gateway."""
    return _batch(
        settings, out, limit=2000, persist=60, seed=7, model=DEFAULT_MODEL_NAME, real_consents=True
    )


@applications_app.command("review-queue")
def review_queue(
    branch: Annotated[str | None, typer.Option("--branch", help="支行 · branch id")] = None,
) -> None:
    """人工审批队列 · open manual reviews, oldest first."""
    runtime = _open()
    try:
        items = runtime.origination.review_queue(branch)
    finally:
        runtime.close()
    table = Table(title=f"人工审批 manual review ({len(items)})")
    for column in ("application", "queued", "branch", "reason"):
        table.add_column(column)
    for item in items:
        table.add_row(
            item.application_id,
            item.queued_at.isoformat(timespec="seconds"),
            item.branch_id or "-",
            item.reason,
        )
    console.print(table)


@applications_app.command("refresh")
def refresh(
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD; default today")] = "",
) -> None:
    """贷后刷新 · days past due and 五级分类 for every open loan."""
    day = date.fromisoformat(as_of) if as_of else date.today()
    runtime = _open()
    try:
        summary = runtime.servicing.refresh(day)
    finally:
        runtime.close()
    console.print(
        f"{summary.loans} open loans as of {day}: {summary.overdue} overdue, "
        f"{summary.defaulted} defaulted",
        highlight=False,
    )


@applications_app.command("portfolio")
def portfolio() -> None:
    """普惠口径 · balance, borrowers, first-loan borrowers and NPL ratio by branch."""
    runtime = _open()
    try:
        with runtime.origination.sessions() as session:
            rows = branch_figures(load_positions(session))
    finally:
        runtime.close()
    table = Table(title="普惠型小微贷款 portfolio by branch")
    table.add_column("branch", no_wrap=True)
    for column in ("loans", "balance", "borrowers", "首贷户", "NPL", "NPL ratio", "普惠 balance"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row.branch_id,
            str(row.loans),
            f"{row.balance:,.2f}",
            str(row.borrowers),
            str(row.first_loan_borrowers),
            f"{row.npl_balance:,.2f}",
            f"{row.npl_ratio:.2%}",
            f"{row.inclusive_balance:,.2f}",
        )
    console.print(table)
