"""The long-lived objects one app shares: the store engine, the access service, the lake.

Built lazily on first use (so ``create_app`` never touches a database) and closed with the
app. Settings, the clock and the access policy are handed in by ``create_app``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.access import AccessPolicy, AccessService, Principal
from puhui.actions.access.passwords import Passwords
from puhui.data.lake import Lake
from puhui.data.store import make_engine, make_session_factory, require_up_to_date
from puhui.data.store.access_tables import SessionKind
from puhui.data.store.tables import utc_now
from puhui.settings import Settings


class TokenChecks:
    """Store reads of API tokens in flight, so concurrent requests with one token share one.

    When a token's trusted interval (``AccessPolicy.api_recheck``) ends under load, every
    request in flight misses at once; each reading (and touching) the session itself queued
    dozens of store reads in the thread pool, stalled the worker and, on SQLite, failed with
    "database is locked". One read per token at a time, and the rest wait for its answer.
    """

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[tuple[Principal, str] | None]] = {}

    async def resolve(self, access: AccessService, token: str) -> tuple[Principal, str] | None:
        loop = asyncio.get_running_loop()
        running = self._running.get(token)
        if running is None or running.get_loop() is not loop:
            running = loop.create_task(run_in_threadpool(access.resolve, token, SessionKind.API))
            self._running[token] = running
            running.add_done_callback(lambda done: self._forget(token, done))
        # A request that goes away (client disconnect) must not cancel the others' answer.
        return await asyncio.shield(running)

    def _forget(self, token: str, done: asyncio.Future[tuple[Principal, str] | None]) -> None:
        if self._running.get(token) is done:
            del self._running[token]

    def __len__(self) -> int:
        return len(self._running)


class AppServices:
    """Store sessions, access service and lake for one app."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy: AccessPolicy | None = None,
        passwords: Passwords | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._policy = policy
        self._passwords = passwords
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._access: AccessService | None = None
        self.token_checks = TokenChecks()

    @property
    def sessions(self) -> sessionmaker[Session]:
        with self._lock:
            if self._sessions is None:
                engine = make_engine(self.settings.resolved_store_url)
                require_up_to_date(engine)
                self._engine = engine
                self._sessions = make_session_factory(engine)
            return self._sessions

    @property
    def access(self) -> AccessService:
        sessions = self.sessions
        with self._lock:
            if self._access is None:
                self._access = AccessService(
                    sessions, policy=self._policy, passwords=self._passwords, clock=self.clock
                )
            return self._access

    @property
    def lake(self) -> Lake:
        return Lake(self.settings.lake_dir)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = self._sessions = self._access = None
