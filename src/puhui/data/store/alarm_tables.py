"""Alarm (post-loan early warning): scans, warnings, level history, tasks, disposals. (tables of this capability; placeholder until its issue adds them)."""

from __future__ import annotations
