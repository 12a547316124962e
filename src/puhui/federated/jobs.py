"""Where a node keeps its own results of joint jobs, inside its own data folder."""

from __future__ import annotations

import re
from pathlib import Path

from puhui.federated.errors import JobError

_JOB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_job_id(job_id: str) -> str:
    """A job id safe to use in a path and a URL."""
    if not _JOB_ID.match(job_id):
        raise JobError(f"job id {job_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return job_id


def intersection_path(data_dir: Path, psi_job: str) -> Path:
    return Path(data_dir) / "jobs" / f"psi-{check_job_id(psi_job)}.txt"


def save_intersection(data_dir: Path, psi_job: str, ids: list[str]) -> Path:
    """The intersection, sorted, one id a line: the row order both parties train in."""
    path = intersection_path(data_dir, psi_job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{identifier}\n" for identifier in sorted(ids)))
    return path


def load_intersection(data_dir: Path, psi_job: str) -> list[str]:
    path = intersection_path(data_dir, psi_job)
    if not path.is_file():
        raise JobError(
            f"PSI job {psi_job!r} has no intersection at {path} "
            "(run it first, with reveal=both for training)"
        )
    return path.read_text().split()


def model_path(data_dir: Path, model_job: str) -> Path:
    return Path(data_dir) / "models" / f"joint-{check_job_id(model_job)}.json"
