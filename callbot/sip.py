"""The telephone line: a pjsua2 endpoint that answers calls and carries their audio.

Three worlds, joined only by queues (see STYLE.md):

- the SIP thread (the one that runs `SipService.run`) owns pjsua2: every SIP
  callback runs there, inside `libHandleEvents`, and so does every SIP action
  (answer, transfer, hang up), posted to it by the other threads;
- pjsua2's media clock thread calls each call's `CallAudioPort` every 20 ms:
  it only copies a frame into the call's inbox or takes one from its outbox;
- one worker thread per call runs that call's `CallSession` (recognition,
  dialog, voice). A crash there ends in the session's apology, never in
  another call.

One pjsua2 process takes at most four calls (the wheel clamps `maxCalls`);
more capacity comes from more processes.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from callbot.audio import FRAME_MS, Frame, samples_per_frame, silence
from callbot.call import CallSession
from callbot.claims import CallClaims
from callbot.config import SipSettings
from callbot.dialog import Dialog
from callbot.knowledge import Knowledge
from callbot.messages import MessageSpool
from callbot.speech import CachedSpeaker, SpeechEngines, call_grammar
from callbot.transfer_context import refer_to

log = logging.getLogger(__name__)

PJSUA_MAX_CALLS = 4  # what the pjsua2-python wheel allows per process
EVENT_POLL_MS = 10  # how long libHandleEvents may block: bounds the delay of posted SIP actions
OUTBOX_PRIMING_FRAMES = 2  # silence queued at the start, to absorb the worker's jitter
INBOX_LIMIT_FRAMES = 50  # one second: beyond it the worker is stuck, old frames are dropped
WORKER_IDLE_TICK_S = 0.1  # without audio (hold, lost RTP), the session still advances its clock
REGISTRATION_REFRESH_S = 30  # a PBX that restarted and forgot us is told again within this time
RING_AT_MOST_S = 2.0  # a call whose session is not ready by then is answered anyway (a burst after a cold start):
# a caller hears ringing rather than silence while it is set up, but never so long that a PBX gives up
AUDIO_WAIT_S = 40.0  # answered, how long a call's worker waits for its audio (the ACK's timeout is 32 s)
SHUTDOWN_HANGUP_S = 3.0  # at stop, how long the callers' side has to confirm the hang-ups
SHUTDOWN_WORKER_S = 2.0  # and each call's worker to close its call (journal, message kept)


@dataclass
class CallStats:
    underruns: int = 0  # frames the line asked for while the bot was speaking and none was ready: audible gaps
    dropped: int = 0  # caller frames dropped because the worker was too slow
    speaking: bool = False  # set by the worker: only then does a missing frame make a gap the caller hears


def _pj():
    import pjsua2

    return pjsua2


def _vector_bytes(vector) -> bytes:
    """The bytes of a SWIG `ByteVector` read straight from the std::vector's buffer (about 2 µs per frame).

    `bytes(vector)` goes element by element through Python (about 0.35 ms per 640-byte frame, on the
    media thread, for every call): libstdc++ keeps a vector as [begin, end, capacity] pointers, so the
    buffer is copied in one go. `frame_reader` checks this against `bytes()` before using it.
    """
    begin, end = ctypes.cast(int(vector.this), _POINTERS)[0:2]
    return ctypes.string_at(begin, end - begin) if end and end > begin else b""


_POINTERS = ctypes.POINTER(ctypes.c_void_p)


@functools.cache
def frame_reader() -> Callable[[Any], bytes]:
    """`_vector_bytes` if it reads ByteVectors exactly on this build, else the slow and sure `bytes`."""
    pj = _pj()
    try:
        samples = [bytes(), bytes([7]), bytes(range(256)) * 5, bytes(1280)]
        if all(_vector_bytes(pj.ByteVector(sample)) == sample for sample in samples):
            return _vector_bytes
    except Exception:
        log.exception("fast audio frame reading unavailable")
    log.warning("audio frames are read the slow way (about 0.35 ms per frame)")
    return bytes


@functools.cache
def _port_class():
    """The pjsua2 media port class (made once: it needs pjsua2 at import time)."""
    pj = _pj()
    read = frame_reader()

    class _Port(pj.AudioMediaPort):
        """Carries one call's audio at a time: `worker` is that call's queues, None while the port is idle.

        The bridge's clock thread calls these every 20 ms for as long as the port exists, so a port is never
        destroyed while the bridge runs (see `PortPool`): a call only swaps `worker`, one atomic attribute.
        """

        worker: "_Worker | None" = None

        def onFrameReceived(self, frame):  # media clock thread: copy and hand over, nothing else
            worker = self.worker
            if worker is None or frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size != self.frame_bytes:
                return
            if worker.inbox.qsize() >= INBOX_LIMIT_FRAMES:
                worker.stats.dropped += 1
                return
            worker.inbox.put_nowait(read(frame.buf))

        def onFrameRequested(self, frame):  # media clock thread
            worker = self.worker
            pcm = self.silence
            if worker is not None:
                try:
                    pcm = worker.outbox.get_nowait()
                except queue.Empty:
                    worker.stats.underruns += worker.stats.speaking
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(pcm)
            frame.size = len(pcm)

    return _Port


class PortPool:
    """The media ports of the endpoint, made on the SIP thread and kept until the endpoint is destroyed.

    Lifetime, all on the SIP thread: made (`createPort`, added to the bridge) the first time a call needs one;
    connected to a call's stream when its audio starts; the call's `worker` detached when it hangs up (the
    bridge disconnects it when the call's stream goes); back in the pool once the call's worker thread has
    ended; destroyed in `destroy_all`, after the bridge's clock has been stopped. Destroying a port while the
    clock runs races its callbacks (a segmentation fault every few hundred calls): it is never done.
    """

    def __init__(self):
        self._idle: dict[int, list] = {}
        self._all: list = []

    def take(self, rate: int, worker: "_Worker"):
        idle = self._idle.setdefault(rate, [])
        port = idle.pop() if idle else self._create(rate)
        port.worker = worker
        return port

    def give_back(self, port) -> None:
        port.worker = None
        self._idle.setdefault(port.rate, []).append(port)

    def _create(self, rate: int):
        pj = _pj()
        port = _port_class()()
        port.rate = rate
        port.frame_bytes = samples_per_frame(rate) * 2
        port.silence = bytes(port.frame_bytes)
        media_format = pj.MediaFormatAudio()
        media_format.init(pj.PJMEDIA_FORMAT_PCM, rate, 1, FRAME_MS * 1000, 16)
        port.createPort(f"callbot-{rate}-{len(self._all)}", media_format)
        self._all.append(port)
        return port

    def destroy_all(self) -> None:
        """Only once the bridge's clock has stopped (`Endpoint.audDevManager().setNoDev()`)."""
        for port in self._all:
            port.worker = None
        self._idle.clear()
        self._all.clear()


class SipLine:
    """What a `CallSession` asks of the telephone line, posted to the SIP thread."""

    def __init__(self, service: "SipService", leg: "CallLeg"):
        self.service = service
        self.leg = leg

    def transfer(self, target: str, reason: str, topic: str | None) -> None:
        self.service.post(lambda: self.service.transfer(self.leg, target, reason, topic))

    def hang_up(self, reason: str) -> None:
        self.service.post(lambda: self.service.hang_up(self.leg, reason))

    def message_recorded(self, samples: np.ndarray, rate: int, transcript: str) -> None:
        self.service.spool.store(samples, rate, transcript, self.leg.caller_number, self.leg.call_id)


@dataclass
class _Worker:
    """One call's worker thread and its queues."""

    inbox: queue.Queue = field(default_factory=queue.Queue)  # caller frames (bytes)
    outbox: queue.Queue = field(default_factory=queue.Queue)  # bot frames (bytes)
    control: queue.Queue = field(default_factory=queue.Queue)  # callables run on the worker, before audio
    stats: CallStats = field(default_factory=CallStats)
    thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)


def run_call(leg: "CallLeg", build_session: Callable[[int], CallSession], offered_rate: int, max_call_ms: int,
             on_finished: Callable[[CallSession], None], answer: Callable[[], None], on_broken: Callable[[], None]) -> None:
    """The worker thread of one call, started while the caller hears ringing.

    It builds the call's session (recogniser, dialog, voice: the slow part of setting a call up, kept off the
    SIP thread), has the SIP thread answer, waits for the call's audio, runs the call, and reports it (journal,
    metrics) when it ends.
    """
    # pjlib aborts the process if any pjsua2 object is touched from a thread it does not know
    _pj().Endpoint.instance().libRegisterThread(threading.current_thread().name)
    started = time.perf_counter()
    try:
        session = build_session(offered_rate)
        log.info("call %s: ready in %.0f ms", leg.call_id, (time.perf_counter() - started) * 1000)
        answer()
        rate = leg.wait_for_audio(AUDIO_WAIT_S)
        if rate is None:  # hung up while ringing, or no audio ever came (the SIP side ends such calls)
            _close_recognizer(session)
            return
        if rate != offered_rate:  # the codec chosen was not the one expected from the offer
            _close_recognizer(session)
            session = build_session(rate)
    except Exception:
        log.exception("call %s: could not set the call up; hanging up", leg.call_id)
        on_broken()
        return
    leg.session = session
    try:
        _call_loop(session, leg.worker, rate, max_call_ms)
    finally:
        try:
            on_finished(session)
        except Exception:
            log.exception("call %s: could not record the finished call", session.call_id)
        _close_recognizer(session)


def _close_recognizer(session: CallSession) -> None:
    close = getattr(session.recognizer, "close", None)
    if close is not None:
        close()  # its decoder, warm, serves the next call


def _call_loop(session: CallSession, worker: _Worker, rate: int, max_call_ms: int) -> None:
    """Control first, then one frame in, one frame out."""
    for _ in range(OUTBOX_PRIMING_FRAMES):
        worker.outbox.put(bytes(samples_per_frame(rate) * 2))
    session.start()
    clock_ms = 0
    while True:
        stopping = worker.stopping.is_set()  # read first: what was posted before the stop is run below
        while not worker.control.empty():
            worker.control.get_nowait()(session)
        if stopping:
            return
        try:
            pcm = worker.inbox.get(timeout=WORKER_IDLE_TICK_S)
            frame_in = Frame(pcm, rate, clock_ms)
        except queue.Empty:
            frame_in = None
        if session.ended:
            continue
        frame_out = session.tick(frame_in if frame_in is not None else silence(rate, clock_ms))
        worker.stats.speaking = session.busy
        # After a stall the worker catches up in a burst: queuing the silence it makes while the bot is quiet
        # would delay everything the bot says later in the call by 20 ms a frame. Beyond the priming, it is dropped.
        if worker.stats.speaking or worker.outbox.qsize() < OUTBOX_PRIMING_FRAMES:
            worker.outbox.put(frame_out.pcm)
        clock_ms += FRAME_MS
        if clock_ms >= max_call_ms and not session.ended:
            session.time_limit()


class SipService:
    """The pjsua2 endpoint, its account, and the calls in progress."""

    def __init__(self, settings: SipSettings, knowledge_source: Callable[[], Knowledge], engines: SpeechEngines,
                 spool: MessageSpool, on_call_finished: Callable[..., None] = lambda s, caller: None,
                 claims: CallClaims | None = None):
        self.settings = settings
        self.claims = claims  # shared with the other workers registered as the same extension
        self.refusing_calls: Callable[[], bool] = lambda: False  # a worker that reloads leaves calls to the others
        self.on_call_finished = on_call_finished  # (session, caller number): journal and metrics
        self.knowledge_source = knowledge_source  # the knowledge in force when a call starts
        self.engines = engines
        self.spool = spool
        self.calls: dict[str, CallLeg] = {}  # by callbot's call id: pjsua reuses its own ids at once
        self.ports = PortPool()
        self._posted: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stopping = threading.Event()
        self.endpoint: Any = None  # pjsua2.Endpoint, once started
        self.account: Any = None  # BotAccount
        self.registered = threading.Event()
        self._next_refresh = 0.0
        self._started_at: float | None = None

    # -- lifecycle (SIP thread) ---------------------------------------------------
    def start(self) -> None:
        pj = _pj()
        endpoint = pj.Endpoint()
        endpoint.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True  # every SIP callback on this thread, inside libHandleEvents
        config.uaConfig.maxCalls = min(self.settings.max_calls, PJSUA_MAX_CALLS)
        config.uaConfig.userAgent = "callbot"
        # the bridge runs at the highest call rate, so G.711 calls are not resampled when G.722 is off
        bridge_rate = max(call_rates(self.settings.codecs))
        config.medConfig.clockRate = bridge_rate
        config.medConfig.sndClockRate = bridge_rate
        config.medConfig.noVad = True  # the recogniser needs the caller's silence as well as speech
        config.logConfig.level = 3
        config.logConfig.consoleLevel = 2
        endpoint.libInit(config)
        transport = pj.TransportConfig()
        transport.boundAddress = self.settings.host
        transport.port = self.settings.port
        endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        endpoint.libStart()
        endpoint.audDevManager().setNullDev()
        self._set_codecs(endpoint)
        self.endpoint = endpoint
        self.account = BotAccount(self)
        self.account.create(self._account_config())
        self._started_at = time.monotonic()
        for rate in call_rates(self.settings.codecs):  # the first caller must not wait for a cold decoder
            self.engines.decoders.prepare(rate, call_grammar(self.knowledge_source(), self.engines))
        log.info("SIP listening on %s:%d (%s mode)", self.settings.host, self.settings.port, self.settings.mode)

    def _set_codecs(self, endpoint) -> None:
        wanted = {name: 255 - i for i, name in enumerate(self.settings.codecs)}
        for codec in endpoint.codecEnum2():
            name = codec.codecId.split("/")[0].upper()
            endpoint.codecSetPriority(codec.codecId, wanted.get(name, 0))

    def _account_config(self):
        pj = _pj()
        config = pj.AccountConfig()
        settings = self.settings
        config.mediaConfig.transportConfig.boundAddress = settings.host
        config.mediaConfig.transportConfig.port = settings.rtp_port_start
        config.mediaConfig.transportConfig.portRange = settings.rtp_port_count
        if settings.mode == "register":
            registrar_host = settings.registrar.split(":", 1)[1].split(";")[0]
            config.idUri = f"sip:{settings.username}@{registrar_host}"
            config.regConfig.registrarUri = settings.registrar
            config.regConfig.timeoutSec = settings.register_seconds
            config.regConfig.retryIntervalSec = 5  # a restarted PBX is found again within seconds
            config.regConfig.firstRetryIntervalSec = 2
            config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", settings.username, 0, settings.password))
        else:
            config.idUri = f"sip:callbot@{settings.host}:{settings.port}"
        return config

    def run(self, until: threading.Event | None = None, on_tick: Callable[[], None] | None = None) -> None:
        """Handle SIP events and posted actions until stopped."""
        stop = until or self._stopping
        while not stop.is_set():
            self.endpoint.libHandleEvents(EVENT_POLL_MS)
            self._run_posted()
            self._check_transfer_deadlines()
            self._answer_overdue_calls()
            self._reap_finished_calls()
            self._refresh_registration()
            if on_tick is not None:
                on_tick()

    def stop(self) -> None:
        self._stopping.set()

    def _refresh_registration(self) -> None:
        """Register again every REGISTRATION_REFRESH_S: PBXs that restart may forget their extensions."""
        if self.settings.mode != "register" or self.account is None:
            return
        now = time.monotonic()
        if now < self._next_refresh:
            return
        self._next_refresh = now + min(REGISTRATION_REFRESH_S, self.settings.register_seconds / 2)
        if self._started_at is not None and now - self._started_at > 1:
            try:
                self.account.setRegistration(True)
            except Exception as exc:  # a registration already in progress: the next refresh will do
                log.info("registration refresh skipped: %s", exc)

    def shutdown(self) -> None:
        """Hang up every call, then destroy pjsua2 in the order it needs (calls, ports, account, library)."""
        for leg in list(self.calls.values()):
            self.hang_up(leg, "service stopping")
        deadline = time.monotonic() + SHUTDOWN_HANGUP_S
        while any(leg.pj_call is not None for leg in self.calls.values()) and time.monotonic() < deadline:
            self.endpoint.libHandleEvents(EVENT_POLL_MS)
        for leg in list(self.calls.values()):
            leg.disconnected()  # calls that never confirmed their end: dropping them ends them in pjsua
        for leg in list(self.calls.values()):
            if leg.worker.thread is not None:
                leg.worker.thread.join(SHUTDOWN_WORKER_S)  # the journal gets every call, messages are kept
            leg.release(self.ports)
        self.calls.clear()
        self.endpoint.libHandleEvents(EVENT_POLL_MS)  # send what the hang-ups queued
        # the bridge's clock calls every port every 20 ms: stop it before the ports go
        self.endpoint.audDevManager().setNoDev()
        self.ports.destroy_all()
        if self.account is not None:
            self.account.shutdown()
            self.account = None
        gc.collect()  # no pjsua2 object may outlive the library (its destructors would then abort)
        self.endpoint.libDestroy()
        self.endpoint = None

    def post(self, action: Callable[[], None]) -> None:
        """Run `action` on the SIP thread (from any thread)."""
        self._posted.put(action)

    def _run_posted(self) -> None:
        while True:
            try:
                action = self._posted.get_nowait()
            except queue.Empty:
                return
            try:
                action()
            except Exception:
                log.exception("SIP action failed")

    # -- calls (SIP thread) ------------------------------------------------------
    @property
    def active_calls(self) -> int:
        return sum(1 for leg in self.calls.values() if not leg.finished)

    def admit(self, call_id: str, source: str) -> tuple[int, str | None]:
        """The SIP status for a new call: 200 to answer, 403 for an unknown peer, 486 or 302 when full."""
        host = source.rsplit(":", 1)[0].strip("[]")
        if self.settings.mode == "direct" and not self.settings.allows(host):
            log.warning("refused a call from %s: not in sip.allow", host)
            return 403, None
        full = self.active_calls >= min(self.settings.max_calls, PJSUA_MAX_CALLS) or self.refusing_calls()
        if self.claims is not None and (full or not self.claims.claim(call_id)):
            return 486, None  # another worker of this extension takes it (or all are full: the PBX says busy)
        if full:
            if self.settings.overflow and self.settings.workers == 1:  # several: the front or the PBX overflows
                return 302, self.settings.overflow
            return 486, None
        return 200, None

    def transfer(self, leg: "CallLeg", target: str, reason: str, topic: str | None) -> None:
        pj = _pj()
        call = leg.pj_call
        if call is None:
            return  # the caller hung up meanwhile: the worker is ending the call
        settings = leg.knowledge.config.targets[target]
        uri = refer_to(settings.uri, reason, topic, leg.call_id, settings.context)
        log.info("call %s: transfer to %s (%s)", leg.call_id, target, reason)
        leg.transfer_deadline = time.monotonic() + self.settings.transfer_timeout_seconds
        try:
            call.xfer(uri, pj.CallOpParam(True))
        except Exception as exc:
            failure = f"REFER failed: {exc}"  # bound now: `exc` no longer exists when the worker runs the lambda
            log.warning("call %s: %s", leg.call_id, failure)
            leg.transfer_deadline = None
            leg.to_worker(lambda session: session.transfer_failed(failure))

    def hang_up(self, leg: "CallLeg", reason: str) -> None:
        pj = _pj()
        call = leg.pj_call
        if call is None or leg.finished:
            return
        log.info("call %s: hanging up (%s)", leg.call_id, reason)
        try:
            call.hangup(pj.CallOpParam(True))
        except Exception as exc:  # already gone on the other side
            log.info("call %s: hang-up: %s", leg.call_id, exc)

    def _check_transfer_deadlines(self) -> None:
        now = time.monotonic()
        for leg in self.calls.values():
            if leg.transfer_deadline is not None and now >= leg.transfer_deadline:
                leg.transfer_deadline = None
                log.info("call %s: transfer not answered in time", leg.call_id)
                leg.to_worker(lambda session: session.transfer_failed("timeout"))

    def _answer_overdue_calls(self) -> None:
        now = time.monotonic()
        for leg in self.calls.values():
            if not leg.answered and now - leg.ringing_since >= RING_AT_MOST_S:
                log.info("call %s: answered before its session is ready", leg.call_id)
                self.answer(leg)

    def _reap_finished_calls(self) -> None:
        for call_id, leg in list(self.calls.items()):
            if leg.finished and (leg.worker.thread is None or not leg.worker.thread.is_alive()):
                leg.release(self.ports)
                del self.calls[call_id]

    def start_call_worker(self, leg: "CallLeg", offered_rate: int) -> None:
        """Start the call's worker thread; the session is built there, not here on the SIP thread."""
        knowledge, engines = leg.knowledge, self.engines

        def build_session(rate: int) -> CallSession:
            grammar = call_grammar(knowledge, engines)
            recognizer = engines.recognizer(rate, knowledge.config.dialog.max_utterance_seconds, grammar)
            dialog = Dialog(knowledge.config, knowledge.book, knowledge.matcher, knowledge.calendar)
            return CallSession(leg.call_id, dialog, recognizer, CachedSpeaker(engines.cache), SipLine(self, leg), rate)

        max_ms = int(self.settings.max_call_seconds * 1000)
        finished = functools.partial(self.on_call_finished, caller=leg.caller_number)
        answer = functools.partial(self.post, lambda: self.answer(leg))
        broken = functools.partial(self.post, lambda: self.hang_up(leg, "set-up failed"))
        leg.worker.thread = threading.Thread(
            target=run_call, args=(leg, build_session, offered_rate, max_ms, finished, answer, broken),
            name=f"call-{leg.call_id}", daemon=True)
        leg.worker.thread.start()

    def answer(self, leg: "CallLeg") -> None:
        """200 OK, once the call's session is ready (the caller hears ringing until then)."""
        pj = _pj()
        call = leg.pj_call
        if call is None or leg.finished or leg.answered:
            return
        leg.answered = True
        ok = pj.CallOpParam()
        ok.statusCode = 200
        try:
            call.answer(ok)
        except Exception as exc:  # cancelled meanwhile
            log.info("call %s: answer: %s", leg.call_id, exc)

    def offered_rate(self, sdp: str) -> int:
        """The audio rate the call will most likely get: 16 kHz if G.722 is both allowed and offered."""
        rates = call_rates(self.settings.codecs)
        return 16000 if 16000 in rates and "G722/" in sdp.upper() else rates[0]


class CallLeg:
    """One call as callbot sees it: its worker, media port and session, on the SIP thread.

    The pjsua2 `Call` (`pj_call`) lives only while pjsua has the call: it is dropped, and so destroyed on the
    SIP thread, in its own DISCONNECTED callback. pjsua gives the call's slot to the next INVITE at once, and a
    `Call` destroyed after that would detach (and hang up) the new call. The leg itself lives on until its
    worker has finished (journal, message), then gives its port back.
    """

    def __init__(self, knowledge: Knowledge, caller: str):
        self.call_id = uuid.uuid4().hex[:8]
        self.caller_number = caller
        self.knowledge = knowledge  # the knowledge in force when the call started
        self.worker = _Worker()
        self.pj_call = None
        self.port: Any = None  # its pjsua2 AudioMediaPort, from the PortPool
        self.session: CallSession | None = None
        self.finished = False
        self.transfer_deadline: float | None = None
        self.audio_rate: int | None = None
        self._audio = threading.Event()
        self.ringing_since = time.monotonic()
        self.answered = False

    def audio_connected(self, rate: int) -> None:
        self.audio_rate = rate
        self._audio.set()

    def wait_for_audio(self, timeout_s: float) -> int | None:
        """The call's audio rate once its media is connected; None if it ended or never connected."""
        deadline = time.monotonic() + timeout_s
        while not self._audio.wait(0.05):
            if self.worker.stopping.is_set() or time.monotonic() > deadline:
                return None
        return self.audio_rate

    def to_worker(self, action: Callable[[CallSession], None]) -> None:
        self.worker.control.put(action)

    def disconnected(self) -> None:
        """pjsua ended the call (or the service drops it): stop the worker, let go of the pjsua2 objects."""
        if not self.finished:
            self.finished = True
            self.transfer_deadline = None
            self.to_worker(lambda session: session.hang_up())
            self.worker.stopping.set()
        if self.port is not None:
            self.port.worker = None  # the bridge may still call the port until the call's stream is removed
        call, self.pj_call = self.pj_call, None
        if call is not None:
            call.leg = None

    def release(self, ports: PortPool) -> None:
        """Once the worker has ended: the port goes back to the pool (on the SIP thread)."""
        self.worker.stopping.set()
        if self.port is not None:
            ports.give_back(self.port)
            self.port = None
        self.session = None
        stats = self.worker.stats
        log.info("call %s: released (underruns %d, dropped %d)", self.call_id, stats.underruns, stats.dropped)


@functools.cache
def _account_class():
    pj = _pj()

    class _BotAccount(pj.Account):
        def __init__(self, service: SipService):
            super().__init__()
            self.service = service

        def onRegState(self, prm):
            info = self.getInfo()
            if info.regIsActive:
                self.service.registered.set()
                log.info("registered to %s (%d)", self.service.settings.registrar, prm.code)
            else:
                self.service.registered.clear()
                log.warning("registration lost or refused: %d %s", prm.code, prm.reason)

        def onIncomingCall(self, prm):
            service = self.service
            call = BotCall(self, prm.callId)
            status, contact = service.admit(call.getInfo().callIdString, prm.rdata.srcAddress)
            answer = pj.CallOpParam()
            answer.statusCode = status
            if status != 200:
                if contact:  # overflow: send the caller to another number (302 Moved Temporarily)
                    header = pj.SipHeader()
                    header.hName, header.hValue = "Contact", f"<{contact}>"
                    answer.txOption.headers.append(header)
                call.hangup(answer)
                return
            leg = CallLeg(service.knowledge_source(), caller_number(call.getInfo().remoteUri))
            leg.pj_call, call.leg, call.service = call, leg, service  # the leg's reference keeps the call up
            service.calls[leg.call_id] = leg
            log.info("call %s: incoming from %s", leg.call_id, mask_number(leg.caller_number))
            answer.statusCode = 180  # ringing at once; 200 when the call's worker has its session ready
            call.answer(answer)
            service.start_call_worker(leg, service.offered_rate(prm.rdata.wholeMsg))

    return _BotAccount


class BotAccount:
    """pjsua2's Account, created lazily so that importing this module does not need pjsua2."""

    def __new__(cls, service: SipService):
        return _account_class()(service)


@functools.cache
def _call_class():
    pj = _pj()

    class _BotCall(pj.Call):
        """pjsua2's side of a call: it only forwards events to its `CallLeg` (None once disconnected)."""

        def __init__(self, account, call_id: int):
            super().__init__(account, call_id)
            self.leg: CallLeg | None = None
            self.service: Any = None  # the SipService, set with `leg`

        def onCallState(self, prm):
            leg = self.leg
            if leg is None:
                return
            info = self.getInfo()
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                log.info("call %s: disconnected (%d %s)", leg.call_id, info.lastStatusCode, info.lastReason)
                leg.disconnected()  # drops this object: pjsua2 allows it in this callback, and needs it here

        def onCallMediaState(self, prm):
            leg = self.leg
            if leg is None or leg.port is not None:
                return
            info = self.getInfo()  # held: `.media` of a temporary CallInfo would read freed memory
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    try:
                        self._connect_audio(leg, media.index)
                    except Exception:  # pjsua2 would swallow it: say it, and end the call rather than stay mute
                        log.exception("call %s: cannot connect the call's audio", leg.call_id)
                        self.service.post(lambda: self.service.hang_up(leg, "no audio"))
                    return

        def _connect_audio(self, leg: CallLeg, index: int) -> None:
            stream = self.getStreamInfo(index)
            # G.722 announces an 8000 Hz RTP clock (RFC 3551) but carries 16 kHz audio
            wideband = stream.codecName.upper().startswith("G722") or stream.codecClockRate >= 16000
            rate = 16000 if wideband else 8000
            log.info("call %s: codec %s", leg.call_id, stream.codecName)
            leg.port = self.service.ports.take(rate, leg.worker)
            remote_media = self.getAudioMedia(index)
            remote_media.startTransmit(leg.port)
            leg.port.startTransmit(remote_media)
            leg.audio_connected(rate)
            log.info("call %s: audio at %d Hz", leg.call_id, rate)

        def onDtmfDigit(self, prm):
            leg, digit = self.leg, prm.digit
            if leg is not None:
                leg.to_worker(lambda session: session.digit(digit))

        def onCallTransferStatus(self, prm):
            leg = self.leg
            if leg is None:
                return
            code, final = prm.statusCode, prm.finalNotify
            log.info("call %s: transfer progress %d%s", leg.call_id, code, " (final)" if final else "")
            if code >= 300 or (final and code < 200):
                leg.transfer_deadline = None
                reason = f"{code} {prm.reason}"
                leg.to_worker(lambda session: session.transfer_failed(reason))
                prm.cont = False
            elif 200 <= code < 300:
                leg.transfer_deadline = None
                leg.to_worker(lambda session: session.transfer_succeeded())
                prm.cont = False

    return _BotCall


class BotCall:
    def __new__(cls, account, call_id: int):
        return _call_class()(account, call_id)


def call_rates(codecs: tuple[str, ...]) -> tuple[int, ...]:
    """The audio rates calls will use with these codecs: 16 kHz for G.722, 8 kHz for G.711."""
    return tuple(sorted({16000 if codec == "G722" else 8000 for codec in codecs}))


def caller_number(remote_uri: str) -> str:
    """The user part of `"Name" <sip:0612345678@host>`."""
    inside = remote_uri.split("<", 1)[-1].split(">", 1)[0]
    user = inside.split(":", 1)[-1].split("@", 1)[0]
    return user.split(";", 1)[0]


def mask_number(number: str) -> str:
    """A phone number fit for logs: only the last two digits (RGPD)."""
    return "•" * max(len(number) - 2, 0) + number[-2:] if number else "unknown"
