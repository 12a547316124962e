"""Settings come from environment variables over a TOML file over defaults."""

from pathlib import Path

import pytest

from puhui.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("PUHUI_DATA_DIR", "PUHUI_STORE_URL", "PUHUI_CONFIG", "PUHUI_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_put_everything_under_puhui_data():
    settings = load_settings()
    assert settings.data_dir == Path("puhui-data")
    assert settings.lake_dir == Path("puhui-data/lake")
    assert settings.resolved_store_url.startswith("sqlite:///")
    assert settings.resolved_store_url.endswith("puhui-data/puhui.db")


def test_toml_file_is_read_and_environment_overrides_it(monkeypatch, tmp_path):
    (tmp_path / "puhui.toml").write_text('data_dir = "from-toml"\nlog_level = "debug"\n')
    assert load_settings().data_dir == Path("from-toml")
    assert load_settings().log_level == "DEBUG"
    monkeypatch.setenv("PUHUI_DATA_DIR", "from-env")
    assert load_settings().data_dir == Path("from-env")


def test_explicit_overrides_beat_everything(monkeypatch):
    monkeypatch.setenv("PUHUI_DATA_DIR", "from-env")
    assert load_settings(data_dir="explicit").data_dir == Path("explicit")


def test_a_named_config_file_that_does_not_exist_is_an_error(monkeypatch):
    monkeypatch.setenv("PUHUI_CONFIG", "missing.toml")
    with pytest.raises(SettingsError, match=r"missing\.toml"):
        load_settings()


def test_an_unknown_setting_in_the_file_is_refused(tmp_path):
    (tmp_path / "puhui.toml").write_text('data_dri = "typo"\n')
    with pytest.raises(SettingsError, match="data_dri"):
        load_settings()


def test_a_bad_log_level_is_refused(monkeypatch):
    monkeypatch.setenv("PUHUI_LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match="log level"):
        load_settings()
