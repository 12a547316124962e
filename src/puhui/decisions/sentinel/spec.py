"""策略集 · versioned strategy sets: each strategy an id, zh/en descriptions, an expression,
a severity, an action (reject / refer / score adjustment) and the reason staff see.

A set is a folder of YAML files (``set.yaml`` with the version, effective date and point
thresholds, then one file per group). Loading parses and type-checks every expression against
the sentinel's feature schema and the model catalog; any failure names the strategy id and file.
The verdict of one application: any ``reject`` hit rejects, any ``refer`` hit sends it to manual
review, and score adjustments add up against the set's thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from puhui.data.store.origination_tables import SentinelVerdict
from puhui.decisions.sentinel.codegen import compile_conditions
from puhui.decisions.sentinel.compile import RowFunction, polars_fires, to_python
from puhui.decisions.sentinel.expressions import ExpressionError, Node, Type, check, names, parse
from puhui.errors import PuhuiError

GROUPS = {
    "identity": "身份核验",
    "behaviour": "申请行为",
    "velocity": "频次",
    "authenticity": "企业真实性",
    "credit": "信用表现",
    "legal": "司法合规",
    "radar": "数字雷达",
    "blacklist": "黑名单",
    "network": "关联网络",
    "farming": "养数据",
    "gaming": "套模型",
}
SEVERITIES = ("low", "medium", "high", "critical")


class StrategyError(PuhuiError):
    """A strategy set that does not load: the message names the strategy and the file."""


class Action(StrEnum):
    REJECT = "reject"
    REFER = "refer"
    SCORE = "score"


@dataclass(frozen=True)
class Strategy:
    id: str
    group: str
    zh: str
    en: str
    when: str
    severity: str
    action: Action
    reason: str
    points: float = 0.0
    enabled: bool = True
    node: Node | None = field(default=None, compare=False, repr=False)
    function: RowFunction | None = field(default=None, compare=False, repr=False)

    def fires(self, row: Mapping[str, Any]) -> bool:
        assert self.function is not None
        return self.function(row) is True

    def polars(self) -> pl.Expr:
        assert self.node is not None
        return polars_fires(self.node).alias(self.id)


@dataclass(frozen=True)
class Thresholds:
    refer_points: float = 60.0
    reject_points: float = 120.0


@dataclass(frozen=True)
class StrategySet:
    version: str
    effective_from: date
    thresholds: Thresholds
    strategies: tuple[Strategy, ...]
    source: str = ""

    @cached_property
    def active(self) -> tuple[Strategy, ...]:
        return tuple(s for s in self.strategies if s.enabled)

    @cached_property
    def screen(self) -> Callable[[Mapping[str, Any]], list[int]]:
        """The active conditions as one generated function of a row (see ``codegen``): the
        positions in ``active`` that fire. Falls back to the closures when a strategy was
        built without its parsed condition, or nests deeper than Python's indentation limit."""
        active = self.active
        if all(s.node is not None for s in active):
            try:
                return compile_conditions([s.node for s in active])  # type: ignore[misc]
            except (SyntaxError, RecursionError):  # IndentationError is a SyntaxError
                pass
        return lambda row: [i for i, s in enumerate(active) if s.fires(row)]

    def by_id(self, strategy_id: str) -> Strategy:
        for strategy in self.strategies:
            if strategy.id == strategy_id:
                return strategy
        raise StrategyError(f"no strategy {strategy_id!r} in set {self.version}")

    def features(self) -> set[str]:
        return set().union(*(names(s.node) for s in self.strategies if s.node is not None))

    def with_changes(
        self,
        *,
        version: str | None = None,
        thresholds: Thresholds | None = None,
        disabled: Iterable[str] = (),
        expressions: Mapping[str, str] | None = None,
        schema: Mapping[str, Type] | None = None,
    ) -> StrategySet:
        """A what-if copy: other thresholds, strategies switched off, expressions edited."""
        off = set(disabled)
        for strategy_id in off | set(expressions or {}):
            self.by_id(strategy_id)
        changed = []
        for strategy in self.strategies:
            if strategy.id in (expressions or {}):
                if schema is None:
                    raise StrategyError("editing an expression needs the feature schema")
                strategy = compile_strategy(
                    replace(strategy, when=(expressions or {})[strategy.id]), schema, self.source
                )
            if strategy.id in off:
                strategy = replace(strategy, enabled=False)
            changed.append(strategy)
        return replace(
            self,
            version=version or f"{self.version}+whatif",
            thresholds=thresholds or self.thresholds,
            strategies=tuple(changed),
        )


@dataclass(frozen=True)
class Outcome:
    """One application's verdict with the strategies that decided it."""

    verdict: SentinelVerdict
    hits: tuple[Strategy, ...]
    points: float

    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{s.id} {s.reason}" for s in self.hits)


def verdict_of(hits: Sequence[Strategy], thresholds: Thresholds) -> Outcome:
    points = sum(s.points for s in hits if s.action is Action.SCORE)
    if any(s.action is Action.REJECT for s in hits) or points >= thresholds.reject_points:
        verdict = SentinelVerdict.REJECT
    elif any(s.action is Action.REFER for s in hits) or points >= thresholds.refer_points:
        verdict = SentinelVerdict.REVIEW
    else:
        verdict = SentinelVerdict.PASS
    return Outcome(verdict, tuple(hits), points)


def screen_row(strategies: StrategySet, row: Mapping[str, Any]) -> Outcome:
    """Real time: every active strategy over one application's features."""
    active = strategies.active
    return verdict_of([active[i] for i in strategies.screen(row)], strategies.thresholds)


def screen_frame(strategies: StrategySet, frame: pl.DataFrame) -> pl.DataFrame:
    """Batch: one boolean column per active strategy, then ``points`` and ``verdict``."""
    active = strategies.active
    fired = frame.select([s.polars() for s in active]) if active else pl.DataFrame()
    matrix = fired.to_numpy().astype(bool) if active else np.zeros((frame.height, 0), bool)
    points = matrix @ np.array([s.points if s.action is Action.SCORE else 0.0 for s in active])
    reject = matrix[:, [s.action is Action.REJECT for s in active]].any(axis=1)
    refer = matrix[:, [s.action is Action.REFER for s in active]].any(axis=1)
    t = strategies.thresholds
    verdict = np.where(
        reject | (points >= t.reject_points),
        SentinelVerdict.REJECT.value,
        np.where(refer | (points >= t.refer_points), SentinelVerdict.REVIEW.value, "pass"),
    )
    return fired.with_columns(points=pl.Series(points), verdict=pl.Series(verdict))


# --- loading ----------------------------------------------------------------------------------


def default_set_dir() -> Path:
    return Path(str(resources.files("puhui.decisions.sentinel") / "strategies"))


def available_versions(root: Path | None = None) -> list[str]:
    root = root or default_set_dir()
    return sorted(p.name for p in root.iterdir() if (p / "set.yaml").exists())


def compile_strategy(strategy: Strategy, schema: Mapping[str, Type], source: str) -> Strategy:
    try:
        node = parse(strategy.when)
        kind = check(node, schema)
    except ExpressionError as error:
        raise StrategyError(f"strategy {strategy.id} ({source}): {error}") from None
    if kind != "bool":
        raise StrategyError(
            f"strategy {strategy.id} ({source}): the condition is {kind}, not a true/false test"
        )
    return replace(strategy, node=node, function=to_python(node))


def load_strategy_set(
    schema: Mapping[str, Type], version: str | None = None, root: Path | None = None
) -> StrategySet:
    """Load and validate a set (the newest version under ``root`` by default)."""
    root = root or default_set_dir()
    versions = available_versions(root)
    if not versions:
        raise StrategyError(f"no strategy set under {root}")
    chosen = version or versions[-1]
    folder = root / chosen
    if not (folder / "set.yaml").exists():
        raise StrategyError(f"no strategy set {chosen!r} under {root} (have {', '.join(versions)})")
    head = _yaml(folder / "set.yaml")
    strategies: list[Strategy] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "set.yaml":
            continue
        body = _yaml(path)
        group = body.get("group")
        if group not in GROUPS:
            raise StrategyError(f"{path.name}: unknown group {group!r}; known: {', '.join(GROUPS)}")
        for entry in body.get("strategies") or []:
            strategy = _strategy(entry, group, path.name)
            if strategy.id in seen:
                raise StrategyError(f"strategy {strategy.id} ({path.name}) is defined twice")
            seen.add(strategy.id)
            strategies.append(compile_strategy(strategy, schema, path.name))
    thresholds = Thresholds(**(head.get("thresholds") or {}))
    return StrategySet(
        str(head.get("version", chosen)),
        _date(head.get("effective_from"), "set.yaml"),
        thresholds,
        tuple(strategies),
        str(folder),
    )


def _strategy(entry: Mapping[str, Any], group: str, source: str) -> Strategy:
    strategy_id = str(entry.get("id", "?"))
    try:
        action = Action(entry["action"])
        severity = str(entry["severity"])
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} not one of {', '.join(SEVERITIES)}")
        points = float(entry.get("points", 0))
        if action is Action.SCORE and points == 0:
            raise ValueError("a score adjustment needs non-zero points")
        return Strategy(
            id=strategy_id,
            group=group,
            zh=str(entry["zh"]),
            en=str(entry["en"]),
            when=str(entry["when"]),
            severity=severity,
            action=action,
            reason=str(entry["reason"]),
            points=points,
            enabled=bool(entry.get("enabled", True)),
        )
    except (KeyError, ValueError) as error:
        raise StrategyError(f"strategy {strategy_id} ({source}): {error}") from None


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise StrategyError(f"{path.name}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise StrategyError(f"{path.name}: expected a mapping")
    return data


def _date(value: Any, source: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise StrategyError(f"{source}: effective_from {value!r} is not a date") from None
