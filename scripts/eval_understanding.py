#!/usr/bin/env python3
"""Measure the matcher on a labelled corpus of spoken-style French transcripts.

    python scripts/eval_understanding.py [--config FILE] [--errors] tests/corpus/test2.tsv

Each corpus line is `transcript<TAB>expected`, expected being an answer id,
`transfer` (asks for a person) or `nomatch` (off-topic). Prints the
correct-answer rate on in-scope lines, the off-topic rejection rate, the
wrong-answer rate, and ends with one machine-readable `RESULT` line.
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
    parser.add_argument("--errors", action="store_true", help="list every line the matcher got wrong")
    args = parser.parse_args()
    knowledge = require_knowledge(args.config)
    for path in args.corpus:
        report = evaluate(knowledge.matcher, read_corpus(path))
        print(f"== {path}")
        if args.errors:
            for line in report.mistakes:
                print(f"  {line.expected:>24} <- {line.got:<24} {line.score:.2f} | {line.text}")
        print(report.summary())
        print(f"RESULT corpus={path.name} {report.result_fields()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
