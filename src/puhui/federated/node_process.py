"""Starting nodes as separate processes and talking to the bank node as its operator."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from puhui.federated.auth import PEER_KEY_FILE, load_or_create_identity
from puhui.federated.client import PeerClient
from puhui.federated.errors import PeerError


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def exchange_keys(bank_dir: Path, platform_dir: Path) -> None:
    """Create both nodes' keys and give each the other's public key (out-of-band setup)."""
    bank = load_or_create_identity(bank_dir, "bank")
    platform = load_or_create_identity(platform_dir, "platform")
    (Path(bank_dir) / PEER_KEY_FILE).write_text(platform.public_key_hex + "\n")
    (Path(platform_dir) / PEER_KEY_FILE).write_text(bank.public_key_hex + "\n")


@dataclass
class RunningNode:
    role: str
    url: str
    process: subprocess.Popen
    log_path: Path


def start_node(
    role: str,
    data_dir: Path,
    port: int,
    peer_url: str | None = None,
    workers: int = 2,
    timeout: float = 60.0,
) -> RunningNode:
    """``puhui node serve`` as a child process; returns once it answers ``/health``."""
    command = [
        sys.executable, "-m", "puhui.cli.node", "serve",
        "--role", role, "--data-dir", str(data_dir), "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    if peer_url:
        command += ["--peer-url", peer_url]
    log_path = Path(data_dir) / f"{role}-node.log"
    log = log_path.open("ab")
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PeerError(f"{role} node exited with code {process.returncode}; see {log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return RunningNode(role, url, process, log_path)
        time.sleep(0.2)
    process.kill()
    raise PeerError(f"{role} node did not answer on {url} within {timeout:.0f} s; see {log_path}")


def stop_node(node: RunningNode) -> None:
    node.process.terminate()
    try:
        node.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        node.process.kill()
        node.process.wait()


@contextlib.contextmanager
def running_pair(bank_dir: Path, platform_dir: Path, workers: int = 2) -> Iterator[str]:
    """Both nodes running on free loopback ports; yields the bank node's URL."""
    exchange_keys(bank_dir, platform_dir)
    platform = start_node("platform", platform_dir, free_port(), workers=workers)
    try:
        bank = start_node("bank", bank_dir, free_port(), peer_url=platform.url, workers=workers)
        try:
            yield bank.url
        finally:
            stop_node(bank)
    finally:
        stop_node(platform)


def operator_client(bank_dir: Path, bank_url: str) -> PeerClient:
    """A client that signs control calls to the bank node with the bank's own key."""
    identity = load_or_create_identity(bank_dir, "bank")
    return PeerClient(bank_url, identity, identity.signing_key.verify_key, "bank", timeout=None)


def control(bank_dir: Path, bank_url: str, action: str, payload: dict[str, Any]) -> dict:
    """Ask the bank node to run a joint job (``psi``, ``train`` or ``score``)."""
    with operator_client(bank_dir, bank_url) as client:
        return client.post_json(f"/control/{action}", payload)
