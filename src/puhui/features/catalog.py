"""Load the feature definitions, expand the families and validate everything at load time.

A bad definition (unknown table or column, SQL that does not parse, a window of 0, a name used
twice) fails here with the feature family's name and file, never halfway through a build.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from pydantic import TypeAdapter, ValidationError
from sqlglot import exp
from sqlglot.errors import ParseError

from puhui.data.schema import Catalog, TableSpec, UnknownTableError, load_catalog
from puhui.errors import PuhuiError
from puhui.features.spec import (
    SINGLE_MONTH_AGGREGATES,
    DerivedFamily,
    EventFamily,
    Feature,
    MonthlyFamily,
    OutputSpec,
    SqlFamily,
)

Family = MonthlyFamily | EventFamily | SqlFamily | DerivedFamily
_FAMILY = TypeAdapter(Family)
DIALECT = "duckdb"  # definitions are written in DuckDB's SQL; Spark gets a transpiled copy
PEER_COLUMNS = ("industry_code", "division_code")  # available to derived features

_AGGREGATE_ZH = {
    "sum": "合计",
    "mean": "月均",
    "std": "标准差",
    "min": "最低",
    "max": "最高",
    "slope": "趋势斜率",
    "growth": "环比增长率",
    "yoy": "同比增长率",
    "drawdown": "最大回撤",
    "count": "次数",
    "distinct": "不同对象数",
}
_AGGREGATE_EN = {
    "sum": "total",
    "mean": "monthly mean",
    "std": "standard deviation",
    "min": "lowest month",
    "max": "highest month",
    "slope": "trend slope per month",
    "growth": "growth on the previous period",
    "yoy": "growth on the same period a year earlier",
    "drawdown": "largest fall from a running peak",
    "count": "count",
    "distinct": "distinct values",
}


class FeatureDefinitionError(PuhuiError):
    """A feature definition is invalid; the message names the family and its file."""


@dataclass(frozen=True)
class FeatureCatalog:
    """Every feature family and every expanded feature, with each source table's lag."""

    families: tuple[Family, ...]
    features: tuple[Feature, ...]
    lags: Mapping[str, int]  # table → days after a period ends until its data is observable
    files: Mapping[str, str] = field(default_factory=dict)  # family → definition file

    def feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature named {name!r}")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def of_family(self, family: str) -> list[Feature]:
        return [f for f in self.features if f.family == family]

    def tables(self) -> list[str]:
        """Lake tables the catalog reads."""
        used: set[str] = set()
        for family in self.families:
            if isinstance(family, MonthlyFamily | EventFamily):
                used.add(family.table)
            elif isinstance(family, SqlFamily):
                used.update(family.sources)
        return sorted(used)

    def fingerprint(self) -> str:
        """A hash of the definitions, so stored snapshots know which catalog made them."""
        import hashlib

        text = "\n".join(f.model_dump_json() for f in self.families)
        text += repr(sorted(self.lags.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_definitions_dir() -> Path:
    return Path(str(resources.files("puhui.features") / "definitions"))


@cache
def load_feature_catalog(directory: Path | None = None) -> FeatureCatalog:
    """Load, expand and validate every ``*.yaml`` definition file of ``directory``."""
    folder = directory or default_definitions_dir()
    data_model = load_catalog()
    lags_file = folder / "lags.yaml"
    if not lags_file.exists():
        raise FeatureDefinitionError(f"{lags_file}: missing (each source table's lag in days)")
    lags = _load_lags(lags_file, data_model)
    families: list[Family] = []
    files: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "lags.yaml":
            continue
        for raw in _read_families(path):
            name = raw.get("family", "?") if isinstance(raw, dict) else "?"
            try:
                family = _FAMILY.validate_python(raw)
            except ValidationError as error:
                raise FeatureDefinitionError(
                    f"{path.name}: feature family {name}: {_first_error(error)}"
                ) from None
            if family.family in files:
                raise FeatureDefinitionError(
                    f"{path.name}: feature family {family.family} is also defined in "
                    f"{files[family.family]}"
                )
            files[family.family] = path.name
            families.append(family)
    return build_catalog(families, lags, files, data_model)


def build_catalog(
    families: Iterable[Family],
    lags: Mapping[str, int],
    files: Mapping[str, str],
    data_model: Catalog | None = None,
) -> FeatureCatalog:
    """Validate families against the data model and expand them into features."""
    model = data_model or load_catalog()
    ordered = sorted(families, key=lambda f: isinstance(f, DerivedFamily))  # derived last
    features: list[Feature] = []
    seen: dict[str, str] = {}
    for family in ordered:
        where = f"{files.get(family.family, '?')}: feature family {family.family}"
        try:
            base = {name for name in seen if not _is_derived(name, features)}
            expanded = _expand(family, lags, model, base, files.get(family.family, "?"))
        except (_Invalid, ParseError) as error:
            message = str(error).splitlines()[0] if isinstance(error, ParseError) else str(error)
            raise FeatureDefinitionError(f"{where}: {message}") from None
        for feature in expanded:
            if feature.name in seen:
                raise FeatureDefinitionError(
                    f"{where}: feature {feature.name} is also produced by family "
                    f"{seen[feature.name]}"
                )
            seen[feature.name] = family.family
            features.append(feature)
    return FeatureCatalog(tuple(ordered), tuple(features), dict(lags), dict(files))


def _is_derived(name: str, features: list[Feature]) -> bool:
    return any(f.name == name and f.kind == "derived" for f in features)


# --- loading -------------------------------------------------------------------------------


def _read_families(path: Path) -> list[Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise FeatureDefinitionError(f"{path.name}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("families"), list):
        raise FeatureDefinitionError(f"{path.name}: expected a mapping with a `families:` list")
    return document["families"]


def _load_lags(path: Path, model: Catalog) -> dict[str, int]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    lags: dict[str, int] = {}
    for table, days in (raw.get("lag_days") or {}).items():
        try:
            spec = model.table(table)
        except UnknownTableError as error:
            raise FeatureDefinitionError(f"{path.name}: {error}") from None
        if spec.ground_truth:
            raise FeatureDefinitionError(f"{path.name}: {table} is ground truth, never a feature")
        if not isinstance(days, int) or days < 0:
            raise FeatureDefinitionError(f"{path.name}: lag of {table} must be whole days ≥ 0")
        lags[table] = days
    return lags


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"


# --- validation helpers ----------------------------------------------------------------------


class _Invalid(Exception):
    """A definition problem; turned into FeatureDefinitionError with the family and file."""


def _table(name: str, model: Catalog, lags: Mapping[str, int]) -> TableSpec:
    try:
        spec = model.table(name)
    except UnknownTableError as error:
        raise _Invalid(str(error)) from None
    if spec.ground_truth:
        raise _Invalid(f"table {name} is ground truth (simulation only) and never a feature input")
    if name not in lags:
        raise _Invalid(f"table {name} has no lag in lags.yaml")
    return spec


def _columns_of(spec: TableSpec) -> set[str]:
    columns = set(spec.field_names)
    if spec.partition is not None:
        columns.add("month")
    return columns


def _check_expression(text: str, allowed: set[str], what: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text, dialect=DIALECT)
    except ParseError as error:
        raise _Invalid(f"{what}: invalid SQL {text!r}: {str(error).splitlines()[0]}") from None
    for column in tree.find_all(exp.Column):
        if column.name not in allowed:
            raise _Invalid(f"{what}: unknown column {column.name!r} in {text!r}")
    return tree


def _check_column(name: str | None, allowed: set[str], what: str) -> None:
    if name is not None and name not in allowed:
        raise _Invalid(f"{what}: unknown column {name!r}")


# --- expansion -------------------------------------------------------------------------------


def _expand(
    family: Family,
    lags: Mapping[str, int],
    model: Catalog,
    known: set[str],
    file: str,
) -> list[Feature]:
    if isinstance(family, MonthlyFamily):
        return _expand_monthly(family, lags, model, file)
    if isinstance(family, EventFamily):
        return _expand_event(family, lags, model, file)
    if isinstance(family, SqlFamily):
        return _expand_sql(family, lags, model, file)
    return _expand_derived(family, known, file)


def _feature(family: Family, file: str, name: str, zh: str, en: str, **fields: object) -> Feature:
    """A feature of ``family``: the family's kind, entity and owner, plus what varies."""
    source = family.table if isinstance(family, MonthlyFamily | EventFamily) else "features"
    if isinstance(family, SqlFamily):
        source = ",".join(family.sources)
    values: dict[str, object] = {
        "family": family.family,
        "kind": family.kind,
        "source": source,
        "entity": family.entity,
        "owner": family.owner,
        "window": None,
        "aggregate": None,
    }
    values.update(fields)
    return Feature(name=name, zh=zh, en=en, file=file, **values)


def monthly_aggregates(family: MonthlyFamily, metric: str) -> tuple[str, ...]:
    spec = family.metrics[metric]
    return spec.aggregates if spec.aggregates is not None else family.aggregates


def window_aggregates(aggregates: Iterable[str], window: int) -> list[str]:
    """The aggregates that mean something over ``window`` months (one month: level and growth)."""
    wanted = list(aggregates)
    if window > 1:
        return wanted
    single = [a for a in wanted if a in SINGLE_MONTH_AGGREGATES]
    if "sum" in single and "mean" in single:
        single.remove("mean")
    return single


def metric_expression(family: MonthlyFamily, metric: str) -> str:
    spec = family.metrics[metric]
    if spec.expr is not None:
        return spec.expr
    return f"sum({spec.column or metric})"


def _expand_monthly(
    family: MonthlyFamily, lags: Mapping[str, int], model: Catalog, file: str
) -> list[Feature]:
    table = _table(family.table, model, lags)
    if table.grain != "monthly":
        raise _Invalid(f"table {family.table} is not monthly (grain {table.grain})")
    columns = _columns_of(table)
    _check_column(family.key, columns, "key")
    if not family.metrics:
        raise _Invalid("no metrics")
    features: list[Feature] = []
    for metric, spec in family.metrics.items():
        if spec.column is not None and spec.expr is not None:
            raise _Invalid(f"metric {metric}: give `column` or `expr`, not both")
        _check_column(spec.column or (None if spec.expr else metric), columns, f"metric {metric}")
        if spec.expr is not None:
            tree = _check_expression(spec.expr, columns, f"metric {metric}")
            if tree.find(exp.AggFunc) is None:
                raise _Invalid(f"metric {metric}: `expr` must aggregate the firm-month's rows")
        for window in family.windows:
            for aggregate in window_aggregates(monthly_aggregates(family, metric), window):
                features.append(
                    _feature(
                        family,
                        file,
                        f"{family.family}_{metric}_{aggregate}_{window}m",
                        f"{family.zh}·{spec.zh}·近{window}个月{_AGGREGATE_ZH[aggregate]}",
                        f"{spec.en}: {_AGGREGATE_EN[aggregate]}, last {window} months",
                        window=window,
                        aggregate=aggregate,
                        direction=_direction(spec.direction, aggregate),
                    )
                )
    if family.coverage:
        for window in family.windows:
            if window == 1:
                continue
            features.append(
                _feature(
                    family,
                    file,
                    f"{family.family}_months_reported_{window}m",
                    f"{family.zh}·近{window}个月有数据的月数",
                    f"months with {family.en} data, last {window} months",
                    window=window,
                    aggregate="count",
                    type="int",
                )
            )
    return features


def _direction(direction: int, aggregate: str) -> int:
    """How an aggregate inherits the metric's business direction (volatility and falls hurt)."""
    if aggregate in {"std", "drawdown"}:
        return -1 if direction != 0 else 0
    return direction


def _expand_event(
    family: EventFamily, lags: Mapping[str, int], model: Catalog, file: str
) -> list[Feature]:
    table = _table(family.table, model, lags)
    columns = _columns_of(table)
    _check_column(family.key, columns, "key")
    _check_column(family.date, columns, "date")
    if table.field(family.date).type not in {"date", "timestamp", "month"}:
        raise _Invalid(f"date column {family.date!r} is not a date or timestamp")
    if family.where is not None:
        _check_expression(family.where, columns, "where")
    features: list[Feature] = []
    for measure_name, measure in family.measures.items():
        if measure.aggregate != "count" and measure.column is None:
            raise _Invalid(f"measure {measure_name}: {measure.aggregate} needs a `column`")
        _check_column(measure.column, columns, f"measure {measure_name}")
        for window in family.windows:
            features.append(
                _feature(
                    family,
                    file,
                    f"{family.family}_{measure_name}_{window}m",
                    f"{family.zh}·近{window}个月{measure.zh}",
                    f"{measure.en}, last {window} months ({family.en})",
                    window=window,
                    aggregate=measure.aggregate,
                    type="int" if measure.aggregate in {"count", "distinct"} else "float",
                    direction=measure.direction,
                )
            )
    if family.recency:
        features.append(
            _feature(
                family,
                file,
                f"{family.family}_days_since_last",
                f"{family.zh}·距最近一次天数",
                f"days since the latest {family.en}",
                aggregate="recency",
                type="int",
                direction=family.recency_direction,
            )
        )
    return features


def _expand_sql(
    family: SqlFamily, lags: Mapping[str, int], model: Catalog, file: str
) -> list[Feature]:
    for source in family.sources:
        _table(source, model, lags)
    if not family.outputs:
        raise _Invalid("no outputs")
    from puhui.features.compiler import render_sql_family  # the same rendering the build uses

    text = render_sql_family(family, lags, as_of=None)
    try:
        tree = sqlglot.parse_one(text, dialect=DIALECT)
    except ParseError as error:
        raise _Invalid(f"invalid SQL: {str(error).splitlines()[0]}") from None
    if not isinstance(tree, exp.Query):
        raise _Invalid("`sql` must be a select query")
    for table in tree.find_all(exp.Table):
        name = table.name
        ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
        if name in ctes:
            continue
        if name not in family.sources:
            raise _Invalid(f"reads table {name!r}, which is not listed in `sources`")
    produced = set(tree.named_selects)
    missing = [name for name in family.outputs if name not in produced]
    if "uscc" not in produced:
        raise _Invalid("the query must return a `uscc` column")
    if missing:
        raise _Invalid(f"the query does not return declared outputs {', '.join(missing)}")
    return [_output_feature(family, file, name, output) for name, output in family.outputs.items()]


def _expand_derived(family: DerivedFamily, known: set[str], file: str) -> list[Feature]:
    allowed = known | set(PEER_COLUMNS)
    features = []
    for name, output in family.outputs.items():
        if output.expr is None:
            raise _Invalid(f"output {name}: derived features need an `expr`")
        _check_expression(output.expr, allowed, f"output {name}")
        features.append(_output_feature(family, file, name, output))
    return features


def _output_feature(
    family: SqlFamily | DerivedFamily, file: str, name: str, output: OutputSpec
) -> Feature:
    return _feature(
        family,
        file,
        f"{family.family}_{name}",
        f"{family.zh}·{output.zh}",
        f"{output.en} ({family.en})",
        window=output.window,
        type=output.type,
        direction=output.direction,
    )
