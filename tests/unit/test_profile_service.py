"""Profile assembly on a small simulated province: sections, point in time, masking, errors, CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from puhui.cli.main import run
from puhui.data.identifiers import uscc_check_char
from puhui.data.ingest import ingest_directory
from puhui.data.lake import Lake
from puhui.data.simulate import build_config, simulate_province
from puhui.features.catalog import load_feature_catalog
from puhui.features.engines import DuckDBEngine
from puhui.features.profile_flags import raised_flags
from puhui.features.profile_parties import mask_name
from puhui.features.profile_service import (
    MalformedUsccError,
    NoSnapshotError,
    ProfileService,
    UnknownEnterpriseError,
)
from puhui.features.store import build_snapshots, load_features
from puhui.features.timing import anchor_month

AS_OF = date(2026, 1, 1)


@dataclass(frozen=True)
class Province:
    data_dir: Path
    lake: Lake
    features_root: Path


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Province:
    data_dir = tmp_path_factory.mktemp("profile-province")
    incoming = data_dir / "incoming"
    simulate_province(build_config(enterprises=400, months=24, seed=5), incoming)
    for truth in incoming.glob("truth_*.parquet"):
        truth.unlink()  # never a feature input; skipping it saves ingest time
    lake = Lake(data_dir / "lake")
    ingest_directory(lake, incoming)
    root = data_dir / "features"
    build_snapshots(lake, load_feature_catalog(), [AS_OF], root, DuckDBEngine())
    return Province(data_dir, lake, root)


@pytest.fixture(scope="module")
def service(province: Province) -> ProfileService:
    return ProfileService(province.lake, province.features_root)


@pytest.fixture(scope="module")
def busy_firm(province: Province) -> str:
    """A bank customer on a supply chain with tax data: every section has something to show."""
    frame = load_features(
        province.features_root,
        AS_OF,
        columns=["bank_inflow_amount_sum_12m", "supply_cores", "tax_declared_revenue_sum_3m"],
    )
    firms = frame.filter(
        pl.col("bank_inflow_amount_sum_12m").is_not_null()
        & pl.col("tax_declared_revenue_sum_3m").is_not_null()
    ).sort("supply_cores", "uscc", descending=[True, False])
    return firms["uscc"][0]


def test_a_profile_has_every_section(service: ProfileService, busy_firm: str) -> None:
    profile = service.profile(busy_firm, AS_OF)
    assert profile.uscc == busy_firm and profile.as_of == AS_OF and profile.masked
    assert profile.registration.uscc == busy_firm and profile.registration.name
    assert profile.registration.founded_on < AS_OF
    names = [s.name for s in profile.subscores]
    assert names == list(service.definition.subscores)
    for view in profile.subscores:
        assert view.score is None or 0 <= view.score <= 100
        assert len(view.top) <= 3
    assert profile.summary.overall is not None and profile.summary.headline.startswith("综合")
    assert [t.name for t in profile.key_features] == [
        "declared_revenue",
        "bank_inflow",
        "electricity",
        "headcount",
    ]
    assert profile.related_parties.legal_representative is not None
    assert profile.related_parties.shareholders


def test_trends_use_only_months_observable_as_of_the_date(
    service: ProfileService, busy_firm: str
) -> None:
    profile = service.profile(busy_firm, AS_OF)
    lags = service.catalog.lags
    revenue = profile.key_features[0]
    anchor = anchor_month(AS_OF, lags["tax_monthly"])  # 15-day lag: November, not December
    assert revenue.anchor_month == anchor == date(2025, 11, 1)
    assert len(revenue.series) == 12 and revenue.series[-1].month == anchor
    assert revenue.series[0].month == date(2024, 12, 1)
    bank = profile.key_features[1]
    assert bank.anchor_month == date(2025, 12, 1)  # the bank's own data: no lag
    # the lake's monthly series agrees with the feature store's 3-month total
    last_three = [p.value for p in revenue.series[-3:]]
    if None not in last_three:
        assert sum(last_three) == pytest.approx(revenue.last_3m)


def test_personal_data_is_masked_everywhere(
    province: Province, service: ProfileService, busy_firm: str
) -> None:
    profile = service.profile(busy_firm, AS_OF)
    firm = province.lake.scan("reg_enterprise").filter(pl.col("uscc") == busy_firm).collect()
    person_id = firm["legal_rep_id"][0]
    people = province.lake.scan("reg_person").filter(pl.col("person_id") == person_id).collect()
    text = profile.model_dump_json()
    assert person_id not in text
    assert people["name"][0] not in text
    rep = profile.related_parties.legal_representative
    assert rep is not None and rep.id_number.startswith(person_id[:6]) and "*" in rep.id_number
    assert rep.name == mask_name(people["name"][0])
    for holder in profile.related_parties.shareholders:
        if holder.holder_type == "person":
            assert "*" in holder.holder_id


def test_mask_name_keeps_only_the_surname() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳明华") == "欧***"
    assert mask_name("王") == "王*"


def test_a_malformed_uscc_is_refused(service: ProfileService, busy_firm: str) -> None:
    wrong_check = busy_firm[:17] + ("0" if busy_firm[17] != "0" else "1")
    for code in (wrong_check, "123", ""):
        with pytest.raises(MalformedUsccError, match="not a valid 统一社会信用代码"):
            service.profile(code, AS_OF)


def test_an_unknown_firm_is_refused_by_name(service: ProfileService) -> None:
    first17 = "91330100" + "Y" * 9
    code = first17 + uscc_check_char(first17)
    with pytest.raises(UnknownEnterpriseError, match=f"enterprise {code} is not in the registry"):
        service.profile(code, AS_OF)


def test_a_firm_founded_after_the_date_is_unknown_then(
    province: Province, service: ProfileService
) -> None:
    young = province.lake.scan("reg_enterprise").filter(pl.col("founded_on") >= AS_OF).collect()
    assert young.height, "the province should have firms founded in 2026"
    with pytest.raises(UnknownEnterpriseError, match="was founded on"):
        service.profile(young["uscc"][0], AS_OF)


def test_a_missing_snapshot_suggests_the_build_command(
    service: ProfileService, busy_firm: str
) -> None:
    with pytest.raises(NoSnapshotError, match=r"puhui features build --as-of 2025-06-01"):
        service.profile(busy_firm, date(2025, 6, 1))


def test_the_cli_prints_every_section(province: Province, busy_firm: str, capsys) -> None:
    argv = ["--data-dir", str(province.data_dir), "profile", busy_firm, "--as-of", "2026-01-01"]
    assert run(argv) == 0
    out = capsys.readouterr().out
    for section in ("企业立体画像", "综合与子评分", "关键指标与趋势", "关联方", "风险提示"):
        assert section in out
    assert "数据一致性" in out and "█" in out


def test_the_cli_json_is_the_profile_model(
    province: Province, service: ProfileService, busy_firm: str, capsys
) -> None:
    argv = ["--data-dir", str(province.data_dir), "profile", busy_firm, "--json"]
    assert run(argv) == 0  # no --as-of: the latest snapshot
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(service.profile(busy_firm, AS_OF).model_dump_json())


def test_the_cli_reports_a_bad_uscc_in_one_line(province: Province, capsys) -> None:
    assert run(["--data-dir", str(province.data_dir), "profile", "NOT-A-USCC"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 'NOT-A-USCC' is not a valid") and "\n" not in err


def test_radar_flags_need_an_observed_zero_not_a_missing_source() -> None:
    revenue = {"tax_declared_revenue_sum_12m": 1_000_000.0}
    no_utility_data = raised_flags({**revenue, "utility_electricity_kwh_sum_12m": None})
    assert "radar_revenue_without_power" not in {f.code for f in no_utility_data}
    observed_zero = raised_flags({**revenue, "utility_electricity_kwh_sum_12m": 0.0})
    assert "radar_revenue_without_power" in {f.code for f in observed_zero}
    mismatch = raised_flags({"radar_tax_vs_bank_inflow_12m": 1.6, "dishonest_count_24m": 1.0})
    assert [f.code for f in mismatch] == ["dishonest", "radar_tax_vs_bank"]
    assert mismatch[0].severity == "high" and mismatch[0].value == 1.0
