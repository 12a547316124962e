"""``puhui scheduler`` and ``puhui ops`` exit codes, and one real job run in a subprocess."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from operations_factories import migrated

from puhui.cli.main import run
from puhui.operations.exit_codes import ExitCode
from puhui.operations.lease import StoreLease
from puhui.operations.runs import RunStore

JOBS = {
    "timezone": "Asia/Shanghai",
    "jobs": [
        {"name": "feeds", "cron": "30 1 * * *", "command": ["ingest-dir", "incoming/{date}"]},
        {
            "name": "alarm_scan",
            "cron": "0 5 * * *",
            "command": ["alarm", "scan", "--date", "{date}"],
            "depends_on": ["feeds"],
        },
        {"name": "retention", "cron": "0 4 * * 0", "command": ["ops", "retention"]},
    ],
}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PUHUI_STORE_URL", "PUHUI_DATA_DIR", "PUHUI_CONFIG", "PUHUI_JOBS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


@pytest.fixture
def jobs_file(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump(JOBS), encoding="utf-8")
    return path


def test_a_job_waiting_for_its_dependency_exits_4(data_dir: Path, jobs_file: Path) -> None:
    migrated(data_dir / "puhui.db")[0].dispose()

    code = run(
        [
            "--data-dir",
            str(data_dir),
            "scheduler",
            "run-job",
            "alarm_scan",
            "--date",
            "2026-07-01",
            "--jobs",
            str(jobs_file),
        ]
    )

    assert code == ExitCode.BLOCKED == 4


def test_unknown_job_exits_1_and_unreachable_store_exits_5(
    data_dir: Path, jobs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(data_dir / "puhui.db")[0].dispose()
    unknown = run(
        [
            "--data-dir",
            str(data_dir),
            "scheduler",
            "run-job",
            "nope",
            "--date",
            "2026-07-01",
            "--jobs",
            str(jobs_file),
        ]
    )
    assert unknown == ExitCode.ERROR and "no job named 'nope'" in capsys.readouterr().err

    down = run(
        [
            "--data-dir",
            str(data_dir),
            "--store-url",
            "postgresql+psycopg://x@127.0.0.1:1/none",
            "scheduler",
            "run",
            "--once",
            "--jobs",
            str(jobs_file),
        ]
    )
    assert down == ExitCode.STORE_UNAVAILABLE == 5


def test_a_stale_store_exits_5(data_dir: Path, jobs_file: Path) -> None:
    data_dir.mkdir(parents=True)
    code = run(["--data-dir", str(data_dir), "scheduler", "runs"])
    assert code == ExitCode.STORE_UNAVAILABLE


def test_a_real_job_runs_in_a_subprocess_and_reports_its_rows(
    data_dir: Path, jobs_file: Path
) -> None:
    engine, sessions = migrated(data_dir / "puhui.db")

    code = run(
        [
            "--data-dir",
            str(data_dir),
            "scheduler",
            "run-job",
            "retention",
            "--date",
            "2026-07-05",
            "--jobs",
            str(jobs_file),
        ]
    )

    assert code == ExitCode.OK
    (record,) = RunStore(sessions).recent()
    assert record.job_name == "retention" and record.status == "succeeded"
    assert record.data_date == date(2026, 7, 5) and record.exit_code == 0
    assert record.rows_out == 0  # reported by `puhui ops retention` through PUHUI_JOB_REPORT
    assert record.code_version and len(record.config_hash) == 64
    assert run(["--data-dir", str(data_dir), "scheduler", "runs"]) == 0
    engine.dispose()


def test_a_scheduler_started_twice_exits_7(data_dir: Path, jobs_file: Path) -> None:
    engine, sessions = migrated(data_dir / "puhui.db")
    StoreLease(sessions, lambda: datetime.now(UTC), holder="other-host:1").hold(3600)

    code = run(
        ["--data-dir", str(data_dir), "scheduler", "run", "--once", "--jobs", str(jobs_file)]
    )

    assert code == ExitCode.LEASE_HELD == 7
    assert RunStore(sessions).recent() == []
    engine.dispose()


def test_unlock_frees_the_lease_of_a_killed_scheduler(data_dir: Path) -> None:
    engine, sessions = migrated(data_dir / "puhui.db")
    StoreLease(sessions, lambda: datetime.now(UTC), holder="killed-host:9").hold(3600)

    assert run(["--data-dir", str(data_dir), "scheduler", "unlock"]) == 0

    StoreLease(sessions, lambda: datetime.now(UTC), holder="new-host:1").hold(60)
    engine.dispose()
