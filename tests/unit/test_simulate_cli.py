"""``puhui simulate`` and its configuration: bad input is refused in one line, good input writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from puhui.cli.main import run
from puhui.data.schema import load_catalog
from puhui.data.simulate import SimulationConfig, SimulationConfigError, build_config


def test_defaults_are_fixed_so_runs_do_not_depend_on_today() -> None:
    config = SimulationConfig()
    assert config.end_month == "2026-06"
    assert config.months == 36


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"enterprises": 99}, "enterprises"),
        ({"months": 12}, "months"),
        ({"end_month": "2026-13"}, "end_month"),
        ({"end_month": "June 2026"}, "end_month"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(values: dict, named: str) -> None:
    with pytest.raises(SimulationConfigError) as caught:
        build_config(**values)
    message = str(caught.value)
    assert message.startswith(named) and "\n" not in message


def test_cli_refuses_a_tiny_province_with_a_one_line_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["--data-dir", str(tmp_path), "simulate", "--enterprises", "50"])
    error = capsys.readouterr().err.strip()
    assert code != 0
    assert error.count("\n") == 0 and "at least 100 enterprises" in error


def test_cli_refuses_too_short_a_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["--data-dir", str(tmp_path), "simulate", "--months", "12"])
    assert code != 0 and "months" in capsys.readouterr().err


def test_cli_writes_every_table_to_the_incoming_folder_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "--data-dir",
            str(tmp_path),
            "simulate",
            "--enterprises",
            "300",
            "--months",
            "13",
            "--seed",
            "3",
            "--end-month",
            "2025-12",
        ]
    )
    printed = capsys.readouterr().out
    out = tmp_path / "incoming" / "province"
    assert code == 0
    assert {p.stem for p in out.glob("*.parquet")} == set(load_catalog().table_names)
    manifest = json.loads((out / "province.json").read_text(encoding="utf-8"))
    assert manifest["config"]["end_month"] == "2025-12"
    assert "realism report" in printed and "reg_enterprise" in printed


def test_cli_honours_an_explicit_output_folder(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    assert (
        run(
            [
                "--data-dir",
                str(tmp_path),
                "simulate",
                "-n",
                "150",
                "--months",
                "13",
                "--out",
                str(target),
            ]
        )
        == 0
    )
    assert (target / "reg_enterprise.parquet").is_file()
    assert not (tmp_path / "incoming").exists()
