"""Prometheus metrics (监控指标) that every component imports from here.

One registry for puhui (``REGISTRY``), so ``/metrics`` shows puhui's series and the process's,
and tests can read values without a global default registry. Components record with e.g.
``DECISIONS.labels(outcome="approve").inc()``; labels are fixed small sets (an outcome, a
strategy name, a route template), never an id, a USCC or a person, so series stay few and
carry no personal data.

Each API worker process keeps its own counters; run one worker per container and let
Prometheus scrape every container (see docs/OPERATIONS.md).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# --- the API ----------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "puhui_http_requests",
    "HTTP requests served, by method, route template and status code.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
HTTP_ERRORS = Counter(
    "puhui_http_errors",
    "HTTP requests that ended in a server error (5xx or an unhandled exception).",
    ("method", "route"),
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "puhui_http_request_duration_seconds",
    "Time to serve a request, by method and route template.",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

# --- decisions, sentinel, alarm ---------------------------------------------------------------
DECISIONS = Counter(
    "puhui_decisions",
    "Credit decisions made, by outcome (approve, decline, refer).",
    ("outcome",),
    registry=REGISTRY,
)
SENTINEL_HITS = Counter(
    "puhui_sentinel_hits",
    "Sentinel (哨兵) strategy hits, by strategy name.",
    ("strategy",),
    registry=REGISTRY,
)
WARNINGS = Counter(
    "puhui_alarm_warnings",
    "Post-loan warnings (预警) raised, by level (red, orange, yellow, blue).",
    ("level",),
    registry=REGISTRY,
)

# --- scheduled jobs ---------------------------------------------------------------------------
JOB_RUNS = Counter(
    "puhui_job_runs",
    "Job attempts finished, by job and status (succeeded, failed, blocked).",
    ("job", "status"),
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "puhui_job_duration_seconds",
    "Wall time of one job attempt, by job.",
    ("job",),
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
    registry=REGISTRY,
)
JOB_LAG = Gauge(
    "puhui_job_lag_seconds",
    "How late the latest attempt of a job started after its scheduled time.",
    ("job",),
    registry=REGISTRY,
)
JOB_LAST_SUCCESS = Gauge(
    "puhui_job_last_success_timestamp_seconds",
    "Unix time at which the job last succeeded (alert when now minus this grows too large).",
    ("job",),
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus text format and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def sample_value(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample (0 when it was never recorded); for tests and checks."""
    value = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value
