"""The speech engines of a process: one Vosk model, one Piper voice, one prompt cache.

Loaded once (before worker processes fork, later). The cache of every prompt
and answer is filled in the background while the service already answers
(`CacheFiller`): a prompt not rendered yet is synthesised on the fly for the
call that needs it, so a first start answers within seconds, not after the
whole cache (about 45 s for the example commune with the test voice).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from callbot.asr import DecoderPool, Vocabulary, VoskCallRecognizer, load_vosk_model
from callbot.audio import Frame, TELEPHONE_RATES, silence
from callbot.config import Config, SpeechSettings
from callbot.dialog import Prompt
from callbot.knowledge import Knowledge
from callbot.prompts import DEFAULT_PROMPTS, PLACEHOLDERS
from callbot.tts import PiperVoiceEngine, PromptCache, Voice, render
from callbot.understanding.normalise import surface_words

log = logging.getLogger(__name__)


@dataclass
class SpeechEngines:
    settings: SpeechSettings
    model: object
    voice: Voice
    cache: PromptCache
    vocabulary: Vocabulary | None = None  # the model's words, read when phrase hints are on
    decoders: DecoderPool = field(init=False)  # filled in the process that takes the calls (after any fork)

    def __post_init__(self) -> None:
        self.decoders = DecoderPool(self.model)

    def recognizer(self, rate: int, max_utterance_seconds: float, grammar: list[str] | None = None) -> VoskCallRecognizer:
        return VoskCallRecognizer(self.decoders, rate, int(max_utterance_seconds * 1000), grammar,
                                  self.settings.end_silence_ms)


def load_speech(settings: SpeechSettings) -> SpeechEngines:
    """Load the model and the voice; raises ModelMissing naming the install command."""
    started = time.perf_counter()
    model = load_vosk_model(settings.vosk_model)
    voice = PiperVoiceEngine(settings.voice)
    vocabulary = Vocabulary.of_model(settings.vosk_model) if settings.phrase_hints else None
    log.info("speech engines loaded in %.1f s", time.perf_counter() - started)
    return SpeechEngines(settings, model, voice, PromptCache(settings.cache, voice), vocabulary)


class CachedSpeaker:
    """Frames for the dialog's prompts: static ones from the on-disk cache (synthesised on the fly and
    stored if not rendered yet), dynamic ones streamed."""

    def __init__(self, cache: PromptCache):
        self.cache = cache

    def frames(self, prompt: Prompt, rate: int) -> Iterator[Frame]:
        if not prompt.text:
            return iter([silence(rate)])
        if prompt.static:
            return self.cache.stream(prompt.text, rate, prompt.speed)
        return render(self.cache.voice, prompt.text, rate, prompt.speed)


def static_texts(config: Config, knowledge: Knowledge) -> list[str]:
    """Everything the bot can say that is known in advance: prompts, answers, follow-ups."""
    # "transfer" is rendered per target below; the clarifying questions name answers, so they are not known in advance
    texts = [config.prompt(key) for key in DEFAULT_PROMPTS if PLACEHOLDERS[key] == {"commune"}]
    texts += [config.prompt("transfer", target=t.description) for t in config.targets.values()]
    for answer in knowledge.book.answers:
        texts += [t for t in (answer.answer, answer.follow_up) if t]
    return texts


PROGRESS_EVERY_S = 2.0  # how often rendering the prompt cache says how far it got


class CacheFiller:
    """Renders into the prompt cache every static text not rendered yet, the greeting first, saying how
    far it got; on a thread of its own (`start`) while calls are answered, or in the caller's (`run`)."""

    def __init__(self, cache: PromptCache, texts: list[str], rates: tuple[int, ...],
                 on_done: Callable[[], None] | None = None):
        self.cache = cache
        self.texts = texts
        self.rates = rates
        self.on_done = on_done
        self.rendered = 0
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "CacheFiller":
        self._thread = threading.Thread(target=self._run_in_background, name="prompt-cache", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the text being rendered (what is rendered stays in the cache)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, in_background: bool = False) -> int:
        """Render what is missing; returns how many (text, rate) renderings were made."""
        started = last_said = time.perf_counter()
        missing = self.cache.missing(self.texts, self.rates)
        if missing and in_background:
            log.info("prompt cache: %d to render, in the background; calls are answered meanwhile, "
                     "prompts not rendered yet are synthesised during the call", len(missing))
        for text, rate in missing:
            if self._stop.is_set():
                log.info("prompt cache: stopped after %d of %d", self.rendered, len(missing))
                return self.rendered
            if not self.cache.path(text, 1.0, rate).is_file():  # a call may have rendered it meanwhile
                self.cache.frames(text, rate)
            self.rendered += 1
            if time.perf_counter() - last_said >= PROGRESS_EVERY_S and self.rendered < len(missing):
                last_said = time.perf_counter()
                log.info("prompt cache: %d/%d rendered", self.rendered, len(missing))
        log.info("prompt cache: %d rendered in %.1f s", self.rendered, time.perf_counter() - started)
        return self.rendered

    def _run_in_background(self) -> None:
        _lower_this_threads_priority()
        try:
            self.run(in_background=True)
        except Exception:  # calls go on, synthesised on the fly; a reload renders again
            log.exception("prompt cache: rendering failed")
        finally:
            self.done.set()
            if self.on_done is not None:
                self.on_done()


BACKGROUND_NICENESS = 10  # added to the cache filler thread's: calls, decoders and SIP go first


def _lower_this_threads_priority() -> None:
    """On Linux a thread has a niceness of its own: the filler uses the CPU the calls leave."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + BACKGROUND_NICENESS, 19))
    except OSError as exc:  # not fatal: it renders at the calls' priority
        log.warning("prompt cache: could not lower the rendering thread's priority: %s", exc)


def cache_filler(engines: SpeechEngines, config: Config, knowledge: Knowledge,
                 rates: tuple[int, ...] = TELEPHONE_RATES, on_done: Callable[[], None] | None = None) -> CacheFiller:
    return CacheFiller(engines.cache, static_texts(config, knowledge), rates, on_done)


def warm(engines: SpeechEngines, config: Config, knowledge: Knowledge, rates: tuple[int, ...] = TELEPHONE_RATES) -> int:
    """Render every static text not yet in the cache, here and now; returns how many renderings were made."""
    return cache_filler(engines, config, knowledge, rates).run()


def call_grammar(knowledge: Knowledge, engines: SpeechEngines) -> list[str] | None:
    """The phrase list a call's recogniser is limited to, when phrase hints are on."""
    if not engines.settings.phrase_hints:
        return None
    return phrase_list(knowledge, engines.vocabulary) or None  # a model that knows none of them stays open


_last_phrase_list: tuple[Knowledge, Vocabulary | None, list[str]] | None = None  # once per loaded version


def phrase_list(knowledge: Knowledge, vocabulary: Vocabulary | None = None) -> list[str]:
    """Words the recogniser may output when phrase hints are on: the sheets' own words, plus [unk],
    less those the model does not know (it could not hear them anyway). Empty if it knows none."""
    global _last_phrase_list
    last = _last_phrase_list
    if last is None or last[0] is not knowledge or last[1] is not vocabulary:
        last = _last_phrase_list = (knowledge, vocabulary, _known(_phrase_list(knowledge), vocabulary))
    return last[2]


def _known(words: list[str], vocabulary: Vocabulary | None) -> list[str]:
    if vocabulary is None:
        return words
    known = [w for w in words if w in vocabulary]
    unknown = [w for w in words if w not in vocabulary and w != "[unk]"]
    if not [w for w in known if w != "[unk]"]:
        log.warning("phrase hints: the speech model knows none of the %d words of the answer sheets; "
                    "recognition stays open (is it the French model?)", len(unknown))
        return []
    if unknown:
        log.warning("phrase hints: %d words of the answer sheets are not in the speech model's vocabulary, "
                    "so callers saying them are heard as something else: %s%s", len(unknown),
                    ", ".join(unknown[:20]), ", ..." if len(unknown) > 20 else "")
    return known


def _phrase_list(knowledge: Knowledge) -> list[str]:
    texts = [q.text for a in knowledge.book.answers for q in a.questions]
    texts += [k for a in knowledge.book.answers for k in a.keywords]
    texts += [v for variants in knowledge.matcher.normaliser_synonyms.values() for v in variants]
    texts += list(knowledge.matcher.normaliser_synonyms)
    texts += ["oui non merci au revoir répétez plus lentement une personne parler à quelqu'un"]
    # replies to a clarifying question: the answers' titles, their places, "aucun des deux"
    texts += [a.title for a in knowledge.book.answers if a.title]
    texts += ["la première le premier la deuxième le second la dernière aucun aucune des deux ni l'un ni l'autre"]
    words = sorted({w for text in texts for w in surface_words(text)})
    return words + ["[unk]"]
