"""Entity tables as snapshots: the latest batch wins per key; commit order; point-in-time reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from lake_factories import valid_frame

from puhui.data.lake import Lake, TableNotInLakeError
from puhui.data.schema import load_catalog

CATALOG = load_catalog()
ENTERPRISE = CATALOG.table("reg_enterprise")
TAX = CATALOG.table("tax_monthly")
MONDAY = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


class Clock:
    """An injectable clock that only moves when told to."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def _renamed(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
    return frame.with_columns(pl.col("name") + suffix)


def _names(lake: Lake, **options) -> dict[str, str]:
    polars = dict(lake.scan("reg_enterprise", **options).select("uscc", "name").collect().rows())
    duck = dict(lake.connect(**options).execute("select uscc, name from reg_enterprise").fetchall())
    assert polars == duck
    return polars


def test_a_later_snapshot_of_an_entity_table_wins_per_key_in_every_reader(tmp_path):
    lake = Lake(tmp_path / "lake")
    first = valid_frame(ENTERPRISE, 4)
    lake.write_batch(ENTERPRISE, _renamed(first, " v1"), "day1")
    lake.write_batch(ENTERPRISE, _renamed(first.head(3), " v2"), "day2")
    names = _names(lake)
    usccs = first.get_column("uscc").to_list()
    assert [names[u] for u in usccs[:3]] == [n + " v2" for n in first["name"].head(3)]
    assert names[usccs[3]] == first["name"][3] + " v1"  # absent from day 2: its last row stays
    assert lake.row_count("reg_enterprise") == 4
    described = lake.connect().execute("describe reg_enterprise").fetchall()
    assert [row[0] for row in described] == ENTERPRISE.field_names
    assert lake.scan("reg_enterprise").collect_schema().names() == ENTERPRISE.field_names


def test_older_snapshots_stay_on_disk_and_are_listed_in_commit_order(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(ENTERPRISE, valid_frame(ENTERPRISE, 3), "day1")
    lake.write_batch(ENTERPRISE, valid_frame(ENTERPRISE, 3), "day2")
    files = lake.files("reg_enterprise")
    assert [p.name for p in files] == ["part-day1.parquet", "part-day2.parquet"]
    assert all(p.is_file() for p in files)


def test_batches_committed_in_the_same_clock_tick_keep_their_commit_order(tmp_path):
    lake = Lake(tmp_path / "lake", clock=Clock(MONDAY))
    frame = valid_frame(ENTERPRISE, 2)
    # Batch ids are content hashes: the later batch may well sort first by id.
    lake.write_batch(ENTERPRISE, _renamed(frame, " old"), "ffff")
    lake.write_batch(ENTERPRISE, _renamed(frame, " new"), "0000")
    assert [m.batch_id for m in lake.batches()] == ["ffff", "0000"]
    assert [m.sequence for m in lake.batches()] == [1, 2]
    assert set(_names(lake).values()) == {n + " new" for n in frame["name"]}


def test_commit_time_never_goes_backwards_even_if_the_clock_does(tmp_path):
    clock = Clock(MONDAY)
    lake = Lake(tmp_path / "lake", clock=clock)
    lake.write_batch(ENTERPRISE, valid_frame(ENTERPRISE, 2), "first")
    clock.moment = MONDAY - timedelta(hours=3)
    second = lake.write_batch(ENTERPRISE, valid_frame(ENTERPRISE, 2), "second")
    assert second.created_at == MONDAY
    assert [m.batch_id for m in lake.batches()] == ["first", "second"]


def test_as_of_reads_the_lake_as_it_was_at_that_instant(tmp_path):
    clock = Clock(MONDAY)
    lake = Lake(tmp_path / "lake", clock=clock)
    frame = valid_frame(ENTERPRISE, 3)
    lake.write_batch(ENTERPRISE, _renamed(frame, " mon"), "mon")
    lake.write_batch(TAX, valid_frame(TAX, 4), "tax-mon")
    clock.moment = MONDAY + timedelta(days=1)
    lake.write_batch(ENTERPRISE, _renamed(valid_frame(ENTERPRISE, 5), " tue"), "tue")
    lake.write_batch(TAX, valid_frame(TAX, 6, offset=100), "tax-tue")
    monday_evening = MONDAY + timedelta(hours=10)
    assert set(_names(lake, as_of=monday_evening).values()) == {n + " mon" for n in frame["name"]}
    assert lake.row_count("reg_enterprise", as_of=monday_evening) == 3
    assert lake.row_count("reg_enterprise") == 5
    assert lake.row_count("tax_monthly", as_of=monday_evening) == 4
    count = lake.connect(as_of=monday_evening).execute("select count(*) from tax_monthly")
    assert count.fetchall() == [(4,)]
    assert [p.name for p in lake.files("reg_enterprise", as_of=monday_evening)] == [
        "part-mon.parquet"
    ]
    with pytest.raises(TableNotInLakeError, match="no batches committed by"):
        lake.scan("reg_enterprise", as_of=MONDAY - timedelta(days=1))


def test_monthly_batches_are_not_deduplicated_by_the_readers(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 3), "t1")
    lake.write_batch(TAX, valid_frame(TAX, 3, offset=10), "t2")
    assert lake.scan("tax_monthly").collect().height == 6
    assert lake.row_count("tax_monthly") == 6


def test_manifests_written_before_sequences_still_read_and_count_as_older(tmp_path):
    lake = Lake(tmp_path / "lake", clock=Clock(MONDAY))
    lake.write_batch(ENTERPRISE, _renamed(valid_frame(ENTERPRISE, 2), " legacy"), "legacy")
    manifest_path = lake.root / "_manifests" / "legacy.json"
    raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    del raw["sequence"]
    raw["created_at"] = (MONDAY + timedelta(days=30)).isoformat()  # even if stamped later
    manifest_path.write_text(json.dumps(raw), encoding="utf-8")
    lake.write_batch(ENTERPRISE, _renamed(valid_frame(ENTERPRISE, 2), " new"), "new")
    assert [m.batch_id for m in lake.batches()] == ["legacy", "new"]
    assert all(name.endswith(" new") for name in _names(lake).values())


def test_a_batch_staged_in_chunks_is_one_file_per_partition(tmp_path):
    lake = Lake(tmp_path / "lake")
    frame = valid_frame(TAX, 12, months=3)
    with lake.open_batch(TAX, "chunked") as batch:
        for offset in range(0, 12, 5):
            batch.write(frame.slice(offset, 5))
        manifest = batch.commit()
    assert manifest.rows == 12
    assert manifest.partitions == {"2024-01-01": 4, "2024-02-01": 4, "2024-03-01": 4}
    assert len(manifest.files) == 3
    assert (
        lake.scan("tax_monthly").collect().sort("uscc", "month").equals(frame.sort("uscc", "month"))
    )


def test_a_batch_left_without_commit_leaves_nothing_behind(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_batch(TAX, valid_frame(TAX, 3), "before")
    before = sorted(p.relative_to(lake.root) for p in lake.root.rglob("*"))
    with lake.open_batch(TAX, "abandoned") as batch:
        batch.write(valid_frame(TAX, 6, offset=50))
    after = sorted(p.relative_to(lake.root) for p in lake.root.rglob("*"))
    assert after == before
    assert not lake.has_batch("abandoned")
