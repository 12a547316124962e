"""The signal library (预警信号库): families in YAML expanded into 1,000+ signals.

A *family* reads one lake table (events or monthly figures), reached through the firm's own
USCC or its legal representative, over several windows. Each *measure* of a family has
ascending thresholds, each with a grade (blue → red); one signal is one
(family, measure, window, threshold). A threshold may be a veto (一票否决): firing it makes the
warning red at once. Everything is validated on load, with errors naming the file and entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from puhui.data.schema import load_catalog
from puhui.errors import PuhuiError

SIGNALS_DIR = Path(__file__).parent / "signals"
LEVELS = ("blue", "yellow", "orange", "red")  # 蓝 黄 橙 红, ascending severity
LEVEL_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
Level = Literal["blue", "yellow", "orange", "red"]
EventAggregate = Literal["count", "sum", "max"]
MonthlyAggregate = Literal[
    "mean", "max", "drop", "yoy_drop", "rise", "months_positive", "months_zero"
]
NAME = r"^[a-z][a-z0-9_]*$"


class SignalLibraryError(PuhuiError):
    """A signal definition is invalid; the message names the file and the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasureSpec(_Strict):
    """One measure: an aggregate of a column (or of rows) and its graded thresholds."""

    zh: str
    en: str
    aggregate: str
    column: str | None = None  # events: the column summed; monthly: the metric
    thresholds: tuple[float, ...]
    grades: tuple[Level, ...]
    veto_from: float | None = None  # thresholds ≥ this are veto indicators (一票否决)
    unit: str = ""

    @model_validator(mode="after")
    def _check(self) -> MeasureSpec:
        if len(self.thresholds) != len(self.grades) or not self.thresholds:
            raise ValueError("thresholds and grades must be non-empty lists of the same length")
        if list(self.thresholds) != sorted(set(self.thresholds)):
            raise ValueError(f"thresholds {list(self.thresholds)} must be strictly ascending")
        ranks = [LEVELS.index(g) for g in self.grades]
        if ranks != sorted(ranks):
            raise ValueError(f"grades {list(self.grades)} must not fall as thresholds rise")
        return self


class FamilySpec(_Strict):
    """Signals of one lake table: events in windows of days, or monthly figures in months."""

    family: str = Field(pattern=NAME)
    kind: Literal["event", "monthly"]
    table: str
    zh: str
    en: str
    key: str = "uscc"
    via: Literal["uscc", "legal_representative"] = "uscc"
    date: str | None = None  # events: the column dating the event
    where: str | None = None  # SQL filter on the table's rows
    metrics: dict[str, str] = Field(default_factory=dict)  # monthly: name → SQL over a month
    windows: tuple[int, ...]  # events: days; monthly: months
    measures: dict[str, MeasureSpec]

    @model_validator(mode="after")
    def _check(self) -> FamilySpec:
        if self.kind == "event" and not self.date:
            raise ValueError("an event family needs `date`")
        if self.kind == "monthly" and not self.metrics:
            raise ValueError("a monthly family needs `metrics`")
        allowed = EventAggregate.__args__ if self.kind == "event" else MonthlyAggregate.__args__
        for name, measure in self.measures.items():
            if measure.aggregate not in allowed:
                raise ValueError(
                    f"measure {name}: aggregate {measure.aggregate!r} is not one of {allowed}"
                )
            if self.kind == "monthly" and measure.column not in self.metrics:
                raise ValueError(f"measure {name}: column {measure.column!r} is not a metric")
            if self.kind == "event" and measure.aggregate != "count" and not measure.column:
                raise ValueError(f"measure {name}: {measure.aggregate} needs a column")
        if not self.windows or list(self.windows) != sorted(set(self.windows)):
            raise ValueError("windows must be strictly ascending")
        return self


@dataclass(frozen=True)
class Signal:
    """One signal of the library (监测指标, or 否决指标 when ``veto``)."""

    signal_id: str  # family.measure.window.threshold-rank, e.g. court_defendant.count.90d.t2
    family: str
    measure: str
    window: int
    window_unit: str  # "d" (events) or "m" (monthly)
    threshold: float
    grade: str
    veto: bool
    table: str
    zh: str
    en: str

    @property
    def condition(self) -> str:
        """Signals of one condition (same family and measure) are deduplicated to the worst."""
        return f"{self.family}.{self.measure}"

    @property
    def measure_id(self) -> str:
        """The value a threshold is compared with: one per family, measure and window."""
        return f"{self.family}.{self.measure}.{self.window}{self.window_unit}"


@dataclass(frozen=True)
class SignalLibrary:
    families: tuple[FamilySpec, ...]
    signals: tuple[Signal, ...]

    def by_id(self) -> dict[str, Signal]:
        return {s.signal_id: s for s in self.signals}

    def tables(self) -> tuple[str, ...]:
        return tuple(sorted({f.table for f in self.families}))

    def family(self, name: str) -> FamilySpec:
        return next(f for f in self.families if f.family == name)

    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({f.table for f in self.families}))


def _number(value: float) -> str:
    return f"{value:g}"


def expand(family: FamilySpec) -> list[Signal]:
    unit = "d" if family.kind == "event" else "m"
    signals = []
    for measure_name, measure in family.measures.items():
        for window in family.windows:
            for rank, (threshold, grade) in enumerate(
                zip(measure.thresholds, measure.grades, strict=True), start=1
            ):
                veto = measure.veto_from is not None and threshold >= measure.veto_from
                window_zh = f"近{window}{'天' if unit == 'd' else '个月'}"
                signals.append(
                    Signal(
                        signal_id=f"{family.family}.{measure_name}.{window}{unit}.t{rank}",
                        family=family.family,
                        measure=measure_name,
                        window=window,
                        window_unit=unit,
                        threshold=float(threshold),
                        grade="red" if veto else grade,
                        veto=veto,
                        table=family.table,
                        zh=f"{family.zh}·{window_zh}{measure.zh}≥{_number(threshold)}{measure.unit}",
                        en=(
                            f"{family.en}: {measure.en} over {window}{unit} "
                            f"≥ {_number(threshold)}{measure.unit}"
                        ),
                    )
                )
    return signals


def _check_columns(family: FamilySpec, where: str) -> None:
    catalog = load_catalog()
    try:
        spec = catalog.table(family.table)
    except Exception as error:
        raise SignalLibraryError(f"{where}: unknown lake table {family.table!r}") from error
    if spec.ground_truth if hasattr(spec, "ground_truth") else False:
        raise SignalLibraryError(f"{where}: {family.table} is ground truth, not observable")
    names = {f.name for f in spec.fields}
    used = [family.key] + ([family.date] if family.date else [])
    used += [m.column for m in family.measures.values() if family.kind == "event" and m.column]
    for column in used:
        if column not in names:
            raise SignalLibraryError(f"{where}: {family.table} has no column {column!r}")


def load_families(folder: Path = SIGNALS_DIR) -> tuple[FamilySpec, ...]:
    families: list[FamilySpec] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for index, entry in enumerate(raw.get("families", [])):
            where = f"{path.name}: families[{index}] ({entry.get('family', '?')})"
            try:
                family = FamilySpec.model_validate(entry)
            except ValidationError as error:
                first = error.errors()[0]
                loc = ".".join(str(p) for p in first["loc"])
                raise SignalLibraryError(f"{where}: {loc}: {first['msg']}") from None
            if family.family in seen:
                raise SignalLibraryError(
                    f"{where}: family repeats (first in {seen[family.family]})"
                )
            seen[family.family] = path.name
            _check_columns(family, where)
            families.append(family)
    if not families:
        raise SignalLibraryError(f"{folder}: no signal families")
    return tuple(families)


@cache
def load_signal_library(folder: Path = SIGNALS_DIR) -> SignalLibrary:
    """The validated library, expanded into its signals (cached per folder)."""
    families = load_families(folder)
    signals = tuple(s for f in families for s in expand(f))
    return SignalLibrary(families, signals)


def signal_counts(library: SignalLibrary) -> Mapping[str, int]:
    """Signals per source table, for docs and the CLI."""
    counts: dict[str, int] = {}
    for signal in library.signals:
        counts[signal.table] = counts.get(signal.table, 0) + 1
    return counts
