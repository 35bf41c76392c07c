#!/usr/bin/env python3
"""Matcher speed: transcripts per second and per-transcript latency for 50, 500 and 5,000 answers.

    python scripts/bench_understanding.py [--sizes 50 500 5000] [--repeat 3]

Larger answer books are made from the example commune's answers (its sheets, completed by the base answers
they adopt: about 20 questions each): each copy of
an answer gets its own id and a distinct made-up place name in its questions,
so the vocabulary grows as it would in a real intercommunal deployment.
Transcripts are the lines of tests/corpus/dev.tsv. Also times `callbot ask`
on 1,000 lines of standard input through one process, after loading.
Prints medians and ends with one machine-readable `RESULT` line.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from callbot.config import EXAMPLE_CONFIG  # noqa: E402
from callbot.evaluation import read_corpus  # noqa: E402
from callbot.knowledge import require_knowledge  # noqa: E402
from callbot.sheets import Question  # noqa: E402
from callbot.understanding.matcher import Matcher  # noqa: E402

SYLLABLES = "ba be bi bo bu da de di do du fa fe fi fo la le li lo lu ma me mi mo na ne ni no ra re ri ro sa se si so ta te ti to va ve vi vo".split()


def place_name(n: int) -> str:
    """A distinct made-up word per number, so each copied answer has its own vocabulary."""
    word = ""
    while True:
        n, digit = divmod(n, len(SYLLABLES))
        word += SYLLABLES[digit]
        if n == 0:
            return word + "ville"


def grown_book(book, size: int):
    answers = []
    for n in range(size):
        base = book.answers[n % len(book.answers)]
        if n < len(book.answers):
            answers.append(base)
            continue
        name = place_name(n)
        questions = tuple(Question(f"{q.text} à {name}", q.location) for q in base.questions)
        answers.append(replace(base, id=f"{base.id}_{n}", questions=questions, keywords=base.keywords + (name,)))
    return replace(book, answers=tuple(answers))


def time_matcher(knowledge, size: int, texts: list[str], repeat: int) -> dict[str, float]:
    started = time.perf_counter()
    matcher = Matcher(grown_book(knowledge.book, size), knowledge.config.understanding,
                      dict(knowledge.matcher.normaliser_synonyms), knowledge.config.reception)
    build = time.perf_counter() - started
    rates, latencies = [], []
    for _ in range(repeat):
        matcher = Matcher(grown_book(knowledge.book, size), knowledge.config.understanding,
                          dict(knowledge.matcher.normaliser_synonyms), knowledge.config.reception)
        started = time.perf_counter()
        for text in texts:
            t0 = time.perf_counter()
            matcher.decide(text)
            latencies.append(time.perf_counter() - t0)
        rates.append(len(texts) / (time.perf_counter() - started))
    latencies.sort()
    return {"build_s": build, "rate": statistics.median(rates),
            "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * latencies[int(0.95 * len(latencies))]}


def time_ask_process(texts: list[str]) -> float:
    """Seconds `callbot ask --json` takes for 1,000 stdin lines, minus its loading time."""
    lines = "\n".join((texts * (1000 // len(texts) + 1))[:1000]) + "\n"
    command = [sys.executable, "-m", "callbot", "ask", "--json", "--config", str(EXAMPLE_CONFIG)]
    started = time.perf_counter()
    subprocess.run(command, input="\n", capture_output=True, text=True, check=True, cwd=REPO)
    loading = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(command, input=lines, capture_output=True, text=True, check=True, cwd=REPO)
    return time.perf_counter() - started - loading


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    knowledge = require_knowledge(EXAMPLE_CONFIG)
    texts = [line.text for line in read_corpus(REPO / "tests" / "corpus" / "dev.tsv")]
    fields = []
    for size in args.sizes:
        figures = time_matcher(knowledge, size, texts, args.repeat)
        print(f"{size:>5} answers: build {figures['build_s']:.2f} s, {figures['rate']:,.0f} transcripts/s, "
              f"p50 {figures['p50_ms']:.3f} ms, p95 {figures['p95_ms']:.3f} ms (cold caches, {len(texts)} transcripts)")
        fields += [f"rate_{size}={figures['rate']:.0f}", f"p50_ms_{size}={figures['p50_ms']:.3f}",
                   f"p95_ms_{size}={figures['p95_ms']:.3f}"]
    ask_seconds = time_ask_process(texts)
    print(f"callbot ask: 1,000 stdin lines in {ask_seconds:.2f} s after loading")
    fields.append(f"ask_1000_lines_s={ask_seconds:.3f}")
    print("RESULT " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
