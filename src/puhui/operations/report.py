"""How a command tells the scheduler its row counts (行数回报), without parsing its output.

The scheduler sets ``PUHUI_JOB_REPORT`` to a file path for each run; a command that knows how
many rows it read and wrote calls ``report_rows``, which writes them there as JSON. Outside a
scheduled run the variable is unset and ``report_rows`` does nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPORT_VARIABLE = "PUHUI_JOB_REPORT"


@dataclass(frozen=True)
class RowCounts:
    """Rows a run read and wrote, each None when the command did not say."""

    rows_in: int | None = None
    rows_out: int | None = None


def report_rows(*, rows_in: int | None = None, rows_out: int | None = None) -> None:
    """Tell the scheduler (if any) how many rows this command read and wrote."""
    target = os.environ.get(REPORT_VARIABLE)
    if not target:
        return
    Path(target).write_text(json.dumps({"rows_in": rows_in, "rows_out": rows_out}), "utf-8")


def read_report(path: Path) -> RowCounts:
    """The counts a command reported at ``path``; empty counts when it reported nothing."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return RowCounts()
    if not isinstance(document, dict):
        return RowCounts()

    def count(key: str) -> int | None:
        value = document.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return RowCounts(rows_in=count("rows_in"), rows_out=count("rows_out"))
