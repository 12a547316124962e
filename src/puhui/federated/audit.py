"""Each node's record of every joint job: an append-only, hash-chained JSON-lines file.

Every line holds the previous line's hash, so editing or deleting a past record breaks the
chain at that line (``verify_audit_file`` names it). One file per node, never shared.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from puhui.federated.errors import FederatedError

GENESIS = "0" * 64
AUDIT_FILE = "audit.jsonl"


def _record_hash(record: dict[str, Any]) -> str:
    body = {key: value for key, value in record.items() if key != "hash"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """Appends joint-job events (job id, kind, peer, parameters, outcome) to one node's file."""

    def __init__(self, path: Path, node: str) -> None:
        self.path = Path(path)
        self.node = node
        self._lock = threading.Lock()
        self._last_hash = GENESIS
        if self.path.is_file():
            self._last_hash = verify_audit_file(self.path)

    def append(self, event: str, job_id: str, /, **details: Any) -> dict[str, Any]:
        with self._lock:
            record: dict[str, Any] = {
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "node": self.node,
                "event": event,
                "job_id": job_id,
                "details": details,
                "prev": self._last_hash,
            }
            record["hash"] = _record_hash(record)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            self._last_hash = record["hash"]
            return record


def read_audit_file(path: Path) -> list[dict[str, Any]]:
    """All records of an audit file, in order."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def verify_audit_file(path: Path) -> str:
    """The last hash if every line chains to the one before; raises naming the broken line."""
    previous = GENESIS
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise FederatedError(f"audit file {path} line {number} is not JSON") from error
        if record.get("prev") != previous or record.get("hash") != _record_hash(record):
            raise FederatedError(f"audit file {path} line {number}: hash chain broken")
        previous = record["hash"]
    return previous
