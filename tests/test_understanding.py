"""French understanding on the example commune: measured on labelled corpora, and pinned by examples."""

from pathlib import Path

import pytest

from callbot.evaluation import damage, evaluate, read_corpus

CORPUS = Path(__file__).parent / "corpus"

# Floors: the figures reached when this test was last tightened (see README, "Measured"), with the example's
# settings (threshold 0.65, clarifying questions from 0.40) and the common base adopted.
# They fail the suite if a change to the matcher, the lexicon, the base or the example sheets makes understanding worse.
FLOORS = {
    # corpus: (right on the first turn, right within two turns, off-topic not answered, wrong answers at most)
    "dev.tsv": (0.955, 0.99, 0.98, 0.01),
    "dev2.tsv": (0.905, 0.97, 0.98, 0.01),
    "dev3.tsv": (0.89, 0.955, 0.94, 0.025),
    "test2.tsv": (0.89, 0.94, 0.98, 0.025),
}
# The same after seeded recognition-like damage (callbot.evaluation.damage, seed 1).
DAMAGED_FLOORS = {
    "dev.tsv": (0.825, 0.92, 0.97, 0.025),
    "dev2.tsv": (0.78, 0.88, 0.91, 0.025),
    "dev3.tsv": (0.79, 0.90, 0.92, 0.04),
    "test2.tsv": (0.77, 0.875, 0.96, 0.04),
}


@pytest.mark.parametrize("name, damage_seed", [(n, None) for n in sorted(FLOORS)] + [(n, 1) for n in sorted(DAMAGED_FLOORS)])
def test_corpus_figures_stay_above_their_floors(example, name, damage_seed):
    corpus = read_corpus(CORPUS / name)
    assert len(corpus) >= 400
    report = evaluate(example.matcher, corpus, example.book.titles(), damage_seed)
    assert report.off_topic / (report.off_topic + report.in_scope) >= 0.14  # one line in seven at least
    first, two_turns, rejected, wrong = (FLOORS if damage_seed is None else DAMAGED_FLOORS)[name]
    assert report.correct_rate >= first, report.summary()
    assert report.two_turn_rate >= two_turns, report.summary()
    assert report.rejection_rate >= rejected, report.summary()
    assert report.wrong_answer_rate <= wrong, report.summary()


@pytest.mark.parametrize("name", ["dev.tsv", "dev2.tsv", "dev3.tsv"])
def test_requests_for_a_person_transfer_clean_and_damaged(example, name):
    corpus = read_corpus(CORPUS / name)
    for seed in (None, 1, 2):
        report = evaluate(example.matcher, corpus, example.book.titles(), seed)
        assert report.person_requests >= 25 and report.person_rate == 1.0, (seed, report.summary())


def test_damage_is_seeded_and_deterministic():
    text = "je voudrais parler à quelqu'un de l'accueil pour une inscription"
    assert damage(text, 1) == damage(text, 1)
    assert {damage(text, seed) for seed in range(10)} != {text}
    assert all("," not in damage(text, seed) for seed in range(10))


def test_corpora_cover_every_answer_and_only_known_labels(example):
    ids = {a.id for a in example.book.answers}
    for name in FLOORS:
        labels = {line.expected for line in read_corpus(CORPUS / name)}
        assert labels <= ids | {"nomatch", "transfer"}
        assert ids <= labels, f"{name} lacks {sorted(ids - labels)}"


@pytest.mark.parametrize("text, expected", [
    # one-word calls
    ("recensement", "recensement_citoyen"),
    ("la cantine", "cantine"),
    ("passeport", "carte_identite_passeport"),
    # politeness and hesitations around the topic
    ("oui bonjour excusez moi de vous déranger euh je voulais savoir pour les encombrants", "encombrants"),
    # elision without apostrophe, colloquial words
    ("c est pour un acte de naissance", "acte_naissance"),
    ("la cantoche de mon gamin", "cantine"),
    ("ils passent quand les éboueurs", "ordures_menageres"),
    # digits and number words alike
    ("mon fils a 16 ans il doit se faire recenser", "recensement_citoyen"),
    ("mon fils a seize ans il doit se faire recenser", "recensement_citoyen"),
    # a recognition error absorbed by fuzzy matching
    ("où se trouve la déchèterie", "dechetterie"),
    ("la médiatèque elle ouvre quand", "mediatheque"),
    # "en train de" is not the train
    ("je suis en train de chercher les horaires de la mairie", "horaires_mairie"),
    ("je voudrais construire une piscine", "urbanisme"),
])
def test_spoken_french_reaches_the_right_answer(example, text, expected):
    decision = example.matcher.decide(text)
    assert (decision.action, decision.answer) == ("answer", expected), decision


@pytest.mark.parametrize("text", [
    "c est pour ma carte grise",
    "je voudrais des renseignements sur mes impôts",
    "c est bien la pizzeria",
    "allô allô",
    "euh",
    "",
    "quel temps fait il demain",
    # opening hours of somewhere else than the mairie's services
    "les horaires du train pour paris",
    "quels sont les horaires de la piscine",
])
def test_off_topic_calls_are_not_answered(example, text):
    # at most the bot asks whether the caller means a close answer ("clarify"), which the caller declines
    assert example.matcher.decide(text).action in ("nomatch", "clarify")


def test_emergency_answer_transfers_to_the_on_call_service(example):
    decision = example.matcher.decide("il y a un arbre tombé en travers de la route cette nuit c est une urgence")
    assert (decision.action, decision.answer, decision.target) == ("transfer", "urgence_astreinte", "astreinte")


def test_request_for_a_person_wins_over_the_topic(example):
    decision = example.matcher.decide("je voudrais parler à quelqu un pour la cantine")
    assert (decision.action, decision.answer, decision.target) == ("transfer", None, "accueil")


def test_a_tie_between_two_answers_is_not_answered(example):
    # "naissance" alone could be the certificate or the declaration: ask again rather than guess
    decision = example.matcher.decide("naissance")
    assert decision.action == "nomatch" or decision.score - decision.runner_up_score >= 0.03


def test_matching_is_deterministic(example):
    texts = ["les poubelles", "le marché", "passez moi l accueil"]
    assert [example.matcher.decide(t) for t in texts] == [example.matcher.decide(t) for t in texts]


def test_example_answers_use_vouvoiement(example):
    familiar = {"tu", "te", "toi", "ton", "ta", "tes", "t"}
    for answer in example.book.answers:
        words = set(answer.answer.lower().replace("'", " ").replace("-", " ").split())
        assert not words & familiar, (answer.id, words & familiar)
