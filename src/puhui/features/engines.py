"""Engines that run a feature plan: DuckDB (embedded default) and Spark (at scale).

Both see the same inputs: every lake table the plan reads, under its own name, with money as
DOUBLE (decimal division differs between engines; doubles do not) and timestamps in UTC. Both
run the same relations; Spark gets them transpiled from DuckDB's SQL by sqlglot.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import sqlglot

from puhui.data.lake import Lake
from puhui.data.lake.core import DUCKDB_TYPES
from puhui.data.lake.snapshots import is_snapshot_table
from puhui.data.schema import FieldSpec, TableSpec
from puhui.errors import PuhuiError
from puhui.features.compiler import Assembly, FeaturePlan

RAW_SUFFIX = "__lake"


class FeatureEngineError(PuhuiError):
    """A feature relation failed to run; the message names the relation."""


class FeatureEngine(Protocol):
    name: str
    assembly: Assembly  # how per-family results meet: see compiler.compile_plan
    slices: bool  # can run a plan compiled for one hash slice of the firms (compiler.Partition)

    def run(self, plan: FeaturePlan, lake: Lake, outputs: Mapping[date, Path]) -> None:
        """Compute the plan and write one Parquet file per as-of date."""


def _absent_fields(spec: TableSpec, have: set[str]) -> list[FieldSpec]:
    """Optional fields that batches written before the field joined the data model lack; the
    engines supply them as typed nulls (DuckDB's types are the lake's ``DUCKDB_TYPES``), as
    ``Lake.scan`` does."""
    return [f for f in spec.fields if f.name not in have and not f.required]


def _money_columns(spec: TableSpec) -> list[str]:
    return [f.name for f in spec.fields if f.type == "money"]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class DuckDBEngine:
    """Runs each relation as a temporary table in one in-memory DuckDB connection."""

    name = "duckdb"
    assembly: Assembly = "join"
    slices = True

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        self.threads = threads
        self.memory_limit = memory_limit

    def connect(self, lake: Lake, tables: tuple[str, ...]) -> Any:
        connection = lake.connect()
        connection.execute("set TimeZone = 'UTC'")
        connection.execute("set enable_progress_bar = false")
        if self.threads:
            connection.execute(f"set threads = {int(self.threads)}")
        if self.memory_limit:
            connection.execute(f"set memory_limit = '{self.memory_limit}'")
        present = {
            row[0] for row in connection.execute("select view_name from duckdb_views()").fetchall()
        }
        for table in tables:
            spec = lake.catalog.table(table)
            raw = f"{table}{RAW_SUFFIX}"
            if table in present:
                connection.execute(f'alter view "{table}" rename to "{raw}"')
            else:
                connection.execute(f'create view "{raw}" as {lake.empty_select(table)}')
            money = _money_columns(spec)
            replace = ", ".join(f"cast({m} as double) as {m}" for m in money)
            select = f"select * replace ({replace})" if money else "select *"
            have = {d[0] for d in connection.execute(f'select * from "{raw}" limit 0').description}
            for field in _absent_fields(spec, have):
                select += f", cast(null as {DUCKDB_TYPES[field.type]}) as {field.name}"
            connection.execute(f'create view "{table}" as {select} from "{raw}"')
        return connection

    def _execute(self, connection: Any, name: str, sql: str) -> None:
        try:
            connection.execute(f"create or replace temp table {name} as {sql}")
        except Exception as error:  # duckdb raises many types; name the relation at fault
            raise FeatureEngineError(f"duckdb: relation {name} failed: {error}") from error

    def run(self, plan: FeaturePlan, lake: Lake, outputs: Mapping[date, Path]) -> None:
        connection = self.connect(lake, plan.tables)
        try:
            for relation in plan.shared:
                self._execute(connection, relation.name, relation.sql)
            for as_of, relations in plan.per_date.items():
                for relation in relations[:-1]:
                    self._execute(connection, relation.name, relation.sql)
                final = relations[-1]
                target = outputs[as_of]
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".partial")
                try:
                    connection.execute(
                        f"copy ({final.sql}) to {_sql_path(partial)} "
                        "(format parquet, compression zstd)"
                    )
                except Exception as error:
                    raise FeatureEngineError(
                        f"duckdb: relation {final.name} failed: {error}"
                    ) from error
                partial.replace(target)
        finally:
            connection.close()


def to_spark_sql(sql: str) -> str:
    """DuckDB SQL as Spark SQL."""
    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]


def spark_session(
    master: str = "local[2]", driver_memory: str = "4g", shuffle_partitions: int = 8
) -> Any:
    """A local Spark session configured like the engine expects (UTC, non-ANSI arithmetic).

    ``driver_memory`` is the whole heap in local mode (the executors run in the driver)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(master)
        .appName("puhui-features")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Runs each relation as a cached temporary view in a Spark session."""

    name = "spark"
    assembly: Assembly = "union"
    slices = False  # the slice predicate is DuckDB's hash(); Spark scales out instead

    def __init__(self, session: Any | None = None, *, master: str = "local[2]") -> None:
        self._session = session
        self.master = master

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = spark_session(self.master)
        return self._session

    def register_inputs(self, lake: Lake, tables: tuple[str, ...]) -> None:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        spark = self.session
        for table in tables:
            spec = lake.catalog.table(table)
            files = lake.files(table)
            if files:
                frame = spark.read.option("basePath", str(lake.root / table)).parquet(
                    *[str(f) for f in files]
                )
                if is_snapshot_table(spec) and len(lake.batches(table)) > 1:
                    ranks = spark.createDataFrame(
                        [(f.resolve().as_uri(), rank) for rank, f in enumerate(files)],
                        "__file string, __rank long",
                    )
                    latest = Window.partitionBy(*spec.key).orderBy(F.col("__rank").desc())
                    frame = (
                        frame.withColumn("__file", F.input_file_name())
                        .join(F.broadcast(ranks), "__file")
                        .withColumn("__n", F.row_number().over(latest))
                        .where("__n = 1")
                        .drop("__file", "__rank", "__n")
                    )
            else:
                empty = lake.empty_select(table)
                frame = spark.sql(to_spark_sql(empty))
            for field in _absent_fields(spec, set(frame.columns)):
                typed_null = to_spark_sql(f"cast(null as {DUCKDB_TYPES[field.type]})")
                frame = frame.withColumn(field.name, F.expr(typed_null))
            for money in _money_columns(spec):
                frame = frame.withColumn(money, F.col(money).cast("double"))
            frame.createOrReplaceTempView(table)

    def _view(self, name: str, sql: str) -> Any:
        try:
            # Materialise now and cut the lineage: later relations read the checkpoint, and
            # Spark never has to print or optimise the plans of 1,000+ columns stacked up.
            frame = self.session.sql(to_spark_sql(sql)).localCheckpoint(eager=True)
            frame.createOrReplaceTempView(name)
        except Exception as error:
            raise FeatureEngineError(f"spark: relation {name} failed: {error}") from error
        return frame

    def run(self, plan: FeaturePlan, lake: Lake, outputs: Mapping[date, Path]) -> None:
        self.register_inputs(lake, plan.tables)
        cached = [self._view(r.name, r.sql) for r in plan.shared]
        for as_of, relations in plan.per_date.items():
            per_date = [self._view(r.name, r.sql) for r in relations[:-1]]
            final = self.session.sql(to_spark_sql(relations[-1].sql))
            target = outputs[as_of]
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
                folder = Path(scratch) / "out"
                final.coalesce(1).write.parquet(str(folder))
                (part,) = sorted(folder.glob("part-*.parquet"))
                shutil.move(str(part), target)
            for frame in per_date:
                frame.unpersist()
        for frame in cached:
            frame.unpersist()
