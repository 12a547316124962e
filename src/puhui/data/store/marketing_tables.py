"""Precision marketing: target lists, prospects, allocations, outcomes. (tables of this capability; placeholder until its issue adds them)."""

from __future__ import annotations
