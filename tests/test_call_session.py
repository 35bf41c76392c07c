"""The call runtime with a scripted recogniser and a fake voice: timing, barge-in, errors, messages."""

from dataclasses import dataclass, field

import numpy as np
import pytest

from callbot.asr import FinalTranscript, PartialTranscript, SpeechStarted
from callbot.audio import FRAME_MS, Frame, silence
from callbot.call import CallSession
from callbot.dialog import Dialog
from conftest import OPEN_HOURS

RATE = 8000
PROMPT_FRAMES = 50  # every fake prompt lasts one second


class ScriptedRecognizer:
    """Emits the events scheduled for given call times (ms), whatever the audio."""

    def __init__(self):
        self.script: dict[int, list] = {}
        self.fail_at: int | None = None

    def at(self, ms: int, *events) -> None:
        self.script.setdefault(ms, []).extend(events)

    def say(self, start_ms: int, text: str, duration_ms: int = 1000) -> int:
        """Schedule a whole utterance; returns when its final transcript arrives."""
        self.at(start_ms, SpeechStarted(start_ms))
        self.at(start_ms + duration_ms // 2, PartialTranscript(text, duration_ms // 2))
        final_ms = start_ms + duration_ms + 800
        self.at(final_ms, FinalTranscript(text, 0.9, start_ms, start_ms + duration_ms))
        return final_ms

    def accept(self, frame: Frame):
        if self.fail_at is not None and frame.start_ms >= self.fail_at:
            raise RuntimeError("recogniser crashed")
        return self.script.pop(frame.start_ms, [])

    def flush(self):
        return []


class FakeSpeaker:
    """One second of a constant level per prompt, so tests can tell prompts apart in the output."""

    def __init__(self):
        self.levels: dict[str, int] = {}
        self.broken: set[str] = set()

    def frames(self, prompt, rate):
        if prompt.key in self.broken:
            raise OSError(f"cannot render {prompt.key}")
        level = self.levels.setdefault(prompt.key, 1000 + 10 * len(self.levels))
        pcm = np.full(rate // 50, level, dtype="<i2").tobytes()
        return [Frame(pcm, rate) for _ in range(PROMPT_FRAMES)]


@dataclass
class FakeLine:
    transfers: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    hung_up: list = field(default_factory=list)
    messages: list = field(default_factory=list)

    def transfer(self, target, reason, topic):
        self.transfers.append(target)
        self.reasons.append((reason, topic))

    def hang_up(self, reason):
        self.hung_up.append(reason)

    def message_recorded(self, samples, rate, transcript):
        self.messages.append((len(samples) / rate, transcript))


@pytest.fixture
def parts(example):
    recognizer, speaker, line = ScriptedRecognizer(), FakeSpeaker(), FakeLine()
    session = CallSession("test", Dialog(example.config, example.book, example.matcher, example.calendar, lambda: OPEN_HOURS), recognizer, speaker, line, RATE)
    return session, recognizer, speaker, line


def run(session, until_ms: int) -> list[Frame]:
    out = []
    while session.now_ms < until_ms:
        out.append(session.tick(silence(RATE, session.now_ms + FRAME_MS if out else session.now_ms)))
        if session.ended:
            break
    return out


def first_ms_of(session, key: str) -> int:
    return next(at for at, k in session.played if k == key)


def test_greeting_plays_then_the_answer_follows_the_question(parts):
    session, recognizer, speaker, _ = parts
    session.start()
    final_ms = recognizer.say(1500, "quand passent les poubelles")
    run(session, final_ms + 200)
    assert [k for _, k in session.played] == ["prompt:greeting", "answer:ordures_menageres"]
    answer_at = first_ms_of(session, "answer:ordures_menageres")
    assert answer_at >= final_ms
    turn = session.turns[0]
    assert (turn.transcript, turn.action, turn.answer) == ("quand passent les poubelles", "answer", "ordures_menageres")
    assert turn.response_ms == answer_at - turn.speech_end_ms


def test_processing_latency_counts_from_the_end_of_utterance_including_the_final_decode(example):
    recognizer, speaker, line = ScriptedRecognizer(), FakeSpeaker(), FakeLine()
    ticks = iter(range(10**6))
    clock = lambda: next(ticks) * 0.001  # every reading of the wall clock takes 1 ms
    session = CallSession("test", Dialog(example.config, example.book, example.matcher, example.calendar,
                                         lambda: OPEN_HOURS), recognizer, speaker, line, RATE, wall_clock=clock)
    session.start()
    recognizer.at(3000, FinalTranscript("quand passent les poubelles", 0.9, 1500, 2200, decode_ms=40.0))
    run(session, 3400)
    turn = session.turns[0]
    assert turn.recognition_ms == 40.0
    assert turn.processing_ms >= 40.0 + 1.0  # the decode, then at least one more clock reading


def test_barge_in_cuts_the_prompt_within_one_frame(parts):
    session, recognizer, speaker, _ = parts
    session.start()
    recognizer.at(400, SpeechStarted(300))
    recognizer.at(600, PartialTranscript("les poubelles", 300))
    frames = run(session, 640)
    greeting_level = speaker.levels["prompt:greeting"]
    levels = [int(f.samples()[0]) for f in frames]
    assert levels[:30] == [greeting_level] * 30
    assert levels[-1] == 0  # from the frame after the partial: silence, the bot listens
    assert session.listening


def test_backchannel_does_not_cut_the_prompt(parts):
    session, recognizer, speaker, _ = parts
    session.start()
    recognizer.at(400, PartialTranscript("oui", 200))
    frames = run(session, 700)
    assert {int(f.samples()[0]) for f in frames} == {speaker.levels["prompt:greeting"]}


def test_no_input_timer_starts_when_the_prompt_ends(parts, example):
    session, _, _, _ = parts
    session.start()
    timeout_ms = int(example.config.dialog.no_input_seconds * 1000)
    run(session, PROMPT_FRAMES * FRAME_MS + timeout_ms + 100)
    assert first_ms_of(session, "prompt:noinput_1") == PROMPT_FRAMES * FRAME_MS + timeout_ms


def test_speech_holds_the_no_input_timer(parts, example):
    session, recognizer, _, _ = parts
    session.start()
    timeout_ms = int(example.config.dialog.no_input_seconds * 1000)
    recognizer.at(PROMPT_FRAMES * FRAME_MS + timeout_ms - 200, SpeechStarted(0))  # the caller starts, then goes on
    run(session, PROMPT_FRAMES * FRAME_MS + timeout_ms + 2000)
    assert "prompt:noinput_1" not in [k for _, k in session.played]


def test_noise_without_words_does_not_count_as_a_turn(parts):
    session, recognizer, _, _ = parts
    session.start()
    recognizer.at(1500, SpeechStarted(1500))
    recognizer.at(2500, FinalTranscript("", 0.0, 1500, 1700))
    run(session, 3000)
    assert session.turns == [] and [k for _, k in session.played] == ["prompt:greeting"]


def test_hang_up_during_a_prompt_ends_everything(parts):
    session, _, _, line = parts
    session.start()
    run(session, 300)
    session.hang_up()
    assert session.ended and not session.busy
    assert session.tick(silence(RATE, 320)).pcm == silence(RATE).pcm
    assert line.hung_up == []  # the caller hung up: nothing to tell the line


def test_goodbye_hangs_up_after_the_last_word(parts):
    session, recognizer, _, line = parts
    session.start()
    final_ms = recognizer.say(1500, "merci au revoir")
    run(session, final_ms + 3 * PROMPT_FRAMES * FRAME_MS)
    assert session.ended and line.hung_up == ["goodbye"]
    assert first_ms_of(session, "prompt:goodbye") < session.now_ms


def test_keypad_zero_transfers_and_a_refusal_records_a_message(parts):
    session, recognizer, _, line = parts
    session.start()
    run(session, 200)
    session.digit("0")
    run(session, 1500)
    assert line.transfers == ["accueil"]
    assert line.reasons == [("demande_personne", None)]  # what the SIP line puts in the REFER
    assert (session.transfer_reason, session.transfer_topic) == ("demande_personne", None)  # for the journal
    session.transfer_failed("486 Busy Here")
    recognizer.at(5000, SpeechStarted(5000))
    recognizer.at(8000, FinalTranscript("c est madame martin rappelez moi", 0.8, 5000, 7200))
    run(session, 9000)
    assert [k for _, k in session.played][-3:] == ["prompt:transfer_failed", "prompt:message_offer", "beep"]
    session.hang_up()
    seconds, transcript = line.messages[0]
    assert transcript == "c est madame martin rappelez moi" and seconds > 3


def test_message_stops_at_the_maximum_length(parts, example):
    session, _, _, line = parts
    session.start()
    session.digit("0")
    run(session, 1500)
    session.transfer_failed("timeout")
    run(session, 3000 + int(example.config.dialog.max_message_seconds * 1000) + 2000)
    assert len(line.messages) == 1
    assert line.messages[0][0] == pytest.approx(example.config.dialog.max_message_seconds, abs=0.05)
    assert "prompt:message_saved" in [k for _, k in session.played]


def test_recogniser_crash_gives_an_apology_then_a_transfer(parts):
    session, recognizer, speaker, line = parts
    session.start()
    recognizer.fail_at = 500
    frames = run(session, 3500)
    keys = [k for _, k in session.played]
    assert keys[:3] == ["prompt:greeting", "prompt:error", "prompt:transfer"]
    assert line.transfers == ["accueil"]
    assert all(f.samples().any() for f in frames[25:60])  # no silent gap around the failure


def test_voice_failure_on_an_answer_still_apologises(parts):
    session, recognizer, speaker, line = parts
    speaker.broken.add("answer:cantine")
    session.start()
    final_ms = recognizer.say(1500, "la cantine")
    run(session, final_ms + 3 * PROMPT_FRAMES * FRAME_MS)
    assert "prompt:error" in [k for _, k in session.played]
    assert line.transfers == ["accueil"]


def test_total_failure_hangs_up_instead_of_leaving_silence(parts):
    session, recognizer, speaker, line = parts
    session.start()
    run(session, 200)
    speaker.broken.update({"prompt:error", "prompt:transfer", "prompt:goodbye"})
    recognizer.fail_at = 300
    run(session, 2000)
    assert session.ended and line.hung_up == ["error"]
