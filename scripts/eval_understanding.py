#!/usr/bin/env python3
"""Measure the understanding on labelled corpora of spoken-style French transcripts, clean and damaged.

    python scripts/eval_understanding.py [--config FILE] [--errors] [--seed N] tests/corpus/dev.tsv ...

Each corpus line is `transcript<TAB>expected`, expected being an answer id, `transfer` (asks for a person) or
`nomatch` (off-topic). For each corpus, clean and after recognition-like damage (`callbot.evaluation.damage`,
seeded: the same seed gives the same damage), it prints: right answer on the first turn, right within two turns
(the caller answering a clarifying question as a caller would), wrong answers, off-topic calls answered, requests
for a person transferred; and one machine-readable `RESULT` line per corpus and condition.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callbot.config import EXAMPLE_CONFIG  # noqa: E402
from callbot.evaluation import evaluate, read_corpus  # noqa: E402
from callbot.knowledge import require_knowledge  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="+", type=Path)
    parser.add_argument("--config", type=Path, default=EXAMPLE_CONFIG)
    parser.add_argument("--errors", action="store_true", help="list every line the bot got wrong")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated recognition damage (default 1)")
    parser.add_argument("--clean-only", action="store_true", help="skip the damaged run")
    args = parser.parse_args()
    knowledge = require_knowledge(args.config)
    titles = knowledge.book.titles()
    print(f"| corpus | condition | lines | right 1st turn | right within 2 turns | wrong | off-topic answered "
          f"| person requests transferred |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    for path in args.corpus:
        corpus = read_corpus(path)
        for condition, seed in (("clean", None), ("damaged", args.seed))[: 1 if args.clean_only else 2]:
            report = evaluate(knowledge.matcher, corpus, titles, seed)
            print(f"| `{path.name}` | {condition} | {len(corpus)} | {report.correct_rate:.1%} | {report.two_turn_rate:.1%} "
                  f"| {report.wrong_answer_rate:.1%} | {1 - report.rejection_rate:.1%} | "
                  f"{report.person_transferred}/{report.person_requests} ({report.person_rate:.1%}) |")
            results.append((path, condition, report))
    for path, condition, report in results:
        print(f"\n== {path} ({condition})")
        if args.errors:
            for line in report.mistakes:
                print(f"  {line.expected:>24} <- {line.got:<24} {line.score:.2f} | {line.text}")
        print(report.summary())
        print(f"RESULT corpus={path.name} condition={condition} {report.result_fields()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
