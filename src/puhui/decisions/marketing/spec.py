"""The marketing configuration as validated data (营销配置).

``config/marketing.yaml`` declares the themed lists, who is a prospect and a first-loan
candidate, the admission pre-screen on the credit report, the expected-value parameters and the
allocation parameters. Rules use the product catalog's format (``feature op value``). Loading
validates the structure and, given the feature catalog's names, that every feature exists;
errors name the file, the section and the entry.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from puhui.decisions.products.spec import Rule
from puhui.errors import PuhuiError

DEFAULT_CONFIG_FILE = Path(__file__).parent / "config" / "marketing.yaml"


class MarketingConfigError(PuhuiError):
    """The marketing configuration is malformed; the message names the file, section and entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Theme(_Strict):
    """主题名单: firms passing every ``all`` rule and, if any are given, one ``any`` rule."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    zh: str
    en: str
    all: tuple[Rule, ...] = ()
    any: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _has_rules(self) -> Theme:
        if not self.all and not self.any:
            raise ValueError("a theme needs at least one rule under `all` or `any`")
        return self


class ValueParameters(_Strict):
    """期望价值参数: which champions give P(bad) and P(take-up), utilisation and margin."""

    pd_model: str = "application_pd"
    propensity_model: str = "propensity"
    utilisation: float = Field(default=0.6, gt=0, le=1)
    funding_cost_bp: int = Field(default=200, ge=0, le=2000)
    min_margin_bp: int = Field(default=0, ge=0, le=2000)


class AllocationParameters(_Strict):
    """分配参数: a manager's capacity per cycle and what uses it up."""

    manager_capacity: int = Field(default=40, ge=0, le=100_000)
    workload_per_customer: float = Field(default=0.1, ge=0)
    city_fallback_factor: float = Field(default=0.8, ge=0, le=1)
    open_assignment_weight: float = Field(default=1.0, ge=0)


class MarketingConfig(_Strict):
    config_version: str = Field(min_length=1)
    themes: tuple[Theme, ...] = Field(min_length=1)
    prospect_rules: tuple[Rule, ...] = ()
    first_loan_rules: tuple[Rule, ...] = ()
    screening_rules: tuple[Rule, ...] = ()
    value: ValueParameters = ValueParameters()
    allocation: AllocationParameters = AllocationParameters()

    @model_validator(mode="after")
    def _unique(self) -> MarketingConfig:
        for section, names in (
            ("themes", [t.code for t in self.themes]),
            ("screening_rules", [r.name for r in self.screening_rules]),
            ("prospect_rules", [r.name for r in self.prospect_rules]),
            ("first_loan_rules", [r.name for r in self.first_loan_rules]),
        ):
            doubled = sorted({n for n in names if names.count(n) > 1})
            if doubled:
                raise ValueError(f"{section}: {doubled[0]} is declared twice")
        return self

    @cached_property
    def theme_by_code(self) -> dict[str, Theme]:
        return {theme.code: theme for theme in self.themes}

    @cached_property
    def rule_by_name(self) -> dict[str, Rule]:
        return {rule.name: rule for rule in self.screening_rules}

    @cached_property
    def features(self) -> tuple[str, ...]:
        """Every feature the configuration reads."""
        names: dict[str, None] = {}
        for theme in self.themes:
            for rule in (*theme.all, *theme.any):
                names[rule.feature] = None
        for rule in (*self.prospect_rules, *self.first_loan_rules, *self.screening_rules):
            names[rule.feature] = None
        return tuple(names)


def load_marketing_config(
    path: Path | None = None, *, known_features: Collection[str] | None = None
) -> MarketingConfig:
    """Read and validate the configuration; with ``known_features`` every feature must exist."""
    file = path or DEFAULT_CONFIG_FILE
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise MarketingConfigError(f"{file}: cannot read the marketing config: {error}") from None
    except yaml.YAMLError as error:
        raise MarketingConfigError(f"{file}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise MarketingConfigError(f"{file}: the marketing config must be a mapping")
    try:
        config = MarketingConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = _where(first["loc"], raw)
        raise MarketingConfigError(
            f"{file}: {where}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
    if known_features is not None:
        known = set(known_features)
        for section, entry, feature in _feature_uses(config):
            if feature not in known:
                raise MarketingConfigError(
                    f"{file}: {section} {entry}: unknown feature {feature!r}"
                )
    return config


def _where(loc: tuple[int | str, ...], raw: dict[str, object]) -> str:
    """``section <entry name>: field <path>`` for the first validation error."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[1].isdigit():
        entries = raw.get(parts[0])
        index = int(parts[1])
        name = f"#{index + 1}"
        if isinstance(entries, list) and index < len(entries) and isinstance(entries[index], dict):
            entry = entries[index]
            name = str(entry.get("code") or entry.get("name") or name)
        return f"{parts[0]} {name}: field {'.'.join(parts[2:]) or '(entry)'}"
    return f"field {'.'.join(parts) or '(config)'}"


def _feature_uses(config: MarketingConfig) -> list[tuple[str, str, str]]:
    uses = []
    for theme in config.themes:
        for rule in (*theme.all, *theme.any):
            uses.append(("themes", f"{theme.code}.{rule.name}", rule.feature))
    for section in ("prospect_rules", "first_loan_rules", "screening_rules"):
        for rule in getattr(config, section):
            uses.append((section, rule.name, rule.feature))
    return uses
