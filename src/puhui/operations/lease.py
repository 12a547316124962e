"""The scheduler lease (调度租约): only one ``puhui scheduler run`` runs jobs at a time.

A row in ``scheduler_lease`` names the holder and until when it holds. A scheduler takes the
lease when it is free or expired and renews it before each pass and each attempt, for as long
as that attempt may take; a second scheduler started by mistake finds it held and stops (exit
code 7) instead of running every job twice. A holder that dies simply lets it expire.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from puhui.data.store.operations_tables import SchedulerLease
from puhui.errors import PuhuiError

LEASE_NAME = "scheduler"


class LeaseHeldError(PuhuiError):
    """Another scheduler holds the lease; this one must not run jobs."""


def default_holder() -> str:
    """``host:pid:random``, unique per process."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class StoreLease:
    """The lease in the store, held by ``holder``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        holder: str | None = None,
        name: str = LEASE_NAME,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.holder = holder or default_holder()
        self.name = name

    def hold(self, seconds: float) -> None:
        """Take or renew the lease for ``seconds``; raise ``LeaseHeldError`` if another has it."""
        now = self._clock()
        until = now + timedelta(seconds=seconds)
        with self._sessions.begin() as session:
            renewed = session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,
                    or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at <= now),
                )
                .values(holder=self.holder, acquired_at=now, expires_at=until)
                .execution_options(synchronize_session=False)
            ).rowcount
        if renewed:
            return
        try:
            with self._sessions.begin() as session:
                session.add(
                    SchedulerLease(
                        name=self.name, holder=self.holder, acquired_at=now, expires_at=until
                    )
                )
        except IntegrityError:
            with self._sessions() as session:
                current = session.get(SchedulerLease, self.name)
            who = f"{current.holder} until {current.expires_at.isoformat()}" if current else "?"
            raise LeaseHeldError(
                f"another scheduler holds the lease ({who}); run only one `puhui scheduler run`"
            ) from None

    def release(self) -> None:
        """Give the lease up (only if this process holds it)."""
        with self._sessions.begin() as session:
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=self._clock())
                .execution_options(synchronize_session=False)
            )
