"""Scoring the understanding stage on a labelled corpus (used by tests and scripts).

Each line is scored twice:
- on the first turn: what `Matcher.decide` gives;
- within two turns: when the bot asks a clarifying question, the caller answers as a caller would (the expected
  answer's title when it is offered among two, "oui" when it is the one offered, "non" otherwise), and the reply
  is read by the same code as in a call (`understanding.clarify.read_reply`).

`damage` simulates recognition errors, so the same corpus can be scored clean and damaged.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from callbot.checking import outcome
from callbot.sheets import NOMATCH, TRANSFER
from callbot.understanding.clarify import CHOSEN, DECLINED, FRESH, read_reply
from callbot.understanding.matcher import CLARIFY, Matcher


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
    in_scope: int = 0  # answers and requests for a person
    in_scope_correct: int = 0  # right on the first turn
    in_scope_correct_two_turns: int = 0  # right on the first turn, or after a clarifying question
    in_scope_wrong_answer: int = 0  # answered, but with another answer (within two turns): the costly mistake
    off_topic: int = 0
    off_topic_rejected: int = 0  # not answered within two turns
    person_requests: int = 0
    person_transferred: int = 0
    clarified: int = 0  # lines on which the bot asked a clarifying question
    mistakes: list[Mistake] = field(default_factory=list)

    @property
    def correct_rate(self) -> float:
        return self.in_scope_correct / self.in_scope if self.in_scope else 0.0

    @property
    def two_turn_rate(self) -> float:
        return self.in_scope_correct_two_turns / self.in_scope if self.in_scope else 0.0

    @property
    def rejection_rate(self) -> float:
        return self.off_topic_rejected / self.off_topic if self.off_topic else 0.0

    @property
    def wrong_answer_rate(self) -> float:
        return self.in_scope_wrong_answer / self.in_scope if self.in_scope else 0.0

    @property
    def person_rate(self) -> float:
        return self.person_transferred / self.person_requests if self.person_requests else 1.0

    def summary(self) -> str:
        return (f"in scope: {self.in_scope_correct}/{self.in_scope} right on the first turn ({self.correct_rate:.1%}), "
                f"{self.in_scope_correct_two_turns} within two turns ({self.two_turn_rate:.1%}), "
                f"{self.in_scope_wrong_answer} wrong answer(s) ({self.wrong_answer_rate:.1%})\n"
                f"off topic: {self.off_topic_rejected}/{self.off_topic} not answered ({self.rejection_rate:.1%}); "
                f"requests for a person: {self.person_transferred}/{self.person_requests} transferred "
                f"({self.person_rate:.1%}); clarifying questions on {self.clarified} line(s)")

    def result_fields(self) -> str:
        return (f"lines={self.in_scope + self.off_topic} correct_rate={self.correct_rate:.4f} "
                f"two_turn_rate={self.two_turn_rate:.4f} offtopic_rejection={self.rejection_rate:.4f} "
                f"wrong_answer_rate={self.wrong_answer_rate:.4f} person_rate={self.person_rate:.4f}")


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


def caller_reply(expected: str, choices: tuple[str, ...], titles: dict[str, str]) -> str:
    """What a caller says to "A, ou B ?" (or "A, c'est bien ça ?"), knowing what they asked."""
    if expected not in choices:
        return "non"
    return "oui" if len(choices) == 1 else titles[expected]


def within_two_turns(matcher: Matcher, titles: dict[str, str], line: LabelledLine, first, damage_seed: int | None
                     ) -> str:
    """The label a call reaches after at most one clarifying question."""
    if first.action != CLARIFY:
        return outcome(first)
    reply = caller_reply(line.expected, first.choices, titles)
    if damage_seed is not None:
        reply = damage(reply, damage_seed)
    read = read_reply(matcher, first.choices, titles, reply)
    if read.kind == CHOSEN:
        assert read.answer is not None  # a choice always names its answer
        return read.answer
    if read.kind == DECLINED:
        return NOMATCH
    if read.kind == FRESH:
        second = matcher.decide(reply)
        return outcome(second) if second.action != CLARIFY else NOMATCH
    return NOMATCH  # "oui" to two choices would be asked again: not within two turns


def evaluate(matcher: Matcher, corpus: list[LabelledLine], titles: dict[str, str] | None = None,
             damage_seed: int | None = None) -> Report:
    """Score every line; with `damage_seed`, each transcript (and reply) is damaged first (see `damage`)."""
    report = Report()
    titles = titles or {}
    for line in corpus:
        text = line.text if damage_seed is None else damage(line.text, damage_seed)
        decision = matcher.decide(text)
        got = outcome(decision)
        final = within_two_turns(matcher, titles, line, decision, damage_seed) if titles else got
        report.clarified += decision.action == CLARIFY
        if line.expected == NOMATCH:
            report.off_topic += 1
            report.off_topic_rejected += final == NOMATCH
        else:
            report.in_scope += 1
            report.in_scope_correct += got == line.expected
            report.in_scope_correct_two_turns += final == line.expected
            report.in_scope_wrong_answer += final not in (line.expected, NOMATCH, TRANSFER)
        if line.expected == TRANSFER:
            report.person_requests += 1
            report.person_transferred += final == TRANSFER
        if final != line.expected:
            report.mistakes.append(Mistake(text, line.expected, final, decision.score))
    return report


# -- recognition-like damage -----------------------------------------------------------------------------------
# What a speech recogniser does to a telephone caller's words, in spirit: short grammatical words vanish, the end of
# "quelqu'un" is lost, long words come out misspelt, words are replaced by their homophones, and hesitations appear.
SHORT_WORDS = frozenset("à a de du le la les l un une d en au et".split())
HOMOPHONES = {
    "à": "a", "parler": "parlé", "passer": "passé", "et": "est", "ces": "ses", "c'est": "s'est", "cent": "sans",
    "vingt": "vin", "mais": "mes", "ou": "où", "où": "ou", "est": "et", "quand": "quant", "voudrais": "voudrait",
    "accueil": "acceuil", "voir": "voire", "faire": "fer", "mère": "mer", "maire": "mer", "pain": "pin",
    "poubelles": "poubelle", "quelqu'un": "quelqu un", "standard": "standar", "humain": "humin", "temps": "tant",
    "été": "était", "cour": "cours", "date": "datte", "compte": "conte", "point": "poing", "verre": "vert",
}
_WORD = re.compile(r"[\w'’-]+|[^\w\s]", re.UNICODE)
DROP_SHORT = 0.35  # chance that a short grammatical word is dropped
HOMOPHONE = 0.5  # chance that a word with a homophone comes out as it
MISSPELL = 0.3  # chance that a word of 7 letters or more is misspelt
CUT_QUELQU_UN = 0.5  # chance that "quelqu'un" loses its "un"
FILLER = 0.15  # chance of an "euh" after a word


def damage(text: str, seed: int) -> str:
    """The transcript as a weak recogniser might give it; the same text and seed always give the same damage."""
    rng = random.Random(f"{seed}:{text}")
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        if not word[0].isalnum():
            continue  # recognisers give no punctuation
        if word in ("quelqu'un", "quelqu un") and rng.random() < CUT_QUELQU_UN:
            out.append("quelqu")
            continue
        if word in SHORT_WORDS and rng.random() < DROP_SHORT:
            continue
        if word in HOMOPHONES and rng.random() < HOMOPHONE:
            word = HOMOPHONES[word]
        elif len(word) >= 7 and rng.random() < MISSPELL:
            word = _misspell(word, rng)
        out.append(word.replace("'", " "))
        if rng.random() < FILLER:
            out.append("euh")
    return " ".join(out)


_SOUNDS_ALIKE = (("ph", "f"), ("qu", "k"), ("é", "er"), ("è", "ai"), ("ê", "è"), ("ss", "s"), ("tion", "sion"),
                 ("eau", "o"), ("au", "o"), ("ai", "é"), ("an", "en"), ("en", "an"), ("ll", "l"), ("mm", "m"),
                 ("tt", "t"), ("ç", "s"), ("y", "i"))


def _misspell(word: str, rng: random.Random) -> str:
    """One error a recogniser or a hurried transcriber makes: a sound spelt otherwise, a letter lost or doubled."""
    options = [(a, b) for a, b in _SOUNDS_ALIKE if a in word]
    if options and rng.random() < 0.6:
        a, b = rng.choice(options)
        return word.replace(a, b, 1)
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1:]  # a letter lost
    return word[:i] + word[i] + word[i:]  # a letter doubled
