"""The coordinator's Prometheus metrics (``GET /metrics``), through ``prometheus_client``.

- ``mpc_cluster_sessions_total{op, outcome, error_class}``: sessions by outcome and error class
- ``mpc_cluster_session_seconds{op}``: session latency histogram
- ``mpc_cluster_node_up{node}``: 1 when the node's /healthz answered at the last look
- ``mpc_cluster_quarantines_total{node}``: quarantines the coordinator recorded
Example alert rules: docs/cluster-alerts.yml.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()
SESSIONS = Counter(
    "mpc_cluster_sessions",
    "cluster sessions by outcome",
    ["op", "outcome", "error_class"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "mpc_cluster_session_seconds",
    "cluster session latency",
    ["op"],
    buckets=(0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3, 6, 12, 30),
    registry=REGISTRY,
)
NODE_UP = Gauge("mpc_cluster_node_up", "node /healthz answered ok", ["node"], registry=REGISTRY)
QUARANTINES = Counter(
    "mpc_cluster_quarantines", "nodes quarantined after a violation", ["node"], registry=REGISTRY
)


def observe(op: str, outcome: str, error_class: str | None, seconds: float) -> None:
    SESSIONS.labels(op, outcome, error_class or "none").inc()
    LATENCY.labels(op).observe(seconds)


def availability(node: str, up: bool) -> None:
    NODE_UP.labels(node).set(1 if up else 0)


def quarantined(node: str) -> None:
    QUARANTINES.labels(node).inc()


def exposition() -> bytes:
    return bytes(generate_latest(REGISTRY))
