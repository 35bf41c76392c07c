"""Public holidays, opening hours, waste collection and canteen menus: dates always pinned."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, time
from pathlib import Path

import pytest

from callbot.calendar import (
    Collection, Noun, Stream, collection_days, describe_collection, describe_day, describe_menu,
    holiday_name, is_open, is_public_holiday, load_collections, load_menus, load_school_holidays,
    load_schedule, next_collection, next_opening, office_open, opening_on, public_holidays,
)
from callbot.yamlsource import ERROR, WARNING

DATA = Path(__file__).resolve().parent.parent / "callbot" / "example" / "data"
D = date.fromisoformat


def T(text: str) -> time:
    return time.fromisoformat(text)


def DT(text: str) -> datetime:
    return datetime.fromisoformat(text)


MAIRIE_HOURS = [(T("08:30"), T("12:00")), (T("13:30"), T("17:30"))]


@pytest.fixture(scope="module")
def schedule():
    loaded, diagnostics = load_schedule(DATA / "horaires.yaml")
    assert diagnostics == []
    return loaded


@pytest.fixture(scope="module")
def schedule_am():
    loaded, diagnostics = load_schedule(DATA / "horaires.yaml", alsace_moselle=True)
    assert diagnostics == []
    return loaded


@pytest.fixture(scope="module")
def mairie(schedule):
    return schedule.place("mairie")


@pytest.fixture(scope="module")
def collections():
    loaded, diagnostics = load_collections(DATA / "collectes.yaml")
    assert diagnostics == []
    return loaded


@pytest.fixture(scope="module")
def school():
    loaded, diagnostics = load_school_holidays(DATA / "vacances_scolaires.yaml")
    assert diagnostics == []
    return loaded


@pytest.fixture(scope="module")
def menus():
    loaded, diagnostics = load_menus(DATA / "menus_cantine.csv")
    assert diagnostics == []
    return loaded


def stream(days, weeks="toutes", rule="lendemain", alsace_moselle=False,
           name=Noun("les ordures ménagères", True, True), since=None) -> Stream:
    return Stream("om", name, tuple(days), weeks, rule, alsace_moselle, since)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors(diagnostics, severity=ERROR) -> str:
    return "\n".join(str(d) for d in diagnostics if d.severity == severity)


# ---------------------------------------------------------------------------
# Public holidays
# ---------------------------------------------------------------------------

def test_public_holidays_2026():
    assert public_holidays(2026) == {
        D("2026-01-01"): "Jour de l'an",
        D("2026-04-06"): "Lundi de Pâques",
        D("2026-05-01"): "Fête du Travail",
        D("2026-05-08"): "Fête de la Victoire",
        D("2026-05-14"): "Ascension",
        D("2026-05-25"): "Lundi de Pentecôte",
        D("2026-07-14"): "Fête nationale",
        D("2026-08-15"): "Assomption",
        D("2026-11-01"): "Toussaint",
        D("2026-11-11"): "Armistice",
        D("2026-12-25"): "Noël",
    }


def test_public_holidays_2027_movable_feasts():
    found = public_holidays(2027)
    assert found[D("2027-03-29")] == "Lundi de Pâques"
    assert found[D("2027-05-06")] == "Ascension"
    assert found[D("2027-05-17")] == "Lundi de Pentecôte"
    assert len(found) == 11


@pytest.mark.parametrize("month_day", ["01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25"])
@pytest.mark.parametrize("year", [2026, 2027])
def test_fixed_holidays_every_year(year, month_day):
    assert is_public_holiday(D(f"{year}-{month_day}"))


def test_alsace_moselle_adds_good_friday_and_saint_stephen():
    extra_2026 = set(public_holidays(2026, alsace_moselle=True)) - set(public_holidays(2026))
    extra_2027 = set(public_holidays(2027, alsace_moselle=True)) - set(public_holidays(2027))
    assert extra_2026 == {D("2026-04-03"), D("2026-12-26")}
    assert extra_2027 == {D("2027-03-26"), D("2027-12-26")}
    assert holiday_name(D("2026-04-03"), alsace_moselle=True) == "Vendredi saint"
    assert holiday_name(D("2026-12-26"), alsace_moselle=True) == "Saint-Étienne"
    assert not is_public_holiday(D("2026-04-03"))


def test_holidays_on_a_weekend_are_still_listed():
    assert D("2027-05-01").weekday() == 5 and is_public_holiday(D("2027-05-01"))
    assert D("2027-12-25").weekday() == 5 and is_public_holiday(D("2027-12-25"))
    assert D("2026-11-01").weekday() == 6 and holiday_name(D("2026-11-01")) == "Toussaint"


def test_easter_and_whit_sundays_and_ordinary_days_are_not_public_holidays():
    assert not is_public_holiday(D("2026-04-05"))   # Easter Sunday
    assert not is_public_holiday(D("2026-05-24"))   # Whit Sunday
    assert not is_public_holiday(D("2026-12-24"))
    assert holiday_name(D("2026-12-03")) is None


# ---------------------------------------------------------------------------
# Opening hours
# ---------------------------------------------------------------------------

def test_example_schedule_has_its_places(schedule):
    assert schedule.keys == ("mairie", "dechetterie", "mediatheque")
    assert schedule.office == "mairie"
    assert schedule.place("dechetterie").name == "la déchetterie"


def test_opening_on_an_ordinary_day(mairie):
    hours = opening_on(mairie, D("2026-12-03"))
    assert hours == MAIRIE_HOURS
    assert hours.reason is None and hours.holiday is None


def test_opening_on_a_public_holiday_is_empty_with_its_name(mairie):
    hours = opening_on(mairie, D("2026-12-25"))
    assert hours == [] and hours.reason == "Noël" and hours.holiday == "Noël"


def test_half_day_closure_keeps_the_morning(mairie):
    hours = opening_on(mairie, D("2026-12-24"))
    assert hours == [(T("08:30"), T("12:00"))]
    assert hours.reason == "fermeture exceptionnelle l'après-midi"


def test_closure_limited_to_saturdays_of_august(mairie):
    assert opening_on(mairie, D("2026-08-08")) == []
    assert opening_on(mairie, D("2026-08-08")).reason == "pas de permanence le samedi en août"
    assert opening_on(mairie, D("2026-08-07")) == MAIRIE_HOURS
    assert opening_on(mairie, D("2026-09-05")) == [(T("09:00"), T("12:00"))]


def test_closure_period_closes_every_day(schedule):
    mediatheque = schedule.place("mediatheque")
    for day in ("2026-12-24", "2026-12-30", "2027-01-02"):
        assert opening_on(mediatheque, D(day)) == []
    assert opening_on(mediatheque, D("2027-01-05")) == [(T("15:00"), T("18:00"))]


@pytest.mark.parametrize("moment, expected", [
    ("2026-12-03T08:29", False),
    ("2026-12-03T08:30", True),
    ("2026-12-03T11:59", True),
    ("2026-12-03T12:00", False),   # the closing minute is closed
    ("2026-12-03T13:30", True),
    ("2026-12-03T17:30", False),
    ("2026-12-05T10:00", True),    # Saturday morning
    ("2026-12-05T14:00", False),
    ("2026-12-06T10:00", False),   # Sunday
    ("2026-12-25T10:00", False),   # Noël
    ("2026-12-24T15:00", False),   # afternoon closed
    ("2026-12-24T10:00", True),
    ("2026-05-14T10:00", False),   # Ascension
    ("2026-05-15T10:00", True),    # the bridge day is an ordinary day
])
def test_is_open(mairie, moment, expected):
    assert is_open(mairie, DT(moment)) is expected


def test_office_open_follows_the_mairie(schedule):
    assert office_open(schedule, DT("2026-12-03T09:00"))
    assert not office_open(schedule, DT("2026-12-03T18:00"))
    assert not office_open(schedule, DT("2026-11-11T10:00"))


def test_alsace_moselle_closes_on_saint_stephen(schedule, schedule_am):
    assert is_open(schedule.place("mairie"), DT("2026-12-26T10:00"))
    assert not is_open(schedule_am.place("mairie"), DT("2026-12-26T10:00"))
    assert opening_on(schedule_am.place("mairie"), D("2026-04-03")).reason == "Vendredi saint"


@pytest.mark.parametrize("moment, expected", [
    ("2026-05-23T12:00", "2026-05-26T08:30"),   # Saturday noon, Whit Monday: Tuesday morning
    ("2026-04-04T13:00", "2026-04-07T08:30"),   # Easter weekend
    ("2026-12-24T12:00", "2026-12-26T09:00"),   # Christmas Eve afternoon, then Noël
    ("2026-12-03T12:00", "2026-12-03T13:30"),   # lunch break
    ("2026-12-03T08:30", "2026-12-03T08:30"),   # an opening starting now
    ("2026-10-30T18:00", "2026-10-31T09:00"),
])
def test_next_opening(mairie, moment, expected):
    assert next_opening(mairie, DT(moment)) == DT(expected)


def test_next_opening_across_alsace_moselle_christmas(schedule_am):
    assert next_opening(schedule_am.place("mairie"), DT("2026-12-24T12:00")) == DT("2026-12-28T08:30")


def test_next_opening_of_a_place_never_open(tmp_path):
    path = write(tmp_path, "horaires.yaml", """\
        lieux:
          mairie:
            nom: la mairie
            semaine: {lundi: fermé, mardi: fermé, mercredi: fermé, jeudi: fermé, vendredi: fermé,
                      samedi: fermé, dimanche: fermé}
        """)
    loaded, _ = load_schedule(path)
    assert next_opening(loaded.place("mairie"), DT("2026-12-03T08:00")) is None


def test_holiday_rules_ouvert_and_special_hours(tmp_path):
    path = write(tmp_path, "horaires.yaml", """\
        lieux:
          mairie:
            nom: la mairie
            semaine: {lundi: 8h30-12h, mardi: fermé, mercredi: fermé, jeudi: fermé, vendredi: fermé,
                      samedi: fermé, dimanche: fermé}
          cimetiere:
            nom: le cimetière
            semaine: {lundi: 8h-17h30, mardi: 8h-17h30, mercredi: 8h-17h30, jeudi: 8h-17h30,
                      vendredi: 8h-17h30, samedi: 8h-17h30, dimanche: 8h-17h30}
            jours_feries: ouvert
          marche:
            nom: le marché couvert
            semaine: {lundi: 7h-13h, mardi: fermé, mercredi: fermé, jeudi: fermé, vendredi: fermé,
                      samedi: fermé, dimanche: fermé}
            jours_feries: 8h-12h
        """)
    loaded, diagnostics = load_schedule(path)
    assert errors(diagnostics) == ""
    whit_monday = D("2026-05-25")
    assert opening_on(loaded.place("mairie"), whit_monday) == []
    assert opening_on(loaded.place("cimetiere"), whit_monday) == [(T("08:00"), T("17:30"))]
    assert opening_on(loaded.place("marche"), whit_monday) == [(T("08:00"), T("12:00"))]
    assert describe_day(loaded.place("cimetiere"), D("2026-11-01"), D("2026-10-20")) == (
        "Le dimanche premier novembre est un jour férié (Toussaint), mais le cimetière est ouvert "
        "de huit heures à dix-sept heures trente.")


@pytest.mark.parametrize("day, today, expected", [
    ("2026-12-03", "2026-12-01",
     "Le jeudi trois décembre, la mairie est ouverte de huit heures trente à midi, "
     "puis de treize heures trente à dix-sept heures trente."),
    ("2026-12-25", "2026-12-20",
     "Le vendredi vingt-cinq décembre est un jour férié (Noël) : la mairie est fermée. "
     "Elle rouvre le samedi vingt-six décembre à neuf heures."),
    ("2026-12-25", "2026-12-24",
     "Demain est un jour férié (Noël) : la mairie est fermée. "
     "Elle rouvre le samedi vingt-six décembre à neuf heures."),
    ("2026-12-25", "2026-12-25",
     "Aujourd'hui est un jour férié (Noël) : la mairie est fermée. Elle rouvre demain à neuf heures."),
    ("2026-12-24", "2026-12-01",
     "Le jeudi vingt-quatre décembre, la mairie est ouverte seulement de huit heures trente à midi "
     "(fermeture exceptionnelle l'après-midi)."),
    ("2026-12-06", "2026-12-01",
     "Le dimanche six décembre, la mairie est fermée. Elle rouvre le lundi sept décembre à huit heures trente."),
    ("2026-08-08", "2026-08-01",
     "Le samedi huit août, la mairie est fermée (pas de permanence le samedi en août). "
     "Elle rouvre le lundi dix août à huit heures trente."),
    ("2026-12-05", "2026-12-04", "Demain, la mairie est ouverte de neuf heures à midi."),
])
def test_describe_day(mairie, day, today, expected):
    assert describe_day(mairie, D(day), D(today)) == expected


@pytest.mark.parametrize("now, expected", [
    ("2026-12-03T15:00", "Aujourd'hui, la mairie est ouverte jusqu'à dix-sept heures trente."),
    ("2026-12-03T09:15",
     "Aujourd'hui, la mairie est ouverte jusqu'à midi, puis de treize heures trente à dix-sept heures trente."),
    ("2026-12-03T12:15",
     "La mairie est fermée en ce moment. Aujourd'hui, elle est ouverte de treize heures trente "
     "à dix-sept heures trente."),
    ("2026-12-03T18:15",
     "La mairie est fermée en ce moment : elle a fermé à dix-sept heures trente. "
     "Elle rouvre demain à huit heures trente."),
    ("2026-12-05T12:30",
     "La mairie est fermée en ce moment : elle a fermé à midi. "
     "Elle rouvre le lundi sept décembre à huit heures trente."),
])
def test_describe_today_with_the_time_of_the_call(mairie, now, expected):
    moment = DT(now)
    assert describe_day(mairie, moment.date(), moment) == expected


def test_describe_day_of_a_closure_period(schedule):
    assert describe_day(schedule.place("mediatheque"), D("2026-12-26"), D("2026-12-24")) == (
        "Le samedi vingt-six décembre, la médiathèque est fermée (fermeture pour les fêtes de fin d'année). "
        "Elle rouvre le mardi cinq janvier à quinze heures.")


def test_describe_day_agrees_with_a_masculine_plural_place(tmp_path):
    path = write(tmp_path, "horaires.yaml", """\
        lieux:
          mairie:
            nom: la mairie
            semaine: {lundi: 9h-12h}
          services:
            nom: les services techniques
            genre: masculin
            semaine: {lundi: 9h-12h, dimanche: fermé}
        """)
    loaded, diagnostics = load_schedule(path)
    assert "does not give" in errors(diagnostics, WARNING)
    assert describe_day(loaded.place("services"), D("2026-12-06"), D("2026-12-01")) == (
        "Le dimanche six décembre, les services techniques sont fermés. "
        "Ils rouvrent le lundi sept décembre à neuf heures.")


# ---------------------------------------------------------------------------
# Opening hours: validation
# ---------------------------------------------------------------------------

GOOD_SCHEDULE = """\
lieux:
  mairie:
    nom: la mairie
    semaine:
      lundi: 8h30-12h00, 13h30-17h30
      mardi: fermé
      mercredi: fermé
      jeudi: fermé
      vendredi: fermé
      samedi: fermé
      dimanche: fermé
"""


def schedule_problems(tmp_path, text: str) -> str:
    loaded, diagnostics = load_schedule(write(tmp_path, "horaires.yaml", text))
    found = errors(diagnostics)
    assert (loaded is None) == bool(found)
    return found


def test_good_schedule_has_no_problem(tmp_path):
    assert schedule_problems(tmp_path, GOOD_SCHEDULE) == ""


@pytest.mark.parametrize("change, expected", [
    (("    semaine:", "    semaines:"),
     ["horaires.yaml:4:5: error: place `mairie`: unknown key `semaines` (fix: did you mean `semaine`?",
      "horaires.yaml:3:5: error: place `mairie`: missing key `semaine`"]),
    (("lundi: 8h30-12h00, 13h30-17h30", "lundi: 8h30-12h00, 17h30-13h30"),
     ["horaires.yaml:5:26: error: place `mairie`, lundi: `17h30-13h30` ends before it starts "
      "(fix: write the earlier time first, e.g. 13h30-17h30)"]),
    (("lundi: 8h30-12h00, 13h30-17h30", "lundi: 8h30-12h00, 11h00-17h30"),
     ["horaires.yaml:5:26: error: place `mairie`, lundi: `11h00-17h30` overlaps `8h30-12h00`"]),
    (("lundi: 8h30-12h00, 13h30-17h30", "lundi: 8h30-12h00, 13h30-25h00"),
     ["horaires.yaml:5:26: error: place `mairie`, lundi: `25h00` is not a time of day"]),
    (("lundi: 8h30-12h00, 13h30-17h30", "lundi: 8h30 12h00"),
     ["horaires.yaml:5:14: error: place `mairie`, lundi: `8h30 12h00` is not a time range"]),
    (("      mardi: fermé", "      mardii: fermé"),
     ["horaires.yaml:6:7: error: `semaine` of place `mairie`: unknown key `mardii` (fix: did you mean `mardi`?"]),
    (("      mardi: fermé", "      mardi: [8h-12h]"),
     ["horaires.yaml:6:14: error: place `mairie`, mardi must be hours like `8h30-12h00, 13h30-17h30` or `fermé`"]),
    (("    nom: la mairie", "    nom: mairie"),
     ["horaires.yaml:3:10: error: `nom` of place `mairie`: `mairie` must start with its article"]),
    (("  mairie:", "  accueil_mairie:"),
     ["horaires.yaml:2:3: error: `lieux` has no `mairie`, whose hours the reception follows"]),
    (("lieux:", "lieu:"),
     ["horaires.yaml:1:1: error: the opening hours: unknown key `lieu` (fix: did you mean `lieux`?"]),
    (("      lundi: 8h30-12h00, 13h30-17h30", "      lundi: 8h30-12h00\n\t13h30"),
     ["horaires.yaml:6:1: error: YAML syntax:"]),
])
def test_schedule_errors_point_at_the_place(tmp_path, change, expected):
    found = schedule_problems(tmp_path, GOOD_SCHEDULE.replace(*change))
    for fragment in expected:
        assert fragment in found


@pytest.mark.parametrize("closures, expected", [
    ("      - date: 2026-02-30\n        motif: x\n",
     "horaires.yaml:13:15: error: `date`: `2026-02-30` does not exist in the calendar"),
    ("      - date: le 3 mars\n        motif: x\n",
     "horaires.yaml:13:15: error: `date`: `le 3 mars` is not a date (fix: write the date as 2026-12-24 or 24/12/2026)"),
    ("      - du: 2026-08-22\n        au: 2026-08-03\n        motif: congés\n",
     "horaires.yaml:14:13: error: `au` (03/08/2026) is before `du` (22/08/2026)"),
    ("      - du: 2026-08-03\n        motif: congés\n",
     "horaires.yaml:13:9: error: a closure needs `date` (one day) or both `du` and `au`"),
    ("      - date: 2026-12-24\n        motf: x\n",
     "horaires.yaml:14:9: error: a closure of place `mairie`: unknown key `motf` (fix: did you mean `motif`?"),
    ("      - du: 01/08/2026\n        au: 31/08/2026\n        motif: a\n"
     "      - date: 15/08/2026\n        motif: b\n",
     "horaires.yaml:16:9: error: this closure overlaps the one at line 13"),
    ("      - date: 2026-12-24\n        motif: x\n        jours: [samdi]\n",
     "horaires.yaml:15:17: error: an item of `jours` of the closure: `samdi` is not a day of the week "
     "(fix: did you mean `samedi`?"),
])
def test_closure_errors(tmp_path, closures, expected):
    assert expected in schedule_problems(tmp_path, GOOD_SCHEDULE + "    fermetures:\n" + closures)


def test_closures_accept_french_dates(tmp_path):
    text = GOOD_SCHEDULE + "    fermetures:\n      - du: 03/08/2026\n        au: 22/08/2026\n        motif: congés d'été\n"
    loaded, diagnostics = load_schedule(write(tmp_path, "horaires.yaml", text))
    assert diagnostics == []
    assert opening_on(loaded.place("mairie"), D("2026-08-10")).reason == "congés d'été"


def test_touching_ranges_are_merged_with_a_warning(tmp_path):
    loaded, diagnostics = load_schedule(write(tmp_path, "horaires.yaml", GOOD_SCHEDULE.replace(
        "8h30-12h00, 13h30-17h30", "8h30-12h00, 12h00-14h00")))
    assert "horaires.yaml:5:26: warning: place `mairie`, lundi: `12h00-14h00` starts when `8h30-12h00` ends" \
        in errors(diagnostics, WARNING)
    assert opening_on(loaded.place("mairie"), D("2026-12-07")) == [(T("08:30"), T("14:00"))]


def test_empty_schedule_file(tmp_path):
    assert "horaires.yaml:1:1: error: the opening hours file is empty" in schedule_problems(tmp_path, "")


# ---------------------------------------------------------------------------
# Waste collection
# ---------------------------------------------------------------------------

TUESDAY, THURSDAY, FRIDAY, SATURDAY = 1, 3, 4, 5


def test_example_collections(collections):
    household = collections.stream("ordures_menageres")
    assert household.weekdays == (TUESDAY,) and household.noun.plural and household.noun.feminine
    yellow = collections.stream("tri_selectif")
    assert yellow.weeks == "une sur deux" and yellow.since == D("2026-01-08")


def test_ordinary_week_is_unchanged():
    assert collection_days(stream([TUESDAY]), D("2026-12-01"), D("2026-12-15")) == [
        (D("2026-12-01"), None), (D("2026-12-08"), None), (D("2026-12-15"), None)]


def test_tuesday_14_july_2026_moves_to_wednesday():
    assert D("2026-07-14").weekday() == TUESDAY
    assert collection_days(stream([TUESDAY]), D("2026-07-13"), D("2026-07-19")) == [
        Collection(D("2026-07-15"), D("2026-07-14"))]


def test_tuesday_11_november_2025_moves_to_wednesday():
    assert D("2025-11-11").weekday() == TUESDAY
    assert collection_days(stream([TUESDAY]), D("2025-11-10"), D("2025-11-16")) == [
        (D("2025-11-12"), D("2025-11-11"))]


def test_thursday_ascension_moves_to_friday():
    assert next_collection(stream([THURSDAY]), D("2026-05-11")) == (D("2026-05-15"), D("2026-05-14"))


def test_friday_christmas_2026_moves_to_saturday():
    assert next_collection(stream([FRIDAY]), D("2026-12-21")) == (D("2026-12-26"), D("2026-12-25"))


def test_consecutive_holidays_in_alsace_moselle_skip_to_monday():
    # Noël (Friday), Saint-Étienne (Saturday), then Sunday: Monday 28 December.
    am = stream([FRIDAY], alsace_moselle=True)
    assert next_collection(am, D("2026-12-21")) == (D("2026-12-28"), D("2026-12-25"))
    assert next_collection(stream([FRIDAY]), D("2026-12-21"), alsace_moselle=True) == (
        D("2026-12-28"), D("2026-12-25"))


def test_saturday_holiday_skips_sunday():
    saturday = stream([SATURDAY])
    assert collection_days(saturday, D("2027-04-26"), D("2027-05-11")) == [
        (D("2027-05-03"), D("2027-05-01")),   # Fête du Travail, Sunday skipped
        (D("2027-05-10"), D("2027-05-08")),   # Fête de la Victoire, Sunday skipped
    ]
    assert next_collection(saturday, D("2027-12-20")) == (D("2027-12-27"), D("2027-12-25"))


def test_moved_collection_found_when_the_range_starts_after_the_usual_day():
    assert collection_days(stream([TUESDAY]), D("2026-07-15"), D("2026-07-15")) == [
        (D("2026-07-15"), D("2026-07-14"))]
    assert collection_days(stream([TUESDAY]), D("2026-07-14"), D("2026-07-14")) == []


def test_moved_collection_on_a_usual_day_is_one_round():
    both = stream([0, TUESDAY])   # Monday and Tuesday; Whit Monday 25 May 2026
    assert collection_days(both, D("2026-05-25"), D("2026-05-26")) == [(D("2026-05-26"), None)]


def test_every_other_week_uses_iso_week_parity():
    even = stream([THURSDAY], weeks="paires")
    odd = stream([THURSDAY], weeks="impaires")
    december = (D("2026-12-01"), D("2026-12-31"))
    assert [c.day for c in collection_days(even, *december)] == [D("2026-12-10"), D("2026-12-24")]
    assert [c.day for c in collection_days(odd, *december)] == [D("2026-12-03"), D("2026-12-17"), D("2026-12-31")]
    # 2026 has 53 ISO weeks: week 53 and week 1 of 2027 are both odd.
    assert next_collection(even, D("2026-12-25")) == (D("2027-01-14"), None)


def test_one_week_in_two_counts_from_a_known_collection_across_a_53_week_year():
    yellow = stream([THURSDAY], weeks="une sur deux", since=D("2026-01-08"))
    days = [c.day for c in collection_days(yellow, D("2026-12-01"), D("2027-01-31"))]
    # 8 January 2026 is in an even week; `paires` would skip from 24 December to 14 January (three weeks)
    assert days == [D("2026-12-10"), D("2026-12-24"), D("2027-01-07"), D("2027-01-21")]
    # before the reference date too: a fortnight earlier (Christmas, so the next day), not the week between
    assert collection_days(yellow, D("2025-12-20"), D("2026-01-08")) == [(D("2025-12-26"), D("2025-12-25")),
                                                                          (D("2026-01-08"), None)]
    assert next_collection(yellow, D("2025-12-27")) == (D("2026-01-08"), None)


@pytest.mark.parametrize("fields, error", [
    ("    semaines: une sur deux\n", "`semaines: une sur deux` needs `a_partir_du`"),
    ("    semaines: une sur deux\n    a_partir_du: 2026-01-09\n", "2026-01-09 is a vendredi, not one of its `jours`"),
    ("    a_partir_du: 2026-01-08\n", "`a_partir_du` of collection `jaune` is only for `semaines: une sur deux`"),
    ("    semaines: une sur deux\n    a_partir_du: 2026-02-30\n", "does not exist in the calendar"),
])
def test_one_week_in_two_is_checked(tmp_path, fields, error):
    path = tmp_path / "collectes.yaml"
    path.write_text("collectes:\n  jaune:\n    nom: la poubelle jaune\n    jours: [jeudi]\n" + fields, encoding="utf-8")
    collections, diagnostics = load_collections(path)
    assert collections is None and any(error in str(d) for d in diagnostics), [str(d) for d in diagnostics]
    assert all(str(d).startswith(f"{path}:") for d in diagnostics)


def test_rule_maintenue_and_supprimee():
    assert next_collection(stream([FRIDAY], rule="maintenue"), D("2026-12-21")) == (D("2026-12-25"), None)
    # 25 December and 1 January are both Fridays in 2026-2027: both collections dropped.
    assert next_collection(stream([FRIDAY], rule="supprimée"), D("2026-12-21")) == (D("2027-01-08"), None)


@pytest.mark.parametrize("days, weeks, rule, day, today, expected", [
    ([TUESDAY], "toutes", "lendemain", "2026-05-25", "2026-05-20",
     "Le lundi vingt-cinq mai est le lundi de Pentecôte, mais les ordures ménagères sont collectées "
     "le mardi : la collecte a lieu normalement le mardi vingt-six mai."),
    ([TUESDAY], "toutes", "lendemain", "2029-12-25", "2029-12-20",
     "Le mardi vingt-cinq décembre est férié : la collecte des ordures ménagères est reportée "
     "au mercredi vingt-six décembre."),
    ([TUESDAY], "toutes", "lendemain", "2026-07-14", "2026-07-13",
     "Demain est férié : la collecte des ordures ménagères est reportée au mercredi quinze juillet."),
    ([TUESDAY], "toutes", "lendemain", "2026-07-15", "2026-07-15",
     "Aujourd'hui, la collecte des ordures ménagères a lieu exceptionnellement, à la place de celle "
     "du mardi quatorze juillet, qui est férié."),
    ([TUESDAY], "toutes", "lendemain", "2026-12-08", "2026-12-01",
     "Le mardi huit décembre, les ordures ménagères sont collectées comme d'habitude."),
    ([TUESDAY], "toutes", "maintenue", "2026-07-14", "2026-07-01",
     "Le mardi quatorze juillet est férié, mais la collecte des ordures ménagères est maintenue."),
    ([FRIDAY], "toutes", "supprimée", "2026-12-25", "2026-12-21",
     "Le vendredi vingt-cinq décembre est férié : il n'y a pas de collecte des ordures ménagères ce jour-là. "
     "La prochaine a lieu le vendredi huit janvier."),
    ([THURSDAY], "toutes", "lendemain", "2026-05-11", "2026-05-11",
     "Il n'y a pas de collecte des ordures ménagères aujourd'hui : la prochaine a lieu le vendredi quinze mai, "
     "au lieu du jeudi quatorze mai qui est férié."),
])
def test_describe_collection(days, weeks, rule, day, today, expected):
    assert describe_collection(stream(days, weeks, rule), D(day), D(today)) == expected


def test_describe_collection_every_other_week():
    yellow = stream([THURSDAY], weeks="impaires", name=Noun("la poubelle jaune", True, False))
    assert describe_collection(yellow, D("2026-12-10"), D("2026-12-01")) == (
        "Il n'y a pas de collecte de la poubelle jaune le jeudi dix décembre : "
        "la prochaine a lieu le jeudi dix-sept décembre.")
    assert describe_collection(yellow, D("2026-12-17"), D("2026-12-16")) == (
        "Demain, la poubelle jaune est collectée comme d'habitude.")


def test_describe_collection_of_a_holiday_with_an_every_other_week_stream(collections):
    assert describe_collection(collections.stream("tri_selectif"), D("2026-07-14"), D("2026-07-01")) == (
        "Le mardi quatorze juillet est la fête nationale, mais la poubelle jaune est collectée le jeudi "
        "une semaine sur deux : la collecte a lieu normalement le jeudi vingt-trois juillet.")


GOOD_COLLECTIONS = """\
collectes:
  ordures_menageres:
    nom: les ordures ménagères
    genre: féminin
    jours: [mardi]
  tri_selectif:
    nom: la poubelle jaune
    jours: [jeudi]
    semaines: paires
regle_jours_feries: lendemain
"""


@pytest.mark.parametrize("change, expected", [
    (("jours: [mardi]", "jours: [mardy]"),
     "collectes.yaml:5:13: error: an item of `jours` of collection `ordures_menageres`: `mardy` is not a day "
     "of the week (fix: did you mean `mardi`?"),
    (("jours: [mardi]", "jours: mardi"),
     "collectes.yaml:5:12: error: `jours` of collection `ordures_menageres` must be a list, not a single text"),
    (("semaines: paires", "semaines: pair"),
     "collectes.yaml:9:15: error: `semaines` must be toutes, paires, impaires or une sur deux, not `pair` "
     "(fix: did you mean `paires`?"),
    (("regle_jours_feries: lendemain", "regle_jours_feries: le lendemain"),
     "collectes.yaml:10:21: error: `regle_jours_feries` must be lendemain, maintenue or supprimée, "
     "not `le lendemain` (fix: did you mean `lendemain`?"),
    (("    genre: féminin\n", ""),
     "collectes.yaml:3:10: error: `nom` of collection `ordures_menageres`: cannot tell whether "
     "`les ordures ménagères` is masculine or feminine (fix: add a line `genre: féminin`"),
    (("    jours: [jeudi]\n", "    jous: [jeudi]\n"),
     "collectes.yaml:8:5: error: collection `tri_selectif`: unknown key `jous` (fix: did you mean `jours`?"),
    (("    semaines: paires", "    semaine: paires"),
     "collectes.yaml:9:5: error: collection `tri_selectif`: unknown key `semaine` (fix: did you mean `semaines`?"),
    (("jours: [mardi]", "jours: []"),
     "collectes.yaml:5:12: error: `jours` of collection `ordures_menageres` is empty"),
])
def test_collection_errors(tmp_path, change, expected):
    loaded, diagnostics = load_collections(write(tmp_path, "collectes.yaml", GOOD_COLLECTIONS.replace(*change)))
    assert loaded is None
    assert expected in errors(diagnostics)


def test_collection_rule_per_stream(tmp_path):
    text = GOOD_COLLECTIONS.replace("    semaines: paires\n", "    semaines: paires\n    regle_jours_feries: supprimée\n")
    loaded, diagnostics = load_collections(write(tmp_path, "collectes.yaml", text))
    assert diagnostics == []
    assert loaded.stream("tri_selectif").rule == "supprimée"
    assert loaded.stream("ordures_menageres").rule == "lendemain"


# ---------------------------------------------------------------------------
# Canteen menus
# ---------------------------------------------------------------------------

HEADER = "date;entree;plat;accompagnement;dessert\r\n"


def menu_file(tmp_path, body: str, encoding="utf-8", bom=False) -> Path:
    path = tmp_path / "menus.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (HEADER + body).encode(encoding))
    return path


def test_example_menus_cover_the_school_days_of_december(menus):
    december = sorted(d for d in menus if d.month == 12)
    assert december[0] == D("2026-12-01") and december[-1] == D("2026-12-18")
    assert all(d.weekday() != 2 and d.weekday() < 5 for d in menus)
    assert menus[D("2026-12-18")].plat == "dinde aux marrons; repas de Noël"   # a quoted `;`
    assert menus[D("2027-01-08")].entree == ""


def test_describe_menu_exact_sentence(tmp_path):
    menus, diagnostics = load_menus(menu_file(tmp_path, "03/12/2026;carottes râpées;sauté de porc;purée;une compote\r\n"))
    assert diagnostics == []
    assert describe_menu(menus, D("2026-12-03"), D("2026-12-01")) == (
        "Le jeudi trois décembre, au menu de la cantine : carottes râpées, puis sauté de porc et purée, "
        "et en dessert une compote.")
    assert describe_menu(menus, D("2026-12-03"), D("2026-12-03")).startswith("Aujourd'hui, au menu de la cantine")


def test_describe_menu_without_starter_or_side(menus):
    assert describe_menu(menus, D("2027-01-08"), D("2027-01-07")) == (
        "Demain, au menu de la cantine : couscous aux légumes et semoule, et en dessert orange.")
    assert describe_menu(menus, D("2026-12-15"), D("2026-12-01")) == (
        "Le mardi quinze décembre, au menu de la cantine : chou rouge vinaigrette, puis lasagnes végétariennes, "
        "et en dessert pomme.")


@pytest.mark.parametrize("day, today, expected", [
    ("2026-12-05", "2026-12-01", "Il n'y a pas de cantine le samedi."),
    ("2026-12-06", "2026-12-01", "Il n'y a pas de cantine le dimanche."),
    ("2026-12-09", "2026-12-01",
     "Je n'ai pas de menu de cantine pour le mercredi neuf décembre : il n'y a habituellement pas de cantine "
     "le mercredi."),
    ("2026-12-21", "2026-12-18",
     "Le lundi vingt et un décembre, ce sont les vacances de Noël : il n'y a pas de cantine. "
     "La cantine reprend le lundi quatre janvier."),
    ("2027-01-01", "2026-12-18",
     "Le vendredi premier janvier est un jour férié (Jour de l'an) : il n'y a pas de cantine."),
    ("2026-11-11", "2026-11-09",
     "Le mercredi onze novembre est un jour férié (Armistice) : il n'y a pas de cantine."),
    ("2027-01-11", "2027-01-08",
     "Je n'ai pas encore le menu du lundi onze janvier, il est publié chaque semaine sur le site de la mairie."),
    ("2026-12-02", "2026-12-01",
     "Je n'ai pas de menu de cantine pour demain : il n'y a habituellement pas de cantine le mercredi."),
    ("2026-11-30", "2026-12-01", "Je n'ai pas le menu du lundi trente novembre."),
])
def test_describe_menu_without_a_menu(menus, school, day, today, expected):
    assert describe_menu(menus, D(day), D(today), school) == expected


def test_describe_menu_without_school_holidays_does_not_invent_them(menus):
    assert describe_menu(menus, D("2026-12-21"), D("2026-12-18")) == (
        "Je n'ai pas encore le menu du lundi vingt et un décembre, il est publié chaque semaine sur le site de la mairie.")


def test_wednesday_with_canteen_elsewhere_is_just_not_published(tmp_path):
    menus, _ = load_menus(menu_file(tmp_path, "02/12/2026;;omelette;;pomme\r\n"))
    assert describe_menu(menus, D("2026-12-09"), D("2026-12-01")) == (
        "Je n'ai pas encore le menu du mercredi neuf décembre, il est publié chaque semaine sur le site de la mairie.")


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("cp1252", False)])
def test_menus_encodings(tmp_path, encoding, bom):
    menus, diagnostics = load_menus(menu_file(tmp_path, "03/12/2026;céleri rémoulade;bœuf bourguignon;pâtes;crème brûlée\r\n",
                                              encoding, bom))
    assert diagnostics == []
    assert menus[D("2026-12-03")].plat == "bœuf bourguignon"
    assert menus[D("2026-12-03")].dessert == "crème brûlée"


def test_menus_ignore_empty_lines_and_comments(tmp_path):
    menus, diagnostics = load_menus(menu_file(
        tmp_path, "\r\n03/12/2026;a;b;c;d\r\n;;;;\r\n# semaine suivante\r\n\r\n04/12/2026;e;f;g;h;;\r\n"))
    assert diagnostics == []
    assert sorted(menus) == [D("2026-12-03"), D("2026-12-04")]


def test_menus_with_commas_are_accepted(tmp_path):
    path = tmp_path / "menus.csv"
    path.write_text("date,entree,plat,accompagnement,dessert\n03/12/2026,a,b,c,d\n", encoding="utf-8")
    menus, diagnostics = load_menus(path)
    assert diagnostics == [] and menus[D("2026-12-03")].plat == "b"


@pytest.mark.parametrize("body, expected", [
    ("03/12/2026;a;b;c;d\r\n31/11/2026;a;b;c;d\r\n",
     "menus.csv:3:1: error: `31/11/2026` does not exist in the calendar (fix: write the date as JJ/MM/AAAA"),
    ("jeudi 3;a;b;c;d\r\n", "menus.csv:2:1: error: `jeudi 3` is not a date"),
    ("03/12/2026;a;b;c\r\n",
     "menus.csv:2:1: error: this line has 4 cells instead of 5 (date;entree;plat;accompagnement;dessert) "
     "(fix: write all five cells"),
    ("03/12/2026;a;b;c;d;e\r\n",
     "menus.csv:2:1: error: this line has 6 cells instead of 5 (date;entree;plat;accompagnement;dessert) "
     "(fix: a dish containing `;` must be put in double quotes)"),
    ("03/12/2026;a;b;c;d\r\n\r\n03/12/2026;e;f;g;h\r\n",
     "menus.csv:4:1: error: the menu of 03/12/2026 is given twice (first at line 2) (fix: keep only one"),
    ("03/12/2026;a;;c;d\r\n", "menus.csv:2:1: error: the menu of 03/12/2026 has no main dish (`plat`)"),
    ("03/12/2026;\"a\r\nsuite\";b;c;d;e\r\n04/12/2026;a;b;c\r\n",
     "menus.csv:4:1: error: this line has 4 cells"),   # a quoted cell over two lines keeps the count right
])
def test_menu_errors_name_file_and_line(tmp_path, body, expected):
    menus, diagnostics = load_menus(menu_file(tmp_path, body))
    assert expected in errors(diagnostics)


def test_menu_errors_keep_the_good_lines(tmp_path):
    menus, diagnostics = load_menus(menu_file(tmp_path, "03/12/2026;a;b;c;d\r\n99/12/2026;a;b;c;d\r\n"))
    assert list(menus) == [D("2026-12-03")] and len(diagnostics) == 1


def test_menu_header_errors(tmp_path):
    path = tmp_path / "menus.csv"
    path.write_text("03/12/2026;a;b;c;d\n", encoding="utf-8")
    assert "menus.csv:1:1: error: the first line must be the column titles" in errors(load_menus(path)[1])
    path.write_text("jour;entrée;plat;légume;dessert\n", encoding="utf-8")
    assert "menus.csv:1:1: error: the column titles are `jour;entrée;plat;légume;dessert`" in errors(load_menus(path)[1])
    path.write_text("", encoding="utf-8")
    assert "menus.csv:1:1: error: the menus file is empty" in errors(load_menus(path)[1])
    assert "cannot read file" in errors(load_menus(tmp_path / "absent.csv")[1])


def test_menu_header_with_accents_is_accepted(tmp_path):
    path = tmp_path / "menus.csv"
    path.write_text("Date;Entrée;Plat;Accompagnement;Dessert\n03/12/2026;a;b;c;d\n", encoding="utf-8")
    assert load_menus(path) == ({D("2026-12-03"): load_menus(path)[0][D("2026-12-03")]}, [])


# ---------------------------------------------------------------------------
# School holidays
# ---------------------------------------------------------------------------

def test_example_school_holidays(school):
    assert school.zone == "B"
    assert school.on(D("2026-12-19")).name == "vacances de Noël"
    assert school.on(D("2027-01-03")).name == "vacances de Noël"
    assert school.on(D("2027-01-04")) is None


@pytest.mark.parametrize("change, expected", [
    (("au: 2027-01-03", "au: 2026-12-01"), "vacances_scolaires.yaml:15:9: error: `au` (01/12/2026) is before `du`"),
    (("zone: B", "zones: B"), "vacances_scolaires.yaml:7:1: error: the school holidays: unknown key `zones`"),
    (("du: 2026-12-19", "du: 2026-10-30"), "vacances_scolaires.yaml:13:5: error: these holidays overlap those at line 10"),
])
def test_school_holiday_errors(tmp_path, change, expected):
    text = (DATA / "vacances_scolaires.yaml").read_text(encoding="utf-8").replace(*change)
    path = tmp_path / "vacances_scolaires.yaml"
    path.write_text(text, encoding="utf-8")
    loaded, diagnostics = load_school_holidays(path)
    assert loaded is None and expected in errors(diagnostics)
