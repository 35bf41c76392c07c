"""Explicit requests for a person: "je voudrais parler à quelqu'un", "passez-moi l'accueil".

These are recognised by rules, not by the answer matcher, because they must
win over any topic the caller also names ("je voudrais parler à quelqu'un
pour la cantine" wants a person). Staff add their own phrases in
callbot.yaml (`understanding: person_requests:`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

from callbot.understanding.normalise import strip_accents, surface_words

# "accueil" is a person only when it is not a service's name.
_RECEPTION = r"accueil(?! de loisirs| peri| du centre| de jour| des enfants)"
# Who the caller may ask for. "accueil" only counts after a verb of
# contact, because "accueil de loisirs" and "accueil périscolaire" are services.
_PEOPLE = (r"quelqu un|une? (?:vraie? )?personnes?|(?:la|les) personnes? qui|personne physique|(?:un |une )?(?:etre )?humaine?s?|"
           r"(?:un |une |l |le |la |les )?(?:agent|agente|agents|conseiller|conseillere|operateur|operatrice|"
           r"standardiste|secretaire|secretariat|secretaria|employe|employee|interlocuteur|interlocutrice|hotesse|standard|"
           r"stand art|collegue|"
           rf"{_RECEPTION}|responsable|dame)")
_CONTACT_VERBS = (r"parler|parle|discuter|causer|avoir|joindre|passer|passez|passe|transferer|transferez|mettre en relation|"
                  r"mettez|metter|mettre|contacter|eu|avoir affaire|voir|rappeler|rappelle|rappeliez|rappeler|"
                  r"expliquer|explique|adresser")

_BUILT_IN_PATTERNS = (
    # a contact verb, up to four words, then a person: "parler a quelqu un", "passez moi l accueil"
    rf"\b(?:{_CONTACT_VERBS})\b(?: \w+){{0,4}} (?:{_PEOPLE})\b",
    # the article lost by recognition: "parle a personne", "parler personne mairie"
    r"\b(?:parler|parle|discuter|causer|avoir|joindre)(?: a| avec)? personne\b(?! d autre| ne\b| n\b)",
    # "je voudrais la secretaire", "j aimerais un conseiller"
    r"\b(?:je veux|je voudrais|je souhaite|je souhaiterais|j aimerais|donnez moi) (?:avoir )?(?:(?:un|une|le|la|l) )?"
    r"(?:secretaire|secretariat|conseiller|conseillere|agent|standardiste|standard|humain|operateur|operatrice)\b",
    # the person alone as a request: "un conseiller s il vous plait", "le standard"
    r"^(?:(?:je veux|je voudrais|je souhaite|donnez moi|svp|s il vous plait|oui|allo|bonjour|euh) )*"
    r"(?:un |une |le |la |l )?(?:agent|conseiller|conseillere|operateur|operatrice|standard|standardiste|"
    rf"{_RECEPTION}|secretariat|humain|etre humain|vraie personne|quelqu un)\b(?: \w+){{0,3}}$",
    # someone of the reception named alone: "la dame de l accueil"
    r"^(?:(?:je veux|je voudrais|je souhaite|oui|allo|bonjour|euh) )*(?:la dame|le monsieur|la personne|quelqu un) "
    r"(?:de |a )?l accueil(?: \w+){0,2}$",
    # what the greeting tells callers to say: "une personne"
    r"^(?:(?:je veux|je voudrais|je souhaite|oui|allo|bonjour|euh) )*(?:une )?(?:personne|vraie personne)$",
    # refusing the machine: "pas un robot", "marre de parler a une machine"
    r"\b(?:pas|marre|arretez|stop)\b(?: \w+){0,5} (?:robot|machine|repondeur|ordinateur|automate|serveur vocal)\b",
    r"\b(?:vraie personne|etre humain|personne en chair|quelqu un (?:de )?(?:vivant|reel|vrai)|de vive voix)\b",
    # what the greeting says to press, said instead: "zéro"
    r"^(?:(?:oui|allo|bonjour|euh|je tape|je fais|le) )*zero$",
    # a call back by someone: "quelqu un peut me rappeler", "j aimerais qu on me rappelle"
    r"\bquelqu un (?:peut|pourrait|pourra|pour) (?:me )?(?:rappeler|recontacter)\b|\bqu on me rappelle\b|"
    r"\betre rappele(?:e)?\b",
    # the mairie itself, or one of its services, as whom to be put through to: "passez moi le service urbanisme"
    r"\b(?:passez moi|me passer|transferez moi|me transferer|mettez moi avec) (?:le |la |l )?service\b",
    r"\b(?:parler|joindre|passez moi|me passer)(?: a| avec)? (?:la )?mairie$",
    # being put through, whoever to: "transferez moi", "pouvez vous me mettre en relation"
    r"\b(?:me transferer|me transferez|transferez moi|transferer moi|me mettre en relation|mettez moi en relation)\b",
    # "quelqu un a qui je peux parler", "quelqu un avec qui parler"
    r"\bquelqu un (?:a|avec) qui(?: \w+){0,3} (?:parler|expliquer|m adresser)\b",
)


_POLITENESS = re.compile(r"\b(?:s il vous plait|s il te plait|svp|merci(?: beaucoup)?)\b")


def canonical_text(text: str) -> str:
    """Lower case, accent-free words separated by single spaces, digits spelled out."""
    return " ".join(strip_accents(w) for w in surface_words(text))


def without_politeness(text: str) -> str:
    """Canonical text without "s'il vous plaît" and "merci", which say nothing about what is asked."""
    return " ".join(_POLITENESS.sub(" ", canonical_text(text)).split())


_ARTICLES = ("le", "la", "les", "l", "un", "une", "au", "aux", "du", "des", "de", "a")


def _without_article(words: str) -> str:
    parts = words.split()
    while parts and parts[0] in _ARTICLES:
        parts = parts[1:]
    return " ".join(parts)


def _staff_pattern(phrase: str) -> str:
    """A staff phrase, with or without its article: "le garde champêtre" also matches "au garde champêtre"."""
    return rf"\b{re.escape(_without_article(canonical_text(phrase)))}\b"


# -- recognition errors ------------------------------------------------------------------------------------------
# Recognisers mangle exactly the words of these requests: "quelqu'un" loses its "un", "standard" its "d",
# "accueil" comes out "acceuil", "conseiller" in two pieces. Before the rules, the words that come close to the
# words the rules need are put back (fuzzily, long words only), hesitations are dropped, and a lone "quelqu"
# becomes "quelqu un" again.
_FILLERS = frozenset("euh heu hum hm hmm ben bah beh".split())
_REQUEST_WORDS = tuple(sorted(set("""
    personne personnes accueil standard standardiste secretaire secretariat conseiller conseillere operateur
    operatrice interlocuteur interlocutrice humain humaine relation responsable transferer transferez parler causer
    discuter joindre passer passez mettez voudrais aimerais souhaite robot machine repondeur collegue
""".split())))
_SPELLED_AS = {"voudrait": "voudrais", "voudrai": "voudrais", "parlez": "parler", "parlee": "parler",
               "quelqun": "quelqu un", "quelquun": "quelqu un", "quelque un": "quelqu un"}
REPAIR_SIMILARITY = 80  # rapidfuzz ratio from which a long word is taken for a request word ...
JOIN_SIMILARITY = 85  # ... and two words joined ("stand art"), which risks more ("un stand au marché")
MIN_REPAIR_LENGTH = 5


@lru_cache(maxsize=4096)
def _repaired_word(word: str, cutoff: int = REPAIR_SIMILARITY) -> str:
    if word in _SPELLED_AS:
        return _SPELLED_AS[word]
    if len(word) < MIN_REPAIR_LENGTH or word in _REQUEST_WORDS:
        return word
    found = process.extractOne(word, _REQUEST_WORDS, scorer=fuzz.ratio, score_cutoff=cutoff)
    # recognisers keep a word's first sound: "reponse" is not "personne"
    return found[0] if found and found[0][0] == word[0] else word


def repaired_for_requests(text: str) -> str:
    """The canonical text with the words of person requests put back where recognition damaged them."""
    words = [w for w in text.split() if w not in _FILLERS]
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        joined = word + words[i + 1] if i + 1 < len(words) else ""
        if joined and len(joined) >= 7 and word not in _REQUEST_WORDS and _repaired_word(word) == word \
                and _repaired_word(joined, JOIN_SIMILARITY) in _REQUEST_WORDS:
            out.append(_repaired_word(joined, JOIN_SIMILARITY))  # "con seiller", "inter locuteur", "stand art"
            i += 2
            continue
        out.append(_repaired_word(word))
        i += 1
    text = " ".join(out)
    return re.sub(r"\bquelqu\b(?! un)", "quelqu un", text)


class PersonRequestDetector:
    """Tells whether a transcript explicitly asks for a person."""

    def __init__(self, extra_phrases: tuple[str, ...] = ()):
        patterns = list(_BUILT_IN_PATTERNS)
        patterns += [_staff_pattern(p) for p in extra_phrases if _without_article(canonical_text(p))]
        self._pattern = re.compile("|".join(f"(?:{p})" for p in patterns))

    def asks_for_person(self, text: str) -> bool:
        if self._pattern.search(without_politeness(text)):
            return True
        repaired = " ".join(_POLITENESS.sub(" ", repaired_for_requests(canonical_text(text))).split())
        return self._pattern.search(repaired) is not None
