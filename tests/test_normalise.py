"""French normalisation: the same tokens whatever the spelling, case, elision or number form."""

import pytest

from callbot.understanding.normalise import Normaliser, spell_numbers, surface_words

SYNONYMS = {
    "carte d'identité": ("cni", "carte d id", "carte nationale d identité"),
    "ordures ménagères": ("poubelles", "ordures", "sacs noirs"),
    "cantine": ("cantoche", "restauration scolaire"),
}


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(SYNONYMS)


@pytest.mark.parametrize("left, right", [
    ("L'État civil", "l etat civil"),
    ("l’état-civil ?", "L ÉTAT CIVIL"),
    ("Mon fils a 16 ans", "mon fils a seize ans"),
    ("le 1er mai", "le premier mai"),
    ("ouvert à 8h30", "ouvert à huit heures trente"),
    ("les poubelles", "les ordures"),
    ("la cantoche", "la restauration scolaire"),
    ("ma CNI", "ma carte nationale d'identité"),
    ("la carte d identite", "la carte d'identité"),
    ("inscriptions", "inscription"),
])
def test_equivalent_texts_give_the_same_tokens(normaliser, left, right):
    assert normaliser.tokens(left) == normaliser.tokens(right)


@pytest.mark.parametrize("text", [
    "bonjour excusez moi de vous déranger je voulais savoir",
    "euh allô allô oui",
    "merci beaucoup madame",
    "",
])
def test_fillers_and_politeness_leave_nothing(normaliser, text):
    assert normaliser.tokens(text) == ()


def test_politeness_around_a_topic_keeps_only_the_topic(normaliser):
    assert normaliser.tokens("bonjour madame euh je voulais savoir pour la cantoche s il vous plaît") == ("#cantine",)


def test_longest_lexicon_phrase_wins(normaliser):
    tokens = normaliser.tokens("une carte d identité")
    assert tokens == ("#carte_d_identite",)
    assert "cart" in normaliser.tokens("une carte grise")


def test_different_topics_stay_different(normaliser):
    assert normaliser.tokens("les poubelles") != normaliser.tokens("la cantine")


@pytest.mark.parametrize("text, expected", [
    ("16", "seize"),
    ("2e étage", "deuxième étage"),
    ("à 17h", "à dix-sept heures "),
    ("3,5", "trois virgule cinq"),
])
def test_numbers_are_spelled_as_a_recogniser_writes_them(text, expected):
    assert spell_numbers(text) == expected


def test_surface_words_split_elisions_and_hyphens():
    assert surface_words("Qu'est-ce que l'on fait ?") == ["qu", "est", "ce", "que", "l", "on", "fait"]
