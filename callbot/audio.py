"""Audio as fixed 20 ms frames of 16-bit mono PCM: the one type that crosses every stage.

A telephone call carries 20 ms packets (8 kHz for G.711, 16 kHz for G.722);
the recogniser, the voice, the SIP media port and the simulator all speak in
`Frame`s, so outgoing speech can be cut within one frame on barge-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import soundfile
import soxr

FRAME_MS = 20
SAMPLE_WIDTH = 2  # bytes: signed 16-bit little-endian
TELEPHONE_RATES = (8000, 16000)


class AudioFormatError(ValueError):
    """An audio file or buffer the pipeline cannot use; says what and how to fix it."""


def samples_per_frame(rate: int) -> int:
    return rate * FRAME_MS // 1000


@dataclass(frozen=True)
class Frame:
    """20 ms of mono PCM16 audio at `rate`, starting `start_ms` after the call began."""

    pcm: bytes
    rate: int
    start_ms: int = 0

    def __post_init__(self) -> None:
        if len(self.pcm) != samples_per_frame(self.rate) * SAMPLE_WIDTH:
            raise AudioFormatError(f"a {FRAME_MS} ms frame at {self.rate} Hz holds "
                                   f"{samples_per_frame(self.rate) * SAMPLE_WIDTH} bytes, not {len(self.pcm)}")

    def samples(self) -> np.ndarray:
        return np.frombuffer(self.pcm, dtype="<i2")

    def level_dbfs(self) -> float:
        """Root-mean-square level, in dB relative to full scale (digital silence: -inf)."""
        samples = self.samples().astype(np.float32)
        rms = float(np.sqrt(np.mean(samples * samples)))
        return 20 * np.log10(rms / 32768) if rms > 0 else float("-inf")


def silence(rate: int, start_ms: int = 0) -> Frame:
    return Frame(bytes(samples_per_frame(rate) * SAMPLE_WIDTH), rate, start_ms)


def to_frames(samples: np.ndarray, rate: int, start_ms: int = 0) -> Iterator[Frame]:
    """Cut int16 samples into frames; the last one is padded with silence."""
    size = samples_per_frame(rate)
    samples = np.asarray(samples, dtype="<i2")
    for index, offset in enumerate(range(0, len(samples), size)):
        chunk = samples[offset:offset + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.zeros(size - len(chunk), dtype="<i2")])
        yield Frame(chunk.tobytes(), rate, start_ms + index * FRAME_MS)


def join_frames(frames: Iterable[Frame]) -> np.ndarray:
    parts = [f.samples() for f in frames]
    return np.concatenate(parts) if parts else np.zeros(0, dtype="<i2")


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (libsoxr, high quality), int16 in, int16 out."""
    if from_rate == to_rate:
        return np.asarray(samples, dtype="<i2")
    floats = np.asarray(samples, dtype=np.float32) / 32768
    converted = soxr.resample(floats, from_rate, to_rate, quality="HQ")
    return float_to_int16(converted)


def float_to_int16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2")


def read_wav(path: Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a sound file as mono int16, resampled to `rate` when given."""
    try:
        data, file_rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFormatError(f"{path}: cannot read audio ({exc}); use a WAV file") from exc
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1).astype("<i2")
    if rate is not None and rate != file_rate:
        return resample(mono, file_rate, rate), rate
    return mono.astype("<i2"), file_rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(samples, dtype="<i2"), rate, subtype="PCM_16", format="WAV")
