"""`callbot serve` as a system service: start-up, reload, watchdog, periodic chores.

- SIGHUP (`systemctl reload`) re-reads and validates the configuration and
  the answer sheets in a background thread, renders any new prompt, then
  swaps them in: new calls use the new version, calls in progress keep the
  one they started with. If anything is wrong the last good version stays
  in service and the precise errors go to the log.
- With systemd (`Type=notify`), readiness and the watchdog are reported
  from the SIP loop itself, so a hung loop gets the service restarted.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Callable

from callbot.call import CallSession
from callbot.claims import CallClaims
from callbot.config import SipSettings
from callbot.journal import CallJournal, JournalTurn
from callbot.knowledge import Knowledge, load_knowledge
from callbot.metrics import CallTotals, Metrics
from callbot.messages import MessageSpool
from callbot.sip import SipService, call_rates
from callbot.speech import SpeechEngines, warm
from callbot.yamlsource import ERROR

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600


def sd_notify(message: str) -> bool:
    """Tell systemd about our state (READY=1, WATCHDOG=1, ...); a no-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True


class PeriodicTask:
    """Runs `action` at once and then every `period_s` seconds, when called from a loop."""

    def __init__(self, period_s: float, action: Callable[[], object], clock: Callable[[], float] = time.monotonic):
        self.period_s = period_s
        self.action = action
        self._clock = clock
        self._next = 0.0

    def __call__(self) -> None:
        if self._clock() >= self._next:
            self._next = self._clock() + self.period_s
            self.action()


class KnowledgeHolder:
    """The knowledge in force; replaced whole on a successful reload."""

    def __init__(self, knowledge: Knowledge, config_path: Path, sheets_dir: Path | None, engines: SpeechEngines,
                 metrics: Metrics | None = None):
        self.metrics = metrics
        self.current = knowledge
        self.config_path = config_path
        self.sheets_dir = sheets_dir
        self.engines = engines
        self.reloads = 0
        self.reload_failures = 0
        self._lock = threading.Lock()

    def __call__(self) -> Knowledge:
        return self.current

    @property
    def reloading(self) -> bool:
        return self._lock.locked()

    def reload(self) -> bool:
        """Load, validate and warm the new version; swap it in only if all of it is good."""
        with self._lock:
            knowledge, diagnostics = load_knowledge(self.config_path, self.sheets_dir)
            for diagnostic in diagnostics:
                (log.error if diagnostic.severity == ERROR else log.warning)("reload: %s", diagnostic)
            if knowledge is None:
                self.reload_failures += 1
                if self.metrics:
                    self.metrics.reload_refused()
                log.error("reload refused: keeping the previous configuration and answer sheets")
                return False
            if knowledge.config.sip != self.current.config.sip or knowledge.config.speech != self.current.config.speech:
                log.warning("reload: `sip:` and `speech:` changes take effect at the next restart")
            try:
                warm(self.engines, knowledge.config, knowledge, call_rates(self.current.config.sip.codecs))
            except Exception:
                self.reload_failures += 1
                if self.metrics:
                    self.metrics.reload_refused()
                log.exception("reload refused: the new prompts cannot be rendered")
                return False
            self.current = knowledge
            self.reloads += 1
            if self.metrics:
                self.metrics.reloaded()
            log.info("reloaded: %d answers", len(knowledge.book.answers))
            return True


class CallRecorder:
    """At the end of each call: one journal entry and the metrics."""

    def __init__(self, journal: CallJournal | None, metrics: Metrics):
        self.journal = journal
        self.metrics = metrics

    def __call__(self, session: CallSession, caller: str) -> None:
        latencies = [t.processing_ms for t in session.turns if t.processing_ms is not None]
        self.metrics.call_finished(session.outcome, latencies, getattr(session.recognizer, "real_time_factor", None))
        if self.journal is None or session.started_at is None:
            return
        turns = [JournalTurn(t.transcript, t.action, t.answer, t.score, t.processing_ms) for t in session.turns]
        self.journal.record(session.call_id, session.started_at, session.now_ms / 1000, session.outcome, caller,
                            session.transfer_target, turns, session.transfer_reason, session.transfer_topic)


def run_service(knowledge: Knowledge, engines: SpeechEngines, config_path: Path, sheets_dir: Path | None,
                sip: SipSettings | None = None, worker: int | None = None, heartbeat: Callable[[], None] | None = None,
                claims: CallClaims | None = None, on_reloaded: Callable[[], None] | None = None,
                totals: CallTotals | None = None) -> None:
    """Answer calls until SIGTERM or SIGINT; reload on SIGHUP.

    As a worker of a supervisor, `sip` gives the worker's own port, `worker` its
    number (for the metrics port), `heartbeat` is called from the SIP loop, and
    `claims` is shared with the other workers when they register as one extension.
    A worker refuses new calls while it reloads (another worker takes them; the
    supervisor reloads one worker at a time) and calls `on_reloaded` when done.
    It counts its calls in its slot of the supervisor's `totals`, which outlive it.
    """
    config = knowledge.config
    sip = sip or config.sip
    metrics = Metrics(totals, worker or 0)
    holder = KnowledgeHolder(knowledge, config_path, sheets_dir, engines, metrics)
    spool = MessageSpool(config.messages.spool, config.messages.retention_days, config.messages.email)
    journal = CallJournal(config.journal.path, config.journal.retention_days, config.journal.caller_number) \
        if config.journal else None
    service = SipService(sip, holder, engines, spool, CallRecorder(journal, metrics), claims)
    if worker is not None:
        service.refusing_calls = lambda: holder.reloading
    if config.metrics_listen:
        host, port = config.metrics_listen
        metrics.serve(host, port + (worker or 0))
    stop = threading.Event()
    reload_wanted = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload_wanted.set())

    def start_reload() -> None:
        if reload_wanted.is_set():
            reload_wanted.clear()
            log.info("reload requested")
            # off the SIP thread: validating and rendering may take seconds, calls must not wait
            threading.Thread(target=reload_and_report, name="reload", daemon=True).start()

    def reload_and_report() -> None:
        try:
            holder.reload()
        finally:
            if on_reloaded is not None:
                on_reloaded()

    watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0"))
    chores = [PeriodicTask(PURGE_EVERY_S, spool.purge), PeriodicTask(60.0, engines.decoders.shrink_when_quiet)]
    if heartbeat is not None:
        chores.append(PeriodicTask(1.0, heartbeat))
    if journal is not None:
        chores.append(PeriodicTask(PURGE_EVERY_S, journal.purge))
    if watchdog_usec:
        chores.append(PeriodicTask(watchdog_usec / 2e6, lambda: sd_notify("WATCHDOG=1")))

    def on_tick() -> None:
        metrics.alive = time.monotonic()
        metrics.active_calls.set(service.active_calls)
        start_reload()
        for chore in chores:
            chore()

    service.start()
    sd_notify("READY=1")
    log.info("answering calls for %s on sip:callbot@%s:%d (%s mode)", config.commune, sip.host, sip.port, sip.mode)
    try:
        service.run(until=stop, on_tick=on_tick)
    finally:
        sd_notify("STOPPING=1")
        service.shutdown()
