"""The speech engines of a process: one Vosk model, one Piper voice, one prompt cache.

Loaded once (before worker processes fork, later), warmed at start-up so the
first caller pays for nothing: the cache holds every prompt and answer.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterator

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
    """Frames for the dialog's prompts: static ones from the on-disk cache, dynamic ones streamed."""

    def __init__(self, cache: PromptCache):
        self.cache = cache

    def frames(self, prompt: Prompt, rate: int) -> Iterator[Frame]:
        if not prompt.text:
            return iter([silence(rate)])
        if prompt.static:
            return iter(self.cache.frames(prompt.text, rate, prompt.speed))
        return render(self.cache.voice, prompt.text, rate, prompt.speed)


def static_texts(config: Config, knowledge: Knowledge) -> list[str]:
    """Everything the bot can say that is known in advance: prompts, answers, follow-ups."""
    # "transfer" is rendered per target below; the clarifying questions name answers, so they are not known in advance
    texts = [config.prompt(key) for key in DEFAULT_PROMPTS if PLACEHOLDERS[key] == {"commune"}]
    texts += [config.prompt("transfer", target=t.description) for t in config.targets.values()]
    for answer in knowledge.book.answers:
        texts += [t for t in (answer.answer, answer.follow_up) if t]
    return texts


def warm(engines: SpeechEngines, config: Config, knowledge: Knowledge, rates: tuple[int, ...] = TELEPHONE_RATES) -> int:
    started = time.perf_counter()
    rendered = engines.cache.warm(static_texts(config, knowledge), rates)
    log.info("prompt cache: %d rendered in %.1f s", rendered, time.perf_counter() - started)
    return rendered


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
