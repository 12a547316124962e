"""Several uvicorn worker processes, each accepting on its own ``SO_REUSEPORT`` socket.

uvicorn's own ``--workers`` share one accepting socket, and the first worker to wake takes a
burst of new connections (measured: 50 / 0 keep-alive connections over two workers), leaving
the other core idle. With one socket per worker the kernel spreads connections by hash.

The parent binds every socket (so a taken port fails at once, and port 0 picks one port for
all), starts the workers with ``spawn`` (no forked threads or locks) and supervises them:
SIGTERM/SIGINT are forwarded, and a worker that dies uncalled-for stops the rest with a
non-zero exit status, so a process manager restarts the whole service.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

STOP_GRACE_SECONDS = 30.0


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket that other workers may bind to the same port;
    uvicorn calls ``listen`` once its application is built, so no connection waits on a
    worker that is still loading."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets on one port (port 0: the kernel's choice for the first, then that)."""
    sockets = [reuseport_socket(host, port)]
    port = sockets[0].getsockname()[1]
    try:
        sockets += [reuseport_socket(host, port) for _ in range(count - 1)]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def run_worker(
    app_factory: Callable[[], Any], sock: socket.socket, options: Mapping[str, Any]
) -> None:
    """Child process: build the application and serve it on the inherited socket."""
    import uvicorn

    config = uvicorn.Config(app_factory, factory=True, **dict(options))
    # uvicorn re-raises SIGINT once it has drained its connections: that is a clean stop.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


@dataclass
class WorkerGroup:
    """The started workers and the port they share."""

    processes: list[BaseProcess]
    port: int
    _stop_signal: int | None = field(default=None, repr=False)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Ask every live worker to finish (uvicorn drains its connections on SIGTERM)."""
        self._stop_signal = signum
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signum)

    def join(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Wait for every worker; kill those that outlive ``timeout``."""
        for process in self.processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join()

    def stopped_cleanly(self, process: BaseProcess) -> bool:
        """uvicorn re-raises the signal it stopped on after draining, so a worker asked to stop
        ends with that signal (exit code ``-signum``) or 0."""
        return process.exitcode in (0, -(self._stop_signal or 0))

    def supervise(self) -> int:
        """Wait until the workers end. On SIGTERM/SIGINT forward the signal and return 0 when
        all ended cleanly; when a worker dies on its own, stop the others and return non-zero."""
        previous = {s: signal.signal(s, self._forward) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            pending = {p.sentinel: p for p in self.processes}
            status = 0
            while pending:
                for ready in wait(list(pending), timeout=1.0):
                    process = pending.pop(ready)  # type: ignore[call-overload]
                    process.join()
                    if self._stop_signal is None:
                        status = process.exitcode or 1
                        self.stop()
                    elif not self.stopped_cleanly(process):
                        status = status or process.exitcode or 1
            return abs(status) if status else 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.join()

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self.stop(signum)


def start_workers(
    app_factory: Callable[[], Any],
    count: int,
    host: str,
    port: int,
    **uvicorn_options: Any,
) -> WorkerGroup:
    """Start ``count`` worker processes serving ``app_factory()`` (a picklable, importable
    callable: each worker builds its own application) on ``host:port``."""
    if count < 1:
        raise ValueError(f"workers must be at least 1, got {count}")
    sockets = bind_sockets(host, port, count)
    bound = sockets[0].getsockname()[1]
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = []
    try:
        for sock in sockets:
            process = context.Process(
                target=run_worker, args=(app_factory, sock, uvicorn_options), daemon=False
            )
            process.start()
            processes.append(process)
    except BaseException:
        WorkerGroup(processes, bound).stop()
        raise
    finally:
        for sock in sockets:  # the workers hold their own copies
            sock.close()
    return WorkerGroup(processes, bound)


def serve_workers(
    app_factory: Callable[[], Any], count: int, host: str, port: int, **uvicorn_options: Any
) -> int:
    """Start the workers and supervise them until they end; the exit status for the shell."""
    return start_workers(app_factory, count, host, port, **uvicorn_options).supervise()
