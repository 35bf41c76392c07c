"""The SIP test harness (tests/peers.py) drives the real programs: baresip, Kamailio, SIPp.

No callbot here: these tests prove the peers themselves work, so that a failing callbot SIP test
points at callbot.  A missing program makes these tests FAIL (never skip): CI installs them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import french_recording
from tests.peers import (HOST, Pbx, Phone, pad_wav, require_program, rms,
                         run_sipp, sip_request, sipp_scenario, tone_wav)

CALL_SECONDS = 3.0


@pytest.fixture
def caller_wav(tmp_path: Path) -> Path:
    """What the caller says: a real French recording (or a tone), padded to 6 s.

    Padding matters: baresip hangs up when its aufile source reaches the end of the WAV.
    """
    return pad_wav(french_recording("agent-pass.wav"), tmp_path / "caller.wav", 6.0)


def best_correlation(heard: np.ndarray, said: np.ndarray) -> float:
    """Peak normalised cross-correlation of two signals over every lag (jitter buffer delay)."""
    n = len(heard) + len(said)
    spectrum = np.fft.rfft(heard, n) * np.conj(np.fft.rfft(said, n))
    corr = np.fft.irfft(spectrum, n)
    return float(np.max(np.abs(corr)) / (np.linalg.norm(heard) * np.linalg.norm(said) + 1e-12))


def test_programs_are_installed() -> None:
    for program in ("baresip", "kamailio", "sipp"):
        require_program(program)  # raises with an install hint when missing


def test_two_phones_talk_and_the_callee_hears_the_caller(tmp_path: Path, caller_wav: Path) -> None:
    with Phone(tmp_path, "callee", answer="auto") as callee, \
            Phone(tmp_path, "caller", audio_source=caller_wav) as caller:
        caller.dial(callee.sip_uri)
        caller.wait_for("CALL_ESTABLISHED", 10)
        callee.wait_for("CALL_ESTABLISHED", 10)
        time.sleep(CALL_SECONDS)
        caller.hang_up()
        assert caller.wait_for("CALL_CLOSED", 5)["direction"] == "outgoing"
        assert callee.wait_for("CALL_CLOSED", 5)["direction"] == "incoming"
        heard_path = callee.heard()

    heard, rate = sf.read(heard_path, dtype="float32")
    said, _ = sf.read(caller_wav, dtype="float32")
    assert rate == 8000
    duration = len(heard) / rate
    assert CALL_SECONDS - 1.0 < duration < CALL_SECONDS + 1.5, duration
    assert rms(heard_path) > 0.01, "the callee heard silence"
    # The caller's own audio, not noise: the waveform survives G.711 up to a delay.
    assert best_correlation(heard, said[: len(heard) + rate]) > 0.8


def test_keypad_digit_reaches_the_callee(tmp_path: Path) -> None:
    with Phone(tmp_path, "callee", answer="auto") as callee, \
            Phone(tmp_path, "caller") as caller:
        caller.dial(callee.sip_uri)
        caller.wait_for("CALL_ESTABLISHED", 10)
        callee.wait_for("CALL_ESTABLISHED", 10)
        caller.send_digit("5")
        # baresip 1.0.0 reports an RFC 4733 key as CALL_DTMF_START (param = the key), then
        # CALL_DTMF_END (no param).
        assert callee.wait_for("CALL_DTMF_START", 5)["param"] == "5"
        callee.wait_for("CALL_DTMF_END", 5)
        caller.hang_up()
        callee.wait_for("CALL_CLOSED", 5)


def test_pbx_registers_with_digest_auth_and_forks_calls(tmp_path: Path) -> None:
    with Pbx(tmp_path, {"agent": "s3cret"}) as pbx:
        where = (HOST, pbx.port)
        with Phone(tmp_path, "agent", answer="auto", register_to=where,
                   password="s3cret") as agent, \
                Phone(tmp_path, "agent", answer="manual", register_to=where,
                      password="s3cret") as second_worker, \
                Phone(tmp_path, "agent", register_to=where, password="wrong") as intruder, \
                Phone(tmp_path, "caller") as caller:
            assert agent.wait_registered(10)["param"] == "200 OK"
            second_worker.wait_registered(10)
            assert agent.registered
            with pytest.raises(RuntimeError, match="403"):
                intruder.wait_registered(10)
            assert not intruder.registered

            caller.dial(pbx.uri_of("agent"))
            caller.wait_for("CALL_ESTABLISHED", 10)
            assert agent.wait_for("CALL_ESTABLISHED", 10)["peeruri"].startswith("sip:caller@")
            # Parallel forking: the other contact of "agent" rang too, and was cancelled when
            # the first one answered.
            second_worker.wait_for("CALL_INCOMING", 5)
            second_worker.wait_for("CALL_CLOSED", 5)
            assert "CALL_ESTABLISHED" not in second_worker.event_types()
            caller.hang_up()  # the BYE goes through Kamailio (record_route / loose_route)
            agent.wait_for("CALL_CLOSED", 5)

            mark = len(caller.events)
            caller.dial(pbx.uri_of("nobody"))
            assert "404" in caller.wait_for("CALL_CLOSED", 5, since=mark)["param"]

        assert "auth result -2" in pbx.log_text()  # the wrong password failed digest auth


def test_pbx_challenges_register_but_not_invite(tmp_path: Path) -> None:
    with Pbx(tmp_path, {"agent": "s3cret"}) as pbx:
        register = sip_request(pbx.port, "REGISTER", "agent")
        assert register is not None and register.startswith("SIP/2.0 401"), register
        assert "WWW-Authenticate: Digest" in register
        # An INVITE from 127.0.0.1 is routed, not challenged: nobody registered, hence 404.
        invite = sip_request(pbx.port, "INVITE", "agent")
        assert invite is not None and invite.startswith("SIP/2.0 404"), invite


def test_sipp_uac_calls_an_auto_answering_phone(tmp_path: Path) -> None:
    with Phone(tmp_path, "bot", answer="auto") as bot:
        result = run_sipp([f"{HOST}:{bot.sip_port}", *sipp_scenario("uac"), "-s", "bot",
                           "-d", "1000", "-m", "2", "-l", "1", "-r", "5"],
                          timeout=30, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "Successful call" in result.stdout
        # SIPp is done once its BYE is answered; baresip's CALL_CLOSED may come a moment later.
        assert len(bot.wait_count("CALL_CLOSED", 2, 5)) == 2
        assert bot.event_types().count("CALL_ESTABLISHED") == 2
