"""Scoring the understanding stage on a labelled corpus (used by tests and scripts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from callbot.checking import outcome
from callbot.sheets import NOMATCH, TRANSFER
from callbot.understanding.matcher import Matcher


@dataclass(frozen=True)
class LabelledLine:
    text: str
    expected: str


@dataclass(frozen=True)
class Mistake:
    text: str
    expected: str
    got: str
    score: float


@dataclass
class Report:
    in_scope: int = 0
    in_scope_correct: int = 0
    in_scope_wrong_answer: int = 0  # answered, but with another answer: the costly mistake
    off_topic: int = 0
    off_topic_rejected: int = 0
    mistakes: list[Mistake] = field(default_factory=list)

    @property
    def correct_rate(self) -> float:
        return self.in_scope_correct / self.in_scope if self.in_scope else 0.0

    @property
    def rejection_rate(self) -> float:
        return self.off_topic_rejected / self.off_topic if self.off_topic else 0.0

    @property
    def wrong_answer_rate(self) -> float:
        return self.in_scope_wrong_answer / self.in_scope if self.in_scope else 0.0

    def summary(self) -> str:
        return (f"in scope: {self.in_scope_correct}/{self.in_scope} correct ({self.correct_rate:.1%}), "
                f"{self.in_scope_wrong_answer} wrong answer(s) ({self.wrong_answer_rate:.1%}), the rest not answered\n"
                f"off topic: {self.off_topic_rejected}/{self.off_topic} not answered ({self.rejection_rate:.1%})")

    def result_fields(self) -> str:
        return (f"lines={self.in_scope + self.off_topic} correct_rate={self.correct_rate:.4f} "
                f"offtopic_rejection={self.rejection_rate:.4f} wrong_answer_rate={self.wrong_answer_rate:.4f}")


def read_corpus(path: Path) -> list[LabelledLine]:
    """Read `text<TAB>expected` lines after a header; blank lines and `#` comments are skipped."""
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines()[1:], start=2):
        if not raw.strip() or raw.startswith("#"):
            continue
        text, sep, expected = raw.partition("\t")
        if not sep or not expected.strip():
            raise ValueError(f"{path}:{number}: expected `transcript<TAB>label`")
        lines.append(LabelledLine(text.strip(), expected.strip()))
    return lines


def evaluate(matcher: Matcher, corpus: list[LabelledLine]) -> Report:
    report = Report()
    for line in corpus:
        decision = matcher.decide(line.text)
        got = outcome(decision)
        if line.expected == NOMATCH:
            report.off_topic += 1
            report.off_topic_rejected += got == NOMATCH
        else:
            report.in_scope += 1
            report.in_scope_correct += got == line.expected
            report.in_scope_wrong_answer += got not in (line.expected, NOMATCH, TRANSFER)
        if got != line.expected:
            report.mistakes.append(Mistake(line.text, line.expected, got, decision.score))
    return report
