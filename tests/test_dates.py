"""Dates and times in French transcripts, always relative to a pinned `today`."""

from datetime import date, time

import pytest

from callbot.understanding.dates import DateSpan, easter, find_date, find_time

MON = date(2026, 6, 15)
WED = date(2026, 6, 17)
FRI = date(2026, 6, 19)
SAT = date(2026, 6, 20)
SUN = date(2026, 6, 21)
NYE = date(2026, 12, 31)  # a Thursday: the year rolls over
HOLY = date(2027, 3, 22)  # Monday before Easter 2027 (28 March)
LEAP = date(2028, 2, 29)  # a Tuesday

# (transcript, today, expected start, expected end or None for a single day); start None: no date.
CASES = [
    # relative days
    ("la mairie est ouverte aujourd hui", MON, "2026-06-15", None),
    ("aujourd'hui", WED, "2026-06-17", None),
    ("AUJOURD'HUI ?", WED, "2026-06-17", None),
    ("aujourdhui", WED, "2026-06-17", None),
    ("ce matin", WED, "2026-06-17", None),
    ("cet après midi", WED, "2026-06-17", None),
    ("je rappellerai tout à l heure", WED, "2026-06-17", None),
    ("la mairie est ouverte demain", WED, "2026-06-18", None),
    ("demain matin", WED, "2026-06-18", None),
    ("après demain", WED, "2026-06-19", None),
    ("apres demain", WED, "2026-06-19", None),
    ("après-demain", WED, "2026-06-19", None),
    ("hier", WED, "2026-06-16", None),
    ("avant hier", WED, "2026-06-15", None),
    ("demain", NYE, "2027-01-01", None),
    ("demain", LEAP, "2028-03-01", None),
    ("hier", LEAP, "2028-02-28", None),
    # weekdays
    ("lundi", MON, "2026-06-15", None),  # said on a Monday: today
    ("la mairie est ouverte lundi", MON, "2026-06-15", None),
    ("lundi prochain", MON, "2026-06-22", None),
    ("ce lundi", MON, "2026-06-15", None),
    ("lundi dernier", MON, "2026-06-08", None),
    ("mardi dernier", MON, "2026-06-09", None),
    ("dimanche", MON, "2026-06-21", None),
    ("jeudi en huit", MON, "2026-06-25", None),
    ("c est quoi le menu de la cantine jeudi", WED, "2026-06-18", None),
    ("lundi", WED, "2026-06-22", None),
    ("lundi prochain", WED, "2026-06-22", None),
    ("ce lundi", WED, "2026-06-22", None),
    ("mercredi", WED, "2026-06-17", None),
    ("mercredi prochain", WED, "2026-06-24", None),
    ("vendredi prochain", WED, "2026-06-26", None),
    ("ce vendredi", WED, "2026-06-19", None),
    ("mardi dernier", WED, "2026-06-16", None),
    ("ils passent les poubelles lundi c est férié", WED, "2026-06-22", None),
    ("lundi", FRI, "2026-06-22", None),
    ("lundi prochain", FRI, "2026-06-22", None),  # same day as "lundi" on a Friday
    ("vendredi", FRI, "2026-06-19", None),
    ("samedi prochain", SAT, "2026-06-27", None),
    ("dimanche", SAT, "2026-06-21", None),
    ("lundi", SUN, "2026-06-22", None),
    ("dimanche dernier", SUN, "2026-06-14", None),
    # weeks, weekends, months
    ("la semaine prochaine", MON, "2026-06-22", "2026-06-28"),
    ("cette semaine", MON, "2026-06-15", "2026-06-21"),
    ("la semaine dernière", MON, "2026-06-08", "2026-06-14"),
    ("cette semaine", WED, "2026-06-17", "2026-06-21"),
    ("cette semaine", SUN, "2026-06-21", "2026-06-21"),
    ("la semaine prochaine", SUN, "2026-06-22", "2026-06-28"),
    ("la semaine prochaine", NYE, "2027-01-04", "2027-01-10"),
    ("la semaine prochaine", LEAP, "2028-03-06", "2028-03-12"),
    ("ce week end", MON, "2026-06-20", "2026-06-21"),
    ("ce week-end", FRI, "2026-06-20", "2026-06-21"),
    ("ce weekend", SAT, "2026-06-20", "2026-06-21"),
    ("ce week end", SUN, "2026-06-21", "2026-06-21"),  # on a Sunday: what is left of it
    ("ce week end", NYE, "2027-01-02", "2027-01-03"),
    ("le week end prochain", MON, "2026-06-27", "2026-06-28"),
    ("le week-end prochain", SAT, "2026-06-27", "2026-06-28"),
    ("le weekend prochain", SUN, "2026-06-27", "2026-06-28"),
    ("le mois prochain", MON, "2026-07-01", "2026-07-31"),
    ("le mois prochain", NYE, "2027-01-01", "2027-01-31"),
    # absolute dates
    ("le 25 décembre", WED, "2026-12-25", None),
    ("le vingt cinq décembre", WED, "2026-12-25", None),
    ("bonjour je voulais savoir si la mairie est ouverte le vingt cinq décembre s il vous plaît",
     WED, "2026-12-25", None),
    ("le premier mai", WED, "2027-05-01", None),
    ("le 1er mai", WED, "2027-05-01", None),
    ("le quatorze juillet", WED, "2026-07-14", None),
    ("le 14/07", WED, "2026-07-14", None),
    ("le 3 décembre", WED, "2026-12-03", None),
    ("le 3/12", WED, "2026-12-03", None),
    ("le 03/12/2026", WED, "2026-12-03", None),
    ("le trois décembre deux mille vingt six", WED, "2026-12-03", None),
    ("mardi trois décembre", WED, "2026-12-03", None),
    ("le trente et un decembre", WED, "2026-12-31", None),
    ("le dix sept juin", WED, "2026-06-17", None),  # today included
    ("le seize juin", WED, "2027-06-16", None),  # past this year: next year
    ("le 16 juin 2026", WED, "2026-06-16", None),  # an explicit year may be past
    ("le premier janvier", NYE, "2027-01-01", None),
    ("le vingt neuf février", LEAP, "2028-02-29", None),
    ("le 29/02", LEAP, "2028-02-29", None),
    ("le vingt neuf février", date(2028, 3, 1), "2032-02-29", None),
    ("le quinze", MON, "2026-06-15", None),
    ("le quinze", WED, "2026-07-15", None),
    ("le quatorze", MON, "2026-07-14", None),
    ("le trente et un", MON, "2026-07-31", None),  # June has 30 days
    ("le quinze", NYE, "2027-01-15", None),
    ("le trente", LEAP, "2028-03-30", None),  # no 30 February
    ("lundi quinze", MON, "2026-06-15", None),
    # holidays
    ("noël", WED, "2026-12-25", None),
    ("c est ouvert à noel", WED, "2026-12-25", None),
    ("noël", NYE, "2027-12-25", None),
    ("le jour de l an", WED, "2027-01-01", None),
    ("le jour de l an", NYE, "2027-01-01", None),
    ("le nouvel an", NYE, "2027-01-01", None),
    ("la saint sylvestre", NYE, "2026-12-31", None),
    ("la toussaint", WED, "2026-11-01", None),
    ("l armistice", WED, "2026-11-11", None),
    ("le onze novembre", WED, "2026-11-11", None),
    ("la fête du travail", WED, "2027-05-01", None),
    ("le huit mai", WED, "2027-05-08", None),
    ("la fête nationale", WED, "2026-07-14", None),
    ("l assomption", WED, "2026-08-15", None),
    ("le quinze août", WED, "2026-08-15", None),
    ("pâques", WED, "2027-03-28", None),
    ("pâques", HOLY, "2027-03-28", None),
    ("lundi de pâques", HOLY, "2027-03-29", None),
    ("le lundi de paques", HOLY, "2027-03-29", None),
    ("l ascension", HOLY, "2027-05-06", None),
    ("la pentecôte", HOLY, "2027-05-16", None),
    ("lundi de pentecôte", HOLY, "2027-05-17", None),
    ("le lundi de pâques", date(2027, 3, 30), "2028-04-17", None),  # past: next year's
    # relative counts
    ("dans trois jours", MON, "2026-06-18", None),
    ("dans une semaine", MON, "2026-06-22", None),
    ("dans 15 jours", MON, "2026-06-29", None),
    ("dans quinze jours", MON, "2026-06-29", None),
    ("dans huit jours", MON, "2026-06-22", None),
    ("il y a deux jours", MON, "2026-06-13", None),
    ("dans un mois", MON, "2026-07-15", None),
    ("dans une semaine", NYE, "2027-01-07", None),
    ("dans un mois", LEAP, "2028-03-29", None),
    # the first date expression wins
    ("demain ou lundi", WED, "2026-06-18", None),
    ("pas lundi mais mardi", WED, "2026-06-22", None),
    ("le vingt cinq décembre ou le premier janvier", WED, "2026-12-25", None),
    ("j ai rendez vous le seize à seize heures", WED, "2026-07-16", None),
    # no date: numbers that are not dates, generic words
    ("mon fils a seize ans", WED, None, None),
    ("j habite au 12 rue des lilas", WED, None, None),
    ("j habite le 12 rue des lilas", WED, None, None),
    ("deux poubelles", WED, None, None),
    ("seize heures", WED, None, None),
    ("à dix sept heures", WED, None, None),
    ("dans trois heures", WED, None, None),
    ("le premier étage", WED, None, None),
    ("le 15/13", WED, None, None),
    ("le trente et un février", WED, None, None),
    ("la mairie est ouverte le week end", WED, None, None),
    ("c est ouvert toute la semaine", WED, None, None),
    ("bonjour je voudrais une carte d identité", WED, None, None),
    ("", WED, None, None),
]


@pytest.mark.parametrize("text, today, start, end", CASES)
def test_find_date(text, today, start, end):
    found = find_date(text, today)
    if start is None:
        assert found is None
        return
    assert found is not None
    assert (found.start, found.end) == (date.fromisoformat(start), date.fromisoformat(end or start))


def test_enough_cases():
    assert len(CASES) >= 70


@pytest.mark.parametrize("text, today, day", [
    ("ce soir", FRI, "2026-06-19"),
    ("demain soir", FRI, "2026-06-20"),
    ("hier soir", FRI, "2026-06-18"),
    ("vendredi soir", WED, "2026-06-19"),
])
def test_evening(text, today, day):
    found = find_date(text, today)
    assert found == DateSpan(date.fromisoformat(day), date.fromisoformat(day), found.expression, True)
    assert found.single_day


def test_expression_is_the_words_heard():
    found = find_date("bonjour c est ouvert lundi prochain merci", WED)
    assert found.expression == "lundi prochain" and not found.evening
    found = find_date("la mairie est ouverte le vingt cinq décembre", WED)
    assert found.expression == "le vingt cinq décembre"
    assert not find_date("la semaine prochaine", WED).single_day


@pytest.mark.parametrize("year, day", [
    (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5)),
    (2027, date(2027, 3, 28)), (2028, date(2028, 4, 16)), (2038, date(2038, 4, 25)),
])
def test_easter(year, day):
    assert easter(year) == day


@pytest.mark.parametrize("text, expected", [
    ("à dix sept heures", time(17, 0)),
    ("à 17h30", time(17, 30)),
    ("à 17 h", time(17, 0)),
    ("17:45", time(17, 45)),
    ("vers midi", time(12, 0)),
    ("à midi et demie", time(12, 30)),
    ("à minuit", time(0, 0)),
    ("à huit heures trente", time(8, 30)),
    ("à neuf heures et demie", time(9, 30)),
    ("à quatorze heures quinze", time(14, 15)),
    ("à dix heures et quart", time(10, 15)),
    ("à cinq heures moins le quart", time(4, 45)),
    ("à huit heures du soir", time(20, 0)),
    ("à une heure", time(1, 0)),
    ("demain à seize heures quarante cinq", time(16, 45)),
    ("seize heures", time(16, 0)),
    ("cet après midi", None),
    ("dans deux heures", None),
    ("pendant une heure", None),
    ("il y a deux heures", None),
    ("mon fils a seize ans", None),
    ("le vingt cinq décembre", None),
    ("", None),
])
def test_find_time(text, expected):
    assert find_time(text) == expected
