"""A built list in the store and on disk (名单批次): the run row, its listed prospects, and the
whole scored universe (every firm with its status and exclusion reasons) as Parquet under
``<data_dir>/marketing/<run_id>/universe.parquet``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from puhui.actions.marketing.build import RunSummary, listed_rows
from puhui.data.store.audit import append_audit
from puhui.data.store.marketing_tables import MarketingProspect, MarketingRun, RunStatus
from puhui.data.store.types import to_money
from puhui.errors import PuhuiError

UNIVERSE_FILE = "universe.parquet"
_INSERT_BATCH = 5000


class UnknownRunError(PuhuiError):
    """No marketing run with that id (or none at all); names what was asked for."""


def run_id_for(as_of: date, created_at: datetime) -> str:
    return f"MKT{as_of:%Y%m%d}-{created_at:%H%M%S%f}"[:32]


def universe_path(data_dir: Path, run_id: str) -> Path:
    return data_dir / "marketing" / run_id / UNIVERSE_FILE


def _money(value: float | None) -> Decimal:
    return to_money(Decimal(repr(round(float(value or 0.0), 2))))


def save_run(
    session: Session,
    data_dir: Path,
    frame: pl.DataFrame,
    summary: RunSummary,
    *,
    as_of: date,
    config_version: str,
    catalog_version: str,
    model_versions: dict[str, str],
    actor: str,
    actor_role: str,
    now: datetime,
) -> MarketingRun:
    """Write the universe file, the run and its listed prospects, and audit the build."""
    run_id = run_id_for(as_of, now)
    path = universe_path(data_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.select([c for c in frame.columns if not c.startswith("_")]).write_parquet(path)
    run = MarketingRun(
        run_id=run_id,
        as_of=as_of,
        status=RunStatus.BUILT.value,
        config_version=config_version,
        catalog_version=catalog_version,
        model_versions=model_versions,
        universe=summary.universe,
        prospects=summary.prospects,
        first_loan=summary.first_loan,
        excluded=summary.excluded,
        listed=summary.listed,
        total_value=_money(summary.total_value),
        summary=summary.as_dict(),
        artifact_dir=str(path.parent),
        created_by=actor,
        created_at=now,
    )
    session.add(run)
    session.flush()
    rows = listed_rows(frame)
    batch: list[dict[str, Any]] = []
    for row in rows.iter_rows(named=True):
        batch.append(
            {
                "run_id": run_id,
                "uscc": row["uscc"],
                "name": (row["name"] or "")[:200],
                "division_code": row["division_code"],
                "outlet_id": row["outlet_id"],
                "themes": (row["themes"] or "")[:200],
                "first_loan": bool(row["first_loan"]),
                "pd": float(row["pd"]),
                "p_takeup": float(row["p_takeup"]),
                "product_code": row["offer_product"],
                "offer_limit": _money(row["offer_limit"]),
                "rate_bp": int(row["offer_rate_bp"]),
                "expected_balance": _money(row["expected_balance"]),
                "margin_bp": int(row["margin_bp"]),
                "expected_value": _money(row["expected_value"]),
                "rank": int(row["rank"]),
                "decile": int(row["decile"]),
            }
        )
        if len(batch) >= _INSERT_BATCH:
            session.execute(MarketingProspect.__table__.insert(), batch)
            batch = []
    if batch:
        session.execute(MarketingProspect.__table__.insert(), batch)
    append_audit(
        session,
        actor=actor,
        actor_role=actor_role,
        action="marketing.build",
        subject_type="marketing_run",
        subject_id=run_id,
        detail={
            "as_of": as_of.isoformat(),
            "listed": summary.listed,
            "excluded": summary.excluded,
            "models": model_versions,
        },
        occurred_at=now,
    )
    return run


def get_run(session: Session, run_id: str | None) -> MarketingRun:
    """The run ``run_id``, or the latest when None."""
    if run_id:
        run = session.get(MarketingRun, run_id)
        if run is None:
            raise UnknownRunError(f"no marketing run {run_id!r}; see `puhui marketing runs`")
        return run
    run = session.scalars(
        select(MarketingRun).order_by(MarketingRun.created_at.desc()).limit(1)
    ).first()
    if run is None:
        raise UnknownRunError("no marketing run yet; run `puhui marketing build --as-of D`")
    return run


def load_universe_file(run: MarketingRun) -> pl.DataFrame:
    path = Path(run.artifact_dir) / UNIVERSE_FILE
    if not path.exists():
        raise UnknownRunError(f"run {run.run_id}: its universe file {path} is missing")
    return pl.read_parquet(path)
