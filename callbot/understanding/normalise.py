"""French text normalisation: from a raw transcript or a staff-written question to match tokens.

Both sides go through the same steps, so "l'État civil", "l etat civil" and
"L'ÉTAT CIVIL ?" give the same tokens:

1. lower case, apostrophes and hyphens become spaces, digits become French
   number words ("16" -> "seize", "1er" -> "premier", "8h30" -> "huit heures trente");
2. each word is stemmed (Snowball's French stemmer) and its accents removed;
3. lexicon phrases (synonyms and colloquial words) are replaced by one concept
   token, longest phrase first, compared stem by stem;
4. fillers, politeness formulas and grammatical words are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer
from num2words import num2words

# Words that carry no topic: articles, pronouns, prepositions, auxiliaries,
# question words, request verbs, fillers and politeness formulas. Written
# without accents, compared against the accent-free surface word.
STOP_WORDS = frozenset("""
a ai aie aient ait as au aux avais avait avez aviez avoir avons ayez
b bah ben beh bon bonjour bonsoir bref c ca car ce ceci cela celle celles celui cependant
ces cet cette ceux chez ci combien comme comment d dans de des desole desolee deja dit dites
donc dont du e eh elle elles en encore enfin es est et etais etait ete etes etre eu euh excusez excuse
f fait faire faisait fais faut g h hein heu hm hmm hum i il ils j je jusqu l la le les leur leurs lui
m ma madame mademoiselle mais me meme merci mes messieurs moi mon monsieur n na ne ni non nos notre nous o
oh ok okay on ont ou oui ouais p par parce pardon pas peu peut peux pour pourquoi pourrais pourriez
pouvez pouvais pouvoir puis q qu quand que quel quelle quelles quels qui quoi r rien s sa sais savez savoir
se ses si sil sommes son sont souhaite souhaiterais souhaitais suis sur t ta te tes toi ton tout toute toutes tous
tu u un une v va vais veut veux voila voici voudrais voudrait voulais voulait vouloir voulez votre vos vous vu
w x y z allo alo plait salut bien tres trop aussi alors apres avant ici voir beaucoup revoir
renseignement renseignements information informations question questions demander demande appelle appeler
appelais appel dire savais savoir besoin dois doit devrais deranger derange
""".split())

# Words that only their accent tells apart from a frequent other word: "le marché" is not "ça marche" nor
# "les marches" of a staircase. Recognisers write the accent, so the accented form gets a token of its own.
MEANINGFUL_ACCENTS = {"marché": "#marche", "marchés": "#marche"}

ELISION_WORDS = frozenset("l d j m n s t c qu jusqu lorsqu puisqu quoiqu".split())

_APOSTROPHES = re.compile(r"[’'`´ʼ‘]")
_HOUR = re.compile(r"\b(\d{1,2})\s*h\s*(\d{2})?\b")
_ORDINAL = re.compile(r"\b(\d+)\s*(er|ere|re|e|eme|ème|ième|ieme|nd|nde)\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NON_LETTER = re.compile(r"[^\w]+|_|\d")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _number_words(match: re.Match) -> str:
    digits = match.group(0).replace(",", ".")
    value = float(digits) if "." in digits else int(digits)
    if isinstance(value, int) and value > 10**9:  # phone numbers and the like: read digit by digit
        return " ".join(num2words(int(d), lang="fr") for d in digits)
    return num2words(value, lang="fr")


def spell_numbers(text: str) -> str:
    """Replace digits by French words, as a recogniser would transcribe them."""
    text = _HOUR.sub(lambda m: f"{m.group(1)} heures {m.group(2) or ''}", text)
    text = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), lang="fr", to="ordinal"), text)
    return _NUMBER.sub(_number_words, text)


def surface_words(text: str) -> list[str]:
    """Lower-case words with accents kept, elisions and hyphens split, digits spelled."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _APOSTROPHES.sub(" ", text)
    text = spell_numbers(text)
    return [w for w in _NON_LETTER.sub(" ", text).split() if w]


class Stemmer:
    """Snowball's French stemmer on accent-free words, memoised per word.

    Accents are removed first because callers' transcripts and staff's typing
    do not always carry them, and both sides must give the same stem.
    """

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("french")
        self.stem = lru_cache(maxsize=65536)(self._stem)

    def _stem(self, word: str) -> str:
        return self._stemmer.stemWord(strip_accents(word))


@dataclass(frozen=True)
class Word:
    """One word of a text: its stem (used to match) and whether it carries no topic."""

    stem: str
    is_stop: bool
    surface: str = ""  # the accent-free word as heard; empty for a lexicon concept

    @property
    def is_concept(self) -> bool:
        return not self.surface


@dataclass
class PhraseTable:
    """Lexicon phrases as stem sequences, replaced longest first by a concept token."""

    phrases: dict[tuple[str, ...], str] = field(default_factory=dict)
    longest: int = 1

    def add(self, stems: tuple[str, ...], concept: str) -> None:
        if stems:
            self.phrases[stems] = concept
            self.longest = max(self.longest, len(stems))

    def replace(self, words: list[Word]) -> list[Word]:
        result: list[Word] = []
        i = 0
        stems = [w.stem for w in words]
        while i < len(words):
            for size in range(min(self.longest, len(words) - i), 0, -1):
                concept = self.phrases.get(tuple(stems[i:i + size]))
                if concept is not None:
                    result.append(Word(concept, is_stop=False))
                    i += size
                    break
            else:
                result.append(words[i])
                i += 1
        return result


def concept_token(phrase: str) -> str:
    """The single token a lexicon concept becomes, e.g. `carte d'identité` -> `#carte_d_identite`."""
    return "#" + "_".join(strip_accents(w) for w in surface_words(phrase))


class Normaliser:
    """Turns French text into the tokens the matcher compares."""

    def __init__(self, synonyms: dict[str, tuple[str, ...]] | None = None):
        self.stemmer = Stemmer()
        self.table = PhraseTable()
        for concept, variants in (synonyms or {}).items():
            token = concept_token(concept)
            for phrase in (concept, *variants):
                self.table.add(self.stems(phrase), token)
        self.tokens = lru_cache(maxsize=4096)(self._tokens)

    def stems(self, text: str) -> tuple[str, ...]:
        return tuple(w.stem for w in self.words(text))

    def words(self, text: str) -> list[Word]:
        words = []
        for word in surface_words(text):
            plain = strip_accents(word)
            stem = MEANINGFUL_ACCENTS.get(word) or self.stemmer.stem(plain)
            words.append(Word(stem, plain in STOP_WORDS, plain))
        return words

    def analyse(self, text: str) -> list[Word]:
        """The words of a text after lexicon replacement, stop words still in place."""
        return self.table.replace(self.words(text))

    def _tokens(self, text: str) -> tuple[str, ...]:
        return content_tokens(self.analyse(text))


def content_tokens(words: list[Word]) -> tuple[str, ...]:
    return tuple(w.stem for w in words if not w.is_stop and w.stem not in ELISION_WORDS)
