"""Explicit requests for a person: "je voudrais parler à quelqu'un", "passez-moi l'accueil".

These are recognised by rules, not by the answer matcher, because they must
win over any topic the caller also names ("je voudrais parler à quelqu'un
pour la cantine" wants a person). Staff add their own phrases in
callbot.yaml (`understanding: person_requests:`).
"""

from __future__ import annotations

import re

from callbot.understanding.normalise import strip_accents, surface_words

# "accueil" is a person only when it is not a service's name.
_RECEPTION = r"accueil(?! de loisirs| periscolaire| du centre| de jour| des enfants)"
# Who the caller may ask for. "accueil" only counts after a verb of
# contact, because "accueil de loisirs" and "accueil périscolaire" are services.
_PEOPLE = (r"quelqu un|une? (?:vraie? )?personnes?|(?:la|les) personnes? qui|personne physique|(?:un |une )?(?:etre )?humaine?s?|"
           r"(?:un |une |l |le |la |les )?(?:agent|agente|agents|conseiller|conseillere|operateur|operatrice|"
           r"standardiste|secretaire|secretariat|secretaria|employe|employee|interlocuteur|hotesse|standard|stand art|"
           rf"{_RECEPTION}|responsable|dame)")
_CONTACT_VERBS = (r"parler|parle|discuter|causer|avoir|joindre|passer|passez|passe|transferer|transferez|mettre en relation|"
                  r"mettez|metter|mettre|contacter|eu|avoir affaire|voir|rappeler|rappelle|rappeliez|rappeler|"
                  r"expliquer|explique|adresser")

_BUILT_IN_PATTERNS = (
    # a contact verb, up to four words, then a person: "parler a quelqu un", "passez moi l accueil"
    rf"\b(?:{_CONTACT_VERBS})\b(?: \w+){{0,4}} (?:{_PEOPLE})\b",
    # "je voudrais la secretaire", "j aimerais un conseiller"
    r"\b(?:je veux|je voudrais|je souhaite|je souhaiterais|j aimerais|donnez moi) (?:avoir )?(?:un|une|le|la|l) "
    r"(?:secretaire|secretariat|conseiller|conseillere|agent|standardiste|standard|humain|operateur|operatrice)\b",
    # the person alone as a request: "un conseiller s il vous plait", "le standard"
    r"^(?:(?:je veux|je voudrais|je souhaite|donnez moi|svp|s il vous plait|oui|allo|bonjour|euh) )*"
    r"(?:un |une |le |la |l )?(?:agent|conseiller|conseillere|operateur|operatrice|standard|standardiste|"
    rf"{_RECEPTION}|secretariat|humain|etre humain|vraie personne|quelqu un)\b(?: \w+){{0,3}}$",
    # what the greeting tells callers to say: "une personne"
    r"^(?:(?:je veux|je voudrais|je souhaite|oui|allo|bonjour|euh) )*(?:une )?(?:personne|vraie personne)$",
    # refusing the machine: "pas un robot", "marre de parler a une machine"
    r"\b(?:pas|marre|arretez|stop)\b(?: \w+){0,5} (?:robot|machine|repondeur|ordinateur|automate|serveur vocal)\b",
    r"\b(?:vraie personne|etre humain|personne en chair|quelqu un de vivant|de vive voix)\b",
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


class PersonRequestDetector:
    """Tells whether a transcript explicitly asks for a person."""

    def __init__(self, extra_phrases: tuple[str, ...] = ()):
        patterns = list(_BUILT_IN_PATTERNS)
        patterns += [_staff_pattern(p) for p in extra_phrases if _without_article(canonical_text(p))]
        self._pattern = re.compile("|".join(f"(?:{p})" for p in patterns))

    def asks_for_person(self, text: str) -> bool:
        return self._pattern.search(without_politeness(text)) is not None
