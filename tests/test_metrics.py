"""Metrics: a worker that dies takes none of its calls out of the totals.

The supervisor maps the counters before it forks its workers (`CallTotals`); the
supervisor's `/metrics` sums every worker's slot, dead workers' included.
"""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request

from prometheus_client import generate_latest

from callbot.metrics import CallTotals, Metrics, SupervisorMetrics
from peers import free_port, run_sipp
from test_sip import Bot
from test_workers import port_free, worker_pids


def figure(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in:\n{text}"
    return float(match.group(1))


def test_counts_of_a_killed_process_stay_in_the_totals_and_its_successor_goes_on():
    totals = CallTotals(2)
    Metrics(totals, 1).call_finished("transferred", [200.0], 0.3)
    pid = os.fork()
    if pid == 0:  # a worker: counts three calls, then is killed before it can say anything
        metrics = Metrics(totals, 0)
        for _ in range(3):
            metrics.call_finished("answered", [40.0, 120.0], 0.2)
        metrics.reload_refused()
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    supervisor = generate_latest(SupervisorMetrics(totals).registry).decode()
    assert figure(supervisor, 'callbot_calls_total{outcome="answered"}') == 3
    assert figure(supervisor, 'callbot_calls_total{outcome="transferred"}') == 1
    assert figure(supervisor, "callbot_reload_failures_total") == 1
    assert figure(supervisor, "callbot_turn_latency_seconds_count") == 7
    assert figure(supervisor, 'callbot_turn_latency_seconds_bucket{le="0.05"}') == 3
    assert figure(supervisor, 'callbot_turn_latency_seconds_bucket{le="0.15"}') == 6
    assert abs(figure(supervisor, "callbot_turn_latency_seconds_sum") - 0.68) < 1e-9
    successor = Metrics(totals, 0)  # the restarted worker, in the dead one's slot
    successor.call_finished("abandoned", [], None)
    own = generate_latest(successor.registry).decode()
    assert figure(own, 'callbot_calls_total{outcome="answered"}') == 3
    assert figure(own, 'callbot_calls_total{outcome="abandoned"}') == 1
    assert figure(own, 'callbot_calls_total{outcome="transferred"}') == 0  # worker 1's, not this one's


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def serving(port: int) -> bool:
    try:
        scrape(port)
        return True
    except OSError:
        return False


def short_calls(port: int, count: int, cwd) -> None:
    result = run_sipp([f"127.0.0.1:{port}", "-sn", "uac", "-s", "callbot", "-d", "1500", "-m", str(count),
                       "-l", str(count)], timeout=60, cwd=cwd)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_the_supervisor_keeps_the_calls_of_a_worker_killed_and_restarted(tmp_path, prompt_cache_dir):
    port = free_port("tcp")
    while port + 2 > 65535 or not all(port_free(port + n) for n in range(1, 3)):
        port = free_port("tcp")
    ABANDONED = 'callbot_calls_total{outcome="abandoned"}'
    with Bot(tmp_path, prompt_cache_dir, {"accueil": "sip:nobody@127.0.0.1:9"}, workers=2,
             extra=f"metrics:\n  listen: 127.0.0.1:{port}\n") as bot:
        supervisor = port + 2  # after the workers' ports
        short_calls(bot.port, 3, tmp_path)  # to worker 0
        short_calls(bot.port + 1, 1, tmp_path)  # to worker 1
        wait_for(lambda: figure(scrape(supervisor), ABANDONED) == 4, 15, "the 4 calls counted by the supervisor")
        assert figure(scrape(port), ABANDONED) == 3
        os.kill(worker_pids(bot)[0], signal.SIGKILL)
        bot.wait_log("ended (killed by signal 9); restarting it", 10)
        wait_for(lambda: bot.log_text().count("answering calls") >= 3, 60, "worker 0 restarted")
        assert figure(scrape(supervisor), ABANDONED) == 4  # the dead worker's 3 calls are still there
        wait_for(lambda: serving(port), 20, "the restarted worker serves its metrics")
        assert figure(scrape(port), ABANDONED) == 3  # it goes on counting where its predecessor stopped
        short_calls(bot.port, 2, tmp_path)
        wait_for(lambda: figure(scrape(supervisor), ABANDONED) == 6, 15, "the new calls counted")
        assert figure(scrape(port), ABANDONED) == 5 and figure(scrape(port + 1), ABANDONED) == 1
        assert 'callbot_worker_restarts_total{worker="0"} 1.0' in scrape(supervisor)
        assert bot.alive
