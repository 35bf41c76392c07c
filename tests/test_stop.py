"""Stopping the service while calls are in every state: `kill -TERM` (what `systemctl stop` sends).

Real peers: SIPp callers left answered but never acknowledged, talking, being transferred (REFER accepted,
no outcome yet) and leaving a message. The service must hang every one of them up (each SIPp caller ends
only after receiving the bot's BYE and answering it), close them in the journal, keep the message being
recorded, and exit 0 within STOP_LIMIT_S: no abort, no core dump, no failed unit for systemd.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FRENCH_AUDIO, REPO
from peers import free_port, free_udp_range, require_program
from test_sip import Bot

sys.path.insert(0, str(REPO / "scripts"))
from bench_soak import CALLER_MESSAGE, CALLER_SPEECH, stopped_call_scenario, to_alaw  # noqa: E402

STATES = ("unacked", "dialog", "transferring", "recording")
STOP_LIMIT_S = 10.0  # systemd's TimeoutStopSec is 20 s: the service must be well inside it
CALLS_REACH_THEIR_STATE_S = 60.0


def start_caller(folder: Path, state: str, port: int, speech: Path, message: Path) -> subprocess.Popen:
    scenario = folder / f"{state}.xml"
    scenario.write_text(stopped_call_scenario(state, speech, message), encoding="latin-1")
    return subprocess.Popen(
        [require_program("sipp"), f"127.0.0.1:{port}", "-sf", str(scenario), "-s", "callbot", "-m", "1",
         "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_port("udp")),
         "-mp", str(free_udp_range(10)), "-trace_err", "-error_file", str(folder / f"{state}-errors.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=folder)


def wait_until(condition, timeout: float, what: str, log: callable) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen; the bot's log:\n{log()[-4000:]}"
        time.sleep(0.2)


@pytest.mark.parametrize("workers", [1, 2])
def test_stop_hangs_up_every_call_keeps_the_message_and_exits_0(tmp_path, prompt_cache_dir, workers):
    speech = to_alaw(FRENCH_AUDIO / CALLER_SPEECH, tmp_path / "speech.al")
    message = to_alaw(FRENCH_AUDIO / CALLER_MESSAGE, tmp_path / "message.al", pad_s=20)
    journal = tmp_path / "journal.sqlite3"
    bot = Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, workers=workers,
              extra=f"journal:\n  path: {journal}\n")
    with bot:
        callers = {state: start_caller(tmp_path, state, bot.port + i % workers, speech, message)
                   for i, state in enumerate(STATES)}
        try:
            log = bot.log_text
            wait_until(lambda: "recording a message" in log() and log().count("transfer to accueil") >= 2
                       and log().count("says prompt:greeting") >= len(STATES),
                       CALLS_REACH_THEIR_STATE_S, "every call reaching its state", log)
            stopping = time.monotonic()
            os.kill(bot.process.pid, signal.SIGTERM)
            code = bot.process.wait(STOP_LIMIT_S + 5)
            stop_s = time.monotonic() - stopping
            hung_up = {state: caller.wait(20) for state, caller in callers.items() if state != "unacked"}
        finally:
            for caller in callers.values():
                if caller.poll() is None:
                    caller.kill()
        text = bot.log_text()
    assert code == 0, f"exit status {code}:\n{text[-4000:]}"
    assert stop_s < STOP_LIMIT_S, f"stopped in {stop_s:.1f} s"
    assert "Assertion" not in text and "Fatal Python error" not in text, text[-4000:]
    # each SIPp caller exits 0 only once it has received the bot's BYE and answered it
    assert hung_up == {"dialog": 0, "transferring": 0, "recording": 0}, \
        {state: (tmp_path / f"{state}-errors.log").read_text(errors="replace")[-1500:]
         for state, code in hung_up.items() if code}
    with sqlite3.connect(journal) as db:
        calls = db.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert calls == len(STATES), f"{calls} calls in the journal:\n{text[-4000:]}"
    messages = sorted((tmp_path / "spool").glob("*.wav"))
    assert len(messages) == 1, "the message being recorded at the stop is kept"
