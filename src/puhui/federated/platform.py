"""The platform's side of each joint job (政务数据平台): it answers, the bank drives.

The platform never sees the bank's identifiers outside the intersection, its features or labels.
It learns the intersection only when the job reveals it to both (needed for training), its own
model half, and its own full-batch gradient each iteration (see docs/FEDERATED.md).
"""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from puhui.federated import he, psi_math
from puhui.federated.audit import AuditLog
from puhui.federated.data import PartyTable, load_party
from puhui.federated.errors import JobError
from puhui.federated.jobs import check_job_id, load_intersection, model_path, save_intersection
from puhui.federated.linear import LinearPart, TrainingParameters, training_rows
from puhui.federated.wire import pack_blobs, unpack_blobs

MATCH_BYTES = 16  # doubly blinded points are compared on 128 bits


@dataclass
class _PsiJob:
    key: bytes
    reveal: str
    ids: list[str]
    batches: list[Future]
    bytes_out: int = 0


@dataclass
class _LrJob:
    parameters: TrainingParameters
    features: np.ndarray
    part: LinearPart
    names: list[str]
    secret_context: Any = None
    bank_context: Any = None
    pending: Future | None = None
    masks: np.ndarray | None = None
    residual: np.ndarray | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng())


class PlatformService:
    """Holds the platform's jobs in memory; results and audit go to its own folder."""

    def __init__(self, data_dir: Path, executor: Executor | None, audit: AuditLog) -> None:
        self.data_dir = Path(data_dir)
        self.executor = executor
        self.audit = audit
        self._psi: dict[str, _PsiJob] = {}
        self._lr: dict[str, _LrJob] = {}
        self._background = ThreadPoolExecutor(max_workers=1)
        self._lock = threading.Lock()

    def _table(self) -> PartyTable:
        return load_party(self.data_dir, with_labels=False)

    # ---- PSI ---------------------------------------------------------------------------
    def psi_start(
        self, job_id: str, reveal: str, batch_size: int, hash_version: str | None = None
    ) -> dict[str, int]:
        check_job_id(job_id)
        if hash_version != psi_math.HASH_VERSION:
            raise JobError(
                f"PSI job {job_id}: the bank hashes ids as {hash_version!r}, this node as "
                f"{psi_math.HASH_VERSION!r}; upgrade the older node (nothing would match)"
            )
        if reveal not in ("both", "bank"):
            raise JobError(f"PSI job {job_id}: reveal must be 'both' or 'bank', not {reveal!r}")
        if not 1_000 <= batch_size <= 1_000_000:
            raise JobError(f"PSI job {job_id}: batch size {batch_size} outside 1,000..1,000,000")
        ids = list(self._table().ids)
        np.random.default_rng(secrets.randbits(64)).shuffle(ids)  # order says nothing
        key = psi_math.new_psi_key()
        half = max(1, batch_size // 2)
        batches = []
        for start in range(0, len(ids), batch_size):
            part = ids[start : start + batch_size]
            if self.executor is None:
                future: Future = Future()
                future.set_result(psi_math.hash_and_blind(key, part))
            else:  # two halves so both workers share each batch
                halves = [
                    self.executor.submit(psi_math.hash_and_blind, key, part[i : i + half])
                    for i in range(0, len(part), half)
                ]
                future = self._background.submit(lambda hs=halves: b"".join(h.result() for h in hs))
            batches.append(future)
        with self._lock:
            self._psi[job_id] = _PsiJob(key, reveal, ids, batches)
        self.audit.append("psi.start", job_id, reveal=reveal, own_rows=len(ids))
        return {"count": len(ids), "batches": len(batches)}

    def _psi_job(self, job_id: str) -> _PsiJob:
        job = self._psi.get(job_id)
        if job is None:
            raise JobError(f"PSI job {job_id!r} is unknown to the platform node")
        return job

    def psi_reblind(self, job_id: str, blob: bytes) -> bytes:
        """The bank's blinded batch raised to our key, truncated for comparison."""
        job = self._psi_job(job_id)
        return psi_math.parallel_reblind(
            self.executor,
            job.key,
            blob,
            MATCH_BYTES,
            chunk=max(1, (len(blob) // psi_math.POINT_BYTES + 1) // 2),
        )

    def psi_batch(self, job_id: str, index: int) -> bytes:
        job = self._psi_job(job_id)
        if not 0 <= index < len(job.batches):
            raise JobError(f"PSI job {job_id}: batch {index} of {len(job.batches)}")
        blob = job.batches[index].result()
        job.bytes_out += len(blob)
        return blob

    def psi_finish(self, job_id: str, positions: np.ndarray | None) -> dict[str, int]:
        job = self._psi_job(job_id)
        with self._lock:
            self._psi.pop(job_id, None)
        if job.reveal == "both":
            if positions is None:
                raise JobError(f"PSI job {job_id} reveals to both but no positions came")
            if len(positions) and (positions.min() < 0 or positions.max() >= len(job.ids)):
                raise JobError(f"PSI job {job_id}: a matched position is out of range")
            save_intersection(self.data_dir, job_id, [job.ids[int(p)] for p in positions])
            size = len(positions)
        else:
            size = -1  # the platform does not learn it
        self.audit.append("psi.finish", job_id, reveal=job.reveal, intersection=size)
        return {"intersection": size}

    # ---- vertical logistic regression --------------------------------------------------
    def lr_start(self, job_id: str, psi_job: str, parameters: TrainingParameters) -> dict:
        check_job_id(job_id)
        table = self._table()
        intersection = load_intersection(self.data_dir, psi_job)
        rows = table.rows_for(intersection)[training_rows(intersection, parameters)]
        raw = table.features[rows]
        part = LinearPart.start(raw, parameters, with_intercept=False)
        job = _LrJob(parameters, part.standardizer.transform(raw), part, table.feature_names)
        with self._lock:
            self._lr[job_id] = job
        self.audit.append(
            "lr.start",
            job_id,
            psi_job=psi_job,
            rows=len(rows),
            features=len(table.feature_names),
            parameters=parameters.__dict__,
        )
        return {"rows": len(rows), "features": len(table.feature_names)}

    def _lr_job(self, job_id: str) -> _LrJob:
        job = self._lr.get(job_id)
        if job is None:
            raise JobError(f"training job {job_id!r} is unknown to the platform node")
        return job

    def lr_contexts(self, job_id: str, bank_public_context: bytes) -> bytes:
        """Take the bank's public CKKS context; give ours (neither holds a secret key)."""
        job = self._lr_job(job_id)
        job.bank_context = he.load_context(bank_public_context)
        job.secret_context = he.new_secret_context()
        return he.public_context_bytes(job.secret_context)

    def lr_round1(self, job_id: str, body: bytes) -> bytes:
        """Take [[r_bank]]; start Xᵀ[[r_bank]] + mask in the background; give [[r_platform]]."""
        job = self._lr_job(job_id)
        encrypted_bank_residual = unpack_blobs(body)
        job.pending = self._background.submit(
            he.masked_cross_products,
            job.bank_context,
            encrypted_bank_residual,
            job.features,
            job.rng,
        )
        job.residual = job.part.residual_share(job.features, None)
        return pack_blobs(he.encrypt_vector(job.secret_context, job.residual))

    def lr_round2(self, job_id: str, body: bytes) -> bytes:
        """Decrypt the bank's masked totals for it; hand over ours, still encrypted and masked."""
        job = self._lr_job(job_id)
        if job.pending is None:
            raise JobError(f"training job {job_id}: round 2 before round 1")
        opened = he.decrypt_totals(job.secret_context, unpack_blobs(body))
        ours, job.masks = job.pending.result()
        job.pending = None
        return pack_blobs([opened.astype("<f8").tobytes(), *ours])

    def lr_round3(self, job_id: str, masked_totals: np.ndarray) -> dict:
        """Unmask our cross term, add the local term, take one step."""
        job = self._lr_job(job_id)
        if job.masks is None or len(masked_totals) != len(job.masks):
            raise JobError(f"training job {job_id}: round 3 totals do not match round 2")
        gradient = job.features.T @ job.residual + (masked_totals - job.masks)
        job.part.apply_gradient(gradient)
        job.masks = None
        return {"step": job.part.step}

    def lr_finish(self, job_id: str) -> dict:
        job = self._lr_job(job_id)
        with self._lock:
            self._lr.pop(job_id, None)
        path = model_path(self.data_dir, job_id)
        job.part.save(path, job.names, job_id)
        self.audit.append("lr.finish", job_id, iterations=job.part.step, model=str(path.name))
        return {"iterations": job.part.step}

    # ---- scoring -------------------------------------------------------------------------
    def score(self, model_job: str, psi_job: str) -> bytes:
        """Our share of the log-odds for the intersection (sorted), for the bank alone."""
        part, names = LinearPart.load(model_path(self.data_dir, model_job))
        table = self._table()
        if names != table.feature_names:
            raise JobError(f"model {model_job} was trained on other platform columns")
        ids = load_intersection(self.data_dir, psi_job)
        share = part.partial_score(part.standardizer.transform(table.features[table.rows_for(ids)]))
        self.audit.append("score.share", model_job, psi_job=psi_job, rows=len(ids))
        return share.astype("<f8").tobytes()
