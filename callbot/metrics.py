"""Prometheus metrics and a health check, on an address of the mairie's choosing (off by default).

`/metrics` in the Prometheus text format; `/health` answers 200 while the SIP
loop is turning (it is the loop that stamps `alive`), 503 otherwise.

The counters of calls and reloads (and the latency histograms, which are
counters too) live in `CallTotals`, memory that the supervisor maps before it
forks the workers, one slot per worker: a worker that dies takes none of its
calls with it. The restarted worker goes on counting in the same slot, and
the supervisor serves the sum of all slots.
"""

from __future__ import annotations

import logging
import mmap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

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


OUTCOMES = ("answered", "transferred", "message", "abandoned", "error")  # `CallSession.outcome`
TURN_LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0, 2.0, 5.0)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)


class _Cells:
    """Where each figure sits in a slot."""

    def __init__(self) -> None:
        names = [f"calls:{outcome}" for outcome in OUTCOMES] + ["reloads", "reload_failures"]
        for histogram, buckets in (("turn_latency", TURN_LATENCY_BUCKETS), ("rtf", RTF_BUCKETS)):
            names += [f"{histogram}:le:{le}" for le in buckets] + [f"{histogram}:count", f"{histogram}:sum"]
        self.index = {name: n for n, name in enumerate(names)}

    def __len__(self) -> int:
        return len(self.index)


CELLS = _Cells()


class CallTotals:
    """Counters that outlive a worker: one slot of float64 cells per worker, in an anonymous shared mapping
    made before the fork. Each slot has one writer at a time (its worker, then the one restarted in its
    place); a cell is written in one aligned 8-byte store, so a worker killed at any moment leaves every
    count it finished."""

    def __init__(self, slots: int = 1):
        self.slots = slots
        self._memory = mmap.mmap(-1, slots * len(CELLS) * 8)  # MAP_SHARED: the forked workers write here
        self._cells = np.frombuffer(self._memory, dtype=np.float64).reshape(slots, len(CELLS))
        self._lock = threading.Lock()  # the call threads of one worker

    def add(self, slot: int, cell: str, amount: float = 1.0) -> None:
        with self._lock:
            self._cells[slot, CELLS.index[cell]] += amount

    def call_finished(self, slot: int, outcome: str, turn_latencies_s: list[float], rtf: float | None) -> None:
        self.add(slot, f"calls:{outcome if outcome in OUTCOMES else 'error'}")
        for latency in turn_latencies_s:
            self._observe(slot, "turn_latency", TURN_LATENCY_BUCKETS, latency)
        if rtf is not None:
            self._observe(slot, "rtf", RTF_BUCKETS, rtf)

    def _observe(self, slot: int, histogram: str, buckets: tuple[float, ...], value: float) -> None:
        for le in buckets:
            if value <= le:
                self.add(slot, f"{histogram}:le:{le}")
        self.add(slot, f"{histogram}:count")
        self.add(slot, f"{histogram}:sum", value)

    def read(self, slot: int | None = None) -> dict[str, float]:
        """One slot's figures, or (None) the sum of every slot's."""
        values = self._cells.sum(axis=0) if slot is None else self._cells[slot].copy()
        return {name: float(values[n]) for name, n in CELLS.index.items()}


class _TotalsCollector:
    """Serves `CallTotals` figures under the metric names callbot always had."""

    def __init__(self, read: Callable[[], dict[str, float]]):
        self.read = read

    def collect(self) -> Iterator[Metric]:
        values = self.read()
        calls = CounterMetricFamily("callbot_calls", "Finished calls by outcome", labels=["outcome"])
        for outcome in OUTCOMES:
            calls.add_metric([outcome], values[f"calls:{outcome}"])
        yield calls
        yield CounterMetricFamily("callbot_reloads", "Successful reloads", value=values["reloads"])
        yield CounterMetricFamily("callbot_reload_failures", "Refused reloads (broken configuration or sheets)",
                                  value=values["reload_failures"])
        yield _histogram(values, "turn_latency", TURN_LATENCY_BUCKETS, "callbot_turn_latency_seconds",
                         "From the end of the caller's utterance to the reply's first frame being ready")
        yield _histogram(values, "rtf", RTF_BUCKETS, "callbot_recognition_real_time_factor",
                         "Decoding time over audio decoded, per call")


def _histogram(values: dict[str, float], cell: str, buckets: tuple[float, ...], name: str, documentation: str):
    family = HistogramMetricFamily(name, documentation)
    cumulative = [(floatToGoString(le), values[f"{cell}:le:{le}"]) for le in buckets]
    family.add_metric([], cumulative + [("+Inf", values[f"{cell}:count"])], sum_value=values[f"{cell}:sum"])
    return family


class Metrics(_Served):
    """A process that takes calls: its own figures, counted in its slot of `totals`."""

    def __init__(self, totals: CallTotals | None = None, slot: int = 0) -> None:
        super().__init__()
        self.totals = totals or CallTotals()
        self.slot = slot
        self.active_calls = Gauge("callbot_active_calls", "Calls in progress", registry=self.registry)
        self.registry.register(_TotalsCollector(lambda: self.totals.read(self.slot)))

    def call_finished(self, outcome: str, turn_latencies_ms: list[float], rtf: float | None) -> None:
        self.totals.call_finished(self.slot, outcome, [ms / 1000 for ms in turn_latencies_ms], rtf)

    def reloaded(self) -> None:
        self.totals.add(self.slot, "reloads")

    def reload_refused(self) -> None:
        self.totals.add(self.slot, "reload_failures")


class SupervisorMetrics(_Served):
    """The supervisor's own figures, served on the metrics port after the workers' (port + number of workers),
    and the totals of every worker's calls and reloads, those of workers that died included."""

    def __init__(self, totals: CallTotals | None = None) -> None:
        super().__init__()
        self.totals = totals or CallTotals()
        self.registry.register(_TotalsCollector(lambda: self.totals.read()))
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
