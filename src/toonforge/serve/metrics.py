"""Prometheus metrics of the stylization service (one registry per service, so tests can hold several).

With ``--workers N`` each worker process keeps its own counters; a scrape reaches one worker
(label ``pid`` tells which). Aggregate them in Prometheus (``sum by (...)``).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST  # the media type of /metrics

__all__ = ["CONTENT_TYPE", "ServiceMetrics"]

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """Requests, latency, queue depth, faces per image and network batch sizes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        pid = ("pid",)
        self.requests = Counter("toonforge_requests", "HTTP requests answered, by endpoint and status",
                                ("endpoint", "status", *pid), registry=self.registry)
        self.latency = Histogram("toonforge_request_seconds", "Time to answer a stylize request (seconds)",
                                 pid, buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("toonforge_queue_depth", "Stylize requests accepted and not yet answered",
                                 pid, registry=self.registry)
        self.faces = Histogram("toonforge_faces_per_image", "Faces found per stylized image", pid,
                               buckets=(0, 1, 2, 3, 5, 8, 13), registry=self.registry)
        self.batch_rows = Histogram("toonforge_network_batch_rows", "Rows (images or face crops) per network call",
                                    ("role", *pid), buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        self.merged = Counter("toonforge_network_calls", "Network calls, by role", ("role", *pid),
                              registry=self.registry)
        self.pid = str(os.getpid())

    def observe_batch(self, role: str, rows: int) -> None:
        self.batch_rows.labels(role, self.pid).observe(rows)
        self.merged.labels(role, self.pid).inc()

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
