"""Speech recognition: caller frames in, speech events out (Vosk, offline).

One `vosk.Model` per process, loaded once and shared; one `CallRecognizer`
per call. A voice activity detector (WebRTC's) gates the decoder: frames of
plain silence are not decoded, which saves most of the CPU on a phone line,
and a short pre-roll of the frames before speech was detected is fed first
so word beginnings are not cut. The end of an utterance is a stretch of
silence (`end_silence_ms`) or the maximum utterance length.
"""

from __future__ import annotations

import ctypes
import json
import logging
import threading
import time
import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Protocol

import numpy as np
import webrtcvad

from callbot.audio import FRAME_MS, Frame

log = logging.getLogger(__name__)

VAD_AGGRESSIVENESS = 2  # 0..3: 2 ignores line noise without eating soft consonants
MIN_SPEECH_DBFS = -45.0  # quieter frames are line noise, whatever the VAD (it needs time to learn the noise)
SPEECH_ONSET_FRAMES = 3  # voiced frames among the last 5 that start an utterance
PREROLL_MS = 300  # audio kept from before the onset, so first syllables reach the decoder
END_SILENCE_MS = 800  # silence that ends an utterance
PARTIAL_EVERY_MS = 200  # how often partial transcripts are read while the caller speaks


class ModelMissing(RuntimeError):
    """A speech model is not installed; the message names the command that installs it."""


@dataclass(frozen=True)
class SpeechStarted:
    at_ms: int


@dataclass(frozen=True)
class PartialTranscript:
    text: str
    speech_ms: int


@dataclass(frozen=True)
class FinalTranscript:
    text: str
    confidence: float
    start_ms: int
    end_ms: int  # end of the caller's speech (before the end-of-utterance silence)
    decode_ms: float = 0.0  # wall time of the final decode, after the end of the utterance was detected


AsrEvent = SpeechStarted | PartialTranscript | FinalTranscript


class Recognizer(Protocol):
    """What a call needs from speech recognition; tests put a scripted one here."""

    def accept(self, frame: Frame) -> list[AsrEvent]: ...

    def flush(self) -> list[AsrEvent]: ...


_models: dict[str, object] = {}
_models_lock = threading.Lock()
INSTALL_HINT = "install the French models with: python3 scripts/install_models.py (see README, 'Models')"


def load_vosk_model(path: Path):
    """The process-wide Vosk model for `path`, loaded on first use."""
    import vosk

    key = str(Path(path).resolve())
    with _models_lock:
        if key not in _models:
            if not (Path(path) / "am").is_dir() and not (Path(path) / "final.mdl").exists():
                raise ModelMissing(f"no Vosk model at {path}: {INSTALL_HINT}")
            vosk.SetLogLevel(-1)
            log.info("loading Vosk model %s", path)
            _models[key] = vosk.Model(str(path))
        return _models[key]


class _FstReader:
    """Just enough of OpenFst's binary format to read a graph's header and its symbol tables."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream

    def number(self, fmt: str) -> int:
        return struct.unpack(fmt, self.stream.read(struct.calcsize(fmt)))[0]

    def text(self) -> str:
        return self.stream.read(self.number("<i")).decode("utf-8", "replace")

    def symbol_tables(self) -> list[list[str]]:
        """The input and output symbol tables the header says follow it (none, one or both)."""
        self.number("<i"), self.text(), self.text(), self.number("<i")  # magic, fst type, arc type, version
        flags = self.number("<i")
        self.number("<Q"), self.number("<q"), self.number("<q"), self.number("<q")  # properties, start, states, arcs
        return [self.symbols() for present in (flags & 1, flags & 2) if present]

    def symbols(self) -> list[str]:
        self.number("<i"), self.text(), self.number("<q")  # magic, name, next free key
        entries = []
        for _ in range(self.number("<q")):
            entries.append(self.text())
            self.number("<q")  # its key
        return entries


class Vocabulary:
    """The words a Vosk model can output, kept as sorted hashes: ~4 MB for 500,000 words, not ~40 MB.

    Built before any fork (Python's string hashes differ from one interpreter to another, not
    between a process and its forks)."""

    def __init__(self, words: Iterable[str]):
        self._hashes = np.unique(np.fromiter((hash(w) for w in words), np.int64))

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, word: str) -> bool:
        at = int(np.searchsorted(self._hashes, hash(word)))
        return at < len(self._hashes) and int(self._hashes[at]) == hash(word)

    @classmethod
    def of_model(cls, model_dir: Path) -> "Vocabulary | None":
        words = model_words(model_dir)
        if words is None:
            return None
        vocabulary = cls(words)
        del words
        release_freed_memory()  # the half-million strings read are gone: hand their pages back
        return vocabulary


def model_words(model_dir: Path) -> list[str] | None:
    """The words of a Vosk model: graph/words.txt, or the output symbols stored in its graph (None if neither)."""
    graph = Path(model_dir) / "graph"
    if (graph / "words.txt").is_file():
        lines = (graph / "words.txt").read_text(encoding="utf-8").splitlines()
        return [line.split()[0] for line in lines if line.strip()]
    for name in ("Gr.fst", "HCLG.fst"):
        if (graph / name).is_file():
            with open(graph / name, "rb") as fst:
                tables = _FstReader(fst).symbol_tables()
            if tables:
                return tables[-1]
    return None


WARM_UP_MS = 300  # of faint noise decoded by a new decoder before any call gets it
IDLE_DECODERS_KEPT = 4  # per rate and grammar: one process never has more calls than this
# A decoder of a small (lookahead) model composes its graph on the fly and keeps what it composed
# for its whole life (test model: ~70 MiB after 10 s of speech, ~310 MiB after 300 s), and only
# deleting it frees that. Past this much speech it is replaced by a fresh one, which composes again
# (~15 % more CPU per second of speech): the memory stays bounded. scripts/bench_decoder_memory.py
DECODER_SPEECH_BUDGET_MS = 60_000
QUIET_AFTER_S = 600  # no new call for this long (the night): one spare decoder per rate is enough


_last_grammar: tuple[list[str], str] | None = None


def grammar_json(grammar: list[str] | None) -> str:
    """The phrase list as Vosk takes it ("" for none); the same list is not encoded again at every call."""
    global _last_grammar
    if not grammar:
        return ""
    if _last_grammar is None or _last_grammar[0] is not grammar:
        _last_grammar = (grammar, json.dumps(grammar, ensure_ascii=False))
    return _last_grammar[1]


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc keeps them otherwise: a deleted decoder
    left most of its memory counted against the worker). About 15 ms after freeing a big decoder."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        pass


def _let_go(decoders: list) -> None:
    decoders.clear()  # the last references
    release_freed_memory()


@dataclass(eq=False)
class Decoder:
    """A Vosk decoder, and how much speech it has decoded since it was made (its memory grows with it)."""

    kaldi: Any  # vosk.KaldiRecognizer (vosk has no type information)
    speech_ms: int = 0


class DecoderPool:
    """Vosk decoders ready for the next call, reused from call to call.

    A new KaldiRecognizer stalls on its first audio (about 700 ms with the test model, long enough
    to leave the first caller of a worker in silence); one that has decoded before and was Reset
    starts at once. So decoders are warmed off the call path, kept after their call, and a spare is
    warmed in the background whenever the last one is taken. One that has decoded its budget of
    speech is let go instead, and its memory handed back.
    """

    def __init__(self, model: Any):
        self.model = model
        self._idle: dict[tuple[int, str], list[Decoder]] = {}
        self._warming: set[tuple[int, str]] = set()
        self._grammar = ""  # the phrase list calls get now; decoders of an older one are let go
        self._last_take = time.monotonic()
        self._lock = threading.Lock()
        # one warm-up at a time: a burst of calls after a start otherwise warms all its decoders at once, and
        # on two cores each then takes as long as all of them together (33 s each for 5 under load, measured)
        self._warming_one = threading.Lock()

    def take(self, rate: int, grammar: list[str] | None = None) -> Decoder:
        key = (rate, grammar_json(grammar))
        with self._lock:
            self._last_take = time.monotonic()
            idle = self._idle.get(key)
            decoder = idle.pop() if idle else None
        if decoder is None:
            decoder = self._warmed(*key)  # a burst of calls outran the spares: this call waits
        self.prepare(rate, grammar)
        return decoder

    def give_back(self, decoder: Decoder, rate: int, grammar: list[str] | None = None) -> bool:
        """Keep the decoder for a later call (True), or not if it has decoded its budget of speech:
        then the caller drops it and calls `release_freed_memory`."""
        decoder.kaldi.Reset()
        key = (rate, grammar_json(grammar))
        with self._lock:
            current = key[1] == self._grammar
            kept = (current and decoder.speech_ms < DECODER_SPEECH_BUDGET_MS
                    and len(self._idle.get(key, [])) < IDLE_DECODERS_KEPT)
            if kept:
                self._idle.setdefault(key, []).append(decoder)
        if current and not kept:
            self.prepare(rate, grammar)
        return kept

    def prepare(self, rate: int, grammar: list[str] | None = None) -> None:
        """Warm a spare decoder in the background unless one is ready or on its way."""
        key = (rate, grammar_json(grammar))
        with self._lock:
            stale = self._forget_other_grammars(key[1])
            warm = not self._idle.get(key) and key not in self._warming
            if warm:
                self._warming.add(key)
        if stale:  # freeing big decoders takes a while: not on the caller's thread
            threading.Thread(target=_let_go, args=(stale,), name="free-decoders", daemon=True).start()
        if warm:
            threading.Thread(target=self._warm_spare, args=key, name="warm-decoder", daemon=True).start()

    def shrink_when_quiet(self, now: float | None = None) -> None:
        """After QUIET_AFTER_S without a new call, keep one spare per rate (the one that decoded least,
        so holds least memory) and let the others go: an idle worker gives back what a busy day took."""
        with self._lock:
            if (time.monotonic() if now is None else now) - self._last_take < QUIET_AFTER_S:
                return
            extra = []
            for idle in self._idle.values():
                idle.sort(key=lambda decoder: decoder.speech_ms, reverse=True)
                extra += idle[:-1]
                del idle[:-1]
        if extra:
            threading.Thread(target=_let_go, args=(extra,), name="free-decoders", daemon=True).start()

    def _forget_other_grammars(self, grammar: str) -> list[Decoder]:
        """The sheets changed (phrase hints on): idle decoders of the old phrase list will never serve again."""
        if grammar == self._grammar:
            return []
        self._grammar = grammar
        stale = [key for key in self._idle if key[1] != grammar]
        return [decoder for key in stale for decoder in self._idle.pop(key)]

    def _warm_spare(self, rate: int, grammar: str) -> None:
        try:
            decoder = self._warmed(rate, grammar)
            with self._lock:
                if grammar == self._grammar:
                    self._idle.setdefault((rate, grammar), []).append(decoder)
        except Exception:  # the call that needs one will make its own, and say why
            log.exception("could not warm a spare decoder")
        finally:
            with self._lock:
                self._warming.discard((rate, grammar))

    def _warmed(self, rate: int, grammar: str) -> Decoder:
        with self._warming_one:
            return self._warm_one(rate, grammar)

    def _warm_one(self, rate: int, grammar: str) -> Decoder:
        import vosk

        kaldi = vosk.KaldiRecognizer(self.model, rate, grammar) if grammar else vosk.KaldiRecognizer(self.model, rate)
        kaldi.SetWords(True)
        noise = np.random.default_rng(0).integers(-300, 300, rate * WARM_UP_MS // 1000, dtype="<i2").tobytes()
        kaldi.AcceptWaveform(noise)
        kaldi.FinalResult()
        kaldi.Reset()
        return Decoder(kaldi)


class VoskCallRecognizer:
    """Recognition for one call: VAD-gated Vosk decoding with end-of-utterance detection."""

    def __init__(self, pool: DecoderPool, rate: int, max_utterance_ms: int = 15000, grammar: list[str] | None = None,
                 end_silence_ms: int = END_SILENCE_MS):
        self._pool = pool  # the process's: its decoders are warm, and this call's goes back to it
        self._grammar = grammar
        self._decoder: Decoder | None = self._pool.take(rate, grammar)
        self._kaldi: Any = self._decoder.kaldi
        self._vad = webrtcvad.Vad(VAD_AGGRESSIVENESS)
        self.rate = rate
        self.max_utterance_ms = max_utterance_ms
        self.end_silence_ms = end_silence_ms
        self._recent: deque[tuple[Frame, bool]] = deque(maxlen=max(PREROLL_MS // FRAME_MS, 5))
        self._in_speech = False
        self._start_ms = 0
        self._last_voice_ms = 0
        self._since_partial = 0
        self._last_partial = ""
        self._segments: list[dict] = []
        self.decoded_ms = 0  # audio actually sent to the decoder, to measure what the VAD saves
        self.decode_seconds = 0.0  # time spent decoding it: the recognition real-time factor

    def accept(self, frame: Frame) -> list[AsrEvent]:
        voiced = frame.level_dbfs() > MIN_SPEECH_DBFS and self._vad.is_speech(frame.pcm, frame.rate)
        if not self._in_speech:
            self._recent.append((frame, voiced))
            if sum(v for _, v in list(self._recent)[-5:]) < SPEECH_ONSET_FRAMES:
                return []
            return self._start_utterance(frame)
        self._decode(frame)
        if voiced:
            self._last_voice_ms = frame.start_ms + FRAME_MS
        if frame.start_ms + FRAME_MS - self._last_voice_ms >= self.end_silence_ms:
            return [self._finish()]
        if frame.start_ms + FRAME_MS - self._start_ms >= self.max_utterance_ms:
            return [self._finish()]
        return self._partial(frame)

    def close(self) -> None:
        """The call is over: the decoder goes back to the pool for the next one."""
        decoder, self._decoder, self._kaldi = self._decoder, None, None  # another call may get it now
        if decoder is not None:
            decoder.speech_ms += self.decoded_ms
            if not self._pool.give_back(decoder, self.rate, self._grammar):
                del decoder  # the last reference: libvosk frees it here
                release_freed_memory()

    @property
    def real_time_factor(self) -> float | None:
        return self.decode_seconds / (self.decoded_ms / 1000) if self.decoded_ms else None

    def flush(self) -> list[AsrEvent]:
        """End any utterance in progress (the caller hung up or the turn ended)."""
        return [self._finish()] if self._in_speech else []

    def _start_utterance(self, frame: Frame) -> list[AsrEvent]:
        preroll = [f for f, _ in self._recent]
        self._recent.clear()
        self._in_speech = True
        self._start_ms = preroll[0].start_ms
        self._last_voice_ms = frame.start_ms + FRAME_MS
        self._since_partial = 0
        self._last_partial = ""
        self._segments = []
        for buffered in preroll:
            self._decode(buffered)
        return [SpeechStarted(self._start_ms)]

    def _decode(self, frame: Frame) -> None:
        self.decoded_ms += FRAME_MS
        started = time.perf_counter()
        accepted = self._kaldi.AcceptWaveform(frame.pcm)
        self.decode_seconds += time.perf_counter() - started
        if accepted:
            # Vosk found a pause of its own inside the utterance: keep that part, the rest follows
            self._segments.append(json.loads(self._kaldi.Result()))

    def _partial(self, frame: Frame) -> list[AsrEvent]:
        self._since_partial += FRAME_MS
        if self._since_partial < PARTIAL_EVERY_MS:
            return []
        self._since_partial = 0
        text = json.loads(self._kaldi.PartialResult()).get("partial", "")
        if text == self._last_partial:
            return []
        self._last_partial = text
        return [PartialTranscript(text, frame.start_ms + FRAME_MS - self._start_ms)]

    def _finish(self) -> FinalTranscript:
        started = time.perf_counter()
        results = self._segments + [json.loads(self._kaldi.FinalResult())]
        decode_ms = 1000 * (time.perf_counter() - started)
        words = [w for r in results for w in r.get("result", [])]
        text = " ".join(r.get("text", "").strip() for r in results if r.get("text", "").strip())
        confidence = sum(w.get("conf", 0.0) for w in words) / len(words) if words else 0.0
        self._in_speech = False
        return FinalTranscript(text, confidence, self._start_ms, self._last_voice_ms, decode_ms)
