"""The feature store on disk: one Parquet table per as-of date, with its catalog and build record.

Layout under ``<data_dir>/features/``::

    as_of=2026-01-01/features.parquet   uscc, as_of, then one DOUBLE column per feature
    as_of=2026-01-01/catalog.json       every feature with its description and statistics
    as_of=2026-01-01/build.json         engine, catalog fingerprint, lake state, timings

A snapshot is rebuilt only when the definitions or the lake changed since it was written, so a
monthly history for model training (36 as-of dates) grows by one date a month instead of being
recomputed from scratch.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel

from puhui.data.lake import Lake
from puhui.errors import PuhuiError
from puhui.features.catalog import FeatureCatalog
from puhui.features.compiler import (
    PLAN_VERSION,
    POPULATION_TABLE,
    FeaturePlan,
    Partition,
    compile_plan,
)
from puhui.features.engines import DuckDBEngine, FeatureEngine
from puhui.features.slices import build_in_slices

FEATURES_FILE = "features.parquet"
CATALOG_FILE = "catalog.json"
BUILD_FILE = "build.json"
# Firms per slice when the number of slices is left to the build: DuckDB holds one slice's
# monthly bases and per-family results at a time; 100k firms peak at about 7 GiB.
FIRMS_PER_PARTITION = 100_000
# Values read at once when describing a snapshot (columns × firms): about 400 MB of doubles.
_DESCRIBE_CELLS = 50_000_000


class FeatureStoreError(PuhuiError):
    """The feature store lacks what was asked for."""


class FeatureStats(BaseModel):
    """What a feature looks like in one snapshot (fill rate and distribution)."""

    name: str
    zh: str
    en: str
    family: str
    kind: str
    source: str
    entity: str
    window: int | None
    aggregate: str | None
    type: str
    owner: str
    direction: int
    fill_rate: float
    mean: float | None
    std: float | None
    min: float | None
    p50: float | None
    max: float | None


class BuildRecord(BaseModel):
    as_of: date
    engine: str
    fingerprint: str
    lake_state: str
    firms: int
    features: int
    seconds: float
    built_at: datetime


@dataclass(frozen=True)
class SnapshotResult:
    as_of: date
    path: Path
    built: bool  # False when an up-to-date snapshot was kept
    record: BuildRecord


def snapshot_dir(root: Path, as_of: date) -> Path:
    return root / f"as_of={as_of.isoformat()}"


def lake_state(lake: Lake) -> str:
    """The lake's latest committed batch: a snapshot built before it may be stale."""
    manifests = lake.batches()
    if not manifests:
        return "empty"
    latest = max(manifests, key=lambda m: m.commit_order)
    return f"{latest.sequence}:{latest.batch_id}"


def build_snapshots(
    lake: Lake,
    catalog: FeatureCatalog,
    as_of_dates: Sequence[date],
    root: Path,
    engine: FeatureEngine,
    *,
    force: bool = False,
    partitions: int | None = None,
) -> list[SnapshotResult]:
    """Build the feature table for each as-of date that is missing or stale.

    ``partitions`` splits the firms into that many hash slices computed one after another and
    appended to the same Parquet file, so memory is bounded by a slice rather than the
    province; ``None`` picks one slice per ``FIRMS_PER_PARTITION`` firms (DuckDB only).
    """
    fingerprint = f"{catalog.fingerprint()}-plan{PLAN_VERSION}"
    state = lake_state(lake)
    results: dict[date, SnapshotResult] = {}
    todo: list[date] = []
    for as_of in sorted(set(as_of_dates)):
        record = _read_record(snapshot_dir(root, as_of))
        fresh = (
            record is not None
            and record.fingerprint == fingerprint
            and record.lake_state == state
            and (snapshot_dir(root, as_of) / FEATURES_FILE).exists()
        )
        if fresh and not force and record is not None:
            results[as_of] = SnapshotResult(as_of, snapshot_dir(root, as_of), False, record)
        else:
            todo.append(as_of)
    if todo:
        started = time.perf_counter()
        _compute(lake, catalog, todo, root, engine, partition_count(lake, engine, partitions))
        seconds = (time.perf_counter() - started) / len(todo)
        for as_of in todo:
            folder = snapshot_dir(root, as_of)
            stats, firms = describe(folder / FEATURES_FILE, catalog)
            (folder / CATALOG_FILE).write_text(
                json.dumps([s.model_dump() for s in stats], ensure_ascii=False, indent=1),
                encoding="utf-8",
            )
            record = BuildRecord(
                as_of=as_of,
                engine=engine.name,
                fingerprint=fingerprint,
                lake_state=state,
                firms=firms,
                features=len(catalog.features),
                seconds=round(seconds, 3),
                built_at=datetime.now().astimezone(),
            )
            (folder / BUILD_FILE).write_text(record.model_dump_json(indent=1), encoding="utf-8")
            results[as_of] = SnapshotResult(as_of, folder, True, record)
    return [results[d] for d in sorted(results)]


def partition_count(lake: Lake, engine: FeatureEngine, partitions: int | None) -> int:
    """How many firm slices to build in: as asked, or one per ``FIRMS_PER_PARTITION`` firms."""
    if partitions is not None:
        if partitions < 1:
            raise FeatureStoreError(f"partitions must be at least 1, not {partitions}")
        if partitions > 1 and not engine.slices:
            raise FeatureStoreError(f"the {engine.name} engine does not build in partitions")
        return partitions
    if not engine.slices or POPULATION_TABLE not in lake.tables():
        return 1
    return max(1, math.ceil(lake.row_count(POPULATION_TABLE) / FIRMS_PER_PARTITION))


def _compute(
    lake: Lake,
    catalog: FeatureCatalog,
    dates: list[date],
    root: Path,
    engine: FeatureEngine,
    count: int,
) -> None:
    """Run the plan, in one go or slice by slice; each date ends as one ``features.parquet``."""
    targets = {d: snapshot_dir(root, d) / FEATURES_FILE for d in dates}
    if count == 1:
        engine.run(compile_plan(catalog, dates, assembly=engine.assembly), lake, targets)
        return
    if not isinstance(engine, DuckDBEngine):
        raise FeatureStoreError(f"the {engine.name} engine does not build in partitions")

    def plan_for(partition: Partition) -> FeaturePlan:
        return compile_plan(catalog, dates, assembly=engine.assembly, partition=partition)

    build_in_slices(plan_for, count, lake, engine, targets)


def _read_record(folder: Path) -> BuildRecord | None:
    path = folder / BUILD_FILE
    if not path.exists():
        return None
    try:
        return BuildRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # a damaged record means rebuild


def describe(path: Path, catalog: FeatureCatalog) -> tuple[list[FeatureStats], int]:
    """Fill rate and distribution of every feature in one snapshot.

    Columns are read a block at a time (one Polars pass per block), so a million firms ×
    1,000+ features never sit in memory at once.
    """
    firms = pq.ParquetFile(path).metadata.num_rows
    names = catalog.names
    step = max(1, _DESCRIBE_CELLS // max(firms, 1))
    row: list[float | None] = []
    for start in range(0, len(names), step):
        block = names[start : start + step]
        row.extend(
            pl.read_parquet(path, columns=block)
            .select(
                [
                    expression
                    for name in block
                    for expression in (
                        pl.col(name).count().alias(f"{name}|count"),
                        pl.col(name).mean().alias(f"{name}|mean"),
                        pl.col(name).std().alias(f"{name}|std"),
                        pl.col(name).min().alias(f"{name}|min"),
                        pl.col(name).median().alias(f"{name}|p50"),
                        pl.col(name).max().alias(f"{name}|max"),
                    )
                ]
            )
            .row(0)
        )
    stats = []
    for i, feature in enumerate(catalog.features):
        count, mean, std, low, median, high = row[6 * i : 6 * i + 6]
        stats.append(
            FeatureStats(
                **feature.model_dump(exclude={"file"}),
                fill_rate=round(count / firms, 6) if firms else 0.0,
                mean=mean,
                std=std,
                min=low,
                p50=median,
                max=high,
            )
        )
    return stats, firms


def available_dates(root: Path) -> list[date]:
    """As-of dates with a complete snapshot."""
    if not root.exists():
        return []
    dates = []
    for folder in root.glob("as_of=*"):
        if (folder / FEATURES_FILE).exists() and (folder / BUILD_FILE).exists():
            dates.append(date.fromisoformat(folder.name.removeprefix("as_of=")))
    return sorted(dates)


def load_features(
    root: Path,
    as_of: date | Sequence[date],
    *,
    columns: Sequence[str] | None = None,
    usccs: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Feature rows for one or several as-of dates (``uscc``, ``as_of`` and the columns)."""
    dates = [as_of] if isinstance(as_of, date) else list(as_of)
    files = []
    for day in dates:
        path = snapshot_dir(root, day) / FEATURES_FILE
        if not path.exists():
            have = ", ".join(d.isoformat() for d in available_dates(root)) or "none"
            raise FeatureStoreError(
                f"no feature snapshot as of {day.isoformat()} in {root} (built: {have}); "
                f"run `puhui features build --as-of {day.isoformat()}`"
            )
        files.append(path)
    frame = pl.scan_parquet(files)
    if columns is not None:
        frame = frame.select(["uscc", "as_of", *[c for c in columns if c not in {"uscc", "as_of"}]])
    if usccs is not None:
        frame = frame.filter(pl.col("uscc").is_in(list(usccs)))
    return frame.collect()


def load_stats(root: Path, as_of: date) -> list[FeatureStats]:
    path = snapshot_dir(root, as_of) / CATALOG_FILE
    if not path.exists():
        raise FeatureStoreError(f"no feature catalog as of {as_of.isoformat()} in {root}")
    return [FeatureStats.model_validate(s) for s in json.loads(path.read_text(encoding="utf-8"))]
