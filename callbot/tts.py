"""Speech synthesis: text in, 20 ms frames at the call's rate out (Piper, offline).

- Text is first rewritten for the ear (`speech_text.spoken_french`: times,
  dates, amounts, phone numbers, acronyms).
- Static texts (prompts and answers) are rendered once into an on-disk
  `PromptCache` keyed by text, voice, speed and rate, so answering costs no
  synthesis; a changed text simply has another key.
- Dynamic texts are synthesised sentence by sentence and streamed, so the
  first frames leave before the whole reply is ready.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Iterator, Protocol

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
        self._voice = None
        self._lock = threading.Lock()  # one ONNX session per voice; calls take turns

    def _loaded(self):
        if self._voice is None:
            from piper import PiperVoice

            self._voice = PiperVoice.load(self.model_path, config_path=self.config_path)
        return self._voice

    def release(self) -> None:
        """Drop the ONNX session (before forking workers: each opens its own)."""
        with self._lock:
            self._voice = None

    def synthesize(self, text: str, speed: float) -> Iterator[np.ndarray]:
        from piper import SynthesisConfig

        # Piper's length_scale is the inverse of speed: 1.25 is slower speech
        config = SynthesisConfig(length_scale=1.0 / speed)
        with self._lock:
            chunks = list(self._loaded().synthesize(text, config))
        for chunk in chunks:
            yield chunk.audio_int16_array


def render(voice: Voice, text: str, rate: int, speed: float = 1.0) -> Iterator[Frame]:
    """Speak `text` at `rate`, streamed sentence by sentence as 20 ms frames."""
    start_ms = 0
    pending = np.zeros(0, dtype="<i2")
    for sentence in voice.synthesize(spoken_french(text), speed):
        pending = np.concatenate([pending, resample(sentence, voice.native_rate, rate)])
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

    def warm(self, texts: list[str], rates: tuple[int, ...], speed: float = 1.0) -> int:
        """Render every text not yet cached; returns how many were rendered."""
        rendered = 0
        for rate in rates:
            for text in texts:
                if not self.path(text, speed, rate).is_file():
                    self.frames(text, rate, speed)
                    rendered += 1
        return rendered

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
