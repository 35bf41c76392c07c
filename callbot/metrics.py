"""Prometheus metrics and a health check, on an address of the mairie's choosing (off by default).

`/metrics` in the Prometheus text format; `/health` answers 200 while the SIP
loop is turning (it is the loop that stamps `alive`), 503 otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

HEALTHY_WITHIN_S = 5.0


class _Served:
    """A registry served on `/metrics`, with `/health` answering 200 while `alive` is stamped."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alive = time.monotonic()

    def healthy(self) -> bool:
        return time.monotonic() - self.alive < HEALTHY_WITHIN_S

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        return serve_metrics(self, host, port)


class Metrics(_Served):
    def __init__(self) -> None:
        super().__init__()
        self.active_calls = Gauge("callbot_active_calls", "Calls in progress", registry=self.registry)
        self.calls = Counter("callbot_calls", "Finished calls by outcome", ["outcome"], registry=self.registry)
        self.turn_latency = Histogram("callbot_turn_latency_seconds",
                                      "From the end of the caller's utterance to the reply's first frame being ready",
                                      buckets=(0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0, 2.0, 5.0), registry=self.registry)
        self.recognition_rtf = Histogram("callbot_recognition_real_time_factor",
                                         "Decoding time over audio decoded, per call",
                                         buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5), registry=self.registry)
        self.reloads = Counter("callbot_reloads", "Successful reloads", registry=self.registry)
        self.reload_failures = Counter("callbot_reload_failures", "Refused reloads (broken configuration or sheets)",
                                       registry=self.registry)

    def call_finished(self, outcome: str, turn_latencies_ms: list[float], rtf: float | None) -> None:
        self.calls.labels(outcome).inc()
        for latency in turn_latencies_ms:
            self.turn_latency.observe(latency / 1000)
        if rtf is not None:
            self.recognition_rtf.observe(rtf)


class SupervisorMetrics(_Served):
    """The supervisor's own figures, served on the metrics port after the workers' (port + number of workers)."""

    def __init__(self) -> None:
        super().__init__()
        self.restarts = Counter("callbot_worker_restarts", "Workers restarted after dying or hanging", ["worker"],
                                registry=self.registry)
        self.memory = Gauge("callbot_memory_bytes", "Resident memory (rss) and the part not shared (private)",
                            ["process", "kind"], registry=self.registry)


def serve_metrics(metrics: _Served, host: str, port: int) -> ThreadingHTTPServer:
    """`/metrics` and `/health` on a thread of their own."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/health":
                ok = metrics.healthy()
                body, status, kind = (b"ok\n" if ok else b"stalled\n"), (200 if ok else 503), "text/plain"
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # scrapes every few seconds would flood the journal
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
