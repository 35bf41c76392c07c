"""One call's runtime: carries frames between the line, the recogniser, the dialog and the voice.

The transport (a SIP call, or `callbot simulate`) calls `tick(frame_in)`
every 20 ms with the caller's frame and sends back the frame it returns.
Keypad digits, hang-up and transfer results come in through their own
methods. The session executes the dialog's commands in order (see
`callbot.dialog`), keeps the no-input timer on the call's own clock, and
logs every turn with its timings.

Any exception inside the call is caught here, once: the dialog turns it into
an apology and a transfer or a clean goodbye, so the caller never hears
silence and other calls are not affected.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import datetime
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

import numpy as np

from callbot.asr import FinalTranscript, PartialTranscript, Recognizer, SpeechStarted
from callbot.audio import FRAME_MS, Frame, join_frames, silence
from callbot.dialog import (CallerSpeaking, CallStarted, Command, Dialog, Digit, End, Event, Failure, HangUp, Listen,
                            NoInput, Play, Prompt, Record, RecordingFinished, StopPlayback, TimeLimit, Transfer,
                            TransferFailed, Utterance)

log = logging.getLogger(__name__)


class CallControl(Protocol):
    """What the session asks of the transport."""

    def transfer(self, target: str, reason: str, topic: str | None) -> None: ...

    def hang_up(self, reason: str) -> None: ...

    def message_recorded(self, samples: np.ndarray, rate: int, transcript: str) -> None: ...


class Speaker(Protocol):
    def frames(self, prompt: Prompt, rate: int) -> Iterator[Frame]: ...


@dataclass
class TurnLog:
    transcript: str
    confidence: float
    speech_start_ms: int
    speech_end_ms: int
    final_at_ms: int  # call time when the recogniser closed the utterance
    recognition_ms: float  # wall time of the final decode
    understanding_ms: float  # wall time of the dialog's decision
    action: str | None = None
    answer: str | None = None
    score: float | None = None
    runner_up: str | None = None
    runner_up_score: float | None = None
    control: str | None = None
    kind: str = "question"  # or "clarification_reply": the caller answering "Votre question concerne-t-elle A, ou B ?"
    choices: tuple[str, ...] = ()  # the answers a clarifying question offered (action "clarify")
    reply_first_frame_ms: int | None = None  # call time when the reply's first frame left
    processing_ms: float | None = None  # wall time from the end of utterance detected to the reply's first frame

    @property
    def response_ms(self) -> int | None:
        """Silence the caller heard between the end of speech and the reply (includes end-of-speech detection)."""
        return None if self.reply_first_frame_ms is None else self.reply_first_frame_ms - self.speech_end_ms


@dataclass
class _Playback:
    prompt: Prompt
    frames: Iterator[Frame]  # pulled one per tick, so a streamed prompt starts before it is fully synthesised


@dataclass
class _Recording:
    max_ms: int
    frames: list[Frame] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)


class CallSession:
    """The runtime of one call."""

    def __init__(self, call_id: str, dialog: Dialog, recognizer: Recognizer, speaker: Speaker, control: CallControl,
                 rate: int, wall_clock: Callable[[], float] = time.perf_counter):
        self.call_id = call_id
        self.dialog = dialog
        self.recognizer = recognizer
        self.speaker = speaker
        self.control = control
        self.rate = rate
        self.turns: list[TurnLog] = []
        self.played: list[tuple[int, str]] = []  # (call ms, prompt key) of every prompt started
        self.ended = False
        self.now_ms = 0
        self._clock = wall_clock
        self._queue: deque[Command] = deque()
        self._playback: _Playback | None = None
        self._no_input_deadline: int | None = None
        self._caller_speaking = False
        self._recording: _Recording | None = None
        self._waiting_transfer = False
        self._turn_waiting_reply: TurnLog | None = None
        self._turn_ready_at: float | None = None
        self._deaf = False
        self.started_at: datetime | None = None  # wall-clock start, for the call journal
        self.end_reason: str | None = None
        self.transfer_target: str | None = None
        self.transfer_reason: str | None = None  # why the dialog handed over (dialog.TRANSFER_REASONS)
        self.transfer_topic: str | None = None  # the answer that led there, if any
        self.message_left = False

    # -- transport interface -------------------------------------------------
    def start(self) -> None:
        self.started_at = datetime.now()
        self._dispatch(CallStarted())

    @property
    def outcome(self) -> str:
        """How the call ended, for the journal: answered, transferred, message, abandoned or error."""
        if self.message_left:
            return "message"
        if self.end_reason == "transferred":
            return "transferred"
        if self.end_reason == "error" or self._deaf:
            return "error"
        if any(turn.answer for turn in self.turns):
            return "answered"
        return "abandoned"

    def tick(self, frame_in: Frame | None) -> Frame:
        """One 20 ms step: take the caller's frame (None when nothing arrived), return the bot's."""
        if frame_in is not None:
            self.now_ms = frame_in.start_ms
        try:
            if frame_in is not None and not self.ended:
                self._hear(frame_in)
            self._check_no_input()
            frame_out = self._next_frame_out()
        except Exception:  # the one error boundary of a call: never let the caller hear silence
            log.exception("call %s: internal error", self.call_id)
            self._deaf = True  # whatever broke may be the recogniser: stop listening, the dialog hands over
            self._fail("internal error")
            frame_out = self._next_frame_out_safely()
        self.now_ms += FRAME_MS if frame_in is None else 0
        return frame_out

    def digit(self, digit: str) -> None:
        self._dispatch(Digit(digit))

    def time_limit(self) -> None:
        """The call has lasted too long: say goodbye and hang up."""
        if self._recording is not None:
            self._finish_recording()
        else:
            self._dispatch(TimeLimit())

    def transfer_failed(self, reason: str) -> None:
        self._waiting_transfer = False
        self._dispatch(TransferFailed(reason))

    def transfer_succeeded(self) -> None:
        self._waiting_transfer = False
        self._finish("transferred", notify=False)

    def hang_up(self) -> None:
        """The caller hung up: keep a message being recorded, then stop everything."""
        if self.ended:
            return
        try:
            if self._recording is not None:
                self._finish_recording()
            self._dispatch(HangUp())
        except Exception:  # the message could not be kept: say so in the log, the call still ends cleanly
            log.exception("call %s: error while closing after hang-up", self.call_id)
        self._finish(self.dialog.end_reason or "hangup", notify=False)

    @property
    def busy(self) -> bool:
        """Whether the bot is speaking or has commands left to run."""
        return self._playback is not None or bool(self._queue)

    @property
    def listening(self) -> bool:
        return not self.busy and not self.ended and self._recording is None and not self._waiting_transfer

    # -- inbound -------------------------------------------------------------
    def _hear(self, frame: Frame) -> None:
        if self._recording is not None:
            self._record(self._recording, frame)
            return
        if self._deaf:
            return
        for event in self.recognizer.accept(frame):
            if isinstance(event, SpeechStarted):
                self._caller_speaking = True
                self._no_input_deadline = None
            elif isinstance(event, PartialTranscript):
                if self._playback is not None:
                    self._dispatch(CallerSpeaking(event.text, event.speech_ms))
            elif isinstance(event, FinalTranscript):
                self._caller_speaking = False
                self._on_final(event)

    def _on_final(self, final: FinalTranscript) -> None:
        if not final.text:
            return  # a noise, not words: the no-input timer goes on
        # the clock starts when the end of the utterance was detected, before the final decode
        detected = self._clock() - final.decode_ms / 1000
        turn = TurnLog(final.text, final.confidence, final.start_ms, final.end_ms, self.now_ms + FRAME_MS,
                       final.decode_ms, 0.0)
        self.turns.append(turn)
        started = self._clock()
        self._dispatch(Utterance(final.text, final.confidence))
        turn.understanding_ms = 1000 * (self._clock() - started)
        record = self.dialog.turns[-1] if self.dialog.turns and self.dialog.turns[-1].transcript == final.text else None
        if record is not None:
            decision = record.decision
            turn.control = record.control
            turn.kind = record.kind
            if decision is not None:
                turn.action, turn.answer, turn.score = decision.action, decision.answer, decision.score
                turn.runner_up, turn.runner_up_score = decision.runner_up, decision.runner_up_score
                turn.choices = decision.choices
        self._turn_waiting_reply = turn
        self._turn_ready_at = detected
        # what the caller said is personal data: only its outcome goes to the log
        log.info("call %s: turn %d -> %s %s (%.2f)", self.call_id, len(self.turns), turn.action, turn.answer or "",
                 turn.score or 0.0)

    def _record(self, recording: _Recording, frame: Frame) -> None:
        recording.frames.append(frame)
        for event in ([] if self._deaf else self.recognizer.accept(frame)):
            if isinstance(event, FinalTranscript) and event.text:
                recording.transcripts.append(event.text)
        if len(recording.frames) * FRAME_MS >= recording.max_ms:
            self._finish_recording()

    def _finish_recording(self) -> None:
        recording, self._recording = self._recording, None
        if recording is None:
            return
        for event in ([] if self._deaf else self.recognizer.flush()):
            if isinstance(event, FinalTranscript) and event.text:
                recording.transcripts.append(event.text)
        transcript = " ".join(recording.transcripts)
        self.message_left = True
        self.control.message_recorded(join_frames(recording.frames), self.rate, transcript)
        self._dispatch(RecordingFinished(transcript, len(recording.frames) * FRAME_MS / 1000))

    def _check_no_input(self) -> None:
        if self._no_input_deadline is not None and not self._caller_speaking and self.now_ms >= self._no_input_deadline:
            self._no_input_deadline = None
            self._dispatch(NoInput())

    # -- dialog commands -----------------------------------------------------
    def _dispatch(self, event: Event) -> None:
        if self.ended:
            return
        try:
            commands = self.dialog.handle(event)
        except Exception:
            log.exception("call %s: dialog failed on %s", self.call_id, type(event).__name__)
            commands = self._failure_commands("dialog error")
        self._enqueue(commands)

    def _fail(self, reason: str) -> None:
        self._playback = None
        self._queue.clear()
        self._enqueue(self._failure_commands(reason))

    def _failure_commands(self, reason: str) -> list[Command]:
        try:
            return self.dialog.handle(Failure(reason))
        except Exception:
            log.exception("call %s: the dialog cannot even apologise; hanging up", self.call_id)
            return [End("error")]

    def _enqueue(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, StopPlayback):
                self._stop_playback()
            else:
                self._queue.append(command)

    def _stop_playback(self) -> None:
        if self._playback is not None and self._playback.prompt.interruptible:
            self._playback = None
        self._queue = deque(c for c in self._queue
                            if not isinstance(c, Listen) and not (isinstance(c, Play) and c.prompt.interruptible))
        self._no_input_deadline = None

    def _run_queue(self) -> None:
        while self._playback is None and self._queue and not self.ended:
            command = self._queue.popleft()
            if isinstance(command, Play):
                self._playback = _Playback(command.prompt, iter(self.speaker.frames(command.prompt, self.rate)))
                self.played.append((self.now_ms, command.prompt.key))
                log.info("call %s: says %s", self.call_id, command.prompt.key)
            elif isinstance(command, Listen):
                self._no_input_deadline = self.now_ms + int(command.timeout_s * 1000)
            elif isinstance(command, Transfer):
                self._waiting_transfer = True
                self.transfer_target = command.target
                self.transfer_reason, self.transfer_topic = command.reason, command.topic
                self.control.transfer(command.target, command.reason, command.topic)
            elif isinstance(command, Record):
                self._recording = _Recording(int(command.max_seconds * 1000))
                log.info("call %s: recording a message", self.call_id)
                self._playback = _Playback(Prompt("beep", ""), iter(beep(self.rate)))
                self.played.append((self.now_ms, "beep"))
            elif isinstance(command, End):
                self._finish(command.reason, notify=True)

    def _next_frame_out(self) -> Frame:
        self._run_queue()
        playback = self._playback
        if playback is None or self.ended:
            return silence(self.rate, self.now_ms)
        if self._turn_waiting_reply is not None:
            turn, self._turn_waiting_reply = self._turn_waiting_reply, None
            turn.reply_first_frame_ms = self.now_ms
            turn.processing_ms = 1000 * (self._clock() - (self._turn_ready_at or self._clock()))
            log.info("call %s: reply %.1f ms after the end of the utterance was detected (%d ms of call audio after "
                     "the end of speech)", self.call_id, turn.processing_ms, turn.response_ms)
        frame = next(playback.frames, None)
        if frame is None:  # this prompt has ended: the next command may start in this very tick
            self._playback = None
            return self._next_frame_out()
        return Frame(frame.pcm, self.rate, self.now_ms)

    def _next_frame_out_safely(self) -> Frame:
        try:
            return self._next_frame_out()
        except Exception:
            log.exception("call %s: cannot play the apology; hanging up", self.call_id)
            self._finish("error", notify=True)
            return silence(self.rate, self.now_ms)

    def _finish(self, reason: str, notify: bool) -> None:
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason
        self._queue.clear()
        self._playback = None
        self._no_input_deadline = None
        if notify:
            self.control.hang_up(reason)
        log.info("call %s: ended (%s)", self.call_id, reason)


BEEP_HZ = 1000
BEEP_MS = 400


def beep(rate: int) -> list[Frame]:
    """The tone before a voice message."""
    from callbot.audio import to_frames

    t = np.arange(rate * BEEP_MS // 1000) / rate
    tone = (0.3 * 32767 * np.sin(2 * np.pi * BEEP_HZ * t)).astype("<i2")
    return list(to_frames(tone, rate))
