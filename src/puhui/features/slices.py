"""Build a feature table in hash slices of the firms, so memory is bounded by one slice.

Each slice runs the plan up to ``joined`` (every per-firm feature, cross-firm inputs still read
over the whole province) and writes it to a part file. The derived features are then computed
once over all parts, since some compare a firm with every firm of its industry (a window over
the population), reading only the columns they need; each part gets its derived columns and the
parts are appended into one ``features.parquet``. DuckDB only: the slice predicate is its
``hash``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from puhui.data.lake import Lake
from puhui.errors import PuhuiError
from puhui.features.compiler import FeaturePlan, Partition, derived_sql
from puhui.features.engines import DuckDBEngine, FeatureEngineError


class SliceError(PuhuiError):
    """The parts of a sliced build do not fit together."""


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _files(paths: Sequence[Path]) -> str:
    return f"read_parquet([{', '.join(_quote(p) for p in paths)}])"


def build_in_slices(
    plan_for: Callable[[Partition], FeaturePlan],
    count: int,
    lake: Lake,
    engine: DuckDBEngine,
    targets: Mapping[date, Path],
) -> None:
    """Compute ``count`` slices one after another and write one table per date."""
    scratch: list[Path] = []
    try:
        joined: dict[date, list[Path]] = {day: [] for day in targets}
        plan = None
        for index in range(count):
            plan = plan_for(Partition(index, count))
            outputs = {d: t.with_name(f"joined.part{index}.parquet") for d, t in targets.items()}
            scratch.extend(outputs.values())
            engine.run(plan, lake, outputs)
            for day, path in outputs.items():
                joined[day].append(path)
        assert plan is not None
        for day, target in targets.items():
            finals = [p.with_name(p.name.replace("joined.", "features.")) for p in joined[day]]
            scratch.extend(finals)
            _finish(plan, lake, engine, joined[day], finals)
            concatenate(finals, target)
    finally:
        for path in scratch:
            path.unlink(missing_ok=True)


def _finish(
    plan: FeaturePlan, lake: Lake, engine: DuckDBEngine, parts: list[Path], finals: list[Path]
) -> None:
    """Add the derived features (computed over all parts at once) to each part."""
    derived = {name for name, _ in plan.derived}
    columns = ["j.uscc", "j.as_of"] + [
        f"d.{name}" if name in derived else f"j.{name}" for name in plan.columns
    ]
    connection = engine.connect(lake, ())
    try:
        connection.execute(f"create temp table derived as {derived_sql(plan, _files(parts))}")
        for part, final in zip(parts, finals, strict=True):
            connection.execute(
                f"copy (select {', '.join(columns)} from {_files([part])} j "
                "join derived d on d.uscc = j.uscc) "
                f"to {_quote(final)} "
                "(format parquet, compression zstd)"
            )
    except Exception as error:  # duckdb raises many types; say which step failed
        raise FeatureEngineError(f"duckdb: derived features over slices failed: {error}") from error
    finally:
        connection.close()


def concatenate(parts: Sequence[Path], target: Path) -> None:
    """Append Parquet files of one schema into ``target``, one row group at a time."""
    partial = target.with_name(target.name + ".partial")
    # DuckDB marks a column REQUIRED when a slice happens to have no NULL in it: the slices
    # agree on names and types, and the table allows NULL everywhere.
    schema = pa.schema([f.with_nullable(True) for f in pq.read_schema(parts[0])])
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        for path in parts:
            source = pq.ParquetFile(path)
            if (
                source.schema_arrow.names != schema.names
                or source.schema_arrow.types != schema.types
            ):
                raise SliceError(f"{path.name}: columns differ from {parts[0].name}")
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group).cast(schema))
    partial.replace(target)
