"""``puhui consent``: record, revoke, list and verify credit-report consents; rotate keys.

Personal data is masked in everything printed. The signing key file defaults to
``<data_dir>/keys/consent_ed25519.json`` (0600); ``PUHUI_CONSENT_KEY_FILE`` names another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.consent import keyfile
from puhui.actions.consent.keyfile import KeyFile
from puhui.actions.consent.records import ConsentError, ConsentGrant, ConsentScope
from puhui.actions.consent.service import ConsentService, GrantRequest
from puhui.cli.context import console, current_settings
from puhui.data.identifiers import mask_id_number
from puhui.data.store.engine import make_engine, make_session_factory
from puhui.data.store.migrate import require_up_to_date
from puhui.data.store.tables import utc_now
from puhui.settings import Settings

app = typer.Typer(no_args_is_help=True)
keys_app = typer.Typer(no_args_is_help=True)
app.add_typer(keys_app, name="keys", help="签名密钥 · consent signing keys.")


class ConsentLogTamperedError(ConsentError):
    """``puhui consent verify`` found a tampered entry or a query beyond its consent."""


def consent_key_file(settings: Settings) -> KeyFile:
    """The signing key file: ``PUHUI_CONSENT_KEY_FILE`` or ``<data_dir>/keys/...``."""
    return keyfile.consent_key_file(settings.data_dir)


@contextmanager
def store_sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on the migrated store, disposed at the end."""
    engine = make_engine(settings.resolved_store_url)
    try:
        require_up_to_date(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def consent_service(
    settings: Settings, sessions: sessionmaker[Session], *, signing: bool
) -> ConsentService:
    """The consent service; with ``signing`` the key file is created on first use."""
    keys = consent_key_file(settings)
    signer = keys.ensure(utc_now()) if signing else None
    return ConsentService(sessions, keys.keyring(), signer=signer)


def _legal_rep(settings: Settings, uscc: str) -> tuple[str, str, str | None]:
    """The firm's legal representative from the registration lake: id, name, phone."""
    from puhui.data.lake import Lake

    lake = Lake(settings.lake_dir)
    with lake.connect() as connection:
        row = connection.execute(
            "select p.person_id, p.name, p.phone from reg_enterprise e "
            "join reg_person p on p.person_id = e.legal_rep_id where e.uscc = ?",
            [uscc],
        ).fetchone()
    if row is None:
        raise ConsentError(f"firm {uscc} or its legal representative is not in the lake")
    return row[0], row[1], row[2]


@app.command("grant")
def grant_command(
    staff: Annotated[str, typer.Option("--staff", help="工号 · staff member taking the consent")],
    uscc: Annotated[str | None, typer.Option("--uscc", help="统一社会信用代码 · the firm")] = None,
    person_id: Annotated[
        str | None,
        typer.Option("--person-id", help="身份证号 · the person (default: the legal rep)"),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="姓名 · for three-factor")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="手机号 · for three-factor")] = None,
    from_lake: Annotated[
        bool,
        typer.Option(
            "--from-lake", help="Demo only: take name and phone from the lake's registry."
        ),
    ] = False,
    scope: Annotated[
        list[ConsentScope] | None, typer.Option("--scope", help="授权范围 · repeatable")
    ] = None,
    purpose: Annotated[str, typer.Option("--purpose", help="查询用途")] = "贷前审查 loan approval",
    channel: Annotated[str, typer.Option("--channel", help="渠道")] = "online",
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="有效期（天）")] = 90,
    face_reference: Annotated[
        Path | None, typer.Option("--face-reference", help="reference photo (JPEG/PNG)")
    ] = None,
    face_frame: Annotated[
        list[Path] | None, typer.Option("--face-frame", help="live frame; repeat ≥ 3 times")
    ] = None,
) -> None:
    """授权 · Verify the subject (three-factor, optional face) and record a signed consent."""
    from puhui.adapters.identity.attempts import GuardedVerifier, StoreAttemptLog
    from puhui.adapters.identity.local import (
        LocalIdentityProvider,
        RegisteredPerson,
        registry_from_lake,
    )
    from puhui.adapters.identity.provider import FaceRequest, ThreeFactorRequest

    settings = current_settings()
    scopes = scope or [ConsentScope.ENTERPRISE_REPORT]
    if person_id is None:
        if uscc is None:
            raise ConsentError("name the subject: --uscc and/or --person-id")
        person_id = _legal_rep(settings, uscc)[0]
    # Offline three-factor: checked against the registration lake's persons.
    registry: dict[str, RegisteredPerson] = registry_from_lake(settings.lake_dir)
    on_file = registry.get(person_id)
    if from_lake and on_file is not None:
        name, phone = name or on_file.name, phone or on_file.phone
    if not name or not phone:
        raise ConsentError("three-factor check needs --name and --phone (or --from-lake in demos)")
    with store_sessions(settings) as sessions:
        verifier = GuardedVerifier(LocalIdentityProvider(registry), StoreAttemptLog(sessions))
        results = [
            verifier.three_factors(
                ThreeFactorRequest(name, person_id, phone), staff_id=staff, channel=channel
            )
        ]
        if face_reference is not None:
            frames = [path.read_bytes() for path in face_frame or []]
            request = FaceRequest(face_reference.read_bytes(), frames)
            results.append(
                verifier.face(request, id_number=person_id, staff_id=staff, channel=channel)
            )
        for result in results:
            console.print(
                f"{result.kind.value}: {result.outcome.value} ({result.reason})", highlight=False
            )
        failed = [r for r in results if not r.passed]
        if failed:
            raise ConsentError(
                f"identity verification failed ({failed[0].kind.value}: {failed[0].reason}); "
                "no consent recorded"
            )
        grant = consent_service(settings, sessions, signing=True).grant(
            GrantRequest(
                scopes=scopes,
                purpose=purpose,
                staff_id=staff,
                channel=channel,
                evidence=[result.evidence() for result in results],
                subject_uscc=uscc,
                subject_person_id=person_id,
                validity=timedelta(days=days),
            )
        )
    console.print(
        f"consent {grant.consent_id} recorded for {uscc or ''} {grant.masked_person_id} "
        f"({', '.join(s.value for s in grant.scopes)}), valid until "
        f"{grant.valid_until:%Y-%m-%d %H:%M} UTC, signed by key {grant.key_id}",
        highlight=False,
    )


@app.command("revoke")
def revoke_command(
    consent_id: Annotated[str, typer.Argument(help="授权编号 · consent id")],
    staff: Annotated[str, typer.Option("--staff", help="工号 · who records the revocation")],
    reason: Annotated[str, typer.Option("--reason", help="撤销原因")] = "客户撤回 subject withdrew",
) -> None:
    """撤销 · Append a signed revocation; the consent stops allowing queries at once."""
    settings = current_settings()
    with store_sessions(settings) as sessions:
        revocation = consent_service(settings, sessions, signing=True).revoke(
            consent_id, staff_id=staff, reason=reason
        )
    console.print(f"consent {consent_id} revoked at {revocation.revoked_at.isoformat()}")


@app.command("list")
def list_command(
    uscc: Annotated[str | None, typer.Option("--uscc", help="only this firm")] = None,
) -> None:
    """列表 · Consents and their status now (identity numbers masked)."""
    settings = current_settings()
    with store_sessions(settings) as sessions:
        report = consent_service(settings, sessions, signing=False).verify()
    table = Table(title="consents", title_justify="left")
    table.add_column("consent", no_wrap=True, min_width=36)
    table.add_column("firm", no_wrap=True, min_width=18)
    for column in ("person", "scopes", "staff", "valid until", "status"):
        table.add_column(column)
    for state in report.consents:
        grant = state.grant
        if uscc and grant.subject_uscc != uscc:
            continue
        table.add_row(
            grant.consent_id,
            grant.subject_uscc or "",
            grant.masked_person_id,
            ", ".join(s.value for s in grant.scopes),
            grant.staff_id,
            f"{grant.valid_until:%Y-%m-%d}",
            state.status.value,
        )
    console.print(table)


@app.command("verify")
def verify_command() -> None:
    """校验 · Check the whole chain, every signature, statuses, and every query's consent."""
    settings = current_settings()
    with store_sessions(settings) as sessions:
        report = consent_service(settings, sessions, signing=False).verify()
    print_ledger_report(report, console)
    if not report.ok:
        failing = [p for p in report.problems if p.kind in {"tampered", "out_of_scope"}]
        raise ConsentLogTamperedError(
            f"consent log verification failed: {len(failing)} problem(s); first: "
            f"{failing[0].message if failing else report.chain.reason}"
        )


def print_ledger_report(report, out: Console) -> None:  # type: ignore[no-untyped-def]
    """The chain result, status counts and each problem, PII-free."""
    counts: dict[str, int] = {}
    for state in report.consents:
        counts[state.status.value] = counts.get(state.status.value, 0) + 1
    chain = "intact" if report.chain.ok else f"BROKEN: {report.chain.reason}"
    out.print(f"consent log: {report.entries} entries, chain {chain}", highlight=False)
    out.print(
        "consents: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"),
        highlight=False,
    )
    if report.problems:
        table = Table(title="findings", title_justify="left")
        for column in ("kind", "entry", "consent", "detail"):
            table.add_column(column)
        for problem in report.problems:
            table.add_row(
                problem.kind.value,
                str(problem.entry_id or ""),
                problem.consent_id or "",
                problem.message,
            )
        out.print(table)


@keys_app.command("rotate")
def rotate_command() -> None:
    """轮换 · Retire the active signing key and start a new one (creates the file if absent)."""
    keys = consent_key_file(current_settings())
    now = utc_now()
    if not keys.exists():
        signer = keys.create(now)
        console.print(f"created key file {keys.path} with key {signer.key_id}")
        return
    old = keys.signer().key_id
    signer = keys.rotate(now)
    console.print(f"key {old} retired; new signing key {signer.key_id} in {keys.path}")


@keys_app.command("list")
def keys_list_command() -> None:
    """密钥 · Public keys and their validity windows."""
    keys = consent_key_file(current_settings())
    table = Table(title=str(keys.path), title_justify="left")
    for column in ("key id", "valid from", "valid until", "public key"):
        table.add_column(column)
    for key in keys.keyring():
        table.add_row(
            key.key_id,
            key.valid_from.isoformat(),
            key.valid_until.isoformat() if key.valid_until else "(active)",
            key.public_key.hex()[:16] + "…",
        )
    console.print(table)


def demo_authorization(settings: Settings, out: Console) -> None:
    """Demo: verify a firm's legal representative (three-factor, offline), record a consent,
    serve one authorized enterprise report, and show a query without consent being refused.

    Needs the lake and a seeded store (``puhui demo`` steps 1–3).
    """
    from sqlalchemy import select

    from puhui.actions.consent.service import ConsentRequiredError
    from puhui.adapters.bureau.gateway import BureauGateway
    from puhui.adapters.bureau.simulated import SimulatedBureau
    from puhui.data.lake import Lake
    from puhui.data.store.tables import Enterprise

    with Lake(settings.lake_dir).connect() as connection:
        borrowing = {
            row[0]: row[1]
            for row in connection.execute(
                "select uscc, max(lender_count) > 0 from bureau_enterprise_monthly group by uscc"
            ).fetchall()
        }
    with store_sessions(settings) as sessions:
        with sessions() as session:
            customers = [
                firm
                for firm in session.execute(
                    select(Enterprise)
                    .where(Enterprise.is_customer, Enterprise.account_manager_id.is_not(None))
                    .order_by(Enterprise.uscc)
                    .limit(500)
                ).scalars()
                if firm.uscc in borrowing
            ]
            # A firm with loans on file makes a more telling report.
            customers.sort(key=lambda firm: not borrowing[firm.uscc])
        if len(customers) < 2:
            raise ConsentError("the demo needs two bank customers with bureau records")
        firm, other = customers[0], customers[1]
        assert firm.account_manager_id is not None and other.account_manager_id is not None
        consents = consent_service(settings, sessions, signing=True)
        verified_consent(
            settings, sessions, consents, uscc=firm.uscc, staff_id=firm.account_manager_id, out=out
        )
        gateway = BureauGateway(SimulatedBureau(settings.lake_dir), sessions, consents)
        answer = gateway.enterprise_report(
            staff_id=firm.account_manager_id, uscc=firm.uscc, purpose="贷前审查 loan approval"
        )
        report = answer.report
        out.print(
            f"[green]authorized[/green] query {answer.query_id}: enterprise report of "
            f"{firm.uscc} as of {report.as_of} (month {report.report_month}): "
            f"{report.lender_count} lenders, balance ¥{report.loan_balance:,}, "
            f"overdue ¥{report.overdue_amount:,}, {report.queries_last_12_months} queries in "
            f"12 months; {answer.result_size} bytes logged under consent {answer.consent_id}",
            highlight=False,
        )
        try:
            gateway.enterprise_report(
                staff_id=other.account_manager_id, uscc=other.uscc, purpose="贷前审查 loan approval"
            )
        except ConsentRequiredError as error:
            out.print(f"[red]refused[/red] query for {other.uscc}: {error}", highlight=False)
        else:  # pragma: no cover - would mean the gateway let a query through without consent
            raise ConsentError(f"the gateway served {other.uscc} without a consent")


def verified_consent(
    settings: Settings,
    sessions: sessionmaker[Session],
    consents: ConsentService,
    *,
    uscc: str,
    staff_id: str,
    out: Console | None = None,
) -> ConsentGrant:
    """Demo: verify the firm's legal representative (three factors, offline) and record a
    consent to both reports with that evidence, as the online authorization page would."""
    from puhui.adapters.identity.attempts import GuardedVerifier, StoreAttemptLog
    from puhui.adapters.identity.local import LocalIdentityProvider, RegisteredPerson
    from puhui.adapters.identity.provider import ThreeFactorRequest

    person_id, name, phone = _legal_rep(settings, uscc)
    if not phone:
        raise ConsentError(f"legal representative of {uscc} has no phone on file")
    verifier = GuardedVerifier(
        LocalIdentityProvider({person_id: RegisteredPerson(name, phone)}),
        StoreAttemptLog(sessions),
    )
    result = verifier.three_factors(
        ThreeFactorRequest(name, person_id, phone), staff_id=staff_id, channel="online"
    )
    grant = consents.grant(
        GrantRequest(
            scopes=[ConsentScope.ENTERPRISE_REPORT, ConsentScope.PERSONAL_REPORT],
            purpose="贷前审查 loan approval",
            staff_id=staff_id,
            channel="online",
            evidence=[result.evidence()],
            subject_uscc=uscc,
            subject_person_id=person_id,
        )
    )
    if out is not None:
        out.print(
            f"三要素核验 three-factor check of {mask_id_number(person_id)}: "
            f"{result.outcome.value}; 授权 consent {grant.consent_id} for {uscc} signed by key "
            f"{grant.key_id}",
            highlight=False,
        )
    return grant
