"""File-system steps that survive a crash: fsync of files and folders, atomic replacement."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename durable: the directory entry must reach the disk, not only the file."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:  # pragma: no cover - file systems that cannot open directories
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(descriptor)


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once: via a fsynced temporary file and a rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            temporary.unlink()
        raise
    fsync_dir(path.parent)


def make_parents(folder: Path, stop: Path) -> list[Path]:
    """Create ``folder`` and its missing parents below ``stop``; return them, outermost first."""
    created: list[Path] = []
    current = folder
    while current != stop and not current.exists():
        created.append(current)
        current = current.parent
    for path in reversed(created):
        path.mkdir(exist_ok=True)
    return list(reversed(created))


def remove_empty_dirs(folder: Path) -> None:
    """Remove empty folders under ``folder`` (deepest first), and ``folder`` itself if empty."""
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        with suppress(OSError):
            path.rmdir()
    with suppress(OSError):
        folder.rmdir()
