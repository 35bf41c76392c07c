"""A short soak in the suite: 100 calls of every kind, 8 at a time, into two workers (scripts/bench_soak.py).

Crashes of the call path show up after tens to hundreds of calls, never in a one-call test: this run fails
on any worker crash, failed call, call left active or call missing from the journal. The README's table
comes from the same script at 2,000 calls.
"""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO

SOAK_CALLS = 100


def test_a_hundred_calls_of_every_kind_without_a_crash_or_a_lost_call(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_soak.py"), "--calls", str(SOAK_CALLS),
                             "--workers", "2", "--concurrency", "4", "--cache", str(tmp_path / "cache")],
                            capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    line = next((line for line in output.splitlines() if line.startswith("RESULT ")), None)
    assert line is not None, output[-4000:]
    figures = dict(field.split("=", 1) for field in line.split()[1:])
    assert figures["completed"] == str(SOAK_CALLS) and figures["failed"] == "0", line
    assert figures["worker_restarts"] == "0" and figures["crashes"] == "none", output[-4000:]
    assert figures["left_active"] == "0", line
    assert figures["journal_calls"] == str(SOAK_CALLS), line
    for start, end in re.findall(r"(\d+)->(\d+)", figures["fds"]):
        assert int(end) <= int(start), f"file descriptors grew: {figures['fds']}"
    assert result.returncode == 0, output[-4000:]
