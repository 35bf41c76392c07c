"""Running as a service: the systemd unit, reload on SIGHUP, readiness and watchdog notifications."""

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from peers import Phone, free_port, run_sipp, silence_wav
from test_sip import Bot


HARDENING = ("User=callbot", "ProtectSystem=strict", "NoNewPrivileges=true", "PrivateTmp=true", "ProtectHome=true",
             "PrivateDevices=true", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "CapabilityBoundingSet=\n",
             "StateDirectory=callbot", "CacheDirectory=callbot", "ConfigurationDirectory=callbot", "UMask=0027")


@pytest.mark.parametrize("name, settings", [
    ("callbot.service", ("Type=notify", "WatchdogSec=", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID")),
    ("callbot-console.service", ("Restart=on-failure", "callbot console --config", "ReadWritePaths=/etc/callbot")),
])
def test_the_systemd_units_verify_and_are_hardened(tmp_path, name, settings):
    unit = (REPO / "systemd" / name).read_text(encoding="utf-8")
    callbot = Path(sys.executable).parent / "callbot"
    assert "/opt/callbot/.venv/bin/callbot" in unit and callbot.exists()
    # the unit names the installed path; verify it with this checkout's instead
    (tmp_path / name).write_text(unit.replace("/opt/callbot/.venv/bin/callbot", str(callbot)), "utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for setting in HARDENING + settings:
        assert setting in unit, setting


def test_reload_keeps_the_last_good_sheets_and_takes_the_new_ones(tmp_path, prompt_cache_dir):
    sheets = tmp_path / "answers"
    shutil.copytree(REPO / "callbot" / "example" / "answers", sheets)
    notify = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify))
    listener.settimeout(60)
    os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"] = str(notify), "2000000"
    try:
        patient = "dialog:\n  no_input_seconds: 60\n"  # the caller stays silent: no escalation during the test
        with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, answers=sheets, extra=patient) as bot, \
                Phone(tmp_path, "caller", audio_source=silence_wav(tmp_path / "quiet.wav", 120)) as caller:
            messages = {listener.recv(100).decode() for _ in range(2)}
            assert messages == {"READY=1", "WATCHDOG=1"}
            caller.dial(bot.uri)  # a call in progress during both reloads
            caller.wait_for("CALL_ESTABLISHED", 10)
            (sheets / "mairie.yaml").write_text("answers:\n  - id: cassé\n    questions: [\n", encoding="utf-8")
            os.kill(bot.process.pid, signal.SIGHUP)
            bot.wait_log("reload refused", 30)
            assert "mairie.yaml:4:1: error: YAML syntax" in bot.log_text()  # the precise error is in the log
            call = run_sipp([f"127.0.0.1:{bot.port}", "-sn", "uac", "-s", "callbot", "-d", "1000", "-m", "1"],
                            timeout=30, cwd=tmp_path)
            assert call.returncode == 0 and bot.alive  # still answering with the last good version
            shutil.copy(REPO / "callbot" / "example" / "answers" / "mairie.yaml", sheets / "mairie.yaml")
            (sheets / "nouveau.yaml").write_text(
                "answers:\n  - id: fete_village\n    questions: [\"Quand a lieu la fête du village ?\"]\n"
                "    answer: La fête du village a lieu le premier dimanche de juillet.\n", encoding="utf-8")
            os.kill(bot.process.pid, signal.SIGHUP)
            bot.wait_log("reloaded: 34 answers", 60)
            assert bot.alive
            assert "CALL_CLOSED" not in caller.event_types()  # the call in progress was never disturbed
            caller.hang_up()
            caller.wait_for("CALL_CLOSED", 5)
    finally:
        del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
        listener.close()


def test_calls_reach_the_journal_and_the_metrics(tmp_path, prompt_cache_dir):
    import sqlite3
    import urllib.request

    port = free_port("tcp")
    extra = f"journal:\n  path: {tmp_path / 'journal.sqlite3'}\n  caller_number: truncated\nmetrics:\n  listen: 127.0.0.1:{port}\n"
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, extra=extra) as bot:
        call = run_sipp([f"127.0.0.1:{bot.port}", "-sn", "uac", "-s", "callbot", "-d", "2000", "-m", "2", "-l", "2"],
                        timeout=30, cwd=tmp_path)
        assert call.returncode == 0
        import time
        deadline = time.monotonic() + 10
        while bot.log_text().count("released (") < 2:  # each call is counted before it is released
            assert time.monotonic() < deadline, bot.log_text()[-3000:]
            time.sleep(0.2)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read() == b"ok\n"
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'callbot_calls_total{outcome="abandoned"} 2.0' in metrics
    assert "callbot_active_calls" in metrics and "callbot_reload_failures_total 0.0" in metrics
    rows = sqlite3.connect(tmp_path / "journal.sqlite3").execute("SELECT outcome, caller FROM calls").fetchall()
    assert rows == [("abandoned", "si••"), ("abandoned", "si••")]  # sipp calls as "sipp"
