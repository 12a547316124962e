"""Alarm (post-loan early warning): scans, warnings, level history, tasks, disposals.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Placeholder: the tables of this capability are added by its issue."""


def downgrade() -> None:
    """Placeholder: nothing to drop yet."""
