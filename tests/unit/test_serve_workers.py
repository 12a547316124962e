"""``puhui serve --workers``: worker processes on their own SO_REUSEPORT sockets, supervised."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from puhui.api.workers import bind_sockets, start_workers

HERE = Path(__file__).parent


def pid_app():  # type: ignore[no-untyped-def]
    """A worker's application for the tests: answers every request with its process id."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = str(os.getpid()).encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def broken_app():  # type: ignore[no-untyped-def]
    raise RuntimeError("the application cannot be built")


def answer(port: int) -> int | None:
    """One request on a fresh connection: the answering worker's pid, or None if refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
    except OSError:
        return None
    return int(data.split(b"\r\n\r\n", 1)[1])


def answering_pids(port: int, want: int, deadline_s: float = 60.0) -> set[int]:
    """Fresh connections until ``want`` distinct workers answered (the kernel hashes each new
    connection to one socket, so a few dozen reach both)."""
    seen: set[int] = set()
    deadline = time.monotonic() + deadline_s
    while len(seen) < want and time.monotonic() < deadline:
        pid = answer(port)
        if pid is None:
            time.sleep(0.1)
        else:
            seen.add(pid)
    return seen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_workers_each_answer_on_one_port_and_stop_on_sigterm() -> None:
    group = start_workers(pid_app, 2, "127.0.0.1", 0, log_level="warning")
    try:
        assert answering_pids(group.port, 2) == set(group.pids)
    finally:
        group.stop(signal.SIGTERM)
        group.join(timeout=20)
    assert [group.stopped_cleanly(p) for p in group.processes] == [True, True]
    assert answer(group.port) is None


def test_supervisor_forwards_sigterm_and_exits_zero() -> None:
    port = free_port()
    script = (
        "import sys; from test_serve_workers import pid_app; "
        "from puhui.api.workers import serve_workers; "
        f"sys.exit(serve_workers(pid_app, 2, '127.0.0.1', {port}, log_level='warning'))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        workers = answering_pids(port, 2)
        assert len(workers) == 2 and parent.pid not in workers
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
    finally:
        if parent.poll() is None:
            parent.kill()
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        )
    assert answer(port) is None


def test_supervisor_exits_nonzero_when_a_worker_dies() -> None:
    group = start_workers(broken_app, 2, "127.0.0.1", 0, log_level="critical")
    assert group.supervise() != 0
    assert all(not p.is_alive() for p in group.processes)


def test_a_taken_port_fails_before_any_worker_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            bind_sockets("127.0.0.1", taken.getsockname()[1], 2)
