"""The bank's side of each joint job: it drives PSI, training and scoring against the platform.

The bank holds the labels. It learns the intersection, its own model half and the joint score;
never the platform's features, its non-matching identifiers or its model half.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from puhui.federated import he, psi_math
from puhui.federated.audit import AuditLog
from puhui.federated.client import PeerClient
from puhui.federated.data import load_party
from puhui.federated.errors import JobError
from puhui.federated.jobs import check_job_id, load_intersection, model_path, save_intersection
from puhui.federated.linear import (
    HOLDOUT,
    SCORE_ONLY,
    TRAIN,
    LinearPart,
    TrainingParameters,
    row_roles,
    training_rows,
)
from puhui.federated.platform import MATCH_BYTES
from puhui.federated.wire import pack_blobs, unpack_blobs

ROLE_NAMES = ("train", "holdout", "score")
"""How the scores file names each row's role (``linear.row_roles``)."""


@dataclass(frozen=True)
class PsiResult:
    job_id: str
    reveal: str
    bank_rows: int
    platform_rows: int
    intersection: int
    seconds: float
    bytes_on_wire: int
    phases: dict[str, float] = field(default_factory=dict)
    """Wall seconds: ``start`` (ids loaded, platform told), ``ours`` and ``theirs`` (each
    direction of the exchange, which run side by side, from its start), ``match``, ``finish``."""


@dataclass(frozen=True)
class TrainResult:
    job_id: str
    psi_job: str
    rows: int
    bank_features: int
    platform_features: int
    iterations: int
    seconds: float
    seconds_per_iteration: float
    bytes_on_wire: int
    bytes_per_iteration: int


@dataclass(frozen=True)
class ScoreResult:
    job_id: str
    rows: int
    holdout_rows: int
    auc_joint: float
    auc_bank_only: float
    scores_file: str
    score_only_rows: int = 0


def new_job_id(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties averaged)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


class BankCoordinator:
    """Runs joint jobs from the bank's folder against the platform node behind ``client``."""

    def __init__(
        self, data_dir: Path, client: PeerClient, executor: Executor | None, audit: AuditLog
    ) -> None:
        self.data_dir = Path(data_dir)
        self.client = client
        self.executor = executor
        self.audit = audit

    # ---- PSI ---------------------------------------------------------------------------
    def run_psi(
        self, job_id: str | None = None, reveal: str = "both", batch_size: int = 50_000
    ) -> PsiResult:
        job_id = check_job_id(job_id or new_job_id("psi"))
        started, bytes_before = time.perf_counter(), self.client.bytes_total
        ids = load_party(self.data_dir, with_labels=True).ids
        self.audit.append("psi.start", job_id, reveal=reveal, own_rows=len(ids))
        plan = self.client.post_json(
            f"/psi/{job_id}/start",
            {"reveal": reveal, "batch_size": batch_size, "hash": psi_math.HASH_VERSION},
        )
        key = psi_math.new_psi_key()
        phases = {"start": time.perf_counter() - started}
        exchange_started = time.perf_counter()

        def send_ours() -> bytes:
            doubled = []
            for start in range(0, len(ids), batch_size):
                blob = psi_math.parallel_hash_and_blind(
                    self.executor, key, ids[start : start + batch_size], chunk=batch_size // 2 + 1
                )
                doubled.append(self.client.post(f"/psi/{job_id}/reblind", blob))
            phases["ours"] = time.perf_counter() - exchange_started
            return b"".join(doubled)

        def fetch_theirs() -> bytes:
            doubled = []
            for index in range(plan["batches"]):
                blob = self.client.post(f"/psi/{job_id}/batch/{index}")
                doubled.append(
                    psi_math.parallel_reblind(
                        self.executor, key, blob, MATCH_BYTES, chunk=len(blob) // 64 + 1
                    )
                )
            phases["theirs"] = time.perf_counter() - exchange_started
            return b"".join(doubled)

        with ThreadPoolExecutor(max_workers=2) as threads:
            ours_future, theirs_future = threads.submit(send_ours), threads.submit(fetch_theirs)
            ours, theirs = ours_future.result(), theirs_future.result()
        match_started = time.perf_counter()
        mine, their_positions = psi_math.matching_positions(ours, theirs, MATCH_BYTES)
        phases["match"] = time.perf_counter() - match_started
        body = their_positions.astype("<i8").tobytes() if reveal == "both" else b""
        self.client.post(f"/psi/{job_id}/finish", body)
        save_intersection(self.data_dir, job_id, [ids[int(p)] for p in mine])
        phases["finish"] = time.perf_counter() - match_started - phases["match"]
        result = PsiResult(
            job_id,
            reveal,
            len(ids),
            int(plan["count"]),
            len(mine),
            time.perf_counter() - started,
            self.client.bytes_total - bytes_before,
            {name: round(seconds, 3) for name, seconds in phases.items()},
        )
        self.audit.append("psi.finish", job_id, **asdict(result))
        return result

    # ---- vertical logistic regression --------------------------------------------------
    def train(
        self, psi_job: str, parameters: TrainingParameters, job_id: str | None = None
    ) -> TrainResult:
        job_id = check_job_id(job_id or new_job_id("lr"))
        started, bytes_before = time.perf_counter(), self.client.bytes_total
        table = load_party(self.data_dir, with_labels=True)
        intersection = load_intersection(self.data_dir, psi_job)
        rows = table.rows_for(intersection)[training_rows(intersection, parameters)]
        labels = table.labels[rows]
        if np.isnan(labels).any():
            raise JobError(
                f"training job {job_id}: {int(np.isnan(labels).sum())} training rows have no label"
            )
        if len(labels) == 0 or labels.min() == labels.max():
            raise JobError(f"training job {job_id}: the training rows hold one class only")
        part = LinearPart.start(table.features[rows], parameters, with_intercept=True)
        features = part.standardizer.transform(table.features[rows])
        with_ones = np.hstack([features, np.ones((len(rows), 1))])  # the intercept's column
        self.audit.append(
            "lr.start", job_id, psi_job=psi_job, rows=len(rows), parameters=asdict(parameters)
        )
        plan = self.client.post_json(
            f"/lr/{job_id}/start", {"psi_job": psi_job, "parameters": asdict(parameters)}
        )
        if plan["rows"] != len(rows):
            raise JobError(
                f"training job {job_id}: platform has {plan['rows']} rows, bank {len(rows)}"
            )
        secret_context = he.new_secret_context()
        platform_context = he.load_context(
            self.client.post(f"/lr/{job_id}/contexts", he.public_context_bytes(secret_context))
        )
        setup_bytes = self.client.bytes_total - bytes_before
        loop_started = time.perf_counter()
        rng = np.random.default_rng()
        for _ in range(parameters.iterations):
            residual = part.residual_share(features, labels)
            encrypted_platform_residual = unpack_blobs(
                self.client.post(
                    f"/lr/{job_id}/round1",
                    pack_blobs(he.encrypt_vector(secret_context, residual)),
                )
            )
            ours, masks = he.masked_cross_products(
                platform_context, encrypted_platform_residual, with_ones, rng
            )
            answer = unpack_blobs(self.client.post(f"/lr/{job_id}/round2", pack_blobs(ours)))
            opened = np.frombuffer(answer[0], dtype="<f8")
            their_masked_totals = he.decrypt_totals(secret_context, answer[1:])
            self.client.post_json(f"/lr/{job_id}/round3", {"totals": their_masked_totals.tolist()})
            gradient = with_ones.T @ residual + (opened - masks)
            part.apply_gradient(gradient[:-1], float(gradient[-1]))
        loop_seconds = time.perf_counter() - loop_started
        self.client.post_json(f"/lr/{job_id}/finish")
        part.save(model_path(self.data_dir, job_id), table.feature_names, job_id)
        total_bytes = self.client.bytes_total - bytes_before
        iterations = max(parameters.iterations, 1)
        result = TrainResult(
            job_id,
            psi_job,
            len(rows),
            len(table.feature_names),
            int(plan["features"]),
            parameters.iterations,
            time.perf_counter() - started,
            loop_seconds / iterations,
            total_bytes,
            (total_bytes - setup_bytes) // iterations,
        )
        self.audit.append("lr.finish", job_id, **asdict(result))
        return result

    # ---- scoring -------------------------------------------------------------------------
    def score(self, model_job: str, psi_job: str) -> ScoreResult:
        """Joint scores for the intersection; AUC on the held-out rows vs a bank-only model."""
        from sklearn.linear_model import LogisticRegression

        table = load_party(self.data_dir, with_labels=True)
        part, names = LinearPart.load(model_path(self.data_dir, model_job))
        if names != table.feature_names:
            raise JobError(f"model {model_job} was trained on other bank columns")
        ids = load_intersection(self.data_dir, psi_job)
        rows = table.rows_for(ids)
        platform_share = np.frombuffer(
            self.client.post_json_bytes(f"/score/{model_job}", {"psi_job": psi_job}), dtype="<f8"
        )
        if len(platform_share) != len(ids):
            raise JobError(f"scoring {model_job}: {len(platform_share)} shares for {len(ids)} ids")
        features = part.standardizer.transform(table.features[rows])
        log_odds = part.partial_score(features) + platform_share
        probability = 1.0 / (1.0 + np.exp(-log_odds))
        labels = table.labels[rows]
        roles = row_roles(ids, part.parameters)
        train = roles == TRAIN
        labelled_holdout = (roles == HOLDOUT) & ~np.isnan(labels)
        held_out = labelled_holdout if labelled_holdout.any() else train  # else in-sample
        bank_only = LogisticRegression(max_iter=2000).fit(features[train], labels[train])
        result_path = Path(self.data_dir) / "scores" / f"joint-{model_job}.parquet"
        result_path.parent.mkdir(parents=True, exist_ok=True)
        role_names = np.asarray(ROLE_NAMES)[roles]
        pl.DataFrame(
            {"id": ids, "pd": probability, "holdout": roles != TRAIN, "role": role_names}
        ).write_parquet(result_path)
        result = ScoreResult(
            model_job,
            len(ids),
            int(held_out.sum()) if labelled_holdout.any() else 0,
            auc(labels[held_out], log_odds[held_out]),
            auc(labels[held_out], bank_only.decision_function(features[held_out])),
            str(result_path),
            int((roles == SCORE_ONLY).sum()),
        )
        self.audit.append("score.finish", model_job, **asdict(result))
        return result
