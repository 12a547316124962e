"""Exit codes of ``puhui scheduler`` and ``puhui ops`` (退出码), for a bank's own scheduler.

0 and 1 keep their usual meaning across puhui (1: a puhui error named on stderr, such as a
malformed configuration). The others say what an outside scheduler should do next.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a run ended with; documented in docs/OPERATIONS.md."""

    OK = 0
    """Everything due ran and succeeded (or nothing was due)."""
    ERROR = 1
    """A puhui error: bad configuration, unknown job, bad arguments (see stderr)."""
    USAGE = 2
    """The command line itself was wrong (typer's usage error)."""
    JOB_FAILED = 3
    """A job failed after all its retries: alert someone."""
    BLOCKED = 4
    """A job did not start because a dependency has not succeeded: try again later."""
    STORE_UNAVAILABLE = 5
    """The operational store is unreachable or its schema is behind: fix it, then rerun."""
    VERIFICATION_FAILED = 6
    """A restored store's audit log or consent chain does not verify: do not use it."""
    LEASE_HELD = 7
    """Another ``puhui scheduler run`` holds the scheduler lease: this one ran nothing."""
