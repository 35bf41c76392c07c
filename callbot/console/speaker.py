"""The answers as callers hear them: rendered by the service's voice at the telephone's 8 kHz, as WAV bytes."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import soundfile

from callbot.audio import join_frames
from callbot.config import Config
from callbot.tts import render

TELEPHONE_RATE = 8000
KEPT = 32  # renderings kept in memory: staff listen to the same answer several times while editing it


class AnswerSpeaker:
    def __init__(self, config: Config):
        self.config = config
        self._voice = None
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, bytes] = OrderedDict()

    def _loaded_voice(self):
        from callbot.asr import ModelMissing
        from callbot.tts import PiperVoiceEngine

        if self.config.speech is None:
            raise ModelMissing("no `speech: voice` in callbot.yaml")
        if self._voice is None:
            self._voice = PiperVoiceEngine(self.config.speech.voice)
        return self._voice

    def wav(self, text: str) -> bytes:
        """The text spoken at 8 kHz as a 16-bit mono WAV file; raises ModelMissing without a voice."""
        with self._lock:
            if text in self._kept:
                self._kept.move_to_end(text)
                return self._kept[text]
            samples = join_frames(render(self._loaded_voice(), text, TELEPHONE_RATE))
            buffer = io.BytesIO()
            soundfile.write(buffer, samples, TELEPHONE_RATE, subtype="PCM_16", format="WAV")
            self._kept[text] = buffer.getvalue()
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
            return self._kept[text]
