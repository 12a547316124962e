"""Operations: scheduled job runs, retention. (tables of this capability; placeholder until its issue adds them)."""

from __future__ import annotations
