"""Text for the speech synthesiser: digits, symbols and abbreviations as a person says them."""

from datetime import date

import pytest

from callbot.speech_text import ACRONYMS, LETTER_NAMES, speak_date, speak_time, spoken_french

CASES = [
    # times
    ("8h30", "huit heures trente"),
    ("12h", "midi"),
    ("0h", "minuit"),
    ("24h", "minuit"),
    ("17h", "dix-sept heures"),
    ("8 h 30", "huit heures trente"),
    ("8h05", "huit heures cinq"),
    ("8H30", "huit heures trente"),
    ("12h30", "midi trente"),
    ("à 9:30", "à neuf heures trente"),
    ("à 1h", "à une heure"),
    ("à 21h", "à vingt et une heures"),
    ("0h15", "minuit quinze"),
    ("Permanence 14h-18h.", "Permanence de quatorze heures à dix-huit heures."),
    ("Permanence 14h–18h.", "Permanence de quatorze heures à dix-huit heures."),
    ("Permanence de 14h–18h.", "Permanence de quatorze heures à dix-huit heures."),
    ("le samedi 9h-12h30", "le samedi de neuf heures à midi trente"),
    ("De 9:00 - 12:00", "De neuf heures à midi"),
    ("pendant 48h", "pendant quarante-huit heures"),
    ("service 24h/24 et 7j/7", "service vingt-quatre heures sur vingt-quatre et sept jours sur sept"),
    ("La mairie est ouverte du lundi au vendredi, de 8h30 à 12h et de 13h30 à 17h30.",
     "La mairie est ouverte du lundi au vendredi, de huit heures trente à midi "
     "et de treize heures trente à dix-sept heures trente."),
    # dates
    ("03/12/2026", "le trois décembre deux mille vingt-six"),
    ("3/12/2026", "le trois décembre deux mille vingt-six"),
    ("Fermé le 03/12/2026.", "Fermé le trois décembre deux mille vingt-six."),
    ("Du 01/05/26 au 31/05/26", "Du premier mai deux mille vingt-six au trente et un mai deux mille vingt-six"),
    ("RDV le 3/12 à 9h", "rendez-vous le trois décembre à neuf heures"),
    ("du 29/02 au 1/03", "du vingt-neuf février au premier mars"),
    ("1/2", "un/deux"),
    ("le 1er mai", "le premier mai"),
    ("1er mai", "premier mai"),
    ("jusqu'au 1er", "jusqu'au premier"),
    ("le 1 mai", "le premier mai"),
    ("le 2 décembre", "le deux décembre"),
    # ordinals
    ("1re année", "première année"),
    ("la 1ère fois", "la première fois"),
    ("le 2e", "le deuxième"),
    ("le 2ème", "le deuxième"),
    ("au 3e étage", "au troisième étage"),
    ("le 21e", "le vingt et unième"),
    ("la classe de 2nde", "la classe de seconde"),
    ("le 1ᵉʳ mai", "le premier mai"),
    ("au XXe siècle", "au vingtième siècle"),
    ("la Ve République", "la cinquième République"),
    # amounts
    ("250 €", "deux cent cinquante euros"),
    ("250€", "deux cent cinquante euros"),
    ("12,50 €", "douze euros cinquante"),
    ("1,5 €", "un euro cinquante"),
    ("1 €", "un euro"),
    ("1 500 €", "mille cinq cents euros"),
    ("1\u202f500 €", "mille cinq cents euros"),
    ("1\u00a0500\u00a0€", "mille cinq cents euros"),
    ("0,50 €", "cinquante centimes"),
    ("0,01 €", "un centime"),
    ("1 000 000 €", "un million d'euros"),
    ("80 euros", "quatre-vingts euros"),
    # phone numbers and short numbers
    ("01 99 00 12 34", "zéro un, quatre-vingt-dix-neuf, zéro zéro, douze, trente-quatre"),
    ("01.99.00.12.34", "zéro un, quatre-vingt-dix-neuf, zéro zéro, douze, trente-quatre"),
    ("0199001234", "zéro un, quatre-vingt-dix-neuf, zéro zéro, douze, trente-quatre"),
    ("Appelez le 05 61 80 71 91.",
     "Appelez le zéro cinq, soixante et un, quatre-vingts, soixante et onze, quatre-vingt-onze."),
    ("+33 1 99 00 12 34", "plus trente-trois, un, quatre-vingt-dix-neuf, zéro zéro, douze, trente-quatre"),
    ("le 15", "le quinze"),
    ("le 17 ou le 18", "le dix-sept ou le dix-huit"),
    ("le 112", "le cent douze"),
    ("le 3237", "le trois mille deux cent trente-sept"),
    # symbols, units and abbreviations
    ("20 %", "vingt pour cent"),
    ("20\u00a0%", "vingt pour cent"),
    ("3,5 %", "trois virgule cinq pour cent"),
    ("n° 12", "numéro douze"),
    ("N°3", "numéro trois"),
    ("le nº 5", "le numéro cinq"),
    ("50 m²", "cinquante mètres carrés"),
    ("prix au m²", "prix au mètre carré"),
    ("à 3 km", "à trois kilomètres"),
    ("à 1 km", "à un kilomètre"),
    ("15 min", "quinze minutes"),
    ("Pierre & Marie", "Pierre et Marie"),
    ("photos, etc. Merci.", "photos, et cetera. Merci."),
    ("(photos, justificatifs, etc.)", "(photos, justificatifs, et cetera)"),
    ("papiers, etc.", "papiers, et cetera."),
    ("M. Dupont", "monsieur Dupont"),
    ("MM. Durand et Petit", "messieurs Durand et Petit"),
    ("Mme Martin", "madame Martin"),
    ("rue St-Jean", "rue Saint-Jean"),
    ("la lettre M.", "la lettre M."),
    # acronyms
    ("le CCAS", "le cé cé a esse"),
    ("la CNI", "la carte nationale d'identité"),
    ("le PLU", "le plan local d'urbanisme"),
    ("un PACS", "un pacs"),
    ("les HLM", "les hache elle aime"),
    ("la CAF", "la caf"),
    ("l'ANTS", "l'a enne té esse"),
    ("l'EHPAD", "l'èpade"),
    ("la SNCF", "la esse enne cé effe"),
    ("le RSA", "le erre esse a"),
    ("les APL", "les a pé elle"),
    ("la JDC", "la journée défense et citoyenneté"),
    ("le SAMU", "le samu"),
    ("accès PMR", "accès personnes à mobilité réduite"),
    ("en CM2 ou en CE1", "en cé aime deux ou en cé eu un"),
    ("la TV", "la té vé"),
    ("Louis XV", "Louis XV"),
    ("MAIRIE FERMÉE LE LUNDI", "MAIRIE FERMÉE LE LUNDI"),
    # e-mail and web addresses
    ("accueil@val-de-lisiere.fr", "accueil arobase val tiret de tiret lisiere point f r"),
    ("Écrivez à etat.civil@val-de-lisiere.fr.",
     "Écrivez à etat point civil arobase val tiret de tiret lisiere point f r."),
    ("mairie_2@exemple.com", "mairie tiret bas deux arobase exemple point com"),
    ("www.service-public.fr", "service public point f r"),
    ("Voir https://www.service-public.fr/particuliers.", "Voir service public point f r slash particuliers."),
    ("sur ants.gouv.fr", "sur ants point gouv point f r"),
    # other numbers
    ("3,5", "trois virgule cinq"),
    ("3,05", "trois virgule zéro cinq"),
    ("2026", "deux mille vingt-six"),
    ("en 2026", "en deux mille vingt-six"),
    ("1 500 habitants", "mille cinq cents habitants"),
    ("les 80 ans", "les quatre-vingts ans"),
    ("21 ans", "vingt et un ans"),
    ("1 personne, 21 semaines", "une personne, vingt et une semaines"),
    # whitespace
    ("  Bonjour,\n  à   bientôt !  ", "Bonjour, à bientôt !"),
]

ORDINARY = [
    "Bonjour, vous êtes bien à la mairie de Val-de-Lisière.",
    "Les ordures ménagères sont ramassées le mardi matin ; sortez le bac la veille au soir.",
    "Pour une carte d'identité, prenez rendez-vous en ligne ou à l'accueil.",
    "Le maire reçoit sur rendez-vous, le samedi matin.",
    "Vous pouvez aussi écrire : nous répondons sous huit jours !",
    "Est-ce que je peux vous aider pour autre chose ?",
    "L'état civil (naissances, mariages, décès) est au rez-de-chaussée.",
    "Monsieur le maire et madame l'adjointe vous remercient.",
    "",
]


@pytest.mark.parametrize("text, spoken", CASES)
def test_spoken_french(text, spoken):
    assert spoken_french(text) == spoken


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_french_is_unchanged(text):
    assert spoken_french(text) == text


@pytest.mark.parametrize("text", [text for text, _ in CASES] + ORDINARY)
def test_spoken_text_is_read_as_it_is(text):
    once = spoken_french(text)
    assert spoken_french(once) == once


@pytest.mark.parametrize("text", [text for text, _ in CASES])
def test_no_digit_is_left_for_the_voice(text):
    assert not any(c.isdigit() for c in spoken_french(text))


@pytest.mark.parametrize("hour, minute, spoken", [
    (8, 30, "huit heures trente"),
    (1, 0, "une heure"),
    (12, 0, "midi"),
    (12, 15, "midi quinze"),
    (0, 0, "minuit"),
    (24, 0, "minuit"),
    (17, 1, "dix-sept heures une"),
    (21, 21, "vingt et une heures vingt et une"),
])
def test_speak_time(hour, minute, spoken):
    assert speak_time(hour, minute) == spoken


@pytest.mark.parametrize("hour, minute", [(25, 0), (24, 30), (8, 60), (-1, 0)])
def test_speak_time_rejects_impossible_times(hour, minute):
    with pytest.raises(ValueError):
        speak_time(hour, minute)


def test_speak_date():
    assert speak_date(date(2026, 12, 3)) == "le jeudi trois décembre"
    assert speak_date(date(2026, 5, 1)) == "le vendredi premier mai"
    assert speak_date(date(2026, 8, 31), weekday=False, year=True) == "le trente et un août deux mille vingt-six"


def test_acronym_table_is_well_formed():
    for acronym, said in ACRONYMS.items():
        assert acronym.isalpha() and acronym.isupper(), acronym
        assert said is None or said[0].islower(), acronym  # capitals would be spelled by the voice
        assert spoken_french(acronym) == (said or " ".join(LETTER_NAMES[c] for c in acronym.lower()))
