"""Returning the lake to its last committed state after an interrupted write."""

from __future__ import annotations

import shutil
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path

from puhui.data.lake.durable import remove_empty_dirs
from puhui.data.lake.layout import STAGING_DIR, batch_id_of
from puhui.data.lake.manifest import MANIFEST_DIR


@dataclass(frozen=True)
class RecoveryReport:
    """What ``recover()`` cleaned up, and committed files that are unexpectedly missing."""

    removed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


def recover(root: Path, committed: Set[str]) -> RecoveryReport:
    """Delete staged leftovers, half-written manifests and Parquet files no manifest commits.

    ``committed`` holds the files (relative to ``root``) of every committed manifest. Files the
    lake did not name ``part-<batch>.parquet`` are left alone: they are someone else's.
    """
    removed: list[str] = []
    staging = root / STAGING_DIR
    if staging.is_dir():
        for leftover in sorted(staging.iterdir()):
            removed.append(leftover.relative_to(root).as_posix())
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    manifests = root / MANIFEST_DIR
    if manifests.is_dir():
        for temporary in sorted(manifests.glob(".*.tmp")):
            removed.append(temporary.relative_to(root).as_posix())
            temporary.unlink(missing_ok=True)
    for table_dir in sorted(root.iterdir()) if root.is_dir() else []:
        if not table_dir.is_dir() or table_dir.name.startswith("_"):
            continue
        for path in sorted(table_dir.rglob("*.parquet")):
            relative = path.relative_to(root).as_posix()
            if batch_id_of(path.name) is not None and relative not in committed:
                path.unlink()
                removed.append(relative)
        remove_empty_dirs(table_dir)
    missing = tuple(f for f in sorted(committed) if not (root / f).is_file())
    return RecoveryReport(removed=tuple(removed), missing=missing)
