"""The conversation of one call, as a sans-I/O state machine.

Events come in (`CallStarted`, `Utterance`, `NoInput`, `Digit`,
`CallerSpeaking`, `TransferFailed`, `RecordingFinished`, `Failure`,
`HangUp`); commands come out (`Play`, `StopPlayback`, `Listen`, `Transfer`,
`Record`, `End`). No sockets, threads, audio or clock: the runtime (a SIP
call, or `callbot simulate`) executes the commands in order and reports what
happens, so a whole call can be replayed in a unit test.

Command semantics the runtime follows:
- commands run in the order given; a `Play` holds the queue until its audio
  has been played (or cut);
- `StopPlayback` cuts the current prompt at once if it is interruptible, and
  drops the interruptible `Play`s and the `Listen`s queued before it
  (barge-in): the caller is speaking, the bot listens;
- `Listen(timeout)` arms the no-input timer: `NoInput` if the caller has said
  nothing `timeout` seconds after the prompts before it have finished.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable

from callbot.config import Config
from callbot.dated import MairieCalendar
from callbot.sheets import TRANSFER, AnswerBook
from callbot.understanding.clarify import CHOSEN, DECLINED, FRESH, read_reply
from callbot.understanding.control import Control, detect_control
from callbot.understanding.matcher import ANSWER, CLARIFY, Decision, Matcher
from callbot.understanding.person import canonical_text

# Words that show the caller is listening, not taking the floor: they never cut a prompt.
BACKCHANNELS = frozenset("oui ouais ouai hm hmm mh mmh euh heu ah oh bon d accord ok okay voila merci allo".split())
BARGE_IN_MIN_WORDS = 2  # content words heard during a prompt before it is cut
BARGE_IN_MIN_SPEECH_MS = 900  # or one content word spoken for at least this long


# -- events ------------------------------------------------------------------
@dataclass(frozen=True)
class CallStarted:
    pass


@dataclass(frozen=True)
class Utterance:
    """A final transcript of what the caller said."""

    text: str
    confidence: float = 1.0


@dataclass(frozen=True)
class CallerSpeaking:
    """A partial transcript while the caller speaks (drives barge-in)."""

    partial: str
    speech_ms: int


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class Digit:
    digit: str  # "0".."9", "*", "#"


@dataclass(frozen=True)
class TransferFailed:
    reason: str


@dataclass(frozen=True)
class RecordingFinished:
    transcript: str
    seconds: float


@dataclass(frozen=True)
class Failure:
    """Something broke inside this call (an engine, a file): apologise and hand over."""

    reason: str


@dataclass(frozen=True)
class HangUp:
    pass


@dataclass(frozen=True)
class TimeLimit:
    """The call reached the maximum duration."""


Event = (CallStarted | Utterance | CallerSpeaking | NoInput | Digit | TransferFailed | RecordingFinished | Failure
         | HangUp | TimeLimit)


# -- commands ----------------------------------------------------------------
@dataclass(frozen=True)
class Prompt:
    """A text to speak. `key` names static texts so their audio can be cached."""

    key: str  # "prompt:greeting", "answer:horaires_mairie"
    text: str
    speed: float = 1.0
    interruptible: bool = True
    static: bool = True  # known in advance: served from the prompt cache; else synthesised and streamed


@dataclass(frozen=True)
class Play:
    prompt: Prompt


@dataclass(frozen=True)
class StopPlayback:
    pass


@dataclass(frozen=True)
class Listen:
    timeout_s: float


# Why a call goes to a person. They travel to the agent's phone (`X-Callbot-Reason`, see sip.py) and
# `callbot report` counts them: short, stable French words a PBX can route on.
PERSON_ASKED = "demande_personne"  # the caller asked for a person, or pressed 0
NOT_UNDERSTOOD = "incompris"  # `attempts` questions in a row not understood
NOT_HEARD = "silence"  # `attempts` silences in a row
URGENT = "urgence"  # an answer handing over to an on-call target (`on_call: true`)
AFTER_ANSWER = "apres_reponse"  # an answer that ends with a transfer
OFFICE_HOURS = "heures_ouverture"  # `during_office_hours: transfer`: straight to the reception
INTERNAL_ERROR = "erreur"  # something broke inside the call
TRANSFER_REASONS = (PERSON_ASKED, NOT_UNDERSTOOD, NOT_HEARD, URGENT, AFTER_ANSWER, OFFICE_HOURS, INTERNAL_ERROR)


@dataclass(frozen=True)
class Transfer:
    target: str  # a target name of the configuration
    reason: str  # one of TRANSFER_REASONS
    topic: str | None = None  # the answer id that led to the transfer, if any


@dataclass(frozen=True)
class Record:
    max_seconds: float


@dataclass(frozen=True)
class End:
    reason: str  # "goodbye", "hangup", "transferred", "message", "nobody_available", "error", "time_limit"


Command = Play | StopPlayback | Listen | Transfer | Record | End


class State(Enum):
    NOT_STARTED = "not_started"
    LISTENING = "listening"  # waiting for a question
    ASKED_MORE = "asked_more"  # "Avez-vous une autre question ?" was asked
    OFFERED_FOLLOW_UP = "offered_follow_up"  # an answer's own yes/no follow-up was asked
    CLARIFYING = "clarifying"  # "Votre question concerne-t-elle A, ou B ?" was asked
    TRANSFERRING = "transferring"
    RECORDING = "recording"
    ENDED = "ended"


QUESTION = "question"  # a turn kind: the caller asks something
CLARIFICATION_REPLY = "clarification_reply"  # a turn kind: the caller answers "A, ou B ?"
MAX_CLARIFICATIONS = 2  # clarifying questions in a row before the bot asks to rephrase instead


_CONTRACTIONS = ((re.compile(r"\bde le\b"), "du"), (re.compile(r"\bde les\b"), "des"),
                 (re.compile(r"\b([dD])e ([aeiouyéèêàâîôûhAEIOUÉÈ])"), r"\1'\2"), (re.compile(r"\bà le\b"), "au"),
                 (re.compile(r"\bà les\b"), "aux"))


def with_contractions(text: str) -> str:
    """French contractions where a title follows a preposition: "au sujet de le marché" -> "au sujet du marché"."""
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class Turn:
    """What the bot made of one caller utterance, for the call's log.

    For a reply to a clarifying question, `decision` is what the reply settled: `answer` (or
    `transfer`) with the chosen id, `declined` ("non", "aucun des deux"), or the decision of a
    fresh question.
    """

    transcript: str
    control: str | None
    decision: Decision | None
    kind: str = QUESTION


@dataclass
class Dialog:
    """One call's conversation."""

    config: Config
    book: AnswerBook
    matcher: Matcher
    calendar: MairieCalendar | None = None
    clock: Callable[[], datetime] = datetime.now  # local time of the mairie's server; tests pin it
    state: State = State.NOT_STARTED
    turns: list[Turn] = field(default_factory=list)
    end_reason: str | None = None
    _last_answer: Prompt | None = None
    _misunderstood: int = 0  # no-match turns in a row
    _unheard: int = 0  # no-input turns in a row
    _choices: tuple[str, ...] = ()  # the answers offered by the last clarifying question
    _clarified: str = ""  # the question that led to it: a chosen dated answer reads its date there ("demain")
    _clarifications: int = 0  # clarifying questions in a row

    # -- entry point -------------------------------------------------------
    def handle(self, event: Event) -> list[Command]:
        """Feed one event; returns the commands to carry out, in order."""
        if self.state is State.ENDED:
            return []
        if isinstance(event, HangUp):
            return self._end("hangup", say=None)
        if isinstance(event, Failure):
            return self._on_failure()
        if isinstance(event, TimeLimit):
            return [StopPlayback(), *self._end("time_limit", say="goodbye")]
        handlers: dict[type, Callable[[Any], list[Command]]] = {
            CallStarted: self._on_start, Utterance: self._on_utterance, CallerSpeaking: self._on_speaking,
            NoInput: self._on_no_input, Digit: self._on_digit, TransferFailed: self._on_transfer_failed,
            RecordingFinished: self._on_recording_finished,
        }
        return handlers[type(event)](event)

    # -- handlers ----------------------------------------------------------
    def _on_start(self, _: CallStarted) -> list[Command]:
        if self.state is not State.NOT_STARTED:
            return []
        self.state = State.LISTENING
        if self.config.during_office_hours == "transfer" and self._reception_open():
            return [self._play("greeting"), *self._transfer(self.config.reception, OFFICE_HOURS)]
        return [self._play("greeting"), self._listen()]

    def _on_speaking(self, event: CallerSpeaking) -> list[Command]:
        if self.state not in (State.LISTENING, State.ASKED_MORE, State.OFFERED_FOLLOW_UP, State.CLARIFYING):
            return []
        words = [w for w in canonical_text(event.partial).split() if w not in BACKCHANNELS]
        long_enough = len(words) >= BARGE_IN_MIN_WORDS or (words and event.speech_ms >= BARGE_IN_MIN_SPEECH_MS)
        return [StopPlayback()] if long_enough else []

    def _on_utterance(self, event: Utterance) -> list[Command]:
        if self.state in (State.TRANSFERRING, State.RECORDING, State.NOT_STARTED):
            return []
        text = event.text.strip()
        if not text:
            return self._on_no_input(NoInput())
        control = detect_control(text)
        self._unheard = 0
        if self.state is State.CLARIFYING:
            return self._on_clarification_reply(text, control)
        decision = self.matcher.decide(text)
        self.turns.append(Turn(text, control.value if control else None, decision))
        return self._respond(control, decision)

    def _on_clarification_reply(self, text: str, control: Control | None) -> list[Command]:
        """The caller answers "A, ou B ?": a choice, "non"/"aucun", or a new question."""
        if control in (Control.REPEAT, Control.SLOWER):
            self.turns.append(Turn(text, control.value, None, CLARIFICATION_REPLY))
            return self._ask_clarification(self._choices)
        reply = read_reply(self.matcher, self._choices, self.book.titles(), text)
        if reply.kind == CHOSEN:
            assert reply.answer is not None  # a choice always names its answer
            decision = self._chosen(f"{self._clarified} {text}", reply.answer)
        elif reply.kind == DECLINED:
            decision = Decision(text, DECLINED, None, 0.0, None, 0.0, best=self._choices[0], choices=self._choices)
        elif reply.kind == FRESH:
            decision = self.matcher.decide(text)
        else:  # "oui" to two choices: ask which one, once
            decision = Decision(text, CLARIFY, None, 0.0, None, 0.0, best=self._choices[0], choices=self._choices)
        self.turns.append(Turn(text, control.value if control else None, decision, CLARIFICATION_REPLY))
        if reply.kind == DECLINED:
            return self._escalate_misunderstanding(after_clarification=True)
        if reply.kind == FRESH:
            if control is Control.GOODBYE and decision.action not in (ANSWER, TRANSFER):
                return self._end("goodbye", say="goodbye")
            self.state = State.LISTENING
            return self._respond(None, decision)
        if decision.action == CLARIFY:
            return self._clarify(decision, from_question=False)
        return self._act_on(decision)

    def _chosen(self, text: str, answer_id: str) -> Decision:
        answer = self.book.by_id(answer_id)
        action, target = (TRANSFER, answer.transfer) if answer.transfer else (ANSWER, None)
        return Decision(text, action, answer_id, 1.0, None, 0.0, target, answer_id)

    def _respond(self, control: Control | None, decision: Decision) -> list[Command]:
        understood = decision.action in (ANSWER, TRANSFER)
        if control is Control.GOODBYE and not understood:
            return self._end("goodbye", say="goodbye")
        if control in (Control.REPEAT, Control.SLOWER):
            return self._repeat(slower=control is Control.SLOWER)
        if understood:
            return self._act_on(decision)
        if self.state is State.OFFERED_FOLLOW_UP and control is Control.YES:
            return self._repeat(slower=False)
        if self.state in (State.ASKED_MORE, State.OFFERED_FOLLOW_UP) and control is Control.NO:
            return self._end("goodbye", say="goodbye")
        if self.state is State.ASKED_MORE and control is Control.YES:
            self.state = State.LISTENING
            return [self._play("listening"), self._listen()]
        if decision.action == CLARIFY:
            return self._clarify(decision)
        return self._escalate_misunderstanding()

    def _clarify(self, decision: Decision, from_question: bool = True) -> list[Command]:
        """Ask which of the plausible answers the caller means, rather than to rephrase blindly."""
        if self._clarifications >= MAX_CLARIFICATIONS:
            return self._escalate_misunderstanding()
        self._clarifications += 1
        if from_question:
            self._clarified = decision.text
        return self._ask_clarification(decision.choices)

    def _ask_clarification(self, choices: tuple[str, ...]) -> list[Command]:
        self._choices = choices
        self.state = State.CLARIFYING
        titles = self.book.titles()
        if len(choices) == 1:
            key, values = "clarify_one", {"first": titles[choices[0]]}
        else:
            key, values = "clarify_two", {"first": titles[choices[0]], "second": titles[choices[1]]}
        text = with_contractions(self.config.prompt(key, **values))
        return [Play(Prompt(f"prompt:{key}", text, static=False)), self._listen()]

    def _act_on(self, decision: Decision) -> list[Command]:
        self._misunderstood = 0
        self._clarifications = 0
        if decision.answer is None:  # a transfer without an answer (an ANSWER always names its answer)
            return self._transfer(decision.target, PERSON_ASKED)
        answer = self.book.by_id(decision.answer)
        commands: list[Command] = []
        dated = self._dated_sentence(answer, decision.text)
        if dated:
            self._last_answer = Prompt(f"dated:{answer.id}", dated, static=False)
            commands.append(Play(self._last_answer))
        elif answer.answer:
            self._last_answer = Prompt(f"answer:{answer.id}", answer.answer)
            commands.append(Play(self._last_answer))
        if decision.action == TRANSFER:
            return commands + self._transfer(decision.target, self._answer_transfer_reason(decision.target), answer.id)
        if answer.follow_up:
            self.state = State.OFFERED_FOLLOW_UP
            commands.append(Play(Prompt(f"follow_up:{answer.id}", answer.follow_up)))
        else:
            self.state = State.ASKED_MORE
            commands.append(self._play("anything_else"))
        return commands + [self._listen()]

    def _repeat(self, slower: bool) -> list[Command]:
        if self._last_answer is None:
            self.state = State.LISTENING
            return [self._play("nothing_to_repeat"), self._listen()]
        speed = self.config.dialog.slower_speed if slower else self._last_answer.speed
        last = self._last_answer
        self._last_answer = Prompt(last.key, last.text, speed, static=last.static)
        self.state = State.ASKED_MORE
        return [Play(self._last_answer), self._play("anything_else"), self._listen()]

    def _on_no_input(self, _: NoInput) -> list[Command]:
        if self.state in (State.ASKED_MORE, State.OFFERED_FOLLOW_UP):
            # silence after "anything else?" means the caller has what they needed
            return self._end("goodbye", say="goodbye")
        if self.state is State.CLARIFYING:
            self.state = State.LISTENING  # silence after "A, ou B ?": count it as not heard, ask again
        if self.state is not State.LISTENING:
            return []
        self._unheard += 1
        return self._escalate(self._unheard, "noinput")

    def _escalate_misunderstanding(self, after_clarification: bool = False) -> list[Command]:
        self.state = State.LISTENING
        self._misunderstood += 1
        if after_clarification and self._misunderstood < self.config.dialog.attempts:
            # "non, aucun des deux": no need to say the bot did not understand, only to ask again
            return [self._play("clarify_declined" if self._misunderstood == 1 else "nomatch_2"), self._listen()]
        return self._escalate(self._misunderstood, "nomatch")

    def _escalate(self, count: int, kind: str) -> list[Command]:
        """VoiceXML-style: ask again, then help with examples, then hand over to a person."""
        if count >= self.config.dialog.attempts:
            return self._transfer(self.config.reception, NOT_UNDERSTOOD if kind == "nomatch" else NOT_HEARD)
        prompt = f"{kind}_1" if count == 1 else f"{kind}_2"
        return [self._play(prompt), self._listen()]

    def _on_digit(self, event: Digit) -> list[Command]:
        if self.state in (State.TRANSFERRING, State.RECORDING, State.NOT_STARTED):
            return []
        if event.digit == "0":
            return [StopPlayback(), *self._transfer(self.config.reception, PERSON_ASKED)]
        if event.digit == "*":
            return [StopPlayback(), *self._repeat(slower=False)]
        return []

    def _dated_sentence(self, answer, transcript: str) -> str | None:
        if answer.dated is None or self.calendar is None:
            return None
        return self.calendar.sentence(answer.dated, transcript, self.clock())

    def _reception_open(self) -> bool:
        target = self.config.targets.get(self.config.reception or "")
        if target is None:
            return False
        return not target.hours or self.calendar is None or self.calendar.reception_open(target.hours, self.clock())

    def _answer_transfer_reason(self, target: str | None) -> str:
        on_call = target in self.config.targets and self.config.targets[target].on_call
        return URGENT if on_call else AFTER_ANSWER

    def _transfer(self, target: str | None, reason: str, topic: str | None = None) -> list[Command]:
        if target is None or target not in self.config.targets:
            return self._end("nobody_available", say="nobody_available")
        hours = self.config.targets[target].hours
        if hours and self.calendar is not None and not self.calendar.reception_open(hours, self.clock()):
            return self._closed(target)
        self.state = State.TRANSFERRING
        description = self.config.targets[target].description
        return [self._play("transfer", interruptible=False, target=description), Transfer(target, reason, topic)]

    def _closed(self, target: str) -> list[Command]:
        """Outside the target's hours: say so, and take a message instead of transferring."""
        calendar, place = self.calendar, self.config.targets[target].hours
        assert calendar is not None and place is not None  # `_transfer` comes here only when both are known
        hours = calendar.opening_sentence(place, self.clock())
        closed = [Play(Prompt("dated:closed", hours, interruptible=False, static=False)),
                  self._play("target_closed", interruptible=False)]
        if not self.config.dialog.messages:
            return [*closed, *self._end("nobody_available", say="goodbye")]
        self.state = State.RECORDING
        return [*closed, self._play("message_offer", interruptible=False), Record(self.config.dialog.max_message_seconds)]

    def _on_transfer_failed(self, _: TransferFailed) -> list[Command]:
        if self.state is not State.TRANSFERRING:
            return []
        if not self.config.dialog.messages:
            return self._end("nobody_available", say="nobody_available")
        self.state = State.RECORDING
        return [self._play("transfer_failed", interruptible=False), self._play("message_offer", interruptible=False),
                Record(self.config.dialog.max_message_seconds)]

    def _on_recording_finished(self, event: RecordingFinished) -> list[Command]:
        if self.state is not State.RECORDING:
            return []
        self.turns.append(Turn(event.transcript, "message", None))
        return self._end("message", say="message_saved")

    def _on_failure(self) -> list[Command]:
        """Never silence: apologise, then a person if one can be reached, else a clean goodbye."""
        apology: list[Command] = [StopPlayback(), self._play("error", interruptible=False)]
        if self.state is State.TRANSFERRING or self.config.reception not in self.config.targets:
            return apology + self._end("error", say="goodbye")
        return apology + self._transfer(self.config.reception, INTERNAL_ERROR)

    # -- helpers -----------------------------------------------------------
    def _play(self, key: str, interruptible: bool = True, **values: str) -> Play:
        return Play(Prompt(f"prompt:{key}", self.config.prompt(key, **values), interruptible=interruptible))

    def _listen(self) -> Listen:
        return Listen(self.config.dialog.no_input_seconds)

    def _end(self, reason: str, say: str | None) -> list[Command]:
        self.state = State.ENDED
        self.end_reason = reason
        if say is None:
            return [End(reason)]
        return [self._play(say, interruptible=False), End(reason)]

