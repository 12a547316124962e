"""The daily scan (每日预警扫描): every borrower against the signal library and the EW-PD.

Stages, each checkpointed so a crashed scan resumes where it stopped:

1. ``assessed``: feeds checked (a missing feed is recorded and its signals left unknown),
   signals evaluated on the engine, PDs scored, one assessment per borrower; written to
   ``<data>/alarm/scans/<date>/`` before the store records the stage.
2. ``applied``: borrowers in USCC order, a chunk per transaction: warnings opened, escalated,
   de-escalated or closed, level history, tasks; ``applied_through`` moves with each chunk in
   the same transaction, so a chunk is applied exactly once.
3. ``done``: overdue tasks escalated, notifications sent (once per task, channel and kind).

A date already done is a no-op, and every row has a unique key per date, so a re-run adds no
duplicate warnings or tasks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.alarm.ewpd import PD_COLUMNS, EarlyWarningPD
from puhui.actions.alarm.feeds import FeedCheck, FeedStatus
from puhui.actions.alarm.lasting import earlier_shares
from puhui.actions.alarm.notify import Notifier
from puhui.actions.alarm.runner import ScanEngine
from puhui.actions.alarm.tasks import TaskDesk
from puhui.data.lake import Lake
from puhui.data.store.alarm_tables import (
    AlarmFeed,
    AlarmLevelChange,
    AlarmScan,
    AlarmWarning,
    FeedState,
    ScanStatus,
    WarningStatus,
)
from puhui.data.store.audit import SYSTEM_ACTOR, append_audit
from puhui.data.store.tables import utc_now
from puhui.decisions.alarm.combine import Weights, assess, deduplicate, signal_frame
from puhui.decisions.alarm.compiler import compile_scan
from puhui.decisions.alarm.policy import LevelPolicy
from puhui.decisions.alarm.spec import SignalLibrary
from puhui.decisions.alarm.transitions import OpenWarning, Today, decide
from puhui.errors import PuhuiError
from puhui.observability.metrics import WARNINGS

STAGES = ("started", "assessed", "applied", "done")
CHUNK = 5000


class ScanOrderError(PuhuiError):
    """A scan date before the latest finished scan: warnings move forward in time only."""


@dataclass
class ScanSummary:
    scan_date: date
    resumed_from: str | None
    skipped: bool  # the date was already done
    borrowers: int = 0
    signals_fired: int = 0
    warnings_opened: int = 0
    warnings_changed: int = 0
    tasks_created: int = 0
    escalated: int = 0
    missing_feeds: list[str] = field(default_factory=list)
    missing_pd: list[str] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=dict)  # open warnings by level after it
    seconds: dict[str, float] = field(default_factory=dict)
    engine: str = ""
    reused: list[str] = field(default_factory=list)  # families read from the monthly cache


@dataclass
class AlarmScanner:
    """Wiring of one scan: lake, store, library, policy, weights, PD, engine, notifiers."""

    lake: Lake
    sessions: sessionmaker[Session]
    library: SignalLibrary
    policy: LevelPolicy
    lags: Mapping[str, int]
    work_dir: Path  # <data>/alarm
    feeds: FeedCheck
    ew_pd: EarlyWarningPD | None = None
    weights: Weights = field(default_factory=Weights.neutral)
    notifiers: Sequence[Notifier] = ()
    clock: Callable[[], datetime] = utc_now
    chunk: int = CHUNK
    # test hook: called after each applied chunk with its index (raise to simulate a crash)
    after_chunk: Callable[[int], None] | None = None

    # --- checkpoint ------------------------------------------------------------------------

    def _scan_dir(self, day: date) -> Path:
        return self.work_dir / "scans" / day.isoformat()

    def _begin(self, day: date, engine: str) -> tuple[AlarmScan | None, str | None]:
        with self.sessions.begin() as session:
            row = session.get(AlarmScan, day)
            if row is not None:
                session.expunge(row)
                return row, row.stage
            later = session.scalars(
                select(AlarmScan.scan_date)
                .where(AlarmScan.scan_date > day, AlarmScan.status == ScanStatus.DONE.value)
                .order_by(AlarmScan.scan_date.desc())
            ).first()
            if later is not None:
                raise ScanOrderError(
                    f"scan {day}: a later date ({later}) is already scanned; scans move forward"
                )
            session.add(
                AlarmScan(
                    scan_date=day,
                    engine=engine,
                    status=ScanStatus.RUNNING.value,
                    stage="started",
                    borrowers=0,
                    signals_fired=0,
                    warnings_opened=0,
                    warnings_changed=0,
                    tasks_created=0,
                    started_at=self.clock(),
                    detail={},
                )
            )
        return None, None

    def _set(self, session: Session, day: date, **values: Any) -> None:
        session.execute(update(AlarmScan).where(AlarmScan.scan_date == day).values(**values))

    # --- stage 1: assess -------------------------------------------------------------------

    def _record_feeds(self, day: date, feeds: list[FeedStatus]) -> None:
        with self.sessions.begin() as session:
            for status in feeds:
                row = session.get(AlarmFeed, (day, status.table)) or AlarmFeed(
                    scan_date=day, table_name=status.table
                )
                row.status = (FeedState.PRESENT if status.present else FeedState.MISSING).value
                row.expected_period = status.expected_period
                row.latest_period = status.latest_period
                session.add(row)

    def _carried(self, missing: set[str], usccs: Sequence[str] | None = None) -> pl.DataFrame:
        """Signals of open warnings whose source is missing today: kept, not cleared."""
        rows: list[dict[str, Any]] = []
        if missing:
            with self.sessions() as session:
                for uscc, evidence in session.execute(
                    select(AlarmWarning.uscc, AlarmWarning.evidence).where(
                        AlarmWarning.status == WarningStatus.OPEN.value
                    )
                ):
                    for item in evidence:
                        if item.get("source") in missing:
                            rows.append(
                                {
                                    "uscc": uscc,
                                    "signal_id": item["signal"],
                                    "value": float(item["value"]),
                                    "evidence_date": date.fromisoformat(item["date"]),
                                }
                            )
        return pl.DataFrame(
            rows,
            schema={
                "uscc": pl.String,
                "signal_id": pl.String,
                "value": pl.Float64,
                "evidence_date": pl.Date,
            },
        )

    def _assess(self, day: date, engine: ScanEngine, full: bool, summary: ScanSummary) -> None:
        import time

        started = time.perf_counter()
        feeds = self.feeds.check(day)
        self._record_feeds(day, feeds)
        missing = sorted(s.table for s in feeds if not s.present)
        summary.missing_feeds = missing
        plan = compile_scan(self.library, day, self.lags, skip_tables=missing)
        output = engine.run(plan, self.lake, self.work_dir / "cache", full)
        summary.reused = list(output.reused)
        summary.seconds["signals"] = time.perf_counter() - started
        started = time.perf_counter()
        population = output.population
        fired = output.fired
        carried = self._carried(set(missing))
        if carried.height:  # kept signals of missing sources, for borrowers still on the book
            carried = carried.join(population.select("uscc"), on="uscc", how="semi")
            fired = pl.concat([fired, carried], how="vertical").unique(
                ["uscc", "signal_id"], keep="first"
            )
        usccs = population["uscc"].to_list()
        pds = pl.DataFrame({"uscc": usccs}, schema={"uscc": pl.String})
        missing_pd: list[str] = ["no EW-PD models"]
        if self.ew_pd is not None:
            scoring = time.perf_counter()
            pds, missing_pd = self.ew_pd.score(day, usccs)
            summary.seconds["ew_pd"] = time.perf_counter() - scoring  # part of "assess"
        summary.missing_pd = missing_pd
        for column in PD_COLUMNS.values():
            if column not in pds.columns:
                pds = pds.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
        pd_column = PD_COLUMNS[self.policy.pd_horizon_months]
        evidence = deduplicate(fired, signal_frame(self.library, self.weights))
        terms = self.weights.terms
        lasting = (
            earlier_shares(self.work_dir / "scans", day, evidence, self.policy.persistence_days)
            if terms is not None and terms.persistence
            else None
        )
        assessment = assess(
            fired,
            self.library,
            self.policy,
            self.weights,
            pds.select("uscc", pl.col(pd_column).alias("pd")),
            deduplicated=evidence,
            persistence=lasting,
        )
        assessment = assessment.join(pds, on="uscc", how="left").join(
            population.select("uscc", "branch_id", "account_manager_id"), on="uscc", how="left"
        )
        folder = self._scan_dir(day)
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in (
            ("assessment", assessment),
            ("evidence", evidence),
            ("population", population),
        ):
            partial = folder / f"{name}.parquet.partial"
            frame.write_parquet(partial)
            partial.replace(folder / f"{name}.parquet")
        (folder / "meta.json").write_text(
            json.dumps(
                {
                    "missing_feeds": missing,
                    "missing_pd": missing_pd,
                    "reused": output.reused,
                    "computed": output.computed,
                }
            ),
            encoding="utf-8",
        )
        summary.seconds["assess"] = time.perf_counter() - started
        with self.sessions.begin() as session:
            self._set(
                session,
                day,
                stage="assessed",
                borrowers=population.height,
                signals_fired=output.fired.height,
                detail={"missing_feeds": missing, "missing_pd": missing_pd, "engine": engine.name},
            )

    # --- stage 2: apply --------------------------------------------------------------------

    def _evidence_items(self, rows: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
        by_id = self.library.by_id()
        out: dict[str, list[dict[str, Any]]] = {}
        for row in rows.iter_rows(named=True):
            signal = by_id[row["signal_id"]]
            out.setdefault(row["uscc"], []).append(
                {
                    "signal": signal.signal_id,
                    "zh": signal.zh,
                    "en": signal.en,
                    "value": round(float(row["value"]), 4),
                    "threshold": signal.threshold,
                    "date": row["evidence_date"].isoformat(),
                    "source": signal.table,
                    "grade": signal.grade,
                    "veto": signal.veto,
                }
            )
        for items in out.values():
            items.sort(
                key=lambda i: (
                    not i["veto"],
                    -["blue", "yellow", "orange", "red"].index(i["grade"]),
                    i["signal"],
                )
            )
        return out

    def _apply(self, day: date, summary: ScanSummary, desk: TaskDesk) -> None:
        folder = self._scan_dir(day)
        assessment = pl.read_parquet(folder / "assessment.parquet")
        evidence = pl.read_parquet(folder / "evidence.parquet").sort("uscc")
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        with self.sessions() as session:
            scan = session.get(AlarmScan, day)
            assert scan is not None
            through = scan.applied_through
            open_usccs = set(
                session.scalars(
                    select(AlarmWarning.uscc).where(AlarmWarning.status == WarningStatus.OPEN.value)
                )
            )
        todo = sorted(set(assessment["uscc"].to_list()) | open_usccs)
        if through is not None:
            todo = [u for u in todo if u > through]
        by_firm = {r["uscc"]: r for r in assessment.iter_rows(named=True)}
        for index, start in enumerate(range(0, len(todo), self.chunk)):
            chunk = todo[start : start + self.chunk]
            with self.sessions.begin() as session:
                opened, changed, tasks = self._apply_chunk(
                    session, day, chunk, by_firm, evidence, meta["missing_feeds"], desk
                )
                self._set(
                    session,
                    day,
                    applied_through=chunk[-1],
                    warnings_opened=AlarmScan.warnings_opened + opened,
                    warnings_changed=AlarmScan.warnings_changed + changed,
                    tasks_created=AlarmScan.tasks_created + tasks,
                )
            if self.after_chunk is not None:
                self.after_chunk(index)
        with self.sessions.begin() as session:
            self._set(session, day, stage="applied")

    def _apply_chunk(
        self,
        session: Session,
        day: date,
        chunk: list[str],
        by_firm: Mapping[str, Mapping[str, Any]],
        evidence: pl.DataFrame,
        missing_feeds: list[str],
        desk: TaskDesk,
    ) -> tuple[int, int, int]:
        """Decide every borrower of the chunk, then write only what moved, in bulk."""
        current = {
            row.uscc: row
            for row in session.execute(
                select(
                    AlarmWarning.id,
                    AlarmWarning.uscc,
                    AlarmWarning.level,
                    AlarmWarning.conditions,
                    AlarmWarning.below_since,
                    AlarmWarning.missing_sources,
                    AlarmWarning.account_manager_id,
                    AlarmWarning.branch_id,
                ).where(
                    AlarmWarning.status == WarningStatus.OPEN.value, AlarmWarning.uscc.in_(chunk)
                )
            )
        }
        moves = []
        for uscc in chunk:
            row = by_firm.get(uscc)
            today = (
                Today(row["level"], frozenset(row["conditions"] or ()), bool(row["veto"]))
                if row
                else None
            )
            warning = current.get(uscc)
            previous = (
                OpenWarning(warning.level, frozenset(warning.conditions), warning.below_since)
                if warning
                else None
            )
            move = decide(previous, today, day, self.policy)
            feeds_moved = warning is not None and sorted(warning.missing_sources) != sorted(
                missing_feeds
            )
            if move.action in ("none", "hold") and not feeds_moved:
                continue
            moves.append((uscc, row, warning, move))
        needed = [uscc for uscc, row, _, move in moves if row is not None]
        items = self._evidence_items(
            evidence.filter(pl.col("uscc").is_in(needed)) if needed else evidence.clear()
        )
        new_rows: list[dict[str, Any]] = []
        new_meta: list[tuple[str, str, str]] = []
        updates: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        escalated: list[tuple[int, str, str, str | None, str | None]] = []
        closed: list[int] = []
        for uscc, row, warning, move in moves:
            values = _warning_values(row, items.get(uscc, []), missing_feeds)
            if move.action == "open":
                assert row is not None
                new_rows.append(
                    {
                        "uscc": uscc,
                        "status": WarningStatus.OPEN.value,
                        "level": move.level,
                        "opened_on": day,
                        "updated_on": day,
                        "below_since": None,
                        "branch_id": row["branch_id"],
                        "account_manager_id": row["account_manager_id"],
                        **values,
                    }
                )
                new_meta.append((uscc, str(move.level), move.reason))
                continue
            assert warning is not None
            update_row: dict[str, Any] = {
                "id": warning.id,
                "updated_on": day,
                "missing_sources": list(missing_feeds),
            }
            if move.action not in ("none", "hold"):
                update_row["below_since"] = move.below_since
            if move.action == "close":
                update_row.update(status=WarningStatus.CLOSED.value, closed_on=day)
                closed.append(warning.id)
            elif move.action not in ("none", "hold"):
                update_row["level"] = str(move.level)
                if row is not None:
                    update_row.update(
                        {
                            k: v
                            for k, v in values.items()
                            if v or k not in ("conditions", "evidence")
                        }
                    )
            updates.append(update_row)
            if move.action in ("escalate", "deescalate", "close"):
                changes.append(
                    {
                        "warning_id": warning.id,
                        "scan_date": day,
                        "action": move.action,
                        "from_level": warning.level,
                        "to_level": move.level,
                        "reason": move.reason[:300],
                    }
                )
            if move.new_task:
                escalated.append(
                    (
                        warning.id,
                        uscc,
                        str(move.level),
                        warning.account_manager_id,
                        warning.branch_id,
                    )
                )
        if updates:
            session.execute(update(AlarmWarning), updates)
        if closed:
            desk.supersede(session, closed)
        if escalated:
            desk.supersede(session, [e[0] for e in escalated])
        tasks = desk.create_tasks_bulk(session, escalated, day)
        if new_rows:
            result = session.execute(
                insert(AlarmWarning).returning(AlarmWarning.id, AlarmWarning.uscc), new_rows
            )
            ids = {uscc: wid for wid, uscc in result}
            changes += [
                {
                    "warning_id": ids[u],
                    "scan_date": day,
                    "action": "open",
                    "from_level": None,
                    "to_level": lvl,
                    "reason": reason,
                }
                for u, lvl, reason in new_meta
            ]
            for _, lvl, _ in new_meta:
                WARNINGS.labels(level=lvl).inc()
            tasks += desk.create_tasks_bulk(
                session,
                [
                    (ids[r["uscc"]], r["uscc"], r["level"], r["account_manager_id"], r["branch_id"])
                    for r in new_rows
                ],
                day,
            )
        if changes:
            session.execute(insert(AlarmLevelChange), changes)
        return len(new_rows), len(updates), tasks

    # --- entry point -----------------------------------------------------------------------

    def scan(self, day: date, engine: ScanEngine, *, full: bool = False) -> ScanSummary:
        """Scan ``day``: resume a crashed run from its checkpoint; a done date is a no-op."""
        import time

        _, stage = self._begin(day, engine.name)
        summary = ScanSummary(day, stage, skipped=stage == "done", engine=engine.name)
        if stage == "done":
            return self._fill(summary)
        desk = TaskDesk(self.policy, self.notifiers, self.clock)
        folder = self._scan_dir(day)
        if stage in (None, "started") or not (folder / "assessment.parquet").exists():
            self._assess(day, engine, full, summary)
        else:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            summary.missing_feeds, summary.missing_pd = meta["missing_feeds"], meta["missing_pd"]
        if stage != "applied":
            started = time.perf_counter()
            self._apply(day, summary, desk)
            summary.seconds["apply"] = time.perf_counter() - started
        started = time.perf_counter()
        summary.escalated = desk.escalate_overdue(self.sessions, day)
        desk.notify_pending(self.sessions, day)
        with self.sessions.begin() as session:
            self._set(
                session, day, stage="done", status=ScanStatus.DONE.value, finished_at=self.clock()
            )
            append_audit(
                session,
                actor=SYSTEM_ACTOR,
                actor_role="system",
                action="alarm.scan",
                subject_type="alarm_scan",
                subject_id=day.isoformat(),
                detail={"engine": engine.name, "missing_feeds": summary.missing_feeds},
                occurred_at=self.clock(),
            )
        summary.seconds["finish"] = time.perf_counter() - started
        return self._fill(summary)

    def _fill(self, summary: ScanSummary) -> ScanSummary:
        with self.sessions() as session:
            scan = session.get(AlarmScan, summary.scan_date)
            if scan is not None:
                summary.borrowers = scan.borrowers
                summary.signals_fired = scan.signals_fired
                summary.warnings_opened = scan.warnings_opened
                summary.warnings_changed = scan.warnings_changed
                summary.tasks_created = scan.tasks_created
                summary.missing_feeds = summary.missing_feeds or scan.detail.get(
                    "missing_feeds", []
                )
            levels = session.execute(
                select(AlarmWarning.level, AlarmWarning.id).where(
                    AlarmWarning.status == WarningStatus.OPEN.value
                )
            ).all()
        for level, _ in levels:
            summary.levels[level] = summary.levels.get(level, 0) + 1
        return summary


def _warning_values(
    row: Mapping[str, Any] | None, evidence: list[dict[str, Any]], missing: list[str]
) -> dict[str, Any]:
    if row is None:
        return {"missing_sources": list(missing)}
    return {
        "score": float(row["score"]),
        "veto": bool(row["veto"]),
        "pd_3m": row.get("pd_3m"),
        "pd_6m": row.get("pd_6m"),
        "pd_12m": row.get("pd_12m"),
        "conditions": list(row["conditions"] or []),
        "evidence": evidence,
        "missing_sources": list(missing),
    }
