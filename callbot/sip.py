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
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from callbot.audio import FRAME_MS, Frame, samples_per_frame, silence
from callbot.call import CallSession
from callbot.claims import CallClaims
from callbot.config import SipSettings
from callbot.dialog import Dialog
from callbot.knowledge import Knowledge
from callbot.messages import MessageSpool
from callbot.speech import CachedSpeaker, SpeechEngines, call_grammar

log = logging.getLogger(__name__)

PJSUA_MAX_CALLS = 4  # what the pjsua2-python wheel allows per process
EVENT_POLL_MS = 10  # how long libHandleEvents may block: bounds the delay of posted SIP actions
OUTBOX_PRIMING_FRAMES = 2  # silence queued at the start, to absorb the worker's jitter
INBOX_LIMIT_FRAMES = 50  # one second: beyond it the worker is stuck, old frames are dropped
WORKER_IDLE_TICK_S = 0.1  # without audio (hold, lost RTP), the session still advances its clock
REGISTRATION_REFRESH_S = 30  # a PBX that restarted and forgot us is told again within this time


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
def frame_reader() -> Callable[[object], bytes]:
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


class CallAudioPort:
    """Factory for the pjsua2 media port of one call (the class needs pjsua2 at import time)."""

    @staticmethod
    def create(rate: int, inbox: queue.Queue, outbox: queue.Queue, stats: CallStats):
        pj = _pj()
        read = frame_reader()

        class _Port(pj.AudioMediaPort):
            def onFrameReceived(self, frame):  # media clock thread: copy and hand over, nothing else
                if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size != self._bytes:
                    return
                if inbox.qsize() >= INBOX_LIMIT_FRAMES:
                    stats.dropped += 1
                    return
                inbox.put_nowait(read(frame.buf))

            def onFrameRequested(self, frame):  # media clock thread
                try:
                    pcm = outbox.get_nowait()
                except queue.Empty:
                    stats.underruns += stats.speaking
                    pcm = self._silence
                frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
                frame.buf = pj.ByteVector(pcm)
                frame.size = len(pcm)

        port = _Port()
        port._bytes = samples_per_frame(rate) * 2
        port._silence = bytes(port._bytes)
        media_format = pj.MediaFormatAudio()
        media_format.init(pj.PJMEDIA_FORMAT_PCM, rate, 1, FRAME_MS * 1000, 16)
        port.createPort(f"callbot-{uuid.uuid4().hex[:6]}", media_format)
        return port


class SipLine:
    """What a `CallSession` asks of the telephone line, posted to the SIP thread."""

    def __init__(self, service: "SipService", call: "BotCall"):
        self.service = service
        self.call = call

    def transfer(self, target: str) -> None:
        self.service.post(lambda: self.service.transfer(self.call, target))

    def hang_up(self, reason: str) -> None:
        self.service.post(lambda: self.service.hang_up(self.call, reason))

    def message_recorded(self, samples: np.ndarray, rate: int, transcript: str) -> None:
        self.service.spool.store(samples, rate, transcript, self.call.caller_number, self.call.call_id)


@dataclass
class _Worker:
    """One call's worker thread and its queues."""

    inbox: queue.Queue = field(default_factory=queue.Queue)  # caller frames (bytes)
    outbox: queue.Queue = field(default_factory=queue.Queue)  # bot frames (bytes)
    control: queue.Queue = field(default_factory=queue.Queue)  # callables run on the worker, before audio
    stats: CallStats = field(default_factory=CallStats)
    thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)


def run_call(session: CallSession, worker: _Worker, rate: int, max_call_ms: int,
             on_finished: Callable[[CallSession], None] = lambda session: None) -> None:
    """The worker loop of one call; reports the finished session (journal, metrics) when it ends."""
    # pjlib aborts the process if any pjsua2 object is touched from a thread it does not know
    _pj().Endpoint.instance().libRegisterThread(threading.current_thread().name)
    try:
        _call_loop(session, worker, rate, max_call_ms)
    finally:
        try:
            on_finished(session)
        except Exception:
            log.exception("call %s: could not record the finished call", session.call_id)
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
                 spool: MessageSpool, on_call_finished: Callable[[CallSession, str], None] = lambda s, caller: None,
                 claims: CallClaims | None = None):
        self.settings = settings
        self.claims = claims  # shared with the other workers registered as the same extension
        self.refusing_calls: Callable[[], bool] = lambda: False  # a worker that reloads leaves calls to the others
        self.on_call_finished = on_call_finished  # (session, caller number): journal and metrics
        self.knowledge_source = knowledge_source  # the knowledge in force when a call starts
        self.engines = engines
        self.spool = spool
        self.calls: dict[int, BotCall] = {}
        self._posted: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stopping = threading.Event()
        self.endpoint = None
        self.account = None
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
        """Hang up every call, then destroy pjsua2 (every Call and port must be gone first)."""
        pj = _pj()
        for call in list(self.calls.values()):
            try:
                call.hangup(pj.CallOpParam(True))
            except Exception:
                log.exception("call %s: hang-up at shutdown failed", call.call_id)
        deadline = time.monotonic() + 2
        while self.calls and time.monotonic() < deadline:
            self.endpoint.libHandleEvents(EVENT_POLL_MS)
            self._reap_finished_calls()
        for call in list(self.calls.values()):
            call.release()
        self.calls.clear()
        if self.account is not None:
            self.account.shutdown()
            self.account = None
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
        return sum(1 for c in self.calls.values() if not c.finished)

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

    def transfer(self, call: "BotCall", target: str) -> None:
        pj = _pj()
        knowledge = call.knowledge
        uri = knowledge.config.targets[target].uri
        log.info("call %s: transfer to %s", call.call_id, target)
        call.transfer_deadline = time.monotonic() + self.settings.transfer_timeout_seconds
        try:
            call.xfer(uri, pj.CallOpParam(True))
        except Exception as exc:
            log.warning("call %s: REFER failed: %s", call.call_id, exc)
            call.transfer_deadline = None
            call.to_worker(lambda session: session.transfer_failed(f"REFER failed: {exc}"))

    def hang_up(self, call: "BotCall", reason: str) -> None:
        pj = _pj()
        if call.finished:
            return
        log.info("call %s: hanging up (%s)", call.call_id, reason)
        try:
            call.hangup(pj.CallOpParam(True))
        except Exception as exc:  # already gone on the other side
            log.info("call %s: hang-up: %s", call.call_id, exc)

    def _check_transfer_deadlines(self) -> None:
        now = time.monotonic()
        for call in self.calls.values():
            if call.transfer_deadline is not None and now >= call.transfer_deadline:
                call.transfer_deadline = None
                log.info("call %s: transfer not answered in time", call.call_id)
                call.to_worker(lambda session: session.transfer_failed("timeout"))

    def _reap_finished_calls(self) -> None:
        for call_id, call in list(self.calls.items()):
            if call.finished and (call.worker.thread is None or not call.worker.thread.is_alive()):
                call.release()
                del self.calls[call_id]


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
            call = BotCall(self, prm.callId, service)
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
            caller = call.getInfo().remoteUri
            call.caller_number = caller_number(caller)
            service.calls[prm.callId] = call  # keep a reference, or the garbage collector hangs up
            log.info("call %s: incoming from %s", call.call_id, mask_number(call.caller_number))
            call.answer(answer)

    return _BotAccount


class BotAccount:
    """pjsua2's Account, created lazily so that importing this module does not need pjsua2."""

    def __new__(cls, service: SipService):
        return _account_class()(service)


@functools.cache
def _call_class():
    pj = _pj()

    class _BotCall(pj.Call):
        def __init__(self, account, call_id: int, service: SipService):
            super().__init__(account, call_id)
            self.service = service
            self.call_id = uuid.uuid4().hex[:8]
            self.caller_number = ""
            self.knowledge = service.knowledge_source()
            self.worker = _Worker()
            self.port = None
            self.remote_media = None
            self.session: CallSession | None = None
            self.finished = False
            self.transfer_deadline: float | None = None

        def to_worker(self, action: Callable[[CallSession], None]) -> None:
            self.worker.control.put(action)

        def onCallState(self, prm):
            info = self.getInfo()
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.finished:
                self.finished = True
                self.transfer_deadline = None
                log.info("call %s: disconnected (%d %s)", self.call_id, info.lastStatusCode, info.lastReason)
                self.to_worker(lambda session: session.hang_up())
                self.worker.stopping.set()

        def onCallMediaState(self, prm):
            info = self.getInfo()
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    if self.port is None:
                        self._connect_audio(media.index)

        def _connect_audio(self, index: int) -> None:
            stream = self.getStreamInfo(index)
            # G.722 announces an 8000 Hz RTP clock (RFC 3551) but carries 16 kHz audio
            wideband = stream.codecName.upper().startswith("G722") or stream.codecClockRate >= 16000
            rate = 16000 if wideband else 8000
            log.info("call %s: codec %s", self.call_id, stream.codecName)
            self.port = CallAudioPort.create(rate, self.worker.inbox, self.worker.outbox, self.worker.stats)
            self.remote_media = self.getAudioMedia(index)
            self.remote_media.startTransmit(self.port)
            self.port.startTransmit(self.remote_media)
            self._start_worker(rate)

        def _start_worker(self, rate: int) -> None:
            knowledge = self.knowledge
            engines = self.service.engines
            grammar = call_grammar(knowledge, engines)
            recognizer = engines.recognizer(rate, knowledge.config.dialog.max_utterance_seconds, grammar)
            dialog = Dialog(knowledge.config, knowledge.book, knowledge.matcher, knowledge.calendar)
            self.session = CallSession(self.call_id, dialog, recognizer, CachedSpeaker(engines.cache),
                                       SipLine(self.service, self), rate)
            max_ms = int(self.service.settings.max_call_seconds * 1000)
            finished = functools.partial(self.service.on_call_finished, caller=self.caller_number)
            self.worker.thread = threading.Thread(target=run_call,
                                                  args=(self.session, self.worker, rate, max_ms, finished),
                                                  name=f"call-{self.call_id}", daemon=True)
            self.worker.thread.start()
            log.info("call %s: audio at %d Hz", self.call_id, rate)

        def onDtmfDigit(self, prm):
            digit = prm.digit
            self.to_worker(lambda session: session.digit(digit))

        def onCallTransferStatus(self, prm):
            code, final = prm.statusCode, prm.finalNotify
            log.info("call %s: transfer progress %d%s", self.call_id, code, " (final)" if final else "")
            if code >= 300 or (final and code < 200):
                self.transfer_deadline = None
                reason = f"{code} {prm.reason}"
                self.to_worker(lambda session: session.transfer_failed(reason))
                prm.cont = False
            elif 200 <= code < 300:
                self.transfer_deadline = None
                self.to_worker(lambda session: session.transfer_succeeded())
                prm.cont = False

        def release(self) -> None:
            """Disconnect and drop the media port (on the SIP thread)."""
            self.worker.stopping.set()
            # the call's media is already gone with the call: dropping the port removes it from the bridge
            self.port = None
            self.remote_media = None
            # break the cycle call -> session -> SipLine -> call, so this pjsua2 object is freed here, on the
            # SIP thread, by reference counting: freed by the cycle collector on another thread, pjlib aborts
            self.session = None
            stats = self.worker.stats
            log.info("call %s: released (underruns %d, dropped %d)", self.call_id, stats.underruns, stats.dropped)

    return _BotCall


class BotCall:
    def __new__(cls, account, call_id: int, service: SipService):
        return _call_class()(account, call_id, service)


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
