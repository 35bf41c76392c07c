"""scripts/bench_decoder_memory.py runs end to end on the real test model: mechanics only, never a threshold."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_decoders_are_measured_with_and_without_their_speech_budget(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_decoder_memory.py"), "--speech", "25",
                          "--budgets", "0,10"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), run.stdout[-3000:]
    figures = dict(field.split("=", 1) for field in last.split()[1:])
    assert sorted(figures) == sorted(f"budget_{b}_{key}" for b in ("0", "10")
                                     for key in ("peak_mib", "end_mib", "cpu_per_speech_s", "let_go"))
    assert figures["budget_0_let_go"] == "0"  # never let go
    assert int(figures["budget_10_let_go"]) >= 1  # ~11 s of speech per call: let go after each call
    assert float(figures["budget_0_peak_mib"]) > 0 and float(figures["budget_0_cpu_per_speech_s"]) > 0


def test_with_phrase_hints_a_model_that_knows_none_of_the_sheets_words_gets_its_own(tmp_path):
    """The Korean test model knows no French word: the phrase list is drawn from its vocabulary, same size."""
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_decoder_memory.py"), "--phrase-hints",
                          "--speech", "15", "--budgets", "0"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    hints = next(line for line in run.stdout.splitlines() if line.startswith("phrase hints:"))
    sheets_words = int(hints.split("none of the ")[1].split()[0])
    assert f"{sheets_words} words drawn from its own vocabulary" in hints and sheets_words > 1000
    assert run.stdout.strip().splitlines()[-1].startswith("RESULT budget_0_peak_mib=")
