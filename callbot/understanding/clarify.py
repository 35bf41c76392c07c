"""Clarifying questions: "Votre question concerne-t-elle A, ou B ?" and what the caller replies.

When the matcher is not confident but one or two answers are plausible
(`Decision.action == "clarify"`), the dialog names them by their titles and
the caller's reply is read here, as a pure function of (matcher, choices,
titles, reply):

- a choice by its place: "la première", "le deuxième", "la dernière";
- a choice in the caller's own words: "les cartes d'identité", "c'est pour
  la cantine" (the reply's words against each choice's title and vocabulary);
- "oui" to a single choice; "non", "aucun des deux", "ni l'un ni l'autre";
- anything else is a fresh question, understood as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callbot.sheets import TRANSFER
from callbot.understanding.control import Control, detect_control
from callbot.understanding.matcher import ANSWER, Matcher
from callbot.understanding.person import canonical_text

CHOSEN = "chosen"  # the caller picked one of the choices
DECLINED = "declined"  # none of them: the dialog goes on with its escalation
FRESH = "fresh"  # not a reply to the choices: understand it as a new question
UNCLEAR = "unclear"  # "oui" to two choices: ask which one

# A reply names a choice in its own words when its best answer overall is that choice, scoring at least this,
# and ahead of the other choice by the margin.
CHOICE_FLOOR = 0.2
CHOICE_MARGIN = 0.05

_FIRST = re.compile(r"\b(?:premiere?|1ere?|la une|le un|l un|celle d avant|le premier choix)\b")
_SECOND = re.compile(r"\b(?:deuxieme|seconde?|2e|derniere?|l autre|la deux|le deux|celle d apres)\b")
_NEITHER = re.compile(r"\b(?:aucun(?:e)?(?: des deux)?|ni l une? ni l autre|ni (?:l )?un ni (?:l )?autre|"
                      r"ni (?:l )?une ni (?:l )?autre|rien a voir|pas (?:du tout )?ca|ni (?:la|le) .* ni)\b")
_NOT_THIS = re.compile(r"^(?:euh )?(?:non|nan|pas du tout|non non)\b(?: (?:c est|ce n est|c est pas|pas|merci|du tout|"
                       r"madame|monsieur|ca|pas ca|ca du tout))*$")


@dataclass(frozen=True)
class Reply:
    """What the caller's reply to a clarifying question means."""

    kind: str  # CHOSEN, DECLINED, FRESH or UNCLEAR
    answer: str | None = None  # the chosen answer id, when kind is CHOSEN


def read_reply(matcher: Matcher, choices: tuple[str, ...], titles: dict[str, str], text: str) -> Reply:
    """The caller's reply to "A, ou B ?" (or "A, c'est bien ça ?" for one choice)."""
    words = canonical_text(text)
    if not words:
        return Reply(UNCLEAR if len(choices) > 1 else DECLINED)
    whole = matcher.decide(text)
    if whole.action == TRANSFER and whole.answer is None:
        return Reply(FRESH)  # "non, passez-moi quelqu'un"
    if whole.action == ANSWER and whole.answer not in choices and not _by_place(words, choices):
        return Reply(FRESH)  # a confident new question: "non, c'est pour les encombrants"
    if _NEITHER.search(words) or _NOT_THIS.match(words):
        return Reply(DECLINED)
    picked = _by_place(words, choices)
    if picked:
        return Reply(CHOSEN, picked)
    picked = _by_words(matcher, choices, titles, text)
    if picked:
        return Reply(CHOSEN, picked)
    control = detect_control(text)
    if control is Control.YES:
        return Reply(CHOSEN, choices[0]) if len(choices) == 1 else Reply(UNCLEAR)
    if control is Control.NO:
        return Reply(DECLINED)
    return Reply(FRESH)


def _by_place(words: str, choices: tuple[str, ...]) -> str | None:
    if len(choices) < 2:
        return None
    first, second = bool(_FIRST.search(words)), bool(_SECOND.search(words))
    if first != second:
        return choices[0] if first else choices[1]
    return None


def _by_words(matcher: Matcher, choices: tuple[str, ...], titles: dict[str, str], text: str) -> str | None:
    """The choice the reply names: its title's words count, then its vocabulary, among the offered ones only."""
    heard = set(matcher.heard_tokens(text))
    if not heard:
        return None
    title_hits = {c: len(heard & set(matcher.normaliser.tokens(titles.get(c, "")))) for c in choices}
    ranked_titles = sorted(choices, key=lambda c: -title_hits[c])
    if title_hits[ranked_titles[0]] and (len(choices) == 1 or title_hits[ranked_titles[0]] > title_hits[ranked_titles[1]]):
        return ranked_titles[0]
    # otherwise the reply's own best answer, if it is one of the choices and clearly ahead of the other
    ranked = matcher.scores(text)
    if not ranked or ranked[0][1] not in choices or ranked[0][0] < CHOICE_FLOOR:
        return None
    others = [score for score, answer in ranked[1:] if answer in choices]
    if others and ranked[0][0] - others[0] < CHOICE_MARGIN:
        return None
    return ranked[0][1]
