"""The code version a job ran with (代码版本): ``git describe`` in a checkout, else the package
version (a container image has no ``.git``)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from puhui import __version__

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


@functools.cache
def code_version() -> str:
    """``git describe --always --dirty`` of the source tree, or ``puhui <version>``."""
    try:
        described = subprocess.run(
            ["git", "describe", "--tags", "--always", "--dirty"],
            cwd=_PACKAGE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    return (f"{__version__}+{described}" if described else __version__)[:64]
