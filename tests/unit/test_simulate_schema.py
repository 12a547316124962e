"""The synthetic province honours the canonical data model and is reproducible from its seed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from puhui.data.identifiers import is_valid_id_number, is_valid_phone, is_valid_uscc
from puhui.data.reference import division_codes, divisions
from puhui.data.schema import TableSpec, load_catalog
from puhui.data.simulate import SimulationConfig, simulate_province

CHECKS = {
    "uscc": is_valid_uscc,
    "id_number": is_valid_id_number,
    "phone": is_valid_phone,
    "division_code": lambda value: value in division_codes(),
    "industry_code": lambda value: value in {d.code for d in divisions()},
}


def schema_violations(table: pa.Table, spec: TableSpec) -> list[str]:
    """Everything ingest would reject: types, nulls, enums, ranges, checks, duplicate keys."""
    problems = []
    if not table.schema.equals(spec.arrow_schema):
        problems.append(f"schema differs: {table.schema} vs {spec.arrow_schema}")
        return problems
    for field in spec.fields:
        column = table.column(field.name)
        if field.required and column.null_count:
            problems.append(f"{field.name}: {column.null_count} nulls")
        present = pc.drop_null(column)
        if not len(present):
            continue
        if field.values:
            unknown = set(pc.unique(present).to_pylist()) - set(field.values)
            if unknown:
                problems.append(f"{field.name}: values {sorted(unknown)} not allowed")
        if field.min is not None and float(pc.min(present).as_py()) < field.min:
            problems.append(f"{field.name}: below {field.min}")
        if field.max is not None and float(pc.max(present).as_py()) > field.max:
            problems.append(f"{field.name}: above {field.max}")
        if field.check:
            wrong = [v for v in pc.unique(present).to_pylist() if not CHECKS[field.check](v)]
            if wrong:
                problems.append(f"{field.name}: {len(wrong)} fail {field.check}, e.g. {wrong[:2]}")
    if table.num_rows:
        counts = table.group_by(list(spec.key)).aggregate([([], "count_all")])
        if pc.max(counts.column("count_all")).as_py() > 1:
            problems.append(f"duplicate keys {spec.key}")
    return problems


@pytest.fixture(scope="module")
def config() -> SimulationConfig:
    return SimulationConfig(enterprises=1_500, months=24, seed=7, chunk_size=1_000)  # two blocks


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory, config: SimulationConfig) -> Path:
    out = tmp_path_factory.mktemp("province")
    simulate_province(config, out)
    return out


def test_every_catalog_table_is_written_including_ground_truth(province: Path) -> None:
    written = {p.stem for p in province.glob("*.parquet")}
    assert written == set(load_catalog().table_names)
    assert {"truth_enterprise", "truth_application"} <= written


@pytest.mark.parametrize("name", load_catalog().table_names)
def test_every_table_matches_the_canonical_schema(province: Path, name: str) -> None:
    spec = load_catalog().table(name)
    assert schema_violations(pq.read_table(province / f"{name}.parquet"), spec) == []


def test_monthly_tables_stay_inside_the_window(province: Path, config: SimulationConfig) -> None:
    last = np.datetime64(config.end_month, "M")
    first = last - (config.months - 1)
    for spec in load_catalog().tables:
        if spec.grain != "monthly":
            continue
        months = pq.read_table(province / f"{spec.name}.parquet", columns=[spec.partition])
        values = months.column(0).to_numpy().astype("datetime64[M]")
        assert values.size == 0 or (values.min() >= first and values.max() <= last), spec.name


def test_no_event_is_dated_after_the_end_month(province: Path, config: SimulationConfig) -> None:
    end = (np.datetime64(config.end_month, "M") + 1).astype("datetime64[D]")
    for spec in load_catalog().tables:
        for field in spec.fields:
            if field.type not in {"date", "timestamp"} or field.name in {
                "maturity_on",
                "due_on",
                "end_on",
            }:
                continue
            column = pq.read_table(province / f"{spec.name}.parquet", columns=[field.name]).column(
                0
            )
            present = pc.drop_null(column)
            if len(present):
                latest = np.datetime64(pc.max(present).as_py().strftime("%Y-%m-%d"))
                assert latest < end, f"{spec.name}.{field.name} runs to {latest}"


def test_manifest_records_config_row_counts_and_realism(
    province: Path, config: SimulationConfig
) -> None:
    manifest = json.loads((province / "province.json").read_text(encoding="utf-8"))
    assert manifest["config"]["seed"] == config.seed
    assert manifest["row_counts"]["reg_enterprise"] == config.enterprises
    assert set(manifest["row_counts"]) == set(load_catalog().table_names)
    assert "model_auc" in manifest["realism"]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_tables(
    province: Path, config: SimulationConfig, tmp_path: Path
) -> None:
    simulate_province(config, tmp_path)
    for name in load_catalog().table_names:
        again = pq.read_table(tmp_path / f"{name}.parquet")
        assert again.equals(pq.read_table(province / f"{name}.parquet")), name
    assert _digest(tmp_path) == _digest(province)


def test_a_different_seed_gives_a_different_province(
    province: Path, config: SimulationConfig, tmp_path: Path
) -> None:
    simulate_province(config.model_copy(update={"seed": config.seed + 1}), tmp_path)
    first = pq.read_table(province / "reg_enterprise.parquet").column("uscc")
    second = pq.read_table(tmp_path / "reg_enterprise.parquet").column("uscc")
    assert not first.equals(second)
