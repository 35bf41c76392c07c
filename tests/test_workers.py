"""Past four calls: worker processes behind a Kamailio front, or registered as one extension."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from callbot.kamailio import PROBE_INTERVAL_S
from conftest import run_callbot
from peers import free_port, require_program, run_sipp
from test_sip import Bot


class Front:
    """Kamailio with the configuration `callbot kamailio-config` generates."""

    def __init__(self, workdir: Path, bot: Bot, workers_extra: tuple[str, ...] = ()):
        self.port = free_port("udp")
        self.dir = workdir / "front"
        args = ["kamailio-config", "--config", str(bot.config), "--out", str(self.dir), "--listen",
                f"127.0.0.1:{self.port}"]
        for worker in workers_extra:
            args += ["--worker", worker]
        result = run_callbot(*args)
        assert result.returncode == 0, result.stderr
        (self.dir / "run").mkdir()
        self.log = open(self.dir / "kamailio.log", "w")
        self.process = subprocess.Popen([require_program("kamailio"), "-f", str(self.dir / "kamailio.cfg"), "-DD", "-E",
                                         "-Y", str(self.dir / "run"), "-w", str(self.dir), "-m", "64", "-M", "8"],
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(1.0)
        assert self.process.poll() is None, (self.dir / "kamailio.log").read_text()

    def close(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(10)
        self.log.close()


def worker_pids(bot: Bot) -> list[int]:
    return [int(line.split("pid ")[1].split(",")[0]) for line in bot.log_text().splitlines() if "started (pid" in line]


def twelve_calls(port: int, cwd: Path) -> subprocess.CompletedProcess:
    return run_sipp([f"127.0.0.1:{port}", "-sn", "uac", "-s", "callbot", "-d", "5000", "-m", "12", "-l", "12",
                     "-r", "12"], timeout=90, cwd=cwd)


def test_twelve_calls_through_kamailio_reach_three_workers(tmp_path, prompt_cache_dir):
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, workers=3) as bot:
        bot.wait_log("worker 2 started", 30)
        front = Front(tmp_path, bot)
        try:
            time.sleep(4)  # the first OPTIONS probes mark the workers up
            result = twelve_calls(front.port, tmp_path)
            assert result.returncode == 0, result.stdout[-3000:]
        finally:
            front.close()
        answered = bot.log_text().count("audio at 8000 Hz")
        assert answered == 12
        assert len(worker_pids(bot)) == 3


def test_a_killed_worker_is_restarted_and_the_others_keep_their_calls(tmp_path, prompt_cache_dir):
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, workers=3) as bot:
        bot.wait_log("worker 2 started", 30)
        front = Front(tmp_path, bot)
        try:
            time.sleep(4)
            calls = subprocess.Popen(["sipp", f"127.0.0.1:{front.port}", "-sn", "uac", "-s", "callbot", "-d", "15000",
                                      "-m", "8", "-l", "8", "-r", "8", "-nostdin", "-i", "127.0.0.1",
                                      "-p", str(free_port("udp"))], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(3)
            os.kill(worker_pids(bot)[0], signal.SIGKILL)
            bot.wait_log("ended (killed by signal 9); restarting it", 10)
            calls.wait(60)
            # the calls on the two other workers went on: 7 s after the greeting they heard the no-input prompt
            survivors = {line.split("call ")[1].split(":")[0] for line in bot.log_text().splitlines()
                         if "says prompt:noinput_1" in line}
            assert len(survivors) >= 4, bot.log_text()[-3000:]
            time.sleep(2 * PROBE_INTERVAL_S + 1)  # the front's OPTIONS probes see the restarted worker up again
            after = twelve_calls(front.port, tmp_path)  # new calls go to live workers, the dead one restarted
            assert after.returncode == 0, after.stdout[-3000:]
            assert len(set(worker_pids(bot))) == 4  # three, plus the restarted one
        finally:
            front.close()
        assert bot.alive
