"""Reference data every source shares: regions, industries and SME size classes.

The tables live in YAML beside this module so a banker can read and change them; this module
validates them on load and answers questions about them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from puhui.errors import PuhuiError

SizeClass = Literal["medium", "small", "micro"]
SIZE_CLASSES: tuple[SizeClass, ...] = ("medium", "small", "micro")


class ReferenceDataError(PuhuiError):
    """A reference table is malformed; the message names the file and the entry."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class City(_Frozen):
    """A prefecture-level city (地级市) with its districts and counties."""

    code: str = Field(pattern=r"^33\d{2}00$")
    name: str
    name_en: str
    weight: float = Field(gt=0)
    exporter_bias: float = Field(gt=0)
    counties: dict[str, str]

    @field_validator("counties")
    @classmethod
    def _counties_in_city(cls, counties: dict[str, str], info) -> dict[str, str]:  # type: ignore[no-untyped-def]
        city = info.data.get("code", "")
        for code in counties:
            if len(code) != 6 or not code.isdigit() or code[:4] != city[:4]:
                raise ValueError(f"county {code} does not belong to city {city}")
        return counties


class Division(_Frozen):
    """A GB/T 4754 industry division with the simulator's parameters for it."""

    code: str = Field(pattern=r"^[A-T]\d{2}$")
    name: str
    name_en: str
    sector: str
    weight: float = Field(gt=0)
    revenue_median: float = Field(gt=0)
    revenue_per_employee: float = Field(gt=0)
    kwh_per_10k_yuan: float = Field(ge=0)
    export_share: float = Field(ge=0, le=1)
    scitech_share: float = Field(ge=0, le=1)
    volatility: float = Field(gt=0)
    cyclicality: float = Field(ge=0)


class Threshold(_Frozen):
    employees: int = Field(ge=0)
    revenue: float = Field(ge=0)


class SectorSizeRule(_Frozen):
    """工信部 size thresholds for one sector."""

    zh: str
    medium: Threshold
    small: Threshold


def _load_yaml(name: str) -> dict:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ReferenceDataError(f"{name}: expected a mapping at the top level")
    return data


def _validated(name: str, model: type[_Frozen], entry: dict, where: str):  # type: ignore[no-untyped-def]
    try:
        return model.model_validate(entry)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ReferenceDataError(f"{name}: {where}: {field}: {first['msg']}") from error


@cache
def cities() -> tuple[City, ...]:
    """The 11 prefecture-level cities of Zhejiang (浙江省)."""
    data = _load_yaml("regions.yaml")
    return tuple(
        _validated("regions.yaml", City, entry, f"city {entry.get('code', i)}")
        for i, entry in enumerate(data["cities"])
    )


@cache
def size_rules() -> dict[str, SectorSizeRule]:
    """Size-class thresholds by sector (中小企业划型标准)."""
    data = _load_yaml("size_classes.yaml")
    return {
        sector: _validated("size_classes.yaml", SectorSizeRule, entry, f"sector {sector}")
        for sector, entry in data["sectors"].items()
    }


@cache
def divisions() -> tuple[Division, ...]:
    """Industry divisions in the province's SME mix."""
    data = _load_yaml("industries.yaml")
    result = tuple(
        _validated("industries.yaml", Division, entry, f"division {entry.get('code', i)}")
        for i, entry in enumerate(data["divisions"])
    )
    rules = size_rules()
    for division in result:
        if division.sector not in rules:
            raise ReferenceDataError(
                f"industries.yaml: division {division.code}: unknown sector {division.sector!r}"
            )
    return result


@cache
def county_codes() -> frozenset[str]:
    """Every district/county division code in the province."""
    return frozenset(code for city in cities() for code in city.counties)


@cache
def division_codes() -> frozenset[str]:
    """Every valid administrative division code: province, cities and counties."""
    return frozenset({"330000"}) | {c.code for c in cities()} | county_codes()


def city_of(division_code: str) -> str:
    """The prefecture city code (``3301 00``) a county or city code belongs to."""
    return division_code[:4] + "00"


def classify_size(
    sectors: np.ndarray, employees: np.ndarray, annual_revenue: np.ndarray
) -> np.ndarray:
    """Size class per firm: 'medium' if both medium thresholds are met, 'small' if both small
    thresholds are, otherwise 'micro' (the standard's rule)."""
    sectors = np.asarray(sectors)
    employees = np.asarray(employees, dtype=np.float64)
    annual_revenue = np.asarray(annual_revenue, dtype=np.float64)
    result = np.full(len(sectors), "micro", dtype="<U6")
    for sector, rule in size_rules().items():
        in_sector = sectors == sector
        small = (
            in_sector & (employees >= rule.small.employees) & (annual_revenue >= rule.small.revenue)
        )
        medium = (
            small & (employees >= rule.medium.employees) & (annual_revenue >= rule.medium.revenue)
        )
        result[small] = "small"
        result[medium] = "medium"
    unknown = ~np.isin(sectors, list(size_rules()))
    if unknown.any():
        raise ReferenceDataError(f"unknown sector {sectors[unknown][0]!r} in size classification")
    return result
