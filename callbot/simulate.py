"""A whole call from WAV files, through the same pipeline as a telephone call.

Each caller WAV is one turn: it starts once the bot has finished speaking
and is listening, and is fed in 20 ms frames at the call's rate, as fast as
possible or in real time. The bot's side is written as a WAV, with a JSON
log of every turn.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from callbot.audio import FRAME_MS, Frame, join_frames, read_wav, silence, to_frames, write_wav
from callbot.call import CallSession
from callbot.dialog import Dialog
from callbot.knowledge import Knowledge
from callbot.speech import CachedSpeaker, SpeechEngines, call_grammar

GAP_BEFORE_TURN_MS = 400  # the caller starts speaking this long after the bot stopped
REPLY_WAIT_MS = 5_000  # after a turn, how long to wait for the bot to start replying
WAIT_AFTER_LAST_TURN_MS = 30_000  # after the last WAV, how long the bot may go on before the simulator hangs up


@dataclass
class SimulatedLine:
    """The transport side of a simulated call: records what the session asks for."""

    transfer_outcome: str  # "answered" or "busy"
    transfers: list[str] = field(default_factory=list)
    hang_up_reason: str | None = None
    messages: list[dict] = field(default_factory=list)
    pending_transfer: bool = False

    def transfer(self, target: str, reason: str, topic: str | None) -> None:
        self.transfers.append(target)
        self.pending_transfer = True

    def hang_up(self, reason: str) -> None:
        self.hang_up_reason = reason

    def message_recorded(self, samples: np.ndarray, rate: int, transcript: str) -> None:
        self.messages.append({"seconds": len(samples) / rate, "transcript": transcript})

    def settle(self, session: CallSession) -> None:
        """Report the transfer's outcome one tick after it was asked for, as a real line would later."""
        if not self.pending_transfer:
            return
        self.pending_transfer = False
        if self.transfer_outcome == "answered":
            session.transfer_succeeded()
        else:
            session.transfer_failed("486 Busy Here")


def simulate_call(knowledge: Knowledge, engines: SpeechEngines, caller_wavs: list[Path], out_dir: Path, rate: int = 8000,
                  realtime: bool = False, transfer_outcome: str = "answered") -> dict:
    """Run one call; writes bot.wav, caller.wav and call.json into out_dir and returns the log."""
    config = knowledge.config
    grammar = call_grammar(knowledge, engines)
    recognizer = engines.recognizer(rate, config.dialog.max_utterance_seconds, grammar)
    line = SimulatedLine(transfer_outcome)
    session = CallSession("simulated", Dialog(config, knowledge.book, knowledge.matcher, knowledge.calendar), recognizer,
                          CachedSpeaker(engines.cache), line, rate)
    clock = _Clock(rate, realtime)
    turns = [read_wav(path, rate)[0] for path in caller_wavs]
    session.start()
    for samples in turns:
        clock.run_until(session, line, lambda: session.listening or session.ended, limit_ms=120_000)
        if session.ended:
            break
        clock.run_silence(session, line, GAP_BEFORE_TURN_MS)
        for frame in to_frames(samples, rate):
            clock.step(session, line, frame.pcm)
        clock.run_until(session, line, lambda: session.busy or session.ended, limit_ms=REPLY_WAIT_MS)
    clock.run_until(session, line, lambda: session.ended or (session.listening and clock.idle_ms >= 1000),
                    limit_ms=WAIT_AFTER_LAST_TURN_MS)
    session.hang_up()
    log = _call_log(session, line, recognizer, clock, caller_wavs, rate)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_wav(out_dir / "bot.wav", join_frames(clock.bot), rate)
    write_wav(out_dir / "caller.wav", join_frames(clock.caller), rate)
    (out_dir / "call.json").write_text(json.dumps(log, ensure_ascii=False, indent=2), encoding="utf-8")
    return log


class _Clock:
    """Drives the session tick by tick and keeps both sides of the call."""

    def __init__(self, rate: int, realtime: bool):
        self.rate = rate
        self.realtime = realtime
        self.now_ms = 0
        self.idle_ms = 0
        self.bot: list[Frame] = []
        self.caller: list[Frame] = []
        self._started = time.monotonic()

    def step(self, session: CallSession, line: SimulatedLine, pcm: bytes | None = None) -> None:
        frame_in = Frame(pcm, self.rate, self.now_ms) if pcm is not None else silence(self.rate, self.now_ms)
        self.caller.append(frame_in)
        self.bot.append(session.tick(frame_in))
        line.settle(session)
        self.idle_ms = self.idle_ms + FRAME_MS if session.listening else 0
        self.now_ms += FRAME_MS
        if self.realtime:
            delay = self._started + self.now_ms / 1000 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def run_silence(self, session: CallSession, line: SimulatedLine, duration_ms: int) -> None:
        for _ in range(duration_ms // FRAME_MS):
            self.step(session, line)

    def run_until(self, session: CallSession, line: SimulatedLine, done, limit_ms: int) -> None:
        waited = 0
        while not done() and waited < limit_ms:
            self.step(session, line)
            waited += FRAME_MS


def _call_log(session: CallSession, line: SimulatedLine, recognizer, clock: _Clock, wavs: list[Path], rate: int) -> dict:
    turns = []
    for turn in session.turns:
        entry = asdict(turn)
        entry["response_ms"] = turn.response_ms
        turns.append(entry)
    return {
        "rate": rate,
        "caller_wavs": [str(p) for p in wavs],
        "duration_ms": clock.now_ms,
        "end_reason": session.dialog.end_reason or line.hang_up_reason,
        "transfers": line.transfers,
        "messages": line.messages,
        "prompts": [{"at_ms": at, "key": key} for at, key in session.played],
        "turns": turns,
        "decoded_ms": getattr(recognizer, "decoded_ms", None),
    }
