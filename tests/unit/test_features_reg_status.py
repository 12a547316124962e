"""存续 as of a date: a revocation, cancellation or move-out counts only from its status_since.

`reg_enterprise` is a snapshot (the registry as it stands now); without the date, a firm struck off
after it failed would look inactive at every earlier date, a look-ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import duckdb
import polars as pl
import pytest

from puhui.features.catalog import load_feature_catalog
from puhui.features.compiler import render_sql_family

AS_OF = date(2025, 9, 17)
STRUCK_ON = date(2025, 10, 10)

FIRMS = pl.DataFrame(
    {
        "uscc": ["ACTIVE", "STRUCK_LATER", "STRUCK_BEFORE", "UNDATED", "MOVED_LATER"],
        "status": ["active", "revoked", "cancelled", "revoked", "moved_out"],
        "status_since": [None, STRUCK_ON, date(2025, 3, 4), None, date(2026, 1, 2)],
        "founded_on": [date(2015, 1, 1)] * 5,
        "registered_capital": [1e6] * 5,
        "paid_in_capital": [5e5] * 5,
        "size_class": ["small"] * 5,
        "entity_type": ["limited_company"] * 5,
    }
)


def _active(as_of: date, lags: Mapping[str, int] | None = None) -> dict[str, int]:
    catalog = load_feature_catalog()
    (family,) = [f for f in catalog.families if f.family == "reg"]
    connection = duckdb.connect()
    connection.register("reg_enterprise", FIRMS.to_arrow())
    sql = render_sql_family(family, catalog.lags if lags is None else lags, as_of)
    return dict(connection.execute(f"select uscc, active from ({sql}) q").fetchall())


def test_a_firm_struck_off_after_the_date_was_still_active_then() -> None:
    assert _active(AS_OF) == {
        "ACTIVE": 1,
        "STRUCK_LATER": 1,
        "STRUCK_BEFORE": 0,
        "UNDATED": 0,  # no status_since (older deliveries): today's status at every date
        "MOVED_LATER": 1,
    }


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (STRUCK_ON, 1),  # lag 0: a status dated d is observable from d + 1 (d + lag < as_of)
        (date(2025, 10, 11), 0),
        (date(2026, 3, 1), 0),
    ],
)
def test_the_strike_off_counts_from_the_day_after_its_date(as_of: date, expected: int) -> None:
    assert _active(as_of)["STRUCK_LATER"] == expected


def test_the_strike_off_waits_for_the_registry_lag() -> None:
    """With a 5-day lag a strike-off dated d is observable from d + 6."""
    lagged = {**load_feature_catalog().lags, "reg_enterprise": 5}
    assert _active(date(2025, 10, 15), lagged)["STRUCK_LATER"] == 1
    assert _active(date(2025, 10, 16), lagged)["STRUCK_LATER"] == 0


def test_a_lake_delivered_before_status_since_existed_still_builds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Batches written before an optional field joined the data model lack its column; the
    engine supplies it as a typed null (as ``Lake.scan`` does), so the family still runs."""
    import pyarrow.parquet as pq
    from lake_factories import valid_frame

    from puhui.data.lake import Lake
    from puhui.features.engines import DuckDBEngine

    lake = Lake(tmp_path / "lake")
    spec = lake.catalog.table("reg_enterprise")
    lake.write_batch(spec, valid_frame(spec, 4), "old-delivery")
    for path in lake.files("reg_enterprise"):
        pq.write_table(pq.read_table(path).drop_columns(["status_since"]), path)
    connection = DuckDBEngine().connect(lake, ("reg_enterprise",))
    rows = connection.execute(
        "select count(*), count(status_since), typeof(any_value(status_since)) from reg_enterprise"
    ).fetchone()
    assert rows == (4, 0, "DATE")
