"""The shapes of feature definitions as written in ``definitions/*.yaml``, and of one feature.

A *family* is a template: one source table, a few metrics, windows and aggregates; the catalog
expands it into one feature per combination. Writing families instead of features keeps 1,000+
features reviewable by a risk analyst in a few hundred lines of YAML.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Entity = Literal["enterprise", "person", "relationship"]

# Aggregates over a monthly series within a window of w months ending at the anchor month.
MonthlyAggregate = Literal["sum", "mean", "std", "min", "max", "slope", "growth", "yoy", "drawdown"]
# Aggregates over events within a window.
EventAggregate = Literal["count", "sum", "max", "mean", "distinct"]

# Aggregates that still mean something over a single month.
SINGLE_MONTH_AGGREGATES: tuple[str, ...] = ("sum", "mean", "growth", "yoy")
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _positive_windows(windows: tuple[int, ...]) -> tuple[int, ...]:
    for window in windows:
        if window < 1:
            raise ValueError(f"window {window} must be at least 1 month")
    if len(set(windows)) != len(windows):
        raise ValueError("windows repeat")
    return tuple(sorted(windows))


class MetricSpec(_Strict):
    """One monthly metric: an aggregate SQL expression over the rows of one firm-month."""

    zh: str
    en: str
    column: str | None = None
    expr: str | None = None
    aggregates: tuple[MonthlyAggregate, ...] | None = None
    # +1: more is better for credit, -1: more is worse, 0: unknown. Used by the profile and
    # by monotone constraints in models.
    direction: Literal[-1, 0, 1] = 0


class _TableFamily(_Strict):
    """What monthly and event families share: one lake table, reached through the firm's own
    ``uscc`` or a person linked to it, aggregated over windows of months."""

    family: str = Field(pattern=NAME_PATTERN)
    table: str
    zh: str
    en: str
    owner: str
    entity: Entity = "enterprise"
    via: Literal["uscc", "legal_representative", "spouse"] = "uscc"
    key: str = "uscc"
    windows: tuple[int, ...]

    @field_validator("windows")
    @classmethod
    def _check_windows(cls, windows: tuple[int, ...]) -> tuple[int, ...]:
        return _positive_windows(windows)


class MonthlyFamily(_TableFamily):
    """Metrics of a monthly table aggregated per window (sum, mean, trend, growth, …)."""

    kind: Literal["monthly"]
    aggregates: tuple[MonthlyAggregate, ...]
    metrics: dict[str, MetricSpec]
    coverage: bool = True  # months reported per window


class EventMeasure(_Strict):
    """One event-family measure: an aggregate of a column (or of rows, for ``count``)."""

    aggregate: EventAggregate
    column: str | None = None
    zh: str
    en: str
    direction: Literal[-1, 0, 1] = 0


class EventFamily(_TableFamily):
    """Dated events (court cases, penalties, patents, queries) counted and summed per window."""

    kind: Literal["event"]
    date: str
    where: str | None = None
    measures: dict[str, EventMeasure]
    recency: bool = True  # days since the latest event
    recency_direction: Literal[-1, 0, 1] = 0


class OutputSpec(_Strict):
    """One column produced by a SQL or derived family."""

    zh: str
    en: str
    expr: str | None = None  # derived families: an expression over other features
    type: Literal["float", "int", "bool"] = "float"
    window: int | None = None
    direction: Literal[-1, 0, 1] = 0
    fill: float | None = None  # value for firms the query returns no row for (e.g. 0 = not listed)


class SqlFamily(_Strict):
    """Features a template cannot express (networks, registration facts): one SQL query.

    The query reads lake tables by name and may use ``{as_of}`` (a DATE literal) and
    ``{cutoff:<table>}`` (the observation cut-off of a table); it returns ``uscc`` and one column
    per declared output.
    """

    kind: Literal["sql"]
    family: str = Field(pattern=NAME_PATTERN)
    zh: str
    en: str
    owner: str
    entity: Entity = "enterprise"
    sources: tuple[str, ...]
    sql: str
    outputs: dict[str, OutputSpec]


class DerivedFamily(_Strict):
    """Features computed from other features of the same firm, e.g. the digital radar's
    cross-source consistency ratios (数字雷达). ``industry_code`` and ``division_code`` are
    available for peer comparisons with window functions."""

    kind: Literal["derived"]
    family: str = Field(pattern=NAME_PATTERN)
    zh: str
    en: str
    owner: str
    entity: Entity = "enterprise"
    outputs: dict[str, OutputSpec]


class Feature(_Strict):
    """One feature of the catalog, as users and models see it."""

    name: str
    zh: str
    en: str
    family: str
    kind: Literal["monthly", "event", "sql", "derived"]
    source: str  # the lake table(s) read, comma separated, or "features" for derived
    entity: Entity
    window: int | None  # months; None when not windowed
    aggregate: str | None
    type: Literal["float", "int", "bool"] = "float"
    owner: str
    direction: Literal[-1, 0, 1] = 0
    file: str
