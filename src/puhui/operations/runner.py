"""Running one job command (作业执行): a ``puhui`` sub-command in its own process.

A separate process per run keeps a crashing or leaking job from taking the scheduler down,
and gives it the same environment an outside scheduler would: the settings as ``PUHUI_*``
variables, the run's work id (``PUHUI_WORK_ID``) so its logs carry it, and a report file
(``PUHUI_JOB_REPORT``) for its row counts. The tail of its output is kept, redacted, for the
run record.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from puhui.observability.context import WORK_ID_VARIABLE
from puhui.observability.redaction import redact_text
from puhui.operations.report import REPORT_VARIABLE, RowCounts, read_report
from puhui.settings import DEFAULT_CONFIG_FILE, Settings

TIMEOUT_EXIT_CODE = 124
OUTPUT_TAIL_CHARS = 900
_ENTRY = "import sys; from puhui.cli.main import entry_point; entry_point()"


@dataclass(frozen=True)
class CommandOutcome:
    """How one command ended: exit code, reported row counts, the end of its output."""

    exit_code: int
    rows: RowCounts = field(default_factory=RowCounts)
    output_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class CommandRunner(Protocol):
    """Runs ``puhui <argv>``; tests hand the scheduler a fake."""

    def run(self, argv: Sequence[str], *, work_id: str, timeout: float) -> CommandOutcome: ...


def settings_environment(settings: Settings) -> dict[str, str]:
    """``PUHUI_*`` variables that give a child process exactly these settings."""
    environment = {
        "PUHUI_DATA_DIR": str(Path(settings.data_dir).resolve()),
        "PUHUI_LOG_LEVEL": settings.log_level,
    }
    if settings.store_url:
        environment["PUHUI_STORE_URL"] = settings.store_url
    return environment


class SubprocessRunner:
    """Runs each command as ``python -c 'puhui entry point' argv...`` in the data folder.

    The working directory is the data folder, so relative paths in job commands (such as
    ``incoming/{date}``) mean the same on every host.
    """

    def __init__(self, settings: Settings, *, extra_env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.extra_env = dict(extra_env or {})

    def run(self, argv: Sequence[str], *, work_id: str, timeout: float) -> CommandOutcome:
        data_dir = Path(self.settings.data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="puhui-job-") as scratch:
            report = Path(scratch) / "report.json"
            environment = {
                **os.environ,
                **settings_environment(self.settings),
                **self.extra_env,
                WORK_ID_VARIABLE: work_id,
                REPORT_VARIABLE: str(report),
            }
            config = os.environ.get("PUHUI_CONFIG") or DEFAULT_CONFIG_FILE
            if Path(config).is_file():
                environment["PUHUI_CONFIG"] = str(Path(config).resolve())
            try:
                completed = subprocess.run(
                    [sys.executable, "-c", _ENTRY, *argv],
                    cwd=data_dir,
                    env=environment,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as expired:
                output = _text(expired.stdout) + _text(expired.stderr)
                return CommandOutcome(
                    TIMEOUT_EXIT_CODE,
                    output_tail=tail(f"{output}\ntimed out after {timeout:.0f} s"),
                )
            return CommandOutcome(
                completed.returncode,
                rows=read_report(report),
                output_tail=tail(completed.stdout + completed.stderr),
            )


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def tail(output: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    """The last ``limit`` characters of ``output``, redacted, whitespace runs collapsed."""
    compact = " ".join(output.split())
    return redact_text(compact[-limit:])
