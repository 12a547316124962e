"""The alarm on a small simulated province: the same scan on Spark raises identical warnings,
and two weeks of daily scans keep one open warning per borrower with a task per rise."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta

import polars as pl
import pytest
from sqlalchemy import func, select

from puhui.actions.alarm.feeds import LakeFeeds
from puhui.actions.alarm.runner import DuckDBScanEngine, SparkScanEngine
from puhui.actions.alarm.scan import AlarmScanner
from puhui.actions.alarm.wiring import feature_lags
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.alarm_tables import AlarmLevelChange, AlarmTask, AlarmWarning
from puhui.data.store.migrate import upgrade
from puhui.decisions.alarm.combine import Weights, assess
from puhui.decisions.alarm.compiler import compile_scan
from puhui.decisions.alarm.policy import load_policy
from puhui.decisions.alarm.spec import load_signal_library
from support.province import ingest, simulate

pytestmark = [pytest.mark.integration]
AS_OF = date(2026, 3, 12)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alarm-province")
    incoming = simulate(folder, enterprises=600, months=26, seed=8, end_month="2026-03")
    return ingest(incoming, folder / "lake")


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    from puhui.features.engines import spark_session

    session = spark_session("local[2]", driver_memory="2g")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(["uscc", "signal_id"])


@pytest.mark.spark
def test_spark_and_duckdb_raise_identical_warnings(lake, spark, tmp_path):
    library, lags, policy = load_signal_library(), feature_lags(), load_policy()
    plan = compile_scan(library, AS_OF, lags)
    duck_engine = DuckDBScanEngine()
    duck = duck_engine.run(plan, lake, None, True)
    duck_engine.close()
    sparked = SparkScanEngine(spark).run(plan, lake, None, True)

    assert duck.population.height == sparked.population.height > 50
    a, b = _sorted(duck.fired), _sorted(sparked.fired)
    assert a.height == b.height > 100
    assert a.select("uscc", "signal_id").equals(b.select("uscc", "signal_id"))
    assert a["evidence_date"].equals(b["evidence_date"])
    assert ((a["value"] - b["value"]).abs() <= 1e-6 * (1 + a["value"].abs())).all()
    warnings_duck = assess(a, library, policy, Weights.neutral())
    warnings_spark = assess(b, library, policy, Weights.neutral())
    assert warnings_duck.select("uscc", "level", "conditions").equals(
        warnings_spark.select("uscc", "level", "conditions")
    )


def test_two_weeks_of_daily_scans_keep_one_open_warning_per_borrower(lake, tmp_path):
    store = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(store)
    sessions = make_session_factory(store)
    library, lags = load_signal_library(), feature_lags()
    scanner = AlarmScanner(
        lake=lake,
        sessions=sessions,
        library=library,
        policy=load_policy(),
        lags=lags,
        work_dir=tmp_path / "alarm",
        feeds=LakeFeeds(lake, library, lags),
    )
    runner = DuckDBScanEngine()
    summaries = [scanner.scan(AS_OF + timedelta(days=i), runner) for i in range(14)]
    runner.close()
    assert summaries[0].warnings_opened > 0
    assert any(s.warnings_changed for s in summaries[1:])
    with sessions() as session:
        open_per_firm = session.execute(
            select(AlarmWarning.uscc, func.count())
            .where(AlarmWarning.status == "open")
            .group_by(AlarmWarning.uscc)
        ).all()
        assert open_per_firm and max(n for _, n in open_per_firm) == 1
        rises = session.scalar(
            select(func.count())
            .select_from(AlarmLevelChange)
            .where(AlarmLevelChange.action.in_(["open", "escalate"]))
        )
        assert session.scalar(select(func.count()).select_from(AlarmTask)) == rises
    # the monthly families of a day are reused on the next day of the same anchor month
    assert not summaries[0].reused and "tax" in summaries[1].reused
