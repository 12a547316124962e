"""Reference data: Zhejiang's divisions, industries and SME size classes."""

import numpy as np
import pytest

from puhui.data.reference import (
    ReferenceDataError,
    cities,
    city_of,
    classify_size,
    county_codes,
    division_codes,
    divisions,
)


def test_the_province_has_its_eleven_real_prefecture_cities():
    codes = {c.code for c in cities()}
    assert codes == {
        "330100", "330200", "330300", "330400", "330500", "330600",
        "330700", "330800", "330900", "331000", "331100",
    }  # fmt: skip
    assert {c.name for c in cities()} >= {"杭州市", "宁波市", "温州市", "金华市"}


def test_every_county_belongs_to_its_city():
    assert "330782" in county_codes()  # 义乌市
    assert city_of("330782") == "330700"
    assert {"330000", "330100", "330782"} <= division_codes()


def test_industry_divisions_follow_gb4754_codes():
    assert all(len(d.code) == 3 and d.code[0].isalpha() for d in divisions())
    assert any(d.code == "C17" and d.name == "纺织业" for d in divisions())


def test_size_classes_follow_the_2011_thresholds():
    sectors = np.array(["industry", "industry", "industry", "retail", "retail"])
    employees = np.array([400, 50, 15, 60, 5])
    revenue = np.array([50e6, 5e6, 50e6, 6e6, 2e6])
    assert classify_size(sectors, employees, revenue).tolist() == [
        "medium", "small", "micro", "medium", "micro",
    ]  # fmt: skip


def test_an_unknown_sector_is_refused_by_name():
    with pytest.raises(ReferenceDataError, match="shipping"):
        classify_size(np.array(["shipping"]), np.array([1]), np.array([1.0]))
