"""`callbot serve` on a real SIP line, asserted from the peers' side (127.0.0.1 only).

baresip phones are the caller and the agent, Kamailio the PBX, SIPp the load and
the malformed messages. The bot runs as its own process, exactly as in production.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callbot.audio import join_frames
from callbot.config import require_config
from conftest import REPO, SHORT_PROMPTS, french_recording, speech_section
from peers import Pbx, Phone, free_port, free_udp_range, pad_wav, run_sipp, silence_wav


COMMUNE = "Testville"
CACHE_FILLED = re.compile(r"prompt cache: \d+ rendered in")


class Bot:
    """`callbot serve` as a subprocess, with its log."""

    def __init__(self, workdir: Path, cache: Path, targets: dict[str, str], sip: str = "", extra: str = "",
                 answers: Path = REPO / "callbot" / "example" / "answers", codecs: str = "PCMA, PCMU",
                 workers: int = 1, host: str = "127.0.0.1"):
        self.host = host
        self.workers = workers
        self.port = free_udp_range(workers)  # one SIP port per worker
        rtp = free_port("udp")
        rtp = min(rtp - rtp % 2, 60000)
        self.spool = workdir / "spool"
        self.config = workdir / "callbot.yaml"
        targets = {"astreinte": "sip:astreinte@127.0.0.1:9", **targets}
        target_lines = "".join(f"    {name}:\n      uri: {uri}\n      description: {name}\n" for name, uri in targets.items())
        self.config.write_text(
            f"commune: {COMMUNE}\nanswers: {answers}\n"
            f"transfer:\n  reception: accueil\n  targets:\n{target_lines}"
            + SHORT_PROMPTS + speech_section(cache)
            + f"sip:\n  listen: {host}:{self.port}\n  workers: {workers}\n  codecs: [{codecs}]\n  rtp_ports: {rtp}-{rtp + 99}\n"
              f"  transfer_timeout_seconds: 15\n{sip}"
            + f"messages:\n  spool: {self.spool}\n" + extra, encoding="utf-8")
        self.log_path = workdir / "bot.log"

        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"sip:callbot@{self.host}:{self.port}"

    def __enter__(self) -> "Bot":
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "callbot", "serve", "--config", str(self.config)],
                                        stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        return self.wait_started()

    # The service answers while it fills the prompt cache; most tests wait until it is filled, so that the
    # rendering does not compete with their calls for the CPU.
    wait_for_cache = True

    def wait_started(self) -> "Bot":
        # the first start of the run fills the prompt cache, in the background at a low priority: on a busy machine
        # that takes minutes
        deadline = time.monotonic() + 600
        while self.log_text().count("answering calls") < self.workers or \
                (self.wait_for_cache and not CACHE_FILLED.search(self.log_text())):
            assert self.process.poll() is None, f"callbot serve exited:\n{self.log_text()}"
            assert time.monotonic() < deadline, f"callbot serve did not start:\n{self.log_text()}"
            time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            assert time.monotonic() < deadline, f"`{text}` not in the bot's log:\n{self.log_text()[-3000:]}"
            time.sleep(0.2)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def g711_round_trip(samples: np.ndarray, path: Path) -> np.ndarray:
    """What a caller receives of `samples` through A-law (G.711), as float."""
    sf.write(str(path), samples, 8000, subtype="ALAW", format="WAV")
    return sf.read(str(path), dtype="float32")[0]


def best_match(heard: np.ndarray, reference: np.ndarray) -> float:
    """Peak normalised correlation of `reference` inside `heard`, over every delay."""
    n = len(heard) + len(reference)
    corr = np.fft.irfft(np.fft.rfft(heard, n) * np.conj(np.fft.rfft(reference, n)), n)
    lag = int(np.argmax(np.abs(corr)))
    window = np.roll(np.pad(heard, (0, n - len(heard))), -lag)[:len(reference)]
    return float(np.dot(window, reference) / (np.linalg.norm(window) * np.linalg.norm(reference) + 1e-12))


@pytest.fixture(scope="module")
def rendered(engines, tmp_path_factory):
    """The bot's own 8 kHz rendering of a prompt (with the test's short prompts), from the shared cache."""
    folder = tmp_path_factory.mktemp("sip-render")
    config = folder / "callbot.yaml"
    config.write_text(f"commune: {COMMUNE}\nanswers: {REPO / 'callbot' / 'example' / 'answers'}\n" + SHORT_PROMPTS,
                      encoding="utf-8")
    prompts = require_config(config)
    return lambda key: rendered_text(engines, prompts.prompt(key))


def rendered_text(engines, text: str) -> np.ndarray:
    return join_frames(engines.cache.frames(text, 8000)).astype(np.float32) / 32768


def speech_wav(path: Path, seconds_before: float, total: float) -> Path:
    """A caller who says something after `seconds_before` of silence, then waits."""
    return speech_wav_from(french_recording("agent-pass.wav"), path, seconds_before, total)


def test_caller_hears_the_greeting(tmp_path, prompt_cache_dir, rendered):
    greeting = rendered("greeting")
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}) as bot, \
            Phone(tmp_path, "caller", audio_source=silence_wav(tmp_path / "quiet.wav", 60)) as caller:
        caller.dial(bot.uri)
        caller.wait_for("CALL_ESTABLISHED", 10)
        time.sleep(len(greeting) / 8000 + 1.5)
        caller.hang_up()
        caller.wait_for("CALL_CLOSED", 5)
        heard = sf.read(str(caller.heard()), dtype="float32")[0]
        bot.wait_log("released", 10)
    assert best_match(heard, g711_round_trip(greeting, tmp_path / "ref.wav")) > 0.9


def test_keypad_zero_puts_the_agent_phone_in_the_call(tmp_path, prompt_cache_dir):
    with Phone(tmp_path, "agent", answer="auto") as agent, \
            Bot(tmp_path, prompt_cache_dir, {"accueil": agent.sip_uri}) as bot, \
            Phone(tmp_path, "caller", audio_source=silence_wav(tmp_path / "quiet.wav", 60)) as caller:
        caller.dial(bot.uri)
        caller.wait_for("CALL_ESTABLISHED", 10)
        time.sleep(1.0)
        caller.send_digit("0")
        agent.wait_for("CALL_ESTABLISHED", 20)
        bot.wait_log("transfer progress 200", 20)
        assert bot.alive


def test_a_refused_transfer_ends_in_a_stored_message(tmp_path, prompt_cache_dir):
    with Pbx(tmp_path, users={}) as pbx:
        nobody = pbx.uri_of("nobody")  # Kamailio answers 404 Not Found
        caller_audio = speech_wav(tmp_path / "caller.wav", 14.0, 40.0)
        with Bot(tmp_path, prompt_cache_dir, {"accueil": nobody}) as bot, \
                Phone(tmp_path, "caller", audio_source=caller_audio) as caller:
            caller.dial(bot.uri)
            caller.wait_for("CALL_ESTABLISHED", 10)
            time.sleep(1.0)
            caller.send_digit("0")
            bot.wait_log("transfer progress 404", 20)
            time.sleep(12)
            caller.hang_up()
            bot.wait_log("message of", 15)
            assert bot.alive
    messages = sorted(bot.spool.glob("*.json"))
    assert len(messages) == 1
    metadata = json.loads(messages[0].read_text("utf-8"))
    assert metadata["caller"] == "caller" and metadata["seconds"] > 3
    audio, rate = sf.read(str(bot.spool / metadata["audio"]), dtype="float32")
    assert rate == 8000 and np.sqrt(np.mean(audio ** 2)) > 0.005  # the caller's words are in it


def test_four_simultaneous_calls_all_complete_and_a_fifth_is_busy(tmp_path, prompt_cache_dir):
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}) as bot:
        result = run_sipp([f"127.0.0.1:{bot.port}", "-sn", "uac", "-s", "callbot", "-d", "4000", "-m", "4", "-l", "4",
                           "-r", "10"], timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        busy = run_sipp([f"127.0.0.1:{bot.port}", "-sn", "uac", "-s", "callbot", "-d", "4000", "-m", "5", "-l", "5",
                         "-r", "20"], timeout=60, cwd=tmp_path)
        assert busy.returncode != 0  # the fifth simultaneous call is refused (486 Busy Here)
        assert bot.alive


def test_malformed_messages_and_floods_leave_the_service_up(tmp_path, prompt_cache_dir):
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}) as bot:
        garbage = [b"\x00\xff" * 400, b"INVITE\r\n\r\n", b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0",
                   b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", b"OPTIONS sip:callbot@127.0.0.1 SIP/2.0\r\n" * 50,
                   ("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK" + "A" * 3000
                    + "\r\n\r\n").encode()]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(200):  # a bounded flood
                for datagram in garbage:
                    sock.sendto(datagram, ("127.0.0.1", bot.port))
        time.sleep(1)
        assert bot.alive
        result = run_sipp([f"127.0.0.1:{bot.port}", "-sn", "uac", "-s", "callbot", "-d", "1000", "-m", "1"],
                          timeout=30, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-2000:]


def test_calls_from_unknown_peers_are_refused(tmp_path, prompt_cache_dir):
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, sip="  allow: [192.0.2.10]\n") as bot:
        result = run_sipp([f"127.0.0.1:{bot.port}", "-sn", "uac", "-s", "callbot", "-d", "1000", "-m", "1"],
                          timeout=30, cwd=tmp_path)
        assert result.returncode != 0
        bot.wait_log("refused a call from 127.0.0.1", 5)
        assert bot.alive


def test_registers_to_the_pbx_and_answers_calls_through_it(tmp_path, prompt_cache_dir, rendered):
    with Pbx(tmp_path, users={"callbot": "s3cretpw"}) as pbx:
        registration = (f"  mode: register\n  registrar: sip:127.0.0.1:{pbx.port}\n  username: callbot\n"
                        f"  password: s3cretpw\n  register_seconds: 60\n")
        with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, sip=registration) as bot, \
                Phone(tmp_path, "caller", audio_source=silence_wav(tmp_path / "quiet.wav", 60)) as caller:
            bot.wait_log("registered to", 15)
            caller.dial(pbx.uri_of("callbot"))
            caller.wait_for("CALL_ESTABLISHED", 10)
            time.sleep(len(rendered("greeting")) / 8000 + 1.0)
            caller.hang_up()
            heard = sf.read(str(caller.heard()), dtype="float32")[0]
    assert best_match(heard, g711_round_trip(rendered("greeting"), tmp_path / "ref.wav")) > 0.9


def test_caller_hears_the_answer_to_the_question_asked(tmp_path, prompt_cache_dir, rendered, engines):
    """Speech in, understanding, speech out, through the telephone line.

    The test recogniser is Korean, so it cannot understand French: the sheet's question is made of
    what it transcribes of a French recording (offline, after the G.711 round trip, with a few
    lead-in lengths, since the decoder is sensitive to where speech starts), and the threshold is
    low. The caller must hear that answer's audio, and not the other answer's.
    """
    from callbot.audio import read_wav, to_frames
    from callbot.asr import FinalTranscript

    question = french_recording("vm-goodbye.wav")
    line_audio = g711_round_trip(read_wav(question, 8000)[0].astype(np.float32) / 32768, tmp_path / "line.wav")
    transcripts = set()
    for lead in (2000, 3000, 4000, 6000):
        recognizer = engines.recognizer(8000, 15)
        padded = np.concatenate([np.zeros(lead), line_audio, np.zeros(12000)])
        events = [e for f in to_frames((padded * 32767).astype("<i2"), 8000) for e in recognizer.accept(f)]
        transcripts.update(e.text for e in events if isinstance(e, FinalTranscript) and e.text)
    sheets = tmp_path / "answers"
    sheets.mkdir()
    questions = "".join(f"      - \"{t}\"\n" for t in sorted(transcripts))
    (sheets / "test.yaml").write_text(
        f"answers:\n  - id: heard\n    questions:\n{questions}    answer: Voici la bonne réponse, numéro un.\n"
        "  - id: other\n    questions: [\"Quels sont les horaires de la mairie ?\"]\n"
        "    answer: Ceci est une autre réponse, la mauvaise.\n", encoding="utf-8")
    greeting_s = len(rendered("greeting")) / 8000
    caller_audio = speech_wav_from(question, tmp_path / "caller.wav", greeting_s + 1.0, 40.0)
    low_threshold = "understanding:\n  threshold: 0.01\n  margin: 0.0\n"
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, answers=sheets,
             extra=low_threshold) as bot, Phone(tmp_path, "caller", audio_source=caller_audio) as caller:
        caller.dial(bot.uri)
        caller.wait_for("CALL_ESTABLISHED", 10)
        bot.wait_log("says answer:heard", 25)
        time.sleep(6)
        caller.hang_up()
        heard = sf.read(str(caller.heard()), dtype="float32")[0]
    right = g711_round_trip(rendered_text(engines, "Voici la bonne réponse, numéro un."), tmp_path / "right.wav")
    wrong = g711_round_trip(rendered_text(engines, "Ceci est une autre réponse, la mauvaise."), tmp_path / "wrong.wav")
    assert best_match(heard, right) > 0.9
    assert best_match(heard, wrong) < 0.5


def speech_wav_from(source: Path, path: Path, seconds_before: float, total: float) -> Path:
    speech, rate = sf.read(str(source), dtype="float32")
    lead = np.zeros(int(seconds_before * rate), np.float32)
    tail = np.zeros(max(int(total * rate) - len(lead) - len(speech), 0), np.float32)
    sf.write(str(path), np.concatenate([lead, speech, tail]), rate, subtype="PCM_16")
    return path


def test_wideband_g722_calls_run_at_16_khz(tmp_path, prompt_cache_dir):
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, codecs="G722, PCMA") as bot, \
            Phone(tmp_path, "caller", audio_source=silence_wav(tmp_path / "quiet16.wav", 60, rate=16000),
                  codecs=("G722/16000/1",)) as caller:  # baresip needs the rate to find G.722, and a 16 kHz source
        caller.dial(bot.uri)
        caller.wait_for("CALL_ESTABLISHED", 10)
        bot.wait_log("audio at 16000 Hz", 10)
        time.sleep(3)
        caller.hang_up()
        heard = sf.read(str(caller.heard()), dtype="float32")[0]
    assert np.sqrt(np.mean(heard ** 2)) > 0.01  # the greeting came through


def test_registration_recovers_when_the_pbx_restarts(tmp_path, prompt_cache_dir):
    pbx = Pbx(tmp_path, users={"callbot": "s3cretpw"}).start()
    try:
        registration = (f"  mode: register\n  registrar: sip:127.0.0.1:{pbx.port}\n  username: callbot\n"
                        f"  password: s3cretpw\n")
        with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, sip=registration) as bot:
            bot.wait_log("registered to", 15)
            pbx.stop()  # the PBX restarts and forgets every registration (in-memory location table)
            time.sleep(1)
            pbx.start()
            with Phone(tmp_path, "caller", audio_source=silence_wav(tmp_path / "quiet.wav", 60)) as caller:
                deadline = time.monotonic() + 45
                while True:  # until the bot has registered again, the PBX answers 404 for it
                    since = len(caller.events)
                    caller.dial(pbx.uri_of("callbot"))
                    event = caller.wait_for(("CALL_ESTABLISHED", "CALL_CLOSED"), 10, since=since)
                    if event["type"] == "CALL_ESTABLISHED":
                        break
                    assert time.monotonic() < deadline, "the bot did not register again after the PBX restart"
                    time.sleep(2)
                caller.hang_up()
            assert bot.alive
    finally:
        pbx.stop()
