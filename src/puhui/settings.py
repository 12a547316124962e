"""Settings: environment variables (``PUHUI_*``) over an optional TOML file over defaults.

The TOML file is ``./puhui.toml`` unless ``PUHUI_CONFIG`` names another. Settings are read
once at the edge (CLI, API) and handed to the code that needs them, never imported globally.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from puhui.errors import PuhuiError

DEFAULT_CONFIG_FILE = "puhui.toml"


class SettingsError(PuhuiError):
    """A setting is missing, malformed or points at something that does not exist."""


class Settings(BaseSettings):
    """Where puhui keeps its data and how it reaches its databases."""

    model_config = SettingsConfigDict(env_prefix="PUHUI_", extra="forbid")

    data_dir: Path = Field(
        default=Path("puhui-data"),
        description="数据目录 · root folder for the lake, the embedded store and reports",
    )
    store_url: str | None = Field(
        default=None,
        description="运营库 · SQLAlchemy URL of the operational store; "
        "defaults to SQLite inside data_dir",
    )
    log_level: str = Field(default="INFO", description="日志级别 · logging level")
    bank_loan_growth_ytd: float | None = Field(
        default=None,
        description="全行各项贷款增速 · growth of all the bank's loans since 1 January "
        "(0.08 = 8%), from finance, for 两增两控",
    )
    bank_npl_ratio: float | None = Field(
        default=None,
        description="全行不良率 · the bank's overall NPL ratio (0.012 = 1.2%), for 两增两控",
    )
    joint_model_weight: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="联合模型权重 · weight of the joint (federated) model's PD against the "
        "champion's, in log-odds, for decisions and marketing lists; 0 = report it only",
    )
    bureau_staff_id: str | None = Field(
        default=None,
        description="线上查询用户 · the staff id online applications query the credit bureau "
        "under when the firm has no account manager",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @property
    def lake_dir(self) -> Path:
        """The Parquet lake: one folder per table, partitioned by month."""
        return self.data_dir / "lake"

    @property
    def resolved_store_url(self) -> str:
        """The store URL, with the embedded SQLite file as the default."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.data_dir / 'puhui.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("PUHUI_CONFIG", DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Read settings, refusing a named config file that does not exist."""
    named = os.environ.get("PUHUI_CONFIG")
    if named and not Path(named).is_file():
        raise SettingsError(f"PUHUI_CONFIG names {named!r}, which is not a file")
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as error:
        raise SettingsError(" ".join(str(error).split())) from error
