"""``puhui simulate``: generate a synthetic province (filled in by the simulator work)."""

from __future__ import annotations


def simulate() -> None:
    """模拟省份 · generate a synthetic Zhejiang-like province."""
    raise SystemExit("puhui simulate is being built")
