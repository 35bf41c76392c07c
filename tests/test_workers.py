"""Past four calls: worker processes behind a Kamailio front, or registered as one extension."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from callbot.claims import CallClaims
from callbot.kamailio import PROBE_INTERVAL_S
from conftest import FRENCH_AUDIO, REPO, run_callbot
from peers import Pbx, free_port, free_udp_range, require_program, run_sipp, sip_request, sipp_scenario
from test_sip import Bot

sys.path.insert(0, str(REPO / "scripts"))
from bench_soak import CALLER_SPEECH, talking_transfer_scenario, to_alaw  # noqa: E402


class Front:
    """Kamailio with the configuration `callbot kamailio-config` generates."""

    def __init__(self, workdir: Path, bot: Bot | Path, workers_extra: tuple[str, ...] = ()):
        self.port = free_port("udp")
        self.dir = workdir / "front"
        config = bot if isinstance(bot, Path) else bot.config
        args = ["kamailio-config", "--config", str(config), "--out", str(self.dir), "--listen",
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


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def survivors_released(log: str) -> bool:
    """Every call answered by workers 1 and 2 (worker 0 was killed) has been released."""
    lines = [line for line in log.splitlines() if line.startswith(("[worker 1]", "[worker 2]"))]
    return sum("audio at" in line for line in lines) == sum("released (" in line for line in lines)


def worker_pids(bot: Bot) -> list[int]:
    return [int(line.split("pid ")[1].split(",")[0]) for line in bot.log_text().splitlines() if "started (pid" in line]


KEYPAD_TRANSFER = Path(__file__).parent / "sipp" / "keypad_transfer.xml"
SILENT_CALL = Path(__file__).parent / "sipp" / "silent_call.xml"


def twelve_calls(port: int, cwd: Path, service: str = "callbot") -> subprocess.CompletedProcess:
    """12 simultaneous callers who talk over the greeting (so calls are being decoded while the others are set
    up), press 0 after 8 s and accept the transfer, then hang up."""
    scenario = cwd / "talking_transfer.xml"
    scenario.write_text(talking_transfer_scenario(to_alaw(FRENCH_AUDIO / CALLER_SPEECH, cwd / "speech.al")),
                        encoding="latin-1")
    return run_sipp([f"127.0.0.1:{port}", "-sf", str(scenario), "-s", service,
                     "-m", "12", "-l", "12", "-r", "12", "-trace_err"], timeout=90, cwd=cwd)


def calls_per_worker(log: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for line in log.splitlines():
        if line.startswith("[worker ") and "audio at 8000 Hz" in line:
            number = int(line.split()[1].rstrip("]"))
            counts[number] = counts.get(number, 0) + 1
    return counts


def calls_logged(log: str, text: str) -> set[str]:
    return {line.split("call ")[1].split(":")[0] for line in log.splitlines() if text in line}


def assert_transferred(log: str, calls: int) -> None:
    """From the bot's side: each call was answered, then went to the reception on keypad 0."""
    answered = calls_logged(log, "audio at 8000 Hz")
    assert len(answered) == calls, log[-3000:]
    assert calls_logged(log, "transfer progress 200 (final)") == answered, log[-3000:]


def assert_greeted_and_transferred(log: str, calls: int) -> None:
    """And each call heard the greeting before (callers who press 0 only once the greeting has started)."""
    assert_transferred(log, calls)
    assert calls_logged(log, "says prompt:greeting") == calls_logged(log, "audio at 8000 Hz"), log[-3000:]


def test_twelve_calls_through_kamailio_reach_three_workers(tmp_path, prompt_cache_dir):
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, workers=3) as bot:
        front = Front(tmp_path, bot)
        try:
            time.sleep(4)  # the first OPTIONS probes mark the workers up
            result = twelve_calls(front.port, tmp_path)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        finally:
            front.close()
        log = bot.log_text()
        assert_transferred(log, 12)  # a caller whose 0 came before the greeting started is transferred at once
        assert len(worker_pids(bot)) == 3
        assert calls_per_worker(log) == {0: 4, 1: 4, 2: 4}
        assert log.count("incoming from") == 12, log[-3000:]  # each call taken by one worker only


def test_twelve_calls_to_three_workers_registered_as_one_extension(tmp_path, prompt_cache_dir):
    """The usual deployment: the PBX forks each call to every worker; one answers, the PBX cancels the others."""
    with Pbx(tmp_path, users={"callbot": "s3cretpw"}) as pbx:
        registration = (f"  mode: register\n  registrar: sip:127.0.0.1:{pbx.port}\n  username: callbot\n"
                        f"  password: s3cretpw\n  register_seconds: 60\n")
        with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, sip=registration,
                 workers=3) as bot:
            deadline = time.monotonic() + 30
            while bot.log_text().count("registered to") < 3:
                assert time.monotonic() < deadline, bot.log_text()[-3000:]
                time.sleep(0.2)
            result = twelve_calls(pbx.port, tmp_path)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
            log = bot.log_text()
        assert_transferred(log, 12)
        assert calls_per_worker(log) == {0: 4, 1: 4, 2: 4}
        assert log.count("incoming from") == 12, log[-3000:]  # each forked call was taken by one worker only


def test_one_front_spreads_calls_over_two_servers(tmp_path, prompt_cache_dir):
    """An intercommunality: one Kamailio front, two callbot servers (here two loopback addresses)."""
    target = {"accueil": "sip:nobody@127.0.0.1:9"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with Bot(tmp_path / "a", prompt_cache_dir, target, workers=2, host="127.0.0.2") as server_a, \
            Bot(tmp_path / "b", prompt_cache_dir, target, workers=2, host="127.0.0.3") as server_b:
        front = Front(tmp_path, server_a, workers_extra=(f"127.0.0.3:{server_b.port}", f"127.0.0.3:{server_b.port + 1}"))
        try:
            time.sleep(4)  # the first OPTIONS probes mark the workers up
            dispatcher = (front.dir / "dispatcher.list").read_text()
            assert f"sip:127.0.0.2:{server_a.port + 1}" in dispatcher and f"sip:127.0.0.3:{server_b.port}" in dispatcher
            result = run_sipp([f"127.0.0.1:{front.port}", *sipp_scenario(KEYPAD_TRANSFER), "-s", "callbot",
                               "-m", "8", "-l", "8", "-r", "8", "-trace_err"], timeout=90, cwd=tmp_path)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        finally:
            front.close()
        log_a, log_b = server_a.log_text(), server_b.log_text()
    assert calls_per_worker(log_a) == {0: 2, 1: 2} and calls_per_worker(log_b) == {0: 2, 1: 2}
    assert_greeted_and_transferred(log_a + log_b, 8)


def write_sip_only_config(path: Path, sip_lines: str) -> None:
    """A configuration for `callbot kamailio-config` alone: no bot runs on it."""
    path.write_text(f"commune: Testville\nanswers: {REPO / 'callbot' / 'example' / 'answers'}\n"
                    "transfer:\n  reception: accueil\n  targets:\n    accueil:\n      uri: sip:a@127.0.0.1:9\n"
                    f"sip:\n{sip_lines}", encoding="utf-8")


class FullWorker:
    """A SIP endpoint that looks alive to the front's probes but is always full: OPTIONS 200, INVITE 486."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.invites = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            lines = data.decode(errors="replace").split("\r\n")
            method = lines[0].split(" ")[0]
            if method not in ("OPTIONS", "INVITE"):
                continue  # ACK
            self.invites += method == "INVITE"
            status = "200 OK" if method == "OPTIONS" else "486 Busy Here"
            kept = [line for line in lines[1:] if line.split(":")[0].lower() in ("via", "from", "call-id", "cseq")]
            to = next(line for line in lines if line.lower().startswith("to:"))
            reply = "\r\n".join([f"SIP/2.0 {status}", *kept, f"{to};tag=full", "Content-Length: 0", "", ""])
            try:
                self.sock.sendto(reply.encode(), peer)
            except OSError:  # closed by the test meanwhile
                return

    def close(self):
        self.sock.close()


def test_the_front_overflows_when_every_worker_is_full_or_down(tmp_path):
    config = tmp_path / "callbot.yaml"
    down = free_port("udp")
    write_sip_only_config(config, f"  listen: 127.0.0.1:{down}\n  workers: 1\n  overflow: sip:standard@127.0.0.1:5070\n")
    full = FullWorker()
    front = Front(tmp_path, config, workers_extra=(f"127.0.0.1:{full.port}",))
    try:
        time.sleep(2 * PROBE_INTERVAL_S + 1)  # the probes find the first worker down, the second up (and full)
        reply = sip_request(front.port, "INVITE", "callbot", timeout=8)
        assert reply is not None and reply.startswith("SIP/2.0 302"), reply
        assert "Contact: <sip:standard@127.0.0.1:5070>" in reply
        assert full.invites >= 1  # the full worker was tried before the overflow
        full.close()
        time.sleep(2 * PROBE_INTERVAL_S + 1)  # now both are down
        reply = sip_request(front.port, "INVITE", "callbot", timeout=8)
        assert reply is not None and reply.startswith("SIP/2.0 302"), reply
        assert full.invites == 1
    finally:
        front.close()
        full.close()


def test_reload_checks_once_then_reloads_the_workers_one_at_a_time(tmp_path, prompt_cache_dir):
    sheets = tmp_path / "answers"
    shutil.copytree(REPO / "callbot" / "example" / "answers", sheets)
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, answers=sheets, workers=2) as bot:
        (sheets / "mairie.yaml").write_text("answers:\n  - id: cassé\n    questions: [\n", encoding="utf-8")
        os.kill(bot.process.pid, signal.SIGHUP)
        bot.wait_log("reload refused", 30)
        time.sleep(1)
        assert "reloading worker" not in bot.log_text()  # refused once, by the supervisor: workers untouched
        shutil.copy(REPO / "callbot" / "example" / "answers" / "mairie.yaml", sheets / "mairie.yaml")
        (sheets / "nouveau.yaml").write_text(
            "answers:\n  - id: fete_village\n    questions: [\"Quand a lieu la fête du village ?\"]\n"
            "    answer: La fête du village a lieu le premier dimanche de juillet.\n", encoding="utf-8")
        os.kill(bot.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while bot.log_text().count("reloaded: 34 answers") < 3:
            assert time.monotonic() < deadline and bot.alive, bot.log_text()[-3000:]
            time.sleep(0.2)
        steps = [line for line in bot.log_text().splitlines() if "reloaded: 34" in line or "reloading worker" in line]
        assert [step.split(": ", 1)[0] for step in steps] == [
            "INFO callbot.service", "INFO callbot.workers", "[worker 0] INFO callbot.service",
            "INFO callbot.workers", "[worker 1] INFO callbot.service"], steps
        # both workers answer after their reload
        for port in (bot.port, bot.port + 1):
            result = run_sipp([f"127.0.0.1:{port}", "-sn", "uac", "-s", "callbot", "-d", "1000", "-m", "1"],
                              timeout=30, cwd=tmp_path)
            assert result.returncode == 0


def test_the_front_unit_verifies_and_its_configuration_passes_kamailio_check(tmp_path):
    unit = tmp_path / "callbot-front.service"
    shutil.copy(REPO / "systemd" / "callbot-front.service", unit)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config = tmp_path / "callbot.yaml"
    write_sip_only_config(config, "  listen: 127.0.0.1:5080\n  workers: 2\n")
    assert run_callbot("kamailio-config", "--config", str(config), "--out", str(tmp_path / "front"),
                       "--listen", "127.0.0.1:5060", "--worker", "127.0.0.3:5080").returncode == 0
    check = subprocess.run([require_program("kamailio"), "-c", "-f", str(tmp_path / "front" / "kamailio.cfg")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr[-2000:]
    assert (tmp_path / "front" / "dispatcher.list").read_text().splitlines()[1:] == [
        "1 sip:127.0.0.1:5080", "1 sip:127.0.0.1:5081", "1 sip:127.0.0.3:5080"]


def test_forked_workers_claim_each_call_once():
    claims = CallClaims()
    children = []
    for _ in range(4):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            won = "".join("1" if claims.claim(f"call-{n}@pbx") else "0" for n in range(200))
            os.write(write_fd, won.encode())
            os._exit(0)
        os.close(write_fd)
        children.append((pid, read_fd))
    results = []
    for pid, read_fd in children:
        with os.fdopen(read_fd, "rb") as pipe:
            results.append(pipe.read().decode())
        os.waitpid(pid, 0)
    assert all(sum(result[n] == "1" for result in results) == 1 for n in range(200))
    assert not claims.claim("call-199@pbx") and claims.claim("call-200@pbx")


def test_a_killed_worker_is_restarted_and_the_others_keep_their_calls(tmp_path, prompt_cache_dir):
    metrics_port = free_port("tcp")
    while metrics_port + 3 > 65535 or any(not port_free(metrics_port + n) for n in range(1, 4)):
        metrics_port = free_port("tcp")
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, workers=3,
             extra=f"metrics:\n  listen: 127.0.0.1:{metrics_port}\n") as bot:
        front = Front(tmp_path, bot)
        try:
            time.sleep(4)
            # 15 s calls whose BYE follows the recorded route: the survivors' calls end, and free their lines
            calls = subprocess.Popen(["sipp", f"127.0.0.1:{front.port}", *sipp_scenario(SILENT_CALL), "-s", "callbot",
                                      "-m", "8", "-l", "8", "-r", "8", "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
                                      "-mp", str(free_udp_range(10)), "-p", str(free_port("udp"))], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(3)
            os.kill(worker_pids(bot)[0], signal.SIGKILL)
            bot.wait_log("ended (killed by signal 9); restarting it", 10)
            calls.wait(60)
            # the calls on the two other workers went on: 7 s after the greeting they heard the no-input prompt
            survivors = {line.split("call ")[1].split(":")[0] for line in bot.log_text().splitlines()
                         if "says prompt:noinput_1" in line}
            assert len(survivors) >= 4, bot.log_text()[-3000:]
            deadline = time.monotonic() + 10
            while not survivors_released(bot.log_text()):  # their callers hung up: their lines are free again
                assert time.monotonic() < deadline, bot.log_text()[-3000:]
                time.sleep(0.2)
            time.sleep(2 * PROBE_INTERVAL_S + 1)  # the front's OPTIONS probes see the restarted worker up again
            after = twelve_calls(front.port, tmp_path)  # new calls go to live workers, the dead one restarted
            assert after.returncode == 0, after.stdout[-3000:]
            assert len(set(worker_pids(bot))) == 4  # three, plus the restarted one
            supervisor = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port + 3}/metrics", timeout=5).read()
            assert 'callbot_worker_restarts_total{worker="0"} 1.0' in supervisor.decode()
        finally:
            front.close()
        assert bot.alive


def test_a_hung_worker_is_killed_so_that_it_can_be_restarted():
    from callbot.workers import HEARTBEAT_TIMEOUT_S, Supervisor, _Worker

    hung = subprocess.Popen(["sleep", "60"])  # stands for a worker whose SIP loop stopped beating
    alive = subprocess.Popen(["sleep", "60"])
    try:
        supervisor = Supervisor.__new__(Supervisor)  # only the heartbeat bookkeeping is exercised
        now = time.monotonic()
        supervisor.workers = [_Worker(0, None, hung.pid, last_beat=now - HEARTBEAT_TIMEOUT_S - 1),
                              _Worker(1, None, alive.pid, last_beat=now)]
        supervisor._kill_hung()
        assert hung.wait(5) == -signal.SIGKILL
        assert alive.poll() is None
    finally:
        for process in (hung, alive):
            process.kill()
            process.wait()
