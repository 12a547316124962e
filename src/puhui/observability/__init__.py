"""Observability (可观测性): JSON logs with a work id, redaction of personal data, Prometheus
metrics, and the liveness, readiness and metrics endpoints."""
