"""The canonical data model: one schema per source, declared in ``sources/*.yaml``.

Every source delivery is checked against these schemas at ingest, the simulator writes them,
and the feature store reads them. The YAML is the single definition; this module validates it
on load and turns it into Arrow and Polars schemas and the data-model documentation.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import polars as pl
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from puhui.errors import PuhuiError

FieldType = Literal["string", "enum", "int", "float", "money", "bool", "date", "month", "timestamp"]
Check = Literal["uscc", "id_number", "phone", "division_code", "industry_code"]
Grain = Literal["entity", "monthly", "event"]

MONEY_PRECISION = 18
MONEY_SCALE = 2

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "enum": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "money": pa.decimal128(MONEY_PRECISION, MONEY_SCALE),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "month": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "enum": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "money": pl.Decimal(MONEY_PRECISION, MONEY_SCALE),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "month": pl.Date(),
    "timestamp": pl.Datetime("us", "UTC"),
}


class SchemaError(PuhuiError):
    """The data model itself is malformed; the message names the file, table and field."""


class UnknownTableError(PuhuiError):
    """A table name that the data model does not know."""


class FieldSpec(BaseModel):
    """One typed, documented column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: FieldType
    zh: str
    en: str
    required: bool = False
    check: Check | None = None
    values: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pii: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if (self.type == "enum") != (self.values is not None):
            raise ValueError("an enum needs `values`, and only an enum may have them")
        if (self.min is not None or self.max is not None) and self.type not in {
            "int",
            "float",
            "money",
        }:
            raise ValueError("min/max apply to int, float and money only")
        if self.check is not None and self.type != "string":
            raise ValueError("checks apply to strings only")
        return self

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]

    @property
    def polars_type(self) -> pl.DataType:
        return _POLARS_TYPES[self.type]


class TableSpec(BaseModel):
    """One table of a source: its grain, key, partitioning and columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    source: str
    zh: str
    en: str
    grain: Grain
    key: tuple[str, ...]
    partition: str | None = None
    fields: tuple[FieldSpec, ...]
    ground_truth: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> TableSpec:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("duplicate field names")
        for key in self.key:
            if key not in names:
                raise ValueError(f"key field {key!r} is not a field")
            if not self.field(key).required:
                raise ValueError(f"key field {key!r} must be required")
        if self.grain == "entity" and self.partition is not None:
            raise ValueError("entity tables are not partitioned")
        if self.grain != "entity":
            if self.partition is None:
                raise ValueError(f"{self.grain} tables need a `partition` field")
            if self.partition not in names:
                raise ValueError(f"partition field {self.partition!r} is not a field")
            part = self.field(self.partition)
            if part.type not in {"date", "month", "timestamp"} or not part.required:
                raise ValueError("the partition field must be a required date, month or timestamp")
        return self

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(f.name, f.arrow_type, nullable=not f.required) for f in self.fields]
        )

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {f.name: f.polars_type for f in self.fields}

    def header_aliases(self) -> dict[str, str]:
        """Chinese headers (and English names in any case) mapped to canonical field names."""
        aliases: dict[str, str] = {}
        for f in self.fields:
            aliases[f.zh] = f.name
            aliases[f.name.upper()] = f.name
        return aliases


class SourceSpec(BaseModel):
    """A data source (工商, 税务, …) and its tables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    zh: str
    en: str
    provider: str
    ground_truth: bool = False
    tables: tuple[TableSpec, ...]


@dataclass(frozen=True)
class Catalog:
    """Every source and table of the canonical data model."""

    sources: tuple[SourceSpec, ...]

    @property
    def tables(self) -> tuple[TableSpec, ...]:
        return tuple(t for s in self.sources for t in s.tables)

    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]

    def table(self, name: str) -> TableSpec:
        """The table called ``name``, or an error that suggests the nearest names."""
        for table in self.tables:
            if table.name == name:
                return table
        near = difflib.get_close_matches(name, self.table_names, n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise UnknownTableError(f"unknown table {name!r}{hint} (see `puhui schema list`)")

    def source(self, name: str) -> SourceSpec:
        for source in self.sources:
            if source.name == name:
                return source
        raise UnknownTableError(f"unknown source {name!r}")


def _expand_field(name: str, raw: object, common: dict, where: str) -> dict:
    if raw == "common":
        if name not in common:
            raise SchemaError(f"{where}: field {name!r} says `common` but _common.yaml lacks it")
        return {"name": name, **common[name]}
    if not isinstance(raw, dict):
        raise SchemaError(f"{where}: field {name!r} must be a mapping or `common`")
    return {"name": name, **raw}


def _first_error(error: ValidationError, fields: list[dict] | None = None) -> str:
    first = error.errors()[0]
    loc = list(first["loc"])
    if fields and len(loc) >= 2 and loc[0] == "fields" and isinstance(loc[1], int):
        loc[:2] = [f"field {fields[loc[1]].get('name')}"]
    location = ".".join(str(p) for p in loc)
    return f"{location}: {first['msg']}" if location else first["msg"]


def parse_source(text: str, filename: str, common: dict) -> SourceSpec:
    """Parse one source file, with errors that name the file, table and field."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict) or "tables" not in raw:
        raise SchemaError(f"{filename}: expected a mapping with `source` and `tables`")
    source_name = raw.get("source")
    ground_truth = bool(raw.get("ground_truth", False))
    tables = []
    for table_name, table_raw in raw["tables"].items():
        where = f"{filename}: table {table_name}"
        fields = [
            _expand_field(fname, fraw, common, where)
            for fname, fraw in (table_raw.get("fields") or {}).items()
        ]
        body = {k: v for k, v in table_raw.items() if k != "fields"}
        try:
            tables.append(
                TableSpec(
                    name=table_name,
                    source=source_name,
                    fields=fields,
                    ground_truth=ground_truth,
                    **body,
                )
            )
        except ValidationError as error:
            raise SchemaError(f"{where}: {_first_error(error, fields)}") from error
    header = {k: v for k, v in raw.items() if k not in {"source", "tables"}}
    try:
        return SourceSpec(name=source_name, tables=tuple(tables), **header)
    except ValidationError as error:
        raise SchemaError(f"{filename}: {_first_error(error)}") from error


@cache
def load_catalog() -> Catalog:
    """Load and validate the whole data model shipped with puhui."""
    folder = resources.files("puhui.data").joinpath("sources")
    common = yaml.safe_load(folder.joinpath("_common.yaml").read_text(encoding="utf-8"))
    sources = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml") and not entry.name.startswith("_"):
            sources.append(parse_source(entry.read_text(encoding="utf-8"), entry.name, common))
    names = [t.name for s in sources for t in s.tables]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SchemaError(f"table names defined twice: {sorted(duplicates)}")
    return Catalog(sources=tuple(sources))
