"""Run a scan plan on DuckDB (default) or Spark: the same SQL, only the engine changes.

Inputs are the lake's tables as the feature engines see them (money as DOUBLE, UTC). A monthly
family's result depends only on its anchor month and the lake, so it is kept in a cache folder
and reused on every later day of the month: that is what makes the daily scan incremental.
``full=True`` ignores the cache and recomputes every family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from puhui.data.lake import Lake
from puhui.decisions.alarm.compiler import FamilyStep, Relation, ScanPlan
from puhui.errors import PuhuiError
from puhui.features.engines import DuckDBEngine, SparkEngine, to_spark_sql
from puhui.features.store import lake_state

FIRED_SCHEMA = {
    "uscc": pl.String,
    "signal_id": pl.String,
    "value": pl.Float64,
    "evidence_date": pl.Date,
}
POPULATION_SCHEMA = {
    "uscc": pl.String,
    "branch_id": pl.String,
    "account_manager_id": pl.String,
    "overdue_days": pl.Float64,
    "loans": pl.Float64,
}


class ScanEngineError(PuhuiError):
    """A scan relation failed to run; the message names the relation and the engine."""


@dataclass
class ScanOutput:
    population: pl.DataFrame
    fired: pl.DataFrame
    reused: list[str] = field(default_factory=list)  # families read from the cache
    computed: list[str] = field(default_factory=list)


class ScanEngine(Protocol):
    name: str

    def run(self, plan: ScanPlan, lake: Lake, cache_dir: Path | None, full: bool) -> ScanOutput:
        """Evaluate the plan: the borrowers and the signals that fired for them."""


def _cache_path(cache_dir: Path, step: FamilyStep, state: str) -> Path:
    return cache_dir / step.family / f"{step.period.isoformat()}-{step.cache_key(state)}.parquet"


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _cast(frame: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    if frame.is_empty() and not frame.columns:
        return pl.DataFrame(schema=schema)
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


class DuckDBScanEngine:
    """One DuckDB connection kept across the scans of a process: the lake tables a scan reads
    are copied into memory once per lake state, so the next day's scan reads them from RAM."""

    name = "duckdb"

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        self._engine = DuckDBEngine(threads=threads, memory_limit=memory_limit)
        self._connection: Any = None
        self._state: str | None = None
        self._loaded: set[str] = set()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection, self._state, self._loaded = None, None, set()

    def _connect(self, lake: Lake, tables: tuple[str, ...]) -> Any:
        state = lake_state(lake)
        if self._connection is not None and state != self._state:
            self.close()
        if self._connection is None:
            every = tuple(sorted(set(tables) | set(lake.tables())))
            known = [t for t in every if self._known(lake, t)]
            self._connection = self._engine.connect(lake, tuple(known))
            self._state = state
        return self._connection

    @staticmethod
    def _known(lake: Lake, table: str) -> bool:
        try:
            lake.catalog.table(table)
        except Exception:
            return False
        return True

    def _load(self, connection: Any, tables: set[str]) -> None:
        for table in sorted(tables - self._loaded):
            connection.execute(f'create temp table "{table}" as select * from main."{table}"')
            self._loaded.add(table)

    def _execute(self, connection: Any, relation: Relation) -> None:
        try:
            connection.execute(f"create or replace temp table {relation.name} as {relation.sql}")
        except Exception as error:  # duckdb raises many types; name the relation
            raise ScanEngineError(f"duckdb: relation {relation.name} failed: {error}") from error

    def run(self, plan: ScanPlan, lake: Lake, cache_dir: Path | None, full: bool) -> ScanOutput:
        connection = self._connect(lake, plan.tables)
        output = ScanOutput(pl.DataFrame(), pl.DataFrame())
        state = self._state or ""
        cached = {
            step.family: _cache_path(cache_dir, step, state)
            for step in plan.families
            if step.reusable and cache_dir is not None
        }
        reuse = {f for f, path in cached.items() if path.exists() and not full}
        needed = set(plan.tables) - {s.table for s in plan.families if s.family in reuse}
        needed |= {s.table for s in plan.families if s.family not in reuse}
        self._load(connection, needed)
        names = []
        for relation in plan.shared:
            self._execute(connection, relation)
            names.append(relation.name)
        for step in plan.families:
            names.append(step.relation.name)
            path = cached.get(step.family)
            if step.family in reuse and path is not None:
                connection.execute(
                    f"create or replace temp table {step.relation.name} as "
                    f"select * from read_parquet({_sql_path(path)})"
                )
                output.reused.append(step.family)
                continue
            self._execute(connection, step.aggregate)
            self._execute(connection, step.relation)
            connection.execute(f"drop table {step.aggregate.name}")
            output.computed.append(step.family)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(path.name + ".partial")
                connection.execute(
                    f"copy {step.relation.name} to {_sql_path(partial)} (format parquet)"
                )
                partial.replace(path)
        try:
            fired = pl.from_arrow(connection.sql(plan.fired.sql).to_arrow_table())
            population = pl.from_arrow(connection.sql("select * from population").to_arrow_table())
        except Exception as error:
            raise ScanEngineError(f"duckdb: relation fired failed: {error}") from error
        finally:
            for name in names:
                connection.execute(f"drop table if exists {name}")
        output.fired = _cast(fired, FIRED_SCHEMA)  # type: ignore[arg-type]
        output.population = _cast(population, POPULATION_SCHEMA)  # type: ignore[arg-type]
        return output


class SparkScanEngine:
    """The same relations as cached Spark views (local mode in tests, a cluster at scale)."""

    name = "spark"

    def __init__(self, session: Any | None = None, *, master: str = "local[2]") -> None:
        self._engine = SparkEngine(session, master=master)

    def _view(self, relation: Relation) -> Any:
        try:
            frame = self._engine.session.sql(to_spark_sql(relation.sql)).localCheckpoint(eager=True)
            frame.createOrReplaceTempView(relation.name)
        except Exception as error:
            raise ScanEngineError(f"spark: relation {relation.name} failed: {error}") from error
        return frame

    def run(self, plan: ScanPlan, lake: Lake, cache_dir: Path | None, full: bool) -> ScanOutput:
        self._engine.register_inputs(lake, plan.tables)
        frames = [self._view(r) for r in plan.shared]
        output = ScanOutput(pl.DataFrame(), pl.DataFrame())
        for step in plan.families:
            aggregate = self._view(step.aggregate)
            frames.append(self._view(step.relation))
            aggregate.unpersist()
            output.computed.append(step.family)
        try:
            fired = self._engine.session.sql(to_spark_sql(plan.fired.sql)).toPandas()
            population = self._engine.session.sql("select * from population").toPandas()
        except Exception as error:
            raise ScanEngineError(f"spark: relation fired failed: {error}") from error
        for frame in frames:
            frame.unpersist()
        output.fired = _cast(pl.from_pandas(fired), FIRED_SCHEMA)
        output.population = _cast(pl.from_pandas(population), POPULATION_SCHEMA)
        return output


def make_engine(name: str) -> ScanEngine:
    if name == "duckdb":
        return DuckDBScanEngine()
    if name == "spark":
        return SparkScanEngine()
    raise ScanEngineError(f"unknown engine {name!r}; choose duckdb or spark")
