"""Who is in the synthetic province: firms, people, and the fraud they commit or suffer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from puhui.data.reference import cities
from puhui.data.simulate import SimulationConfig, simulate_province
from puhui.data.simulate.config import FraudRates

# More fraud than a real province, so every pattern shows up many times in a small one.
CONFIG = SimulationConfig(
    enterprises=2_000,
    months=36,
    seed=11,
    chunk_size=1_000,
    fraud=FraudRates(
        rings_per_10k=40,
        data_farming_per_10k=60,
        identity_theft_per_10k=40,
        probing_per_10k=40,
        blacklist_share=0.5,
    ),
)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    simulate_province(CONFIG, out)
    return out


def read(folder: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(folder / f"{name}.parquet")


def applications(folder: Path) -> pl.DataFrame:
    return read(folder, "app_application").join(
        read(folder, "truth_application").drop("applied_at"), on="application_id"
    )


def test_synthetic_identifiers_are_valid_and_obviously_fictitious(province: Path) -> None:
    firms = read(province, "reg_enterprise")
    people = read(province, "reg_person")
    assert (firms["uscc"].str.slice(8, 1) == "X").all()
    sequences = people["person_id"].str.slice(14, 3).cast(pl.Int64)
    assert sequences.min() >= 900 and sequences.max() <= 999
    phones = pl.concat([people["phone"].drop_nulls(), firms["contact_phone"].drop_nulls()])
    assert phones.str.starts_with("199").all()


def test_most_firms_are_micro_some_small_few_medium(province: Path) -> None:
    shares = read(province, "reg_enterprise")["size_class"].value_counts(normalize=True)
    share = dict(zip(shares["size_class"], shares["proportion"], strict=True))
    assert share["micro"] > 0.7
    assert 0.05 < share["small"] < 0.3
    assert share.get("medium", 0.0) < 0.03


def test_firms_are_young_and_old_and_spread_over_every_city(province: Path) -> None:
    firms = read(province, "reg_enterprise")
    end = np.datetime64(CONFIG.end_month, "M").astype("datetime64[D]")
    age = (end - firms["founded_on"].to_numpy().astype("datetime64[D]")).astype(int) / 365.25
    assert (age < 3).mean() > 0.15
    assert (age > 20).mean() > 0.03
    city_codes = {c.code[:4] for c in cities()}
    assert set(firms["division_code"].str.slice(0, 4).unique()) == city_codes


def test_some_people_control_several_firms(province: Path) -> None:
    counts = read(province, "reg_enterprise")["legal_rep_id"].value_counts()
    several = (counts["count"] >= 2).mean()
    assert 0.03 < several < 0.3
    assert counts["count"].max() <= 8


def test_spouses_point_at_each_other(province: Path) -> None:
    people = read(province, "bureau_person")
    married = people.filter(pl.col("spouse_id").is_not_null())
    assert (married["marital_status"] == "married").all()
    partner = married.select(
        pl.col("spouse_id").alias("person_id"), pl.col("person_id").alias("expected")
    ).join(people, on="person_id")
    assert partner.height == married.height
    assert (partner["spouse_id"] == partner["expected"]).all()


def test_spouses_hold_shares_in_family_firms_and_shares_add_up(province: Path) -> None:
    holders = read(province, "reg_shareholder")
    firms = read(province, "reg_enterprise").select("uscc", "legal_rep_id")
    spouses = read(province, "bureau_person").select(
        pl.col("person_id").alias("legal_rep_id"), pl.col("spouse_id").alias("holder_id")
    )
    family = holders.join(firms, on="uscc").join(spouses, on=["legal_rep_id", "holder_id"])
    assert family.height > 0.1 * firms.height
    totals = holders.group_by("uscc").agg(pl.col("share_ratio").sum())
    assert totals["share_ratio"].min() > 0.99 and totals["share_ratio"].max() < 1.01


def test_ring_members_share_phones_or_devices(province: Path) -> None:
    truth = read(province, "truth_enterprise").filter(pl.col("ring_id").is_not_null())
    firms = read(province, "reg_enterprise").join(truth.select("uscc", "ring_id"), on="uscc")
    devices = applications(province).join(truth.select("uscc", "ring_id"), on="uscc")
    assert truth["ring_id"].n_unique() >= 5
    for ring in truth["ring_id"].unique():
        members = firms.filter(pl.col("ring_id") == ring)
        used = devices.filter(pl.col("ring_id") == ring)
        shares_phone = members["contact_phone"].n_unique() < members.height
        shares_device = used["device_id"].n_unique() < used.height
        shares_address = members["address"].str.split("幢").list.first().n_unique() == 1
        assert (shares_phone or shares_device) and shares_address, ring


def test_shells_are_new_thin_and_without_staff_or_meters(province: Path) -> None:
    shells = (
        read(province, "truth_enterprise").filter(pl.col("fraud_type") == "shell")["uscc"].to_list()
    )
    firms = read(province, "reg_enterprise").filter(pl.col("uscc").is_in(shells))
    assert (firms["paid_in_capital"].cast(pl.Float64).fill_null(0) <= 10_000).all()
    assert read(province, "utility_monthly").filter(pl.col("uscc").is_in(shells)).height == 0
    staff = read(province, "social_monthly").filter(pl.col("uscc").is_in(shells))
    assert (staff["insured_headcount"] == 0).all()
    first_try = (
        applications(province)
        .filter(pl.col("uscc").is_in(shells))
        .group_by("uscc")
        .agg(pl.col("applied_at").min().dt.date().alias("first"))
    )
    age = firms.join(first_try, on="uscc").select(
        (pl.col("first") - pl.col("founded_on")).dt.total_days()
    )
    assert age.to_series().max() < 18 * 31


def test_data_farmers_inflate_tax_but_not_electricity(province: Path) -> None:
    farmed = (
        applications(province)
        .filter(pl.col("fraud_type") == "data_farming")
        .select("uscc", pl.col("applied_at").dt.date().dt.truncate("1mo").alias("applied"))
    )
    tax = read(province, "tax_monthly").join(farmed, on="uscc")
    power = read(province, "utility_monthly").join(farmed, on="uscc")

    def ratio(frame: pl.DataFrame, column: str) -> pl.Series:
        months_before = (
            pl.col("applied").dt.year() * 12
            + pl.col("applied").dt.month()
            - pl.col("month").dt.year() * 12
            - pl.col("month").dt.month()
        )
        return (
            frame.with_columns(months_before.alias("lead"), pl.col(column).cast(pl.Float64))
            .group_by("uscc")
            .agg(
                (
                    pl.col(column).filter(pl.col("lead").is_between(0, 2)).mean()
                    / pl.col(column).filter(pl.col("lead").is_between(9, 14)).mean()
                ).alias("r")
            )
            .drop_nulls()["r"]
        )

    assert ratio(tax, "declared_revenue").median() > 1.5
    assert ratio(power, "electricity_kwh").median() < 1.3


def test_identity_theft_applicant_is_not_the_legal_representative(province: Path) -> None:
    thefts = applications(province).filter(pl.col("fraud_type") == "identity_theft")
    firms = read(province, "reg_enterprise").select("uscc", "legal_rep_id", "contact_phone")
    known_phones = set(read(province, "reg_person")["phone"].drop_nulls())
    known_devices = set(
        applications(province).filter(pl.col("fraud_type") != "identity_theft")["device_id"]
    )
    joined = thefts.join(firms, on="uscc")
    assert joined.height > 5
    assert (joined["applicant_id"] != joined["legal_rep_id"]).all()
    assert not set(joined["phone"]) & (known_phones | set(joined["contact_phone"].drop_nulls()))
    assert not set(joined["device_id"]) & known_devices


def test_probing_firms_apply_repeatedly_within_days_with_edited_amounts(province: Path) -> None:
    probes = applications(province).filter(pl.col("fraud_type") == "probing").sort("applied_at")
    bursts = probes.group_by("uscc").agg(
        pl.len().alias("tries"),
        (pl.col("applied_at").max() - pl.col("applied_at").min()).dt.total_days().alias("days"),
        pl.col("requested_amount").cast(pl.Float64).diff().max().alias("largest_rise"),
        pl.col("channel").n_unique().alias("channels"),
        pl.col("decision").first().alias("first_decision"),
    )
    assert bursts.height >= 5
    assert (bursts["tries"] >= 3).all()
    assert (bursts["days"] <= 30).all()
    assert (bursts["largest_rise"] <= 0).all()
    assert (bursts["first_decision"] != "approved").all()
    assert (bursts["channels"] >= 2).mean() > 0.6


def test_blacklists_hold_ring_identifiers_and_dishonest_debtors(province: Path) -> None:
    entries = read(province, "blacklist_entry")
    shentu = entries.filter(pl.col("list_name") == "group_shentu")
    rings = (
        read(province, "truth_enterprise").filter(pl.col("ring_id").is_not_null())["uscc"].to_list()
    )
    ring_phones = set(
        read(province, "reg_enterprise")
        .filter(pl.col("uscc").is_in(rings))["contact_phone"]
        .drop_nulls()
    )
    ring_devices = set(applications(province).filter(pl.col("uscc").is_in(rings))["device_id"])
    listed = set(shentu["subject_value"])
    assert listed & ring_phones and listed & ring_devices
    dishonest = read(province, "court_dishonest")
    pboc = entries.filter(pl.col("list_name") == "pboc")
    assert set(pboc["subject_value"]) <= set(dishonest["party_id"])
    assert pboc.height >= 0.5 * dishonest["party_id"].n_unique()


def test_a_struck_off_firm_carries_the_date_its_status_took_effect(province: Path) -> None:
    firms = read(province, "reg_enterprise")
    gone = firms.filter(pl.col("status") != "active")
    assert gone.height > 50
    assert firms.filter(pl.col("status") == "active")["status_since"].null_count() == (
        firms.height - gone.height
    )
    assert gone["status_since"].null_count() == 0
    assert (gone["status_since"] >= gone["founded_on"]).all()
    last_day = (np.datetime64(CONFIG.end_month, "M") + 1).astype("datetime64[D]") - 1
    assert gone["status_since"].max() <= last_day.astype(object)
    # Spread over the window (not all at its end, which would hide the leak this date fixes).
    assert gone["status_since"].dt.month_start().n_unique() > 12
    # Dated days spread within the month, not all on the 1st.
    assert gone["status_since"].dt.day().n_unique() > 10
