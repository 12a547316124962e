"""The work id (请求/作业编号) that follows one piece of work across components.

A request id set by the API middleware, or a job run's id set by the scheduler, lives in a
context variable, so every log line written while handling that work carries it without
being passed through every call. The scheduler hands it to the commands it starts through
``PUHUI_WORK_ID``, so a job's own logs carry the run's id too.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

WORK_ID_VARIABLE = "PUHUI_WORK_ID"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

_work_id: ContextVar[str | None] = ContextVar("puhui_work_id", default=None)


def new_work_id() -> str:
    """A fresh random id (UUID4 text)."""
    return str(uuid.uuid4())


def clean_work_id(candidate: str | None) -> str | None:
    """``candidate`` if it is a safe id (letters, digits, ``._:-``, ≤ 64), else None.

    Ids arrive from outside (a load balancer's ``X-Request-ID``); anything else is replaced so
    a caller cannot inject text into the logs.
    """
    if candidate and _SAFE_ID.fullmatch(candidate):
        return candidate
    return None


def current_work_id() -> str | None:
    """The id of the work in progress: this context's, else the one inherited from the parent
    process (``PUHUI_WORK_ID``), else None."""
    return _work_id.get() or clean_work_id(os.environ.get(WORK_ID_VARIABLE))


@contextmanager
def work_context(work_id: str | None = None) -> Iterator[str]:
    """Run the block under ``work_id`` (a fresh one when None); restores the previous id."""
    chosen = work_id or new_work_id()
    token = _work_id.set(chosen)
    try:
        yield chosen
    finally:
        _work_id.reset(token)
