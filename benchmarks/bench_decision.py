"""Benchmark the full decision: sentinel interface + scoring + product match + pricing.

In-process: ``DecisionService.decide`` for random firms of a feature snapshot (p50/p90/p99).
Over HTTP: ``POST /api/v1/products/match/{uscc}`` served by uvicorn (``--workers`` processes,
each on its own ``SO_REUSEPORT`` socket; httptools and uvloop when installed), driven by 50
concurrent keep-alive clients (closed loop: each sends its next request when the last one
answered; ``--client raw`` a lean socket client, ``--client httpx`` httpx's AsyncClient);
p50/p99, throughput, a latency histogram and how the connections spread over the workers.

Needs a data folder with a feature snapshot and a migrated store (``puhui demo`` makes one).
``--model lightgbm`` scores with a LightGBM model fitted on the snapshot at start-up (a stand-in
for a registered champion), precomputed for the snapshot's firms as ``DecisionService`` serves a
champion; ``--model lightgbm-live`` calls the model on every request instead. The default uses
the registered champion or, without one, the profile fallback score.

    .venv/bin/python benchmarks/bench_decision.py --data-dir puhui-data
    .venv/bin/python benchmarks/bench_decision.py --data-dir puhui-data --model lightgbm
    .venv/bin/python benchmarks/bench_decision.py --data-dir D --workers 2 --app full
    .venv/bin/python benchmarks/bench_decision.py --data-dir D --app full --profile /tmp/prof

``--app full`` serves the whole app as ``puhui serve`` does (bearer token looked up on every
request, security and observability middleware); the demo users' passwords of ``D`` are reset
to get a token, so point it at a copy of the demo data.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import random
import statistics
import time
from pathlib import Path

from puhui.api.workers import start_workers

HISTOGRAM_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def histogram(values_ms: list[float]) -> dict[str, int]:
    counts: dict[str, int] = {}
    previous = 0.0
    for edge in HISTOGRAM_MS:
        counts[f"{previous:g}–{edge:g} ms"] = sum(1 for v in values_ms if previous <= v < edge)
        previous = edge
    counts[f"≥ {previous:g} ms"] = sum(1 for v in values_ms if v >= previous)
    return counts


def build_runtime(data_dir: Path, model: str):  # type: ignore[no-untyped-def]
    from puhui.actions.origination.wiring import open_origination
    from puhui.settings import load_settings

    runtime = open_origination(load_settings(data_dir=str(data_dir)), simulated_consent=True)
    if model in {"lightgbm", "lightgbm-live"}:
        from puhui.decisions.scoring import PrecomputedScorer

        live = quick_model(runtime.decisions)
        firms = {u: f.features for u, f in runtime.decisions.firms.items()}
        # As served: scores precomputed for the snapshot; "-live" scores every request.
        runtime.decisions.scorer = (
            live if model == "lightgbm-live" else PrecomputedScorer(live, firms)
        )
        if model == "lightgbm":  # product matches follow the scores, per snapshot
            runtime.decisions.precompute()
    # The snapshot is ~5,000 long-lived dicts: keep them out of the cyclic collector's scans.
    gc.collect()
    gc.freeze()
    return runtime


def quick_model(decisions):  # type: ignore[no-untyped-def]
    """A LightGBM model on the catalog's features, labelled by the fallback score (timing only)."""
    from datetime import UTC, datetime

    import pandas as pd

    from puhui.decisions.scoring import ChampionScorer
    from puhui.models.artifacts import ModelMetadata
    from puhui.models.gbm import LightGBMChallenger

    features = sorted(decisions.catalog.features)
    rows = [
        {name: facts.features.get(name) for name in features} for facts in decisions.firms.values()
    ]
    frame = pd.DataFrame(rows, columns=features, dtype="float64")
    labels = [decisions.scorer.score(u, {}).score < 50 for u in decisions.firms]
    model = LightGBMChallenger(n_estimators=200).fit(frame, labels)
    metadata = ModelMetadata(
        name="bench_pd",
        version="1",
        kind="lightgbm",
        features=features,
        target="bench",
        trained_by="bench",
        trained_at=datetime.now(UTC),
    )
    return ChampionScorer(model, metadata, decisions.catalog.model_score_scale)


def in_process(data_dir: Path, model: str, n: int, seed: int) -> dict[str, object]:
    runtime = build_runtime(data_dir, model)
    firms = sorted(runtime.decisions.firms)
    rng = random.Random(seed)
    picks = [rng.choice(firms) for _ in range(n + 500)]
    for uscc in picks[:500]:  # warm-up
        runtime.decisions.decide(uscc)
    timings = []
    outcomes: dict[str, int] = {}
    cpu_before = time.process_time()
    for uscc in picks[500:]:
        started = time.perf_counter_ns()
        decision = runtime.decisions.decide(uscc)
        timings.append((time.perf_counter_ns() - started) / 1e6)
        outcomes[decision.outcome.value] = outcomes.get(decision.outcome.value, 0) + 1
    cpu_ms = (time.process_time() - cpu_before) * 1000 / n
    source = runtime.decisions.decide(firms[0]).score.source
    runtime.close()
    return {
        "decisions": n,
        "score_source": source,
        "p50_ms": percentile(timings, 50),
        "p90_ms": percentile(timings, 90),
        "p99_ms": percentile(timings, 99),
        "max_ms": max(timings),
        "mean_ms": statistics.fmean(timings),
        "cpu_ms_per_decision": cpu_ms,
        "outcomes": outcomes,
    }


def make_full_app(data_dir: Path, model: str):  # type: ignore[no-untyped-def]
    """The whole app as ``puhui serve`` builds it (bearer-token check, middleware, every
    router), with the benchmark's decision runtime, for one uvicorn worker."""
    from puhui.api.app import create_app
    from puhui.settings import load_settings

    app = create_app(load_settings(data_dir=str(data_dir)), web=False)
    app.state.origination = build_runtime(data_dir, model)
    gc.collect()
    gc.freeze()
    return app


def bench_token(data_dir: Path) -> str:
    """A bearer token of the demo risk officer (``seed_demo_users`` resets the demo passwords
    in the data folder's store: use a benchmark copy of the demo data)."""
    from puhui.api.services import AppServices
    from puhui.data.store.access_tables import SessionKind
    from puhui.settings import load_settings

    services = AppServices(load_settings(data_dir=str(data_dir)))
    try:
        credentials = services.access.seed_demo_users()
        officer = next(c for c in credentials if c.role.value == "risk_officer")
        opened = services.access.login(
            officer.username, officer.password, kind=SessionKind.API, client=None
        )
        return opened.token
    finally:
        services.close()


def profiled_app(app_kind: str, out_dir: str, data_dir: Path, model: str):  # type: ignore[no-untyped-def]
    """``make_app`` or ``make_full_app`` with cProfile running in the worker until its lifespan
    shuts down; the stats go to ``out_dir/worker-<pid>.prof`` (``--profile``; slows the worker).
    uvicorn ends a worker by re-raising SIGTERM, so neither atexit nor finalizers would run."""
    import cProfile

    app = (make_full_app if app_kind == "full" else make_app)(data_dir, model)
    profile = cProfile.Profile()

    async def profiled(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def receive_and_dump():  # type: ignore[no-untyped-def]
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                profile.disable()
                profile.dump_stats(f"{out_dir}/worker-{os.getpid()}.prof")
            return message

        await app(scope, receive_and_dump, send)

    profile.enable()
    return profiled


def make_app(data_dir: Path, model: str):  # type: ignore[no-untyped-def]
    """The origination router alone, for one uvicorn worker."""
    from fastapi import FastAPI

    from puhui.api import origination as origination_api
    from puhui.api.app import NO_NATIVE_TELEMETRY
    from puhui.settings import load_settings

    app = FastAPI(telemetry=NO_NATIVE_TELEMETRY)  # as ``create_app`` configures it
    app.state.settings = load_settings(data_dir=str(data_dir))
    app.state.origination = build_runtime(data_dir, model)
    gc.collect()
    gc.freeze()
    app.include_router(origination_api.router, prefix="/api/v1")
    return app


async def drive_raw(
    port: int, firms: list[str], clients: int, requests: int, seed: int, token: str = ""
) -> dict[str, object]:
    """A lean closed-loop load generator: one keep-alive socket per client, the request bytes
    prepared in advance and only the status line and Content-Length parsed, so the client costs
    a fraction of the server's CPU per request (httpx costs 3–5 ms at 50 connections)."""
    rng = random.Random(seed)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    queue = [
        f"POST /api/v1/products/match/{rng.choice(firms)} HTTP/1.1\r\nHost: bench\r\n"
        f"{auth}Content-Length: 0\r\n\r\n".encode()
        for _ in range(requests + clients * 4)
    ]
    timings: list[float] = []
    statuses: dict[int, int] = {}
    warm, work = iter(queue[: clients * 4]), iter(queue[clients * 4 :])

    async def exchange(reader, writer, request: bytes) -> int:  # type: ignore[no-untyped-def]
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        return int(head[9:12])

    async def worker(requests_in) -> None:  # type: ignore[no-untyped-def]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in requests_in:
                started = time.perf_counter_ns()
                status = await exchange(reader, writer, request)
                if requests_in is work:
                    timings.append((time.perf_counter_ns() - started) / 1e6)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(warm) for _ in range(clients)))
    started = time.perf_counter()
    await asyncio.gather(*(worker(work) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return _summary(timings, statuses, clients, elapsed)


async def drive(
    port: int, firms: list[str], clients: int, requests: int, seed: int, token: str = ""
) -> dict[str, object]:
    import httpx

    rng = random.Random(seed)
    queue = [rng.choice(firms) for _ in range(requests)]
    timings: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, headers=headers
    ) as client:
        for uscc in queue[: clients * 4]:  # warm-up
            await client.post(f"/api/v1/products/match/{uscc}")
        work = iter(queue)

        async def worker() -> None:
            for uscc in work:
                started = time.perf_counter_ns()
                response = await client.post(f"/api/v1/products/match/{uscc}")
                timings.append((time.perf_counter_ns() - started) / 1e6)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return _summary(timings, statuses, clients, elapsed)


def _summary(
    timings: list[float], statuses: dict[int, int], clients: int, elapsed: float
) -> dict[str, object]:
    return {
        "requests": len(timings),
        "clients": clients,
        "seconds": elapsed,
        "throughput_rps": len(timings) / elapsed,
        "p50_ms": percentile(timings, 50),
        "p90_ms": percentile(timings, 90),
        "p99_ms": percentile(timings, 99),
        "max_ms": max(timings),
        "statuses": statuses,
        "histogram": histogram(timings),
    }


def over_http(
    data_dir: Path,
    model: str,
    clients: int,
    requests: int,
    seed: int,
    *,
    workers: int = 1,
    client: str = "raw",
    app: str = "router",
    profile_dir: Path | None = None,
) -> dict[str, object]:
    token = bench_token(data_dir) if app == "full" else ""
    factory = make_full_app if app == "full" else make_app
    build = functools.partial(factory, data_dir, model)
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        build = functools.partial(profiled_app, app, str(profile_dir), data_dir, model)
    # The workers as ``puhui serve --workers`` starts them: one SO_REUSEPORT socket each.
    group = start_workers(
        build,
        workers,
        "127.0.0.1",
        0,
        log_level="warning",
        access_log=False,
    )
    port = group.port
    try:
        import httpx

        deadline = time.monotonic() + 600  # a loaded machine builds the index slowly
        for server in group.processes:  # each worker answers before the clients connect
            while not _sockets(server.pid, port, "0A"):  # type: ignore[arg-type]
                if time.monotonic() > deadline or not server.is_alive():
                    raise RuntimeError("the benchmark server did not start")
                time.sleep(0.5)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        catalog = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/products", headers=headers, timeout=5
        ).json()
        assert catalog["products"], catalog
        firms = _firms(data_dir)
        pids = group.pids
        server_before, client_before = _cpu_seconds_of(pids), time.process_time()
        driver = drive_raw if client == "raw" else drive
        connections: list[int] = []

        async def run() -> dict[str, object]:
            # The last moment every client was connected: the measured phase's spread.
            driving = asyncio.create_task(driver(port, firms, clients, requests, seed, token))
            while not driving.done():
                await asyncio.sleep(0.2)
                counts = [_sockets(pid, port, "01") for pid in pids]
                if sum(counts) == clients:
                    connections[:] = counts
            return await driving

        result = asyncio.run(run())
        server_cpu = _cpu_seconds_of(pids) - server_before
        client_cpu = time.process_time() - client_before
        total = int(result["requests"]) + clients * 4  # type: ignore[call-overload]
        result["server_cpu_ms_per_request"] = server_cpu * 1000 / total
        result["client_cpu_ms_per_request"] = client_cpu * 1000 / total
        result["load_average"] = os.getloadavg()
        result["workers"], result["client"], result["app"] = workers, client, app
        result["connections_per_worker"] = connections
        result["server_stack"] = _server_stack()
        return result
    finally:
        group.stop()
        group.join()


def _sockets(pid: int, port: int, state: str) -> int:
    """How many of ``pid``'s TCP sockets on local ``port`` are in ``state`` (``/proc`` hex
    code: ``01`` established, ``0A`` listening); Linux only."""
    owned = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            owned.add(int(target[8:-1]))
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state and int(fields[9]) in owned:
            count += 1
    return count


def _cpu_seconds_of(pids: list[int]) -> float:
    return sum(_cpu_seconds(pid) for pid in pids)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux ``/proc``), to judge cost apart from machine load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_stack() -> str:
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"uvicorn {http} {loop}"


def _firms(data_dir: Path) -> list[str]:
    from puhui.features.store import available_dates, load_features

    root = data_dir / "features"
    frame = load_features(root, available_dates(root)[-1], columns=[])
    return sorted(frame["uscc"].to_list())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("puhui-data"))
    parser.add_argument(
        "--model", choices=["registered", "lightgbm", "lightgbm-live"], default="registered"
    )
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn processes, one SO_REUSEPORT socket each"
    )
    parser.add_argument(
        "--client", choices=["raw", "httpx"], default="raw", help="load generator over HTTP"
    )
    parser.add_argument(
        "--app",
        choices=["router", "full"],
        default="router",
        help="serve the origination router alone, or the whole app with a bearer token",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="cProfile each worker into this folder"
    )
    args = parser.parse_args()
    report: dict[str, object] = {"model": args.model}
    report["in_process"] = in_process(args.data_dir, args.model, args.decisions, args.seed)
    report["load_average"] = os.getloadavg()
    print(json.dumps(report, ensure_ascii=False, indent=2), flush=True)
    if not args.skip_http:
        report["http"] = over_http(
            args.data_dir,
            args.model,
            args.clients,
            args.requests,
            args.seed,
            workers=args.workers,
            client=args.client,
            app=args.app,
            profile_dir=args.profile,
        )
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
