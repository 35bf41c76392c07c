"""A first start, with an empty prompt cache: the service answers at once and renders the prompts behind.

Rendering every prompt and answer of the example commune takes about 45 s with the test voice; a
newcomer must neither wait for it nor think the bot hung. Real `callbot serve`, real baresip caller.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import soundfile as sf

from callbot.audio import join_frames
from callbot.tts import PromptCache
from peers import Phone, silence_wav
from test_sip import CACHE_FILLED, COMMUNE, Bot, rendered_text

GREETING = f"Bonjour, mairie de {COMMUNE}, assistant automatique."  # tests/conftest.py SHORT_PROMPTS
PROGRESS = re.compile(r"prompt cache: (\d+)/(\d+) rendered")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_first_start_answers_calls_while_the_prompts_are_rendered(tmp_path, engines, workers):
    empty_cache = tmp_path / "cache"
    bot = Bot(tmp_path, empty_cache, {"accueil": "sip:nobody@127.0.0.1:9"}, workers=workers)
    bot.wait_for_cache = False
    with Phone(tmp_path, "caller", audio_source=silence_wav(tmp_path / "quiet.wav", 60)) as caller, bot:
        caller.dial(bot.uri)
        caller.wait_for("CALL_ESTABLISHED", 10)
        # long enough for a greeting synthesised during the call, on a busy machine, to be heard to its end
        time.sleep(len(rendered_text(engines, GREETING)) / 8000 + 6.0)
        caller.hang_up()
        caller.wait_for("CALL_CLOSED", 5)
        heard = sf.read(str(caller.heard()), dtype="float32")[0]
        bot.wait_log("released", 10)
        at_call_end = bot.log_text()
        deadline = time.monotonic() + 180  # it says how far it got (`prompt cache: 10/53 rendered`), however busy
        while not PROGRESS.search(bot.log_text()) and time.monotonic() < deadline:
            time.sleep(0.5)
        log = bot.log_text()
        assert bot.alive
    to_render = int(re.search(r"prompt cache: (\d+) to render, in the background", log).group(1))
    assert to_render > 40  # the example commune's prompts and answers, at 8 kHz: nothing was there
    assert not CACHE_FILLED.search(at_call_end), "the cache was filled before the call: this test proves nothing"
    progress = [(int(done), int(total)) for done, total in PROGRESS.findall(log)]
    assert progress and all(total == to_render and 0 < done < total for done, total in progress)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)  # it tells how far it got
    # The whole greeting was heard. Piper draws noise, so the rendering the caller heard (made during the call)
    # and the one kept in the cache (by the call or by the filler, whichever finished last) differ in their
    # samples: compare how long each speaks.
    bot_cache = PromptCache(empty_cache, engines.voice)
    assert bot_cache.ready(GREETING, 8000)
    kept = join_frames(bot_cache.frames(GREETING, 8000)).astype(np.float32) / 32768
    assert abs(speaking_seconds(heard) - speaking_seconds(kept)) < 0.25 * speaking_seconds(kept)
    assert "says prompt:greeting" in log


def speaking_seconds(samples: np.ndarray, rate: int = 8000) -> float:
    """How long a signal speaks: its 20 ms windows above -40 dBFS."""
    windows = samples[:len(samples) - len(samples) % (rate // 50)].reshape(-1, rate // 50)
    return float(np.sum(np.sqrt(np.mean(windows ** 2, axis=1)) > 0.01) * 0.02)
