"""Which answer a transcript asks for, or none.

Each answer is described by the tokens of its example questions and
keywords. A transcript's tokens are compared with that vocabulary word by
word, fuzzily (rapidfuzz) to absorb recognition errors, and each word
weighs by how well it tells the answers apart (inverse document frequency
over answers). Words that no answer knows weigh too, so a call about
something else ("ma carte grise") scores low everywhere.

The score of an answer mixes two views:
- coverage: how much of what the caller said this answer's vocabulary explains;
- closeness: the weighted overlap with its nearest example question.

The decision answers only when the best score clears a threshold and leads
the runner-up by a margin; otherwise `nomatch`, so the dialog asks again
instead of reading a wrong answer with confidence.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from callbot.config import UnderstandingSettings
from callbot.sheets import NOMATCH, TRANSFER, AnswerBook
from callbot.understanding.normalise import Normaliser, Word, content_tokens
from callbot.understanding.person import PersonRequestDetector

ANSWER = "answer"
CLARIFY = "clarify"  # not confident, but one or two answers are plausible: ask the caller which

# Tuned on tests/corpus/dev.tsv, dev2.tsv and dev3.tsv; the held-out tests/corpus/test2.tsv measures them.
COVERAGE_SHARE = 0.6  # the rest is closeness to the nearest example question
KEYWORD_BONUS = 0.25  # added when a staff keyword is heard
UNKNOWN_WORD_WEIGHT = 0.45  # weight of a word no answer knows; a word of one answer only weighs 1
ANSWER_TEXT_STRENGTH = 0.5  # a word found only in the answer's text counts this much
UNEXPLAINED_SHARE = 0.15  # how much heard words that an answer does not explain count against it
EVIDENCE_NEEDED = 0.5  # matched weight that gives a score of one half on its own
MIN_FUZZY_LENGTH = 4  # shorter words must match exactly
FUZZY_CUTOFF = 80  # rapidfuzz ratio, 0..100
REPAIR_CUTOFF = 88  # a misheard word is repaired only when this close to a known word or lexicon variant
MIN_REPAIR_LENGTH = 5


@dataclass(frozen=True)
class Decision:
    """What the bot should do with one transcript."""

    text: str
    action: str  # "answer", "transfer" or "nomatch"
    answer: str | None  # the answer id, when one was chosen
    score: float
    runner_up: str | None
    runner_up_score: float
    target: str | None = None  # transfer target name, when action is "transfer"
    best: str | None = None  # the best-scoring answer, even when it was not confident enough to be given
    choices: tuple[str, ...] = ()  # when action is "clarify": the answers to offer, best first

    def as_dict(self) -> dict:
        fields: dict[str, object] = {
            "text": self.text, "action": self.action, "answer": self.answer, "score": round(self.score, 3),
            "runner_up": self.runner_up, "runner_up_score": round(self.runner_up_score, 3), "target": self.target,
            "best": self.best,
        }
        if self.action == CLARIFY:
            fields["choices"] = list(self.choices)
        return fields


@dataclass(frozen=True)
class _Entry:
    id: str
    questions: tuple[frozenset[str], ...]
    question_mass: tuple[float, ...]
    keywords: frozenset[str]
    vocabulary: frozenset[str]  # from questions and keywords
    answer_words: frozenset[str]  # from the answer text only: weaker evidence
    transfer: str | None
    question_index: dict[str, tuple[int, ...]] | None = None  # token -> the questions holding it


@dataclass(frozen=True)
class _Totals:
    """Sums over the heard tokens that every answer's score needs: computed once per transcript."""

    weight: float
    unexplained: float
    unexplained_weight: dict[str, float]  # a token's weight in `unexplained`: whole for another matter's concept

    @staticmethod
    def of(token_weight: dict[str, float]) -> "_Totals":
        shares = {t: w * (1 if t.startswith("#") else UNEXPLAINED_SHARE) for t, w in token_weight.items()}
        return _Totals(sum(token_weight.values()), sum(shares.values()), shares)


class Matcher:
    """The understanding stage: a pure function of (answer book, transcript)."""

    def __init__(self, book: AnswerBook, settings: UnderstandingSettings, builtin_synonyms: dict[str, tuple[str, ...]],
                 reception: str | None = None):
        synonyms = dict(builtin_synonyms)
        for concept, variants in book.synonyms.items():
            synonyms[concept] = synonyms.get(concept, ()) + variants
        self.normaliser_synonyms = synonyms
        self.normaliser = Normaliser(synonyms)
        self.settings = settings
        self.reception = reception
        self.person_requests = PersonRequestDetector(settings.person_requests)
        self._entries = [self._entry(a) for a in book.answers]
        self._weights = self._idf(self._entries)
        # token -> (answer index, strength): full strength from questions and keywords
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, entry in enumerate(self._entries):
            for token in entry.vocabulary:
                self._postings[token].append((index, 1.0))
            for token in entry.answer_words - entry.vocabulary:
                self._postings[token].append((index, ANSWER_TEXT_STRENGTH))
        self._vocabulary = list(self._postings)
        self._entries = [self._with_mass(e) for e in self._entries]
        self._similar = lru_cache(maxsize=16384)(self._similar_uncached)
        self._single_word_concepts = {stems[0]: concept for stems, concept in self.normaliser.table.phrases.items()
                                      if len(stems) == 1}

    # -- building ----------------------------------------------------------
    def _entry(self, answer) -> _Entry:
        questions = tuple(frozenset(self.normaliser.tokens(q.text)) for q in answer.questions)
        keywords = frozenset(t for k in answer.keywords for t in self.normaliser.tokens(k))
        vocabulary = frozenset().union(*questions, keywords)
        answer_words = frozenset(self.normaliser.tokens(answer.answer))
        return _Entry(answer.id, questions, (), keywords, vocabulary, answer_words, answer.transfer)

    @staticmethod
    def _idf(entries: list[_Entry]) -> dict[str, float]:
        frequency: dict[str, int] = defaultdict(int)
        for entry in entries:
            for token in entry.vocabulary | entry.answer_words:
                frequency[token] += 1
        # scaled to 0..1 (1 = a word of one answer only) so the constants below hold for any number of answers
        rarest = math.log(len(entries) + 1)
        return {token: math.log((len(entries) + 1) / n) / rarest for token, n in frequency.items()}

    def _with_mass(self, entry: _Entry) -> _Entry:
        mass = tuple(sum(self._weights[t] for t in q) for q in entry.questions)
        index: dict[str, list[int]] = defaultdict(list)
        for number, question in enumerate(entry.questions):
            for token in question:
                index[token].append(number)
        return _Entry(entry.id, entry.questions, mass, entry.keywords, entry.vocabulary, entry.answer_words,
                      entry.transfer, {t: tuple(n) for t, n in index.items()})

    # -- matching ----------------------------------------------------------
    def _similar_uncached(self, token: str) -> tuple[tuple[str, float], ...]:
        """Vocabulary tokens close to `token`, with a similarity in 0..1."""
        exact: tuple[tuple[str, float], ...]
        if token in self._postings:
            exact = ((token, 1.0),)
            if len(token) < MIN_FUZZY_LENGTH or token.startswith("#"):
                return exact
        elif len(token) < MIN_FUZZY_LENGTH:
            return ()
        else:
            exact = ()
        found = process.extract(token, self._vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=8)
        fuzzy = tuple((v, score / 100) for v, score, _ in found if v != token and len(v) >= MIN_FUZZY_LENGTH)
        return exact + fuzzy

    def scores(self, text: str, best_only: int | None = None) -> list[tuple[float, str]]:
        """Every answer's score for this transcript, best first; with `best_only`, only that many best ones.

        Scoring the closeness to an answer's nearest question is the costly part, so with `best_only` the
        answers are taken by their cheap part first, and the rest is skipped once even a perfect closeness
        could not bring an answer among the best.
        """
        tokens = set(self.heard_tokens(text))
        if not tokens:
            return []
        # best similarity of each heard token within each answer's vocabulary
        heard: dict[int, dict[str, tuple[float, str]]] = defaultdict(dict)
        token_weight: dict[str, float] = {}
        for token in tokens:
            similar = self._similar(token)
            token_weight[token] = self._token_weight(token, similar)
            for vocab_token, similarity in similar:
                for index, strength in self._postings[vocab_token]:
                    current = heard[index].get(token)
                    if current is None or similarity * strength > current[0]:
                        heard[index][token] = (similarity * strength, vocab_token)
        totals = _Totals.of(token_weight)
        partial = self._coverages(heard, token_weight, totals)
        results: list[tuple[float, str]] = []
        best: list[float] = []  # with best_only: the best scores found so far, lowest first
        for cheap, i in partial:
            if best_only and len(best) == best_only and cheap + (1 - COVERAGE_SHARE) <= best[0]:
                break  # the cheap parts only decrease from here: no later answer can rank among the best
            entry = self._entries[i]
            closeness = self._closeness(entry, heard[i], token_weight, totals)
            score = min(1.0, cheap + (1 - COVERAGE_SHARE) * closeness)
            results.append((score, entry.id))
            if best_only:
                bisect.insort(best, score)
                del best[:-best_only]
        results.sort(reverse=True)
        return results[:best_only] if best_only else results

    def heard_tokens(self, text: str) -> tuple[str, ...]:
        """The transcript's tokens, repaired where the recogniser misheard.

        - A word close to a one-word lexicon variant ("médiatèque") becomes its concept.
        - Recognisers cut long or rare words in two ("pro curation", "des chetterie"):
          when neither half is known but the two joined are close to a known word,
          the joined word is used instead.
        """
        words = self.normaliser.analyse(text)
        repaired: list[Word] = []
        i = 0
        while i < len(words):
            if i + 1 < len(words) and self._is_unknown(words[i]) and self._is_unknown(words[i + 1]):
                rejoined = self._recognise(words[i].surface + words[i + 1].surface)
                if rejoined is not None:
                    repaired.append(rejoined)
                    i += 2
                    continue
            word = words[i]
            if self._is_unknown(word) and not word.is_stop:
                word = self._recognise(word.surface) or word
            repaired.append(word)
            i += 1
        return content_tokens(repaired)

    def _is_unknown(self, word: Word) -> bool:
        return not word.is_concept and word.stem not in self._postings

    def _recognise(self, surface: str) -> Word | None:
        """The known word or concept that `surface` most likely is, if close enough."""
        stem = self.normaliser.stemmer.stem(surface)
        if len(stem) < MIN_REPAIR_LENGTH:
            return None
        concept = self._single_word_concepts.get(stem)
        if concept is None:
            found = process.extractOne(stem, self._single_word_concepts.keys(), scorer=fuzz.ratio,
                                       score_cutoff=REPAIR_CUTOFF)
            concept = self._single_word_concepts[found[0]] if found else None
        if concept is not None:
            return Word(concept, is_stop=False)
        close = self._similar(stem)
        if close and max(similarity for _, similarity in close) >= REPAIR_CUTOFF / 100:
            return Word(stem, is_stop=False, surface=surface)
        return None

    def _token_weight(self, token: str, similar: tuple[tuple[str, float], ...]) -> float:
        if similar:
            best = max(s for _, s in similar)
            return max(self._weights[v] for v, s in similar if s == best)
        # a lexicon concept that no answer uses names another matter ("#carte_grise"): strong evidence against
        return 1.0 if token.startswith("#") else UNKNOWN_WORD_WEIGHT

    def _coverages(self, heard: dict[int, dict[str, tuple[float, str]]], token_weight: dict[str, float],
                   totals: "_Totals") -> list[tuple[float, int]]:
        """Each answer's cheap part of the score, best first: how much of what was heard it explains, and the
        keyword bonus. One tight loop, since every answer sharing a word with the caller goes through it."""
        unexplained_weight, entries = totals.unexplained_weight, self._entries
        partial = []
        for index, matches in heard.items():
            evidence = explained = bonus = 0.0
            keywords = entries[index].keywords
            for token, (similarity, vocab_token) in matches.items():
                evidence += token_weight[token] * similarity
                explained += unexplained_weight[token] * similarity
                if similarity >= 0.9 and vocab_token in keywords:
                    bonus = KEYWORD_BONUS
            # what the answer leaves unexplained: every heard token's weight, less the part this answer matches
            unexplained = totals.unexplained - explained
            partial.append((COVERAGE_SHARE * evidence / (evidence + EVIDENCE_NEEDED + unexplained) + bonus, index))
        partial.sort(reverse=True)
        return partial

    @staticmethod
    def _closeness(entry: _Entry, matches: dict[str, tuple[float, str]], token_weight: dict[str, float],
                   totals: "_Totals") -> float:
        """The weighted overlap with the nearest example question, summed through the questions' token index
        (an answer of the common base has 20 questions: looping over them all per heard word costs too much)."""
        shared: dict[int, float] = defaultdict(float)
        assert entry.question_index is not None  # built with the entry
        for token, (similarity, vocab_token) in matches.items():
            for number in entry.question_index.get(vocab_token, ()):
                shared[number] += token_weight[token] * similarity
        closeness = 0.0
        for number, overlap in shared.items():
            union = totals.weight + entry.question_mass[number] - overlap
            if union > 0:
                closeness = max(closeness, overlap / union)
        return closeness

    def clarification_choices(self, ranked: list[tuple[float, str]]) -> tuple[str, ...]:
        """The one or two answers worth offering when the best is not confident enough to be given.

        The best is offered from `clarify_floor`; the runner-up with it when it scores within
        `clarify_window` of the best (and clears the floor too). Below the floor, the caller is
        asked to rephrase: a clarifying question about an unrelated answer helps nobody.
        """
        floor = self.settings.clarify_floor
        if not ranked or ranked[0][0] < floor:
            return ()
        best_score, best = ranked[0]
        if len(ranked) > 1 and ranked[1][0] >= max(floor, best_score - self.settings.clarify_window):
            return best, ranked[1][1]
        return (best,)

    def decide(self, text: str) -> Decision:
        """Answer, transfer or nomatch for one transcript."""
        ranked = self.scores(text, best_only=2)
        best_score, best = ranked[0] if ranked else (0.0, None)
        second_score, second = ranked[1] if len(ranked) > 1 else (0.0, None)
        if self.person_requests.asks_for_person(text):
            return Decision(text, TRANSFER, None, best_score, second, second_score, self.reception, best)
        confident = best_score >= self.settings.threshold and best_score - second_score >= self.settings.margin
        if best is None or not confident:
            choices = self.clarification_choices(ranked)
            action = CLARIFY if choices else NOMATCH
            return Decision(text, action, None, best_score, second, second_score, best=best, choices=choices)
        entry = next(e for e in self._entries if e.id == best)
        if entry.transfer:
            return Decision(text, TRANSFER, best, best_score, second, second_score, entry.transfer, best)
        return Decision(text, ANSWER, best, best_score, second, second_score, best=best)
