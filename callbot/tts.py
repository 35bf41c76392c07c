"""Speech synthesis: text in, 20 ms frames at the call's rate out (Piper, offline).

- Text is first rewritten for the ear (`speech_text.spoken_french`: times,
  dates, amounts, phone numbers, acronyms).
- Static texts (prompts and answers) are rendered once into an on-disk
  `PromptCache` keyed by text, voice, speed and rate, so answering costs no
  synthesis; a changed text simply has another key.
- Dynamic texts, and static ones not rendered yet (the first start renders
  the cache in the background while calls are answered), are synthesised
  sentence by sentence and streamed, so the first frames leave before the
  whole reply is ready.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

import numpy as np

from callbot.asr import ModelMissing, INSTALL_HINT
from callbot.audio import Frame, read_wav, resample, to_frames, write_wav
from callbot.speech_text import spoken_french

log = logging.getLogger(__name__)

CACHE_FORMAT = "1"  # bump when rendering changes in a way that makes old cache files wrong


class Voice(Protocol):
    """A synthesiser: one chunk of int16 samples per sentence, at `native_rate`."""

    identity: str  # changes when the voice model changes
    native_rate: int

    def synthesize(self, text: str, speed: float) -> Iterator[np.ndarray]: ...


class PiperVoiceEngine:
    """A Piper voice (.onnx + .onnx.json).

    The ONNX session is created on first use: a process that forks workers
    checks the voice at start-up but lets each worker open its own session
    (ONNX Runtime's threads do not survive a fork), and workers that only play
    cached prompts never load it at all.

    Sentences are synthesised in the thread that asks, each call's in its
    own and the cache filler's in its (lower-priority) one: a call never
    waits for another's synthesis, nor for the cache being filled.
    """

    def __init__(self, model_path: Path):
        model_path = Path(model_path)
        config_path = Path(f"{model_path}.json")
        if not model_path.is_file() or not config_path.is_file():
            raise ModelMissing(f"no Piper voice at {model_path} (and its .onnx.json): {INSTALL_HINT}")
        self.model_path, self.config_path = model_path, config_path
        self.native_rate = int(json.loads(config_path.read_text(encoding="utf-8"))["audio"]["sample_rate"])
        digest = hashlib.sha256(config_path.read_bytes())
        digest.update(str(model_path.stat().st_size).encode())
        self.identity = f"{model_path.stem}-{digest.hexdigest()[:12]}"
        self._voice: Any = None
        self._new_state()
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_session_after_fork(this))

    def _new_state(self) -> None:
        self._loading = threading.Lock()
        self._sentences = threading.Condition()  # guards the two below
        self._in_progress = 0  # sentences being synthesised
        self._pausing = False

    def _loaded(self):
        with self._loading:
            if self._voice is None:
                self._voice = self._load()
            return self._voice

    def _load(self):
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        # One thread, the caller's (ONNX Runtime runs a session from several threads at once): a sentence is
        # synthesised at the priority of the thread that asks, and no pool of spinning threads takes the cores
        # the decoders need (on two busy cores it also costs less CPU per second of speech).
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(self.model_path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        return PiperVoice(session=session,
                          config=PiperConfig.from_dict(json.loads(self.config_path.read_text(encoding="utf-8"))))

    def release(self) -> None:
        """Drop the ONNX session (before forking workers: each opens its own); a synthesis under way ends first."""
        with self._loading:
            self._voice = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No synthesis runs within it: the supervisor forks a worker there, so nothing half-done is copied."""
        with self._sentences:
            self._pausing = True
            self._sentences.wait_for(lambda: not self._in_progress)
        try:
            yield
        finally:
            with self._sentences:
                self._pausing = False
                self._sentences.notify_all()

    @contextmanager
    def _sentence(self) -> Iterator[None]:
        with self._sentences:
            self._sentences.wait_for(lambda: not self._pausing)
            self._in_progress += 1
        try:
            yield
        finally:
            with self._sentences:
                self._in_progress -= 1
                self._sentences.notify_all()

    def synthesize(self, text: str, speed: float) -> Iterator[np.ndarray]:
        from piper import SynthesisConfig

        # Piper's length_scale is the inverse of speed: 1.25 is slower speech
        config = SynthesisConfig(length_scale=1.0 / speed)
        voice = self._loaded()
        sentences = iter(voice.synthesize(text, config))
        while True:
            with self._sentence():
                chunk = next(sentences, None)
            if chunk is None:
                return
            yield chunk.audio_int16_array


# A session inherited through fork is never freed in the child: its destructor could wait for threads of
# ONNX Runtime's that do not exist there. Its pages stay shared with the parent's, untouched.
_INHERITED_SESSIONS: list[object] = []


def _forget_session_after_fork(engine: "weakref.ref[PiperVoiceEngine]") -> None:
    """In a new child process: the parent's session and locks are not this process's to use (a thread of
    the parent, gone in the child, may have been holding them at the fork)."""
    voice = engine()
    if voice is None:
        return
    if voice._voice is not None:
        _INHERITED_SESSIONS.append(voice._voice)
        voice._voice = None
    voice._new_state()


def render(voice: Voice, text: str, rate: int, speed: float = 1.0) -> Iterator[Frame]:
    """Speak `text` at `rate`, streamed sentence by sentence as 20 ms frames."""
    return _stream(voice.synthesize(spoken_french(text), speed), voice.native_rate, rate)


def _stream(sentences: Iterable[np.ndarray], native_rate: int, rate: int) -> Iterator[Frame]:
    """20 ms frames at `rate` of sentences at `native_rate`, each sentence's frames as soon as it is there."""
    start_ms = 0
    pending = np.zeros(0, dtype="<i2")
    for sentence in sentences:
        pending = np.concatenate([pending, resample(sentence, native_rate, rate)])
        whole = len(pending) - len(pending) % (rate // 50)
        for frame in to_frames(pending[:whole], rate, start_ms):
            start_ms += 20
            yield frame
        pending = pending[whole:]
    if len(pending):
        yield from to_frames(pending, rate, start_ms)


class PromptCache:
    """Rendered static texts on disk, one WAV per (text, voice, speed, rate)."""

    def __init__(self, folder: Path, voice: Voice):
        self.folder = Path(folder)
        self.voice = voice
        self.folder.mkdir(parents=True, exist_ok=True)

    def key(self, text: str, speed: float, rate: int) -> str:
        material = "\x1f".join((CACHE_FORMAT, self.voice.identity, f"{speed:.3f}", str(rate), text))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]

    def path(self, text: str, speed: float, rate: int) -> Path:
        return self.folder / f"{self.key(text, speed, rate)}.wav"

    def ready(self, text: str, rate: int, speed: float = 1.0) -> bool:
        """Whether the text is rendered: at `rate`, or in the voice's own rendering (a resampling away)."""
        return self.path(text, speed, rate).is_file() or self.path(text, speed, self.voice.native_rate).is_file()

    def stream(self, text: str, rate: int, speed: float = 1.0) -> Iterator[Frame]:
        """The text's frames at `rate`: from the cache when it is rendered, else synthesised sentence by
        sentence as they are pulled (a call does not wait for the whole text), and stored once complete."""
        if self.ready(text, rate, speed):
            yield from self.frames(text, rate, speed)
            return
        sentences: list[np.ndarray] = []

        def kept(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            for chunk in chunks:
                sentences.append(chunk)
                yield chunk

        yield from _stream(kept(self.voice.synthesize(spoken_french(text), speed)), self.voice.native_rate, rate)
        # the whole text was pulled (a caller who hangs up mid-prompt leaves it to the cache filler)
        native = np.concatenate(sentences) if sentences else np.zeros(0, dtype="<i2")
        self._store(self.path(text, speed, self.voice.native_rate), native, self.voice.native_rate)
        self._store(self.path(text, speed, rate), resample(native, self.voice.native_rate, rate), rate)

    def frames(self, text: str, rate: int, speed: float = 1.0) -> list[Frame]:
        """The text's frames at `rate`, rendered and stored on first use.

        The voice's own rendering is kept too, so another call rate (G.722's
        16 kHz after G.711's 8 kHz) costs a resampling, not a second synthesis.
        """
        path = self.path(text, speed, rate)
        if path.is_file():
            return list(to_frames(read_wav(path)[0], rate))
        native = self._native(text, speed)
        samples = resample(native, self.voice.native_rate, rate)
        self._store(path, samples, rate)
        return list(to_frames(samples, rate))

    def _native(self, text: str, speed: float) -> np.ndarray:
        path = self.path(text, speed, self.voice.native_rate)
        if path.is_file():
            return read_wav(path)[0]
        sentences = list(self.voice.synthesize(spoken_french(text), speed))
        samples = np.concatenate(sentences) if sentences else np.zeros(0, dtype="<i2")
        self._store(path, samples, self.voice.native_rate)
        return samples

    def missing(self, texts: list[str], rates: tuple[int, ...], speed: float = 1.0) -> list[tuple[str, int]]:
        """The (text, rate) pairs not rendered yet, in the order given, text by text."""
        return [(text, rate) for text in dict.fromkeys(texts) for rate in rates
                if not self.path(text, speed, rate).is_file()]

    def warm(self, texts: list[str], rates: tuple[int, ...], speed: float = 1.0) -> int:
        """Render every text not yet cached; returns how many were rendered."""
        missing = self.missing(texts, rates, speed)
        for text, rate in missing:
            self.frames(text, rate, speed)
        return len(missing)

    def _store(self, path: Path, samples: np.ndarray, rate: int) -> None:
        # write then rename, so a crash never leaves a truncated prompt that would be played
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(handle)
        try:
            write_wav(Path(temporary), samples, rate)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
