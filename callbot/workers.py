"""Several SIP worker processes under one supervisor, sharing the speech models.

The pjsua2 wheel takes at most four calls per process, so capacity comes from
processes. The supervisor loads the Vosk model and checks the voice, forks the
workers (the model's pages are shared copy-on-write), then fills the prompt
cache in the background: until a prompt is there, a worker that needs it
synthesises it during the call. Each worker is a whole `callbot serve` with
its own SIP port (`sip: listen` port + its number) and audio ports, created
after the fork (pjsua2 must not cross a fork).

The supervisor restarts a worker that dies or stops sending its heartbeat,
reloads on SIGHUP (itself first, which validates the new version and renders
its prompts into the shared cache, then each worker in turn: a reloading
worker leaves new calls to the others), and stops them all on SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from callbot.claims import CallClaims
from callbot.config import SipSettings
from callbot.knowledge import Knowledge
from callbot.metrics import CallTotals, SupervisorMetrics
from callbot.service import KnowledgeHolder, PeriodicTask, run_service, sd_notify
from callbot.speech import CacheFiller, SpeechEngines, cache_filler
from callbot.sip import call_rates

log = logging.getLogger(__name__)

HEARTBEAT_TIMEOUT_S = 30.0  # a worker silent this long is hung: killed and restarted
RELOAD_TIMEOUT_S = 120.0  # a worker's reload taking longer does not hold back the others'
RESTART_PAUSE_S = 1.0  # between a worker's death and its restart, so a crash loop cannot spin
STOP_GRACE_S = 15.0


def worker_settings(sip: SipSettings, count: int) -> list[SipSettings]:
    """Each worker's SIP port (consecutive) and its share of the audio ports."""
    share = sip.rtp_port_count // count
    return [replace(sip, port=sip.port + n, rtp_port_start=sip.rtp_port_start + n * share, rtp_port_count=share)
            for n in range(count)]


def memory_kib(pid: int) -> dict[str, int]:
    """Resident memory of a process in KiB: `rss` in all, `private` its own (what one more worker costs)."""
    try:
        fields = {line.split(":")[0]: int(line.split()[1])
                  for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]}
    except (OSError, ValueError, IndexError):
        return {}
    return {"rss": fields.get("Rss", 0), "private": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


@dataclass
class _Worker:
    number: int
    settings: SipSettings
    pid: int = 0
    heartbeat_fd: int = -1
    last_beat: float = 0.0
    restarts: int = 0


class Supervisor:
    def __init__(self, knowledge: Knowledge, engines: SpeechEngines, config_path: Path, sheets_dir: Path | None,
                 count: int):
        self.knowledge = knowledge
        self.engines = engines
        self.config_path = config_path
        self.sheets_dir = sheets_dir
        self.workers = [_Worker(n, s) for n, s in enumerate(worker_settings(knowledge.config.sip, count))]
        # registered as one extension, every worker receives every call: the first to claim it answers
        self.claims = CallClaims() if knowledge.config.sip.mode == "register" else None
        # each worker counts its calls in its own slot, which outlives it: a restart loses none
        self.totals = CallTotals(count)
        self.metrics = SupervisorMetrics(self.totals)
        self.stop = threading.Event()
        self.reload_wanted = threading.Event()
        # SIGHUP reloads the workers one at a time: a reloading worker refuses calls, the others take them
        self._to_reload: list[_Worker] = []
        self._reloading: tuple[_Worker, float] | None = None
        self.cache_filler: CacheFiller | None = None

    # -- children ------------------------------------------------------------------
    def spawn(self, worker: _Worker) -> None:
        read_fd, write_fd = os.pipe()
        # the cache may be being filled here: fork between two sentences, never with synthesis half-done
        paused = getattr(self.engines.voice, "paused", contextlib.nullcontext)
        with paused():
            pid = os.fork()
        if pid == 0:  # the worker: whatever happens, it never returns into the supervisor's code
            code = 1
            try:
                os.close(read_fd)
                for other in self.workers:
                    if other.heartbeat_fd >= 0 and other is not worker:
                        os.close(other.heartbeat_fd)
                os.environ.pop("NOTIFY_SOCKET", None)  # only the supervisor talks to systemd
                os.environ.pop("WATCHDOG_USEC", None)
                _name_worker_in_log(worker.number)
                run_service(self.knowledge, self.engines, self.config_path, self.sheets_dir, worker.settings,
                            worker.number, lambda: _beat(write_fd), self.claims, lambda: _beat(write_fd, RELOADED),
                            self.totals)
                code = 0
            except BaseException:
                log.exception("worker %d failed", worker.number)
            finally:
                logging.shutdown()
                os._exit(code)
        os.close(write_fd)
        worker.pid, worker.heartbeat_fd, worker.last_beat = pid, read_fd, time.monotonic()
        log.info("worker %d started (pid %d, SIP port %d)", worker.number, pid, worker.settings.port)

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_wanted.set())
        self._release_voice()
        for worker in self.workers:
            self.spawn(worker)
        # after the fork, so the workers answer at once; the rendering voice is freed when done
        filler = self.cache_filler = cache_filler(self.engines, self.knowledge.config, self.knowledge,
                                                  call_rates(self.knowledge.config.sip.codecs),
                                                  self._release_voice).start()
        sd_notify("READY=1")
        listen = self.knowledge.config.metrics_listen
        if listen:  # the workers serve port, port + 1, ...: the supervisor the next one
            self.metrics.serve(listen[0], listen[1] + len(self.workers))
        chores = [PeriodicTask(60, self.log_memory)]
        watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0"))
        if watchdog_usec:
            chores.append(PeriodicTask(watchdog_usec / 2e6, lambda: sd_notify("WATCHDOG=1")))
        try:
            while not self.stop.is_set():
                self.metrics.alive = time.monotonic()
                self._read_heartbeats(0.5)
                self._reap_and_restart()
                self._kill_hung()
                if self.reload_wanted.is_set():
                    self.reload_wanted.clear()
                    threading.Thread(target=self._reload_here_then_workers, name="reload", daemon=True).start()
                self._reload_next()
                for chore in chores:
                    chore()
        finally:
            sd_notify("STOPPING=1")
            filler.stop()
            self._stop_all()

    def _read_heartbeats(self, timeout: float) -> None:
        fds = {w.heartbeat_fd: w for w in self.workers if w.heartbeat_fd >= 0}
        try:
            ready, _, _ = select.select(list(fds), [], [], timeout)
        except InterruptedError:
            return
        for fd in ready:
            data = os.read(fd, 64)
            if data:
                fds[fd].last_beat = time.monotonic()
            if RELOADED in data and self._reloading and self._reloading[0] is fds[fd]:
                self._reloading = None

    def _reload_here_then_workers(self) -> None:
        """Validate and render here first: the workers then find the prompts in the cache, and a worker
        restarted later starts from the new version. A broken version is refused here, once."""
        holder = KnowledgeHolder(self.knowledge, self.config_path, self.sheets_dir, self.engines)
        if holder.reload():
            self.knowledge = holder.current
            self._release_voice()
            self._to_reload = [w for w in self.workers if w not in self._to_reload]

    def _release_voice(self) -> None:
        """Rendering prompts opened the voice here; workers open their own after the fork: free this one."""
        release = getattr(self.engines.voice, "release", None)
        if release:
            release()

    def _reload_next(self) -> None:
        if self._reloading and time.monotonic() - self._reloading[1] > RELOAD_TIMEOUT_S:
            log.error("worker %d did not finish reloading in %.0f s", self._reloading[0].number, RELOAD_TIMEOUT_S)
            self._reloading = None
        if self._reloading is None and self._to_reload:
            worker = self._to_reload.pop(0)
            log.info("reloading worker %d", worker.number)
            _kill(worker.pid, signal.SIGHUP)
            self._reloading = (worker, time.monotonic())

    def _reap_and_restart(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = next((w for w in self.workers if w.pid == pid), None)
            if worker is None or self.stop.is_set():
                continue
            worker.restarts += 1
            self.metrics.restarts.labels(str(worker.number)).inc()
            log.error("worker %d (pid %d) ended (%s); restarting it (restart %d)", worker.number, pid,
                      _describe_status(status), worker.restarts)
            os.close(worker.heartbeat_fd)
            worker.heartbeat_fd = -1
            time.sleep(RESTART_PAUSE_S)
            self.spawn(worker)

    def _kill_hung(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if now - worker.last_beat > HEARTBEAT_TIMEOUT_S:
                log.error("worker %d (pid %d) sent no heartbeat for %.0f s: killing it", worker.number, worker.pid,
                          now - worker.last_beat)
                worker.last_beat = now
                _kill(worker.pid, signal.SIGKILL)

    def _signal_all(self, signum: int) -> None:
        for worker in self.workers:
            _kill(worker.pid, signum)

    def _stop_all(self) -> None:
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        alive = {w.pid for w in self.workers}
        while alive and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                alive.discard(pid)
            else:
                time.sleep(0.1)
        for pid in alive:
            _kill(pid, signal.SIGKILL)

    def log_memory(self) -> None:
        workers = {w.number: memory_kib(w.pid) for w in self.workers}
        for name, figures in [("supervisor", memory_kib(os.getpid()))] + [(f"worker {n}", f) for n, f in workers.items()]:
            for kind, kib in figures.items():
                self.metrics.memory.labels(name, kind).set(kib * 1024)
        log.info("memory (KiB): supervisor %s, workers %s", memory_kib(os.getpid()), workers)


def _name_worker_in_log(number: int) -> None:
    """Prefix every line a worker logs with its number, so one journal tells the workers apart."""
    for handler in logging.getLogger().handlers:
        if handler.formatter is not None:
            handler.setFormatter(logging.Formatter(f"[worker {number}] {handler.formatter._fmt}"))


HEARTBEAT = b"."
RELOADED = b"R"


def _beat(fd: int, message: bytes = HEARTBEAT) -> None:
    try:
        os.write(fd, message)
    except OSError:  # the supervisor is gone: nothing to tell
        pass


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"
