"""Explicit requests for a person are recognised by rules, whatever topic is also named."""

from pathlib import Path

import pytest

from callbot.evaluation import damage, read_corpus

from callbot.understanding.person import PersonRequestDetector

ASKS_FOR_PERSON = [
    "je voudrais parler à quelqu un",
    "passez moi l accueil s il vous plaît",
    "est ce que je peux avoir le standard",
    "mettez moi en relation avec un agent",
    "un conseiller s il vous plaît",
    "je veux parler à un être humain",
    "je veux pas parler à une machine",
    "j en ai marre de ce robot",
    "je voudrais parler à quelqu un pour la cantine de ma fille",
    "bonjour je voudrais la secrétaire",
    "une vraie personne",
    "une personne",
    "euh une personne s il vous plaît",
    "Je voudrais parler à quelqu'un, s'il vous plaît.",
    "je voudrais parler à la personne qui s occupe de l état civil",
    "pouvez vous me transférer s il vous plaît",
    "c est compliqué je préfère l expliquer à une personne",
    "est ce qu il y a quelqu un à qui je peux parler",
    "je voudrais vous parler de vive voix",
    "passez moi le stand art",  # "standard" as recognition splits it
    "zéro",  # what the greeting says to press, said instead
    "est ce que quelqu un peut me rappeler",
    "passez moi le service urbanisme",
    "vous pouvez me passer un collègue",
]

NOT_A_PERSON_REQUEST = [
    "les horaires de l accueil de loisirs",
    "l accueil périscolaire le matin",
    "je voudrais parler au maire",
    "ma mère est une personne âgée elle a besoin d aide",
    "une personne âgée",
    "il n y a personne qui ramasse les poubelles",
    "je voudrais inscrire mon fils à la cantine",
    "bonjour je voudrais parler à monsieur lefèvre",
    "je voudrais déclarer le décès de la personne qui habitait chez moi",
    "la personne qui s occupe de la cantine m a dit de rappeler",
    "je voudrais m adresser à la mairie pour un permis de construire",
    "il y a quelqu un qui a trouvé mes clés",
    "je dois passer au service urbanisme pour mon permis",
    "le zéro déchet",
]


@pytest.fixture(scope="module")
def detector() -> PersonRequestDetector:
    return PersonRequestDetector(("le garde champêtre",))


@pytest.mark.parametrize("text", ASKS_FOR_PERSON)
def test_explicit_requests_for_a_person(detector, text):
    assert detector.asks_for_person(text)


@pytest.mark.parametrize("text", NOT_A_PERSON_REQUEST)
def test_topics_that_only_mention_people(detector, text):
    assert not detector.asks_for_person(text)


def test_staff_phrases_extend_the_rules(detector):
    assert detector.asks_for_person("je voudrais joindre le garde-champêtre")
    assert detector.asks_for_person("je voudrais parler au garde champêtre")
    assert not PersonRequestDetector().asks_for_person("je voudrais joindre le garde champêtre")


# Damaged the way a weak recogniser damages them (callbot.evaluation.damage, seeded): measured on every request
# for a person of the tuning corpora, never on a list of phrases; and nothing else may turn into one.
CORPUS = Path(__file__).parent / "corpus"
DEV_CORPORA = ("dev.tsv", "dev2.tsv", "dev3.tsv")


def _lines(label_is_transfer: bool):
    return [line for name in DEV_CORPORA for line in read_corpus(CORPUS / name)
            if (line.expected == "transfer") == label_is_transfer]


def test_damaged_requests_for_a_person_still_transfer(detector):
    requests = _lines(True)
    assert len(requests) >= 80
    heard = [detector.asks_for_person(damage(line.text, seed)) for line in requests for seed in (1, 2, 3)]
    assert sum(heard) / len(heard) >= 0.98, f"{sum(heard)}/{len(heard)}"


def test_damage_does_not_turn_other_calls_into_requests_for_a_person(detector):
    others = _lines(False)
    wrongly = [damage(line.text, seed) for line in others for seed in (1, 2)
               if detector.asks_for_person(damage(line.text, seed))]
    assert len(wrongly) <= len(others) * 2 // 500, wrongly


@pytest.mark.parametrize("text", [
    "parlé a quelqun", "mettez moi avec le standar", "je veux un humin euh", "la dame de l acceuil",
    "passez moi euh quelqu", "parlé à con seiller",
])
def test_the_damaged_forms_named_in_issue_14(detector, text):
    assert detector.asks_for_person(text)
