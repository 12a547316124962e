"""``puhui ingest``: validate source deliveries and write them to the lake atomically."""

from __future__ import annotations


def ingest() -> None:
    """接入 · ingest files of one table into the lake."""
    raise SystemExit("puhui ingest is being built")


def ingest_dir() -> None:
    """接入目录 · ingest every table file in a folder."""
    raise SystemExit("puhui ingest-dir is being built")
