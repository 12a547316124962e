"""Sentinel (anti-fraud): verdicts, blacklist versions, strategy sets. (tables of this capability; placeholder until its issue adds them)."""

from __future__ import annotations
