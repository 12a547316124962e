"""A node's HTTP face (FastAPI): the platform answers the bank's signed calls; the bank takes
signed control calls from its own operator (the ``puhui node psi|train|score`` commands).

Every request is verified (signature, sender, time window, nonce) before any work; every
response, refusals included, is signed by this node and bound to the request's nonce.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request, Response
from nacl.signing import VerifyKey
from starlette.concurrency import run_in_threadpool

from puhui.federated.audit import AUDIT_FILE, AuditLog
from puhui.federated.auth import HEADER_NONCE, NodeIdentity, RequestVerifier
from puhui.federated.bank import BankCoordinator
from puhui.federated.client import PeerClient
from puhui.federated.errors import AuthenticationError, FederatedError
from puhui.federated.linear import TrainingParameters
from puhui.federated.platform import PlatformService

ROLES = ("bank", "platform")
logger = logging.getLogger(__name__)


@dataclass
class NodeConfig:
    """What a node needs: who it is, where its data lives, and who its peer is."""

    role: str
    data_dir: Path
    identity: NodeIdentity
    peer_key: VerifyKey
    peer_url: str | None = None
    workers: int = 2
    window_seconds: float = 120.0


def make_executor(workers: int) -> Executor | None:
    """A process pool for the group arithmetic (spawned, so it is safe beside threads)."""
    if workers <= 1:
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def create_app(config: NodeConfig) -> FastAPI:
    """The node's application for its role."""
    if config.role not in ROLES:
        raise FederatedError(f"node role must be one of {ROLES}, not {config.role!r}")
    app = FastAPI(title=f"puhui {config.role} node", docs_url=None, redoc_url=None)
    executor = make_executor(config.workers)
    audit = AuditLog(Path(config.data_dir) / AUDIT_FILE, node=config.role)
    if config.role == "platform":
        verifier = RequestVerifier(
            "bank", {"bank": config.peer_key}, window_seconds=config.window_seconds
        )
    else:  # the bank's operator signs control calls with the bank's own key
        verifier = RequestVerifier(
            "bank",
            {"bank": config.identity.signing_key.verify_key},
            window_seconds=config.window_seconds,
        )

    def signed(request: Request, body: bytes, status: int = 200, json_body: bool = False):
        nonce = request.headers.get(HEADER_NONCE, "")
        headers = config.identity.sign_response(status, nonce, body)
        media = "application/json" if json_body else "application/octet-stream"
        return Response(content=body, status_code=status, headers=headers, media_type=media)

    def as_json(request: Request, payload: dict, status: int = 200) -> Response:
        return signed(request, json.dumps(payload).encode(), status, json_body=True)

    Handler = Callable[[bytes], object]

    async def handle(request: Request, work: Handler) -> Response:
        body = await request.body()
        try:
            verifier.verify(request.method, request.url.path, request.headers, body)
        except AuthenticationError as error:
            audit.append("auth.refused", "-", path=request.url.path, reason=str(error))
            return as_json(request, {"detail": str(error)}, status=401)
        try:
            result = await run_in_threadpool(work, body)
        except FederatedError as error:
            return as_json(request, {"detail": str(error)}, status=409)
        except Exception as error:
            logger.exception("%s node failed on %s", config.role, request.url.path)
            detail = f"internal error in the {config.role} node: {type(error).__name__}: {error}"
            return as_json(request, {"detail": detail}, status=500)
        if isinstance(result, bytes):
            return signed(request, result)
        return as_json(request, result)  # type: ignore[arg-type]

    def route(path: str) -> Callable[[Handler], Callable[..., Awaitable[Response]]]:
        def register(work_for: Callable[..., Handler]):
            async def endpoint(request: Request) -> Response:
                return await handle(request, work_for(**request.path_params))

            app.add_api_route(path, endpoint, methods=["POST"])
            return work_for

        return register

    @app.get("/health")
    def health() -> dict:
        return {"role": config.role, "public_key": config.identity.public_key_hex}

    if config.role == "platform":
        service = PlatformService(config.data_dir, executor, audit)

        @route("/psi/{job_id}/start")
        def _(job_id: str) -> Handler:
            def work(body: bytes) -> dict:
                spec = json.loads(body)
                return service.psi_start(
                    job_id, spec["reveal"], int(spec["batch_size"]), spec.get("hash")
                )

            return work

        @route("/psi/{job_id}/reblind")
        def _(job_id: str) -> Handler:
            return lambda body: service.psi_reblind(job_id, body)

        @route("/psi/{job_id}/batch/{index}")
        def _(job_id: str, index: str) -> Handler:
            return lambda body: service.psi_batch(job_id, int(index))

        @route("/psi/{job_id}/finish")
        def _(job_id: str) -> Handler:
            def work(body: bytes) -> dict:
                job = service._psi_job(job_id)
                positions = np.frombuffer(body, dtype="<i8") if job.reveal == "both" else None
                return service.psi_finish(job_id, positions)

            return work

        @route("/lr/{job_id}/start")
        def _(job_id: str) -> Handler:
            def work(body: bytes) -> dict:
                spec = json.loads(body)
                parameters = TrainingParameters(**spec["parameters"])
                return service.lr_start(job_id, spec["psi_job"], parameters)

            return work

        @route("/lr/{job_id}/contexts")
        def _(job_id: str) -> Handler:
            return lambda body: service.lr_contexts(job_id, body)

        @route("/lr/{job_id}/round1")
        def _(job_id: str) -> Handler:
            return lambda body: service.lr_round1(job_id, body)

        @route("/lr/{job_id}/round2")
        def _(job_id: str) -> Handler:
            return lambda body: service.lr_round2(job_id, body)

        @route("/lr/{job_id}/round3")
        def _(job_id: str) -> Handler:
            return lambda body: service.lr_round3(
                job_id, np.asarray(json.loads(body)["totals"], dtype=np.float64)
            )

        @route("/lr/{job_id}/finish")
        def _(job_id: str) -> Handler:
            return lambda body: service.lr_finish(job_id)

        @route("/score/{model_job}")
        def _(model_job: str) -> Handler:
            return lambda body: service.score(model_job, json.loads(body)["psi_job"])

    else:
        if not config.peer_url:
            raise FederatedError("the bank node needs --peer-url (the platform node's address)")
        client = PeerClient(config.peer_url, config.identity, config.peer_key, "platform")
        coordinator = BankCoordinator(config.data_dir, client, executor, audit)

        @route("/control/psi")
        def _() -> Handler:
            def work(body: bytes) -> dict:
                spec = json.loads(body or b"{}")
                return asdict(
                    coordinator.run_psi(
                        spec.get("job_id"),
                        spec.get("reveal", "both"),
                        spec.get("batch_size", 50_000),
                    )
                )

            return work

        @route("/control/train")
        def _() -> Handler:
            def work(body: bytes) -> dict:
                spec = json.loads(body)
                parameters = TrainingParameters(**spec.get("parameters", {}))
                return asdict(coordinator.train(spec["psi_job"], parameters, spec.get("job_id")))

            return work

        @route("/control/score")
        def _() -> Handler:
            def work(body: bytes) -> dict:
                spec = json.loads(body)
                return asdict(coordinator.score(spec["model_job"], spec["psi_job"]))

            return work

    @app.on_event("shutdown")
    def _shutdown() -> None:
        if executor is not None:
            executor.shutdown(cancel_futures=True)

    return app
