"""Dates for the voicebot: public holidays, opening hours, waste collection and canteen menus.

Everything here is pure logic without a clock: every function takes the date
or datetime it works on, so that the answers are the same in the tests and on
the telephone. The data come from files that mairie staff edit:

- `horaires.yaml`: the opening hours of the commune's places, with
  exceptional closures and the public-holiday rule (`load_schedule`);
- `collectes.yaml`: the waste collection days and what happens when one falls
  on a public holiday (`load_collections`);
- `menus_cantine.csv`: the canteen menus, as the school secretary saves them
  from Excel (`load_menus`);
- `vacances_scolaires.yaml`: the school holidays of the commune's zone
  (`load_school_holidays`).

Every loader returns the loaded value and a list of `Diagnostic`s pointing at
`file:line:column` with a fix. The `describe_*` functions return one spoken
French sentence (or two), built with `speak_date` and `speak_time` so that the
speech synthesiser has nothing left to interpret.

Public holidays come from the `holidays` library (France, in French). The
Alsace-Moselle holidays (Good Friday, 26 December) are those of its "57"
(Moselle) subdivision, identical to "6AE" (Alsace).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import holidays as holidays_lib
import yaml

from callbot.speech_text import WEEKDAYS, speak_date, speak_time
from callbot.understanding.normalise import strip_accents
from callbot.yamlsource import ERROR, WARNING, Diagnostic, Location, YamlReader, did_you_mean

Hours = tuple[tuple[time, time], ...]

# How far ahead `next_opening` and `next_collection` look before giving up.
SEARCH_DAYS = 400

# ---------------------------------------------------------------------------
# Public holidays
# ---------------------------------------------------------------------------

ALSACE_MOSELLE_SUBDIVISION = "57"  # the library's Moselle; "6AE" (Alsace) has the same holidays

# How each holiday is said after "est" ("Le lundi premier juin est le lundi de Pentecôte").
HOLIDAY_ARTICLES = {
    "Jour de l'an": "le jour de l'an",
    "Vendredi saint": "le Vendredi saint",
    "Lundi de Pâques": "le lundi de Pâques",
    "Fête du Travail": "la fête du Travail",
    "Fête de la Victoire": "la fête de la Victoire",
    "Ascension": "l'Ascension",
    "Lundi de Pentecôte": "le lundi de Pentecôte",
    "Fête nationale": "la fête nationale",
    "Assomption": "l'Assomption",
    "Toussaint": "la Toussaint",
    "Armistice": "l'Armistice",
    "Noël": "Noël",
    "Saint-Étienne": "la Saint-Étienne",
}


@lru_cache(maxsize=64)
def _holidays_of(year: int, alsace_moselle: bool) -> tuple[tuple[date, str], ...]:
    subdiv = ALSACE_MOSELLE_SUBDIVISION if alsace_moselle else None
    table = holidays_lib.country_holidays("FR", subdiv=subdiv, years=year, language="fr")
    return tuple(sorted(table.items()))


def public_holidays(year: int, alsace_moselle: bool = False) -> dict[date, str]:
    """The public holidays of metropolitan France in `year`, with their French names."""
    return dict(_holidays_of(year, alsace_moselle))


def holiday_name(day: date, alsace_moselle: bool = False) -> str | None:
    """The French name of the public holiday on `day`, or None."""
    return dict(_holidays_of(day.year, alsace_moselle)).get(day)


def is_public_holiday(day: date, alsace_moselle: bool = False) -> bool:
    return holiday_name(day, alsace_moselle) is not None


def holiday_phrase(name: str) -> str:
    """A holiday as said after "est": "le lundi de Pentecôte", or "un jour férié (name)"."""
    return HOLIDAY_ARTICLES.get(name, f"un jour férié ({name})")


# ---------------------------------------------------------------------------
# Spoken French helpers
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Noun:
    """A name with its article, and what French agreement needs to know about it."""

    text: str          # "la mairie", "les ordures ménagères"
    feminine: bool
    plural: bool

    def agree(self, participle: str) -> str:
        """"ouvert" -> "ouverte", "ouverts", "ouvertes" as the noun requires."""
        return participle + ("e" if self.feminine else "") + ("s" if self.plural else "")

    @property
    def be(self) -> str:
        return "sont" if self.plural else "est"

    @property
    def pronoun(self) -> str:
        return ("elles" if self.feminine else "ils") if self.plural else ("elle" if self.feminine else "il")

    def verb(self, singular: str) -> str:
        """A first-person-like -e verb in agreement: "rouvre" -> "rouvrent"."""
        return singular + "nt" if self.plural else singular

    @property
    def of(self) -> str:
        """"de la mairie", "du marché", "des ordures ménagères", "de l'espace jeunes"."""
        lower = self.text.lower()
        if lower.startswith("les "):
            return "des " + self.text[4:]
        if lower.startswith("le "):
            return "du " + self.text[3:]
        return "de " + self.text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _day(day: date, today: date, prep: str = "") -> str:
    """The day as said inside a sentence, relative to today: "demain", "au jeudi trois décembre"."""
    if day == today:
        return {"": "aujourd'hui", "de": "d'aujourd'hui", "à": "à aujourd'hui"}[prep]
    if day == today + timedelta(days=1):
        return {"": "demain", "de": "de demain", "à": "à demain"}[prep]
    said = speak_date(day)  # "le jeudi trois décembre"
    return {"": said, "de": "du " + said[3:], "à": "au " + said[3:]}[prep]


def _span(start: time, end: time) -> str:
    return f"de {speak_time(start.hour, start.minute)} à {speak_time(end.hour, end.minute)}"


def _spans(hours) -> str:
    return ", puis ".join(_span(start, end) for start, end in hours)


def _clock(moment: time) -> str:
    return speak_time(moment.hour, moment.minute)


def _weekday_list(weekdays) -> str:
    said = [f"le {WEEKDAYS[w]}" for w in sorted(weekdays)]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " et " + said[-1]


# ---------------------------------------------------------------------------
# Reading values written by staff
# ---------------------------------------------------------------------------

_TIME_RE = re.compile(r"^(\d{1,2})\s*(?:[hH]\s*(\d{2})?|:(\d{2}))$")
_RANGE_SEP = re.compile(r"\s*(?:-|–|—|\bà\b)\s*")
_LIST_SEP = re.compile(r"\s*(?:,|;|\bet\b)\s*")
CLOSED_WORDS = ("fermé", "fermée", "ferme", "fermee", "fermés", "fermées")
OPEN_WORDS = ("ouvert", "ouverte")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATE_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})$")


def _parse_date_text(text: str) -> date | None | str:
    """A date written 2026-12-24 or 24/12/2026; None if not a date shape, "invalid" if impossible."""
    text = text.strip()
    match = _DATE_ISO.match(text)
    if match:
        year, month, day = (int(n) for n in match.groups())
    else:
        match = _DATE_FR.match(text)
        if not match:
            return None
        day, month, year = (int(n) for n in match.groups())
        if year < 100:
            year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return "invalid"


class _Reader(YamlReader):
    """YamlReader with the value types of calendars: dates, day names, opening hours, nouns."""

    def at(self, node: yaml.Node, offset: int) -> Location:
        """The position of character `offset` inside a one-line scalar (the scalar itself otherwise)."""
        base = self.location(node)
        if (isinstance(node, yaml.ScalarNode) and node.start_mark.line == node.end_mark.line
                and node.style in (None, "'", '"')):
            return Location(base.path, base.line, base.column + offset + (1 if node.style else 0))
        return base

    def named_entries(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        """A mapping whose keys are free names chosen by staff (places, waste streams)."""
        names = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)] \
            if isinstance(node, yaml.MappingNode) else []
        return self.mapping(node, what, names) or {}

    def date(self, node: yaml.Node, what: str) -> date | None:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, f"{what} must be a date, not a list or mapping", "write the date as 2026-12-24 or 24/12/2026")
            return None
        value = _parse_date_text(str(node.value))
        if value is None:
            self.error(node, f"{what}: `{node.value}` is not a date", "write the date as 2026-12-24 or 24/12/2026")
            return None
        if isinstance(value, str):  # "invalid"
            self.error(node, f"{what}: `{node.value}` does not exist in the calendar",
                       "check the day and the month (30 days in April, June, September, November; 28 or 29 in February)")
            return None
        return value

    def weekday(self, node: yaml.Node, what: str) -> int | None:
        word = self.text(node, what)
        if word is None:
            return None
        if word.lower() in WEEKDAYS:
            return WEEKDAYS.index(word.lower())
        self.error(node, f"{what}: `{word}` is not a day of the week", did_you_mean(word.lower(), WEEKDAYS))
        return None

    def weekdays(self, node: yaml.Node, what: str) -> tuple[int, ...] | None:
        items = self.text_list(node, what)
        if items is None:
            return None
        if not items:
            self.error(node, f"{what} is empty", "list at least one day, e.g. [mardi]")
            return None
        days: list[int] = []
        for _, item in items:
            day = self.weekday(item, f"an item of {what}")
            if day is None:
                continue
            if day in days:
                self.warning(item, f"{what}: `{WEEKDAYS[day]}` is listed twice", "remove one of the two")
                continue
            days.append(day)
        return tuple(sorted(days)) if days else None

    def hours(self, node: yaml.Node, what: str) -> Hours | None:
        """Opening hours "8h30-12h00, 13h30-17h30" or "fermé" (returns ())."""
        hours = self.hours_or_open(node, what, allow_open=False)
        return None if isinstance(hours, str) else hours

    def hours_or_open(self, node: yaml.Node, what: str, allow_open: bool = True) -> Hours | str | None:
        """Opening hours "8h30-12h00, 13h30-17h30" or "fermé" (returns ()); "ouvert" if allowed."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.error(node, f"{what} must be hours like `8h30-12h00, 13h30-17h30` or `fermé`, not {_kind(node)}",
                       "write the hours as 8h30-12h00, separated by commas, or `fermé`")
            return None
        raw = str(node.value)
        word = raw.strip().lower()
        if word in CLOSED_WORDS:
            return ()
        if allow_open and word in OPEN_WORDS:
            return "ouvert"
        ranges: list[tuple[time, time, int, str]] = []
        ok = True
        position = 0
        for piece in _LIST_SEP.split(raw):
            offset = raw.find(piece, position) if piece else position
            position = offset + len(piece)
            if not piece.strip():
                continue
            parsed = self._range(node, piece, offset, what)
            if parsed is None:
                ok = False
            else:
                ranges.append((*parsed, offset, piece.strip()))
        if not ok:
            return None
        if not ranges:
            self.error(node, f"{what} is empty", "write the hours as 8h30-12h00, or `fermé`")
            return None
        ranges.sort(key=lambda r: r[0])
        merged: list[tuple[time, time]] = []
        previous = None
        for start, end, offset, text in ranges:
            if merged and start < merged[-1][1]:
                self.error(self.at(node, offset), f"{what}: `{text}` overlaps `{previous}`",
                           "make the ranges follow each other, e.g. 8h30-12h00, 13h30-17h30")
                ok = False
                continue
            if merged and start == merged[-1][1]:
                self.warning(self.at(node, offset), f"{what}: `{text}` starts when `{previous}` ends",
                             "write the two as one range")
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
            previous = text
        return tuple(merged) if ok else None

    def _range(self, node, piece: str, offset: int, what: str) -> tuple[time, time] | None:
        lead = len(piece) - len(piece.lstrip())
        where = self.at(node, offset + lead)
        ends = _RANGE_SEP.split(piece.strip())
        if len(ends) != 2 or not all(ends):
            self.error(where, f"{what}: `{piece.strip()}` is not a time range",
                       "write the opening and closing times joined by a dash, e.g. 8h30-12h00")
            return None
        times = []
        for end in ends:
            match = _TIME_RE.match(end)
            hour = int(match.group(1)) if match else -1
            minute = int(match.group(2) or match.group(3) or 0) if match else -1
            if not match or not (0 <= hour <= 23 and 0 <= minute <= 59):
                self.error(where, f"{what}: `{end}` is not a time of day",
                           "write times as 8h30, 14h or 14h00 (from 0h00 to 23h59)")
                return None
            times.append(time(hour, minute))
        if times[0] >= times[1]:
            self.error(where, f"{what}: `{piece.strip()}` ends before it starts",
                       f"write the earlier time first, e.g. {ends[1]}-{ends[0]}")
            return None
        return times[0], times[1]

    def noun(self, name_node: yaml.Node, gender_node: yaml.Node | None, what: str) -> Noun | None:
        name = self.text(name_node, what)
        if name is None:
            return None
        lower = name.lower().replace("’", "'")
        plural = lower.startswith("les ")
        feminine = True if lower.startswith("la ") else False if lower.startswith("le ") else None
        if not (plural or feminine is not None or lower.startswith("l'")):
            self.error(name_node, f"{what}: `{name}` must start with its article (le, la, l' or les)",
                       f"write it as it is said in a sentence, e.g. `la {name}` or `le {name}`")
            return None
        if gender_node is not None:
            gender = self.text(gender_node, "`genre`")
            if gender is None:
                return None
            gender = strip_accents(gender.lower())
            if gender not in ("feminin", "masculin"):
                self.error(gender_node, f"`genre` must be `féminin` or `masculin`, not `{gender}`",
                           "write `genre: féminin` or `genre: masculin`")
                return None
            feminine = gender == "feminin"
        if feminine is None:
            self.error(name_node, f"{what}: cannot tell whether `{name}` is masculine or feminine",
                       "add a line `genre: féminin` or `genre: masculin` next to `nom`")
            return None
        return Noun(name, feminine, plural)


def _kind(node: yaml.Node) -> str:
    from callbot.yamlsource import _kind as kind  # the same wording as every other message
    return kind(node)


def _top_keys(path: Path | str, what: str, allowed: tuple[str, ...], required: tuple[str, ...]
              ) -> tuple["_Reader", dict[str, yaml.Node] | None]:
    """A calendar file's reader and its top-level keys (None when the file cannot be read as a mapping)."""
    reader = _Reader(path, [])
    root = reader.parse()
    if root is None:
        return reader, None
    if isinstance(root, yaml.ScalarNode) and root.value == "":
        reader.error(Location(reader.path, 1, 1), f"the {what} file is empty", "start from the example file")
        return reader, None
    return reader, reader.mapping(root, f"the {what}", allowed, required=required)


def _has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diagnostics)


# ---------------------------------------------------------------------------
# Opening hours
# ---------------------------------------------------------------------------

SCHEDULE_KEYS = ("lieux", "accueil")
PLACE_KEYS = ("nom", "genre", "semaine", "fermetures", "jours_feries")
CLOSURE_KEYS = ("date", "du", "au", "jours", "motif", "horaires")
HOLIDAY_RULES = ("fermé", "ouvert")


@dataclass(frozen=True)
class Closure:
    """An exceptional closure from `first` to `last` included; `hours` kept that day (empty: all day)."""

    first: date
    last: date
    reason: str
    hours: Hours = ()
    weekdays: tuple[int, ...] = ()  # only these days of the week within the range; empty: every day

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last and (not self.weekdays or day.weekday() in self.weekdays)


@dataclass(frozen=True)
class Place:
    key: str
    noun: Noun
    week: tuple[Hours, ...]            # Monday first
    closures: tuple[Closure, ...] = ()
    holiday_hours: Hours | None = ()   # () closed on public holidays, None: the usual hours
    alsace_moselle: bool = False

    @property
    def name(self) -> str:
        return self.noun.text


@dataclass(frozen=True)
class Schedule:
    places: tuple[Place, ...]
    office: str = "mairie"  # the place whose hours are the reception's (call routing)

    def place(self, key: str) -> Place:
        for place in self.places:
            if place.key == key:
                return place
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(place.key for place in self.places)


class DayHours(list):
    """The opening hours of one day (a list of (start, end)), with why they differ from the week's."""

    def __init__(self, hours=(), reason: str | None = None, holiday: str | None = None,
                 closure: Closure | None = None):
        super().__init__(hours)
        self.reason = reason      # the holiday name or the closure label, when the day is special
        self.holiday = holiday    # the public holiday's name, if the day is one
        self.closure = closure    # the exceptional closure that applies, if any


def load_schedule(path: Path | str, alsace_moselle: bool = False) -> tuple[Schedule | None, list[Diagnostic]]:
    """Read horaires.yaml; returns None with the diagnostics when anything is wrong."""
    reader, keys = _top_keys(path, "opening hours", SCHEDULE_KEYS, ("lieux",))
    diagnostics = reader.diagnostics
    if keys is None or "lieux" not in keys:
        return None, diagnostics
    places_node = keys["lieux"]
    entries = reader.named_entries(places_node, "`lieux`")
    places = []
    for key, node in entries.items():
        place = _place(reader, key, node, alsace_moselle)
        if place is not None:
            places.append(place)
    office = "mairie"
    if "accueil" in keys:
        office = reader.text(keys["accueil"], "`accueil`") or office
        if entries and office not in entries:
            reader.error(keys["accueil"], f"`accueil` names `{office}`, which is not a place of `lieux`",
                         did_you_mean(office, tuple(entries)))
    elif entries and office not in entries:
        reader.error(places_node, "`lieux` has no `mairie`, whose hours the reception follows",
                     "add the mairie's hours, or write `accueil: <place>` to name the reception's place")
    if not entries and isinstance(places_node, yaml.MappingNode):
        reader.error(places_node, "`lieux` is empty", "describe at least the mairie's hours")
    if _has_errors(diagnostics):
        return None, diagnostics
    return Schedule(tuple(places), office), diagnostics


def _place(r: _Reader, key: str, node: yaml.Node, alsace_moselle: bool) -> Place | None:
    what = f"place `{key}`"
    keys = r.mapping(node, what, PLACE_KEYS, required=("nom", "semaine"))
    if keys is None:
        return None
    noun = r.noun(keys["nom"], keys.get("genre"), f"`nom` of {what}") if "nom" in keys else None
    week: list[Hours] = [()] * 7
    week_ok = True
    if "semaine" in keys:
        days = r.mapping(keys["semaine"], f"`semaine` of {what}", WEEKDAYS)
        if days is None:
            week_ok = False
        else:
            for index, name in enumerate(WEEKDAYS):
                if name not in days:
                    continue
                hours = r.hours(days[name], f"{what}, {name}")
                if hours is None:
                    week_ok = False
                else:
                    week[index] = hours
            missing = [name for name in WEEKDAYS if name not in days]
            if missing and len(missing) < 7:
                r.warning(keys["semaine"], f"`semaine` of {what} does not give {', '.join(missing)}: "
                          "taken as closed", f"add `{missing[0]}: fermé` to say so")
            elif not days:
                r.error(keys["semaine"], f"`semaine` of {what} is empty", "give the hours of each day, e.g. `lundi: 8h30-12h00`")
    closures = _closures(r, keys.get("fermetures"), what)
    holiday_hours: Hours | None = ()
    if "jours_feries" in keys:
        rule = r.hours_or_open(keys["jours_feries"], f"`jours_feries` of {what}")
        holiday_hours = None if isinstance(rule, str) else rule if rule is not None else ()  # str: "ouvert"
    if noun is None or not week_ok or closures is None:
        return None
    return Place(key, noun, tuple(week), closures, holiday_hours, alsace_moselle)


def _closures(r: _Reader, node: yaml.Node | None, what: str) -> tuple[Closure, ...] | None:
    if node is None:
        return ()
    items = r.sequence(node, f"`fermetures` of {what}")
    if items is None:
        return None
    closures: list[tuple[Closure, yaml.Node]] = []
    ok = True
    for item in items:
        keys = r.mapping(item, f"a closure of {what}", CLOSURE_KEYS, required=("motif",))
        if keys is None:
            ok = False
            continue
        first = last = None
        if "date" in keys:
            if "du" in keys or "au" in keys:
                r.error(keys["date"], "a closure has either `date` (one day) or `du` and `au` (a period), not both",
                        "keep `date:` for one day, or `du:` and `au:` for several")
                ok = False
                continue
            first = last = r.date(keys["date"], "`date`")
        elif "du" in keys and "au" in keys:
            first, last = r.date(keys["du"], "`du`"), r.date(keys["au"], "`au`")
            if first and last and last < first:
                r.error(keys["au"], f"`au` ({last:%d/%m/%Y}) is before `du` ({first:%d/%m/%Y})",
                        "put the first day of the closure in `du` and the last one in `au`")
                ok = False
                continue
        else:
            r.error(item, "a closure needs `date` (one day) or both `du` and `au` (a period)",
                    "add `date: 2026-12-24`, or `du: 2026-08-03` and `au: 2026-08-22`")
            ok = False
            continue
        reason = r.text(keys["motif"], "`motif`") if "motif" in keys else None
        hours: Hours | None = ()
        if "horaires" in keys:
            hours = r.hours(keys["horaires"], "`horaires` of the closure")
        weekdays: tuple[int, ...] | None = ()
        if "jours" in keys:
            weekdays = r.weekdays(keys["jours"], "`jours` of the closure")
        if first is None or last is None or reason is None or hours is None or weekdays is None:
            ok = False
            continue
        closure = Closure(first, last, reason, hours, weekdays)
        for other, other_node in closures:
            if _closures_meet(closure, other):
                r.error(item, f"this closure overlaps the one at line {r.location(other_node).line}",
                        "merge the two, or make their dates follow each other")
                ok = False
                break
        else:
            closures.append((closure, item))
    return tuple(c for c, _ in closures) if ok else None


def _closures_meet(a: Closure, b: Closure) -> bool:
    first, last = max(a.first, b.first), min(a.last, b.last)
    if first > last:
        return False
    span = (last - first).days + 1
    return any(a.covers(day) and b.covers(day)
               for day in (first + timedelta(days=n) for n in range(min(span, 7))))


def opening_on(place: Place, day: date) -> DayHours:
    """The hours `place` is open on `day`, empty when closed; `.reason` says why the day is special."""
    holiday = holiday_name(day, place.alsace_moselle)
    if holiday and place.holiday_hours == ():
        return DayHours((), reason=holiday, holiday=holiday)
    for closure in place.closures:
        if closure.covers(day):
            return DayHours(closure.hours, reason=closure.reason, holiday=holiday, closure=closure)
    if holiday:
        hours = place.week[day.weekday()] if place.holiday_hours is None else place.holiday_hours
        return DayHours(hours, reason=holiday, holiday=holiday)
    return DayHours(place.week[day.weekday()])


def is_open(place: Place, moment: datetime) -> bool:
    return any(start <= moment.time() < end for start, end in opening_on(place, moment.date()))


def office_open(schedule: Schedule, moment: datetime) -> bool:
    """Whether the mairie's reception is open at `moment` (for routing calls to a person)."""
    return is_open(schedule.place(schedule.office), moment)


def next_opening(place: Place, moment: datetime) -> datetime | None:
    """The start of the first opening period that begins at or after `moment`; None if none within a year."""
    for offset in range(SEARCH_DAYS):
        day = moment.date() + timedelta(days=offset)
        for start, _ in opening_on(place, day):
            begins = datetime.combine(day, start)
            if begins >= moment:
                return begins
    return None


def describe_day(place: Place, day: date, today: date | datetime) -> str:
    """The opening hours of `place` on `day`, as one or two spoken French sentences.

    `today` is the date of the call; give the datetime of the call to hear, for
    today, what is left of the day ("ouverte jusqu'à dix-sept heures trente").
    """
    now = today if isinstance(today, datetime) else None
    today = today.date() if isinstance(today, datetime) else today
    noun = place.noun
    hours = opening_on(place, day)
    when = _cap(_day(day, today))
    if now is not None and day == today and hours:
        return _describe_now(place, hours, now)
    if not hours:
        if hours.holiday and (hours.closure is None or place.holiday_hours == ()):
            first = f"{when} est un jour férié ({hours.holiday}) : {noun.text} {noun.be} {noun.agree('fermé')}."
        elif hours.closure is not None:
            first = f"{when}, {noun.text} {noun.be} {noun.agree('fermé')} ({hours.reason})."
        else:
            first = f"{when}, {noun.text} {noun.be} {noun.agree('fermé')}."
        return first + _reopens(place, datetime.combine(day + timedelta(days=1), time(0)), today)
    if hours.closure is not None:
        return (f"{when}, {noun.text} {noun.be} {noun.agree('ouvert')} seulement {_spans(hours)}"
                f" ({hours.reason}).")
    if hours.holiday:
        return f"{when} est un jour férié ({hours.holiday}), mais {noun.text} {noun.be} {noun.agree('ouvert')} {_spans(hours)}."
    return f"{when}, {noun.text} {noun.be} {noun.agree('ouvert')} {_spans(hours)}."


def _describe_now(place: Place, hours: DayHours, now: datetime) -> str:
    noun, clock, today = place.noun, now.time(), now.date()
    current = [(s, e) for s, e in hours if s <= clock < e]
    later = [(s, e) for s, e in hours if s > clock]
    if current:
        said = f"Aujourd'hui, {noun.text} {noun.be} {noun.agree('ouvert')} jusqu'à {_clock(current[0][1])}"
        return said + (f", puis {_spans(later)}." if later else ".")
    closed = f"{_cap(noun.text)} {noun.be} {noun.agree('fermé')} en ce moment"
    if later:
        return f"{closed}. Aujourd'hui, {noun.pronoun} {noun.be} {noun.agree('ouvert')} {_spans(later)}."
    return f"{closed} : {noun.pronoun} {'ont' if noun.plural else 'a'} fermé à {_clock(hours[-1][1])}." + _reopens(place, now, today)


def _reopens(place: Place, after: datetime, today: date) -> str:
    again = next_opening(place, after)
    if again is None:
        return ""
    noun = place.noun
    return f" {_cap(noun.pronoun)} {noun.verb('rouvre')} {_day(again.date(), today)} à {_clock(again.time())}."


# ---------------------------------------------------------------------------
# Waste collection
# ---------------------------------------------------------------------------

COLLECTION_FILE_KEYS = ("collectes", "regle_jours_feries")
STREAM_KEYS = ("nom", "genre", "jours", "semaines", "a_partir_du", "regle_jours_feries")
EVERY_OTHER_WEEK = "une sur deux"
WEEK_PARITIES = ("toutes", "paires", "impaires", EVERY_OTHER_WEEK)
COLLECTION_RULES = ("lendemain", "maintenue", "supprimée")


class Collection(NamedTuple):
    day: date                 # when the lorry comes
    moved_from: date | None   # the usual day, when the collection was moved because of a holiday


@dataclass(frozen=True)
class Stream:
    """One kind of waste collection: the days of the week, every week or one week in two."""

    key: str
    noun: Noun
    weekdays: tuple[int, ...]
    weeks: str = "toutes"       # toutes, paires, impaires (ISO week number), une sur deux (counted from `since`)
    rule: str = "lendemain"     # what happens on a public holiday: lendemain, maintenue, supprimée
    alsace_moselle: bool = False
    since: date | None = None   # one usual collection day, for `une sur deux`: right across 53-week years

    @property
    def name(self) -> str:
        return self.noun.text


@dataclass(frozen=True)
class Collections:
    streams: tuple[Stream, ...]

    def stream(self, key: str) -> Stream:
        for stream in self.streams:
            if stream.key == key:
                return stream
        raise KeyError(key)


def load_collections(path: Path | str, alsace_moselle: bool = False) -> tuple[Collections | None, list[Diagnostic]]:
    """Read collectes.yaml; returns None with the diagnostics when anything is wrong."""
    reader, keys = _top_keys(path, "waste collection", COLLECTION_FILE_KEYS, ("collectes",))
    diagnostics = reader.diagnostics
    if keys is None or "collectes" not in keys:
        return None, diagnostics
    default_rule = _rule(reader, keys.get("regle_jours_feries")) or "lendemain"
    entries = reader.named_entries(keys["collectes"], "`collectes`")
    streams = []
    for key, node in entries.items():
        what = f"collection `{key}`"
        fields = reader.mapping(node, what, STREAM_KEYS, required=("nom", "jours"))
        if fields is None:
            continue
        noun = reader.noun(fields["nom"], fields.get("genre"), f"`nom` of {what}") if "nom" in fields else None
        weekdays = reader.weekdays(fields["jours"], f"`jours` of {what}") if "jours" in fields else None
        weeks: str | None = "toutes"
        if "semaines" in fields:
            weeks = reader.text(fields["semaines"], "`semaines`")
            if weeks is not None and weeks not in WEEK_PARITIES:
                reader.error(fields["semaines"], f"`semaines` must be toutes, paires, impaires or une sur deux, "
                             f"not `{weeks}`", did_you_mean(weeks, WEEK_PARITIES))
                weeks = None
        since = _since(reader, fields, weeks, weekdays, what)
        rule = _rule(reader, fields.get("regle_jours_feries")) or default_rule
        if noun and weekdays and weeks and (since or weeks != EVERY_OTHER_WEEK):
            streams.append(Stream(key, noun, weekdays, weeks, rule, alsace_moselle, since))
    if not entries and isinstance(keys["collectes"], yaml.MappingNode):
        reader.error(keys["collectes"], "`collectes` is empty", "describe at least the household waste collection")
    if _has_errors(diagnostics):
        return None, diagnostics
    return Collections(tuple(streams)), diagnostics


def _since(r: _Reader, fields: dict[str, yaml.Node], weeks: str | None, weekdays: tuple[int, ...] | None,
           what: str) -> date | None:
    """`a_partir_du`: a day the lorry came, from which `une sur deux` counts the weeks."""
    node = fields.get("a_partir_du")
    if weeks != EVERY_OTHER_WEEK:
        if node is not None:
            r.error(node, f"`a_partir_du` of {what} is only for `semaines: une sur deux`",
                    "remove it, or write `semaines: une sur deux`")
        return None
    if node is None:
        r.error(fields["semaines"], f"{what}: `semaines: une sur deux` needs `a_partir_du`",
                "add `a_partir_du:` with the date of one collection, as on the calendar, e.g. 2026-01-08")
        return None
    since = r.date(node, f"`a_partir_du` of {what}")
    if since is not None and weekdays and since.weekday() not in weekdays:
        r.error(node, f"`a_partir_du` of {what}: {since.isoformat()} is a {WEEKDAYS[since.weekday()]}, "
                      "not one of its `jours`", "give the date of a day the lorry came")
        return None
    return since


def _rule(r: _Reader, node: yaml.Node | None) -> str | None:
    if node is None:
        return None
    rule = r.text(node, "`regle_jours_feries`")
    if rule is None:
        return None
    normal = strip_accents(rule.lower())
    for allowed in COLLECTION_RULES:
        if normal == strip_accents(allowed) or normal == strip_accents(allowed)[:-1]:  # "supprime" too
            return allowed
    r.error(node, f"`regle_jours_feries` must be lendemain, maintenue or supprimée, not `{rule}`",
            did_you_mean(rule, COLLECTION_RULES))
    return None


def _usual(stream: Stream, day: date) -> bool:
    if day.weekday() not in stream.weekdays:
        return False
    if stream.weeks == "toutes":
        return True
    if stream.weeks == EVERY_OTHER_WEEK and stream.since is not None:  # the loader requires `since` for it
        monday, reference_monday = (d - timedelta(days=d.weekday()) for d in (day, stream.since))
        return (monday - reference_monday).days // 7 % 2 == 0
    even = day.isocalendar().week % 2 == 0
    return even if stream.weeks == "paires" else not even


def _moved_to(stream: Stream, day: date, alsace_moselle: bool) -> date | None:
    """Where a usual collection on `day` actually happens (None: cancelled)."""
    if not is_public_holiday(day, alsace_moselle) or stream.rule == "maintenue":
        return day
    if stream.rule == "supprimée":
        return None
    moved = day + timedelta(days=1)
    while moved.weekday() == 6 or is_public_holiday(moved, alsace_moselle):
        moved += timedelta(days=1)
    return moved


def collection_days(stream: Stream, start: date, end: date,
                    alsace_moselle: bool | None = None) -> list[Collection]:
    """The collections from `start` to `end` included: (actual date, usual date when moved, else None)."""
    am = stream.alsace_moselle if alsace_moselle is None else alsace_moselle
    found: dict[date, Collection] = {}
    day = start - timedelta(days=10)  # a collection moved from before `start` may land in the range
    while day <= end:
        if _usual(stream, day):
            actual = _moved_to(stream, day, am)
            # a usual collection and a moved one on the same day are one round: the usual one is kept
            if actual is not None and start <= actual <= end and (actual not in found or actual == day):
                found[actual] = Collection(actual, None if actual == day else day)
        day += timedelta(days=1)
    return [found[d] for d in sorted(found)]


def next_collection(stream: Stream, day: date, alsace_moselle: bool | None = None) -> Collection | None:
    """The first collection on or after `day`."""
    for offset in range(0, SEARCH_DAYS, 28):
        first = day + timedelta(days=offset)
        found = collection_days(stream, first, first + timedelta(days=27), alsace_moselle)
        if found:
            return found[0]
    return None


def describe_collection(stream: Stream, day: date, today: date, alsace_moselle: bool | None = None) -> str:
    """What happens to `stream`'s collection on `day`, as spoken French."""
    am = stream.alsace_moselle if alsace_moselle is None else alsace_moselle
    noun = stream.noun
    when = _cap(_day(day, today))
    holiday = holiday_name(day, am)
    collected = noun.agree("collecté")
    if _usual(stream, day):
        if not holiday:
            return f"{when}, {noun.text} {noun.be} {collected} comme d'habitude."
        if stream.rule == "maintenue":
            return f"{when} est férié, mais la collecte {noun.of} est maintenue."
        moved = _moved_to(stream, day, am)
        if moved is None:
            then = next_collection(stream, day + timedelta(days=1), am)
            following = f" La prochaine a lieu {_day(then.day, today)}." if then else ""
            return f"{when} est férié : il n'y a pas de collecte {noun.of} ce jour-là.{following}"
        return f"{when} est férié : la collecte {noun.of} est reportée {_day(moved, today, 'à')}."
    landing = [c.moved_from for c in collection_days(stream, day, day, am) if c.moved_from]
    if landing:
        return (f"{when}, la collecte {noun.of} a lieu exceptionnellement, à la place de celle "
                f"{_day(landing[0], today, 'de')}, qui est férié.")
    then = next_collection(stream, day, am)
    usual = _weekday_list(stream.weekdays) + ("" if stream.weeks == "toutes" else " une semaine sur deux")
    if then is None:
        return f"Il n'y a pas de collecte {noun.of} {_day(day, today)}."
    moved_note = f", au lieu {_day(then.moved_from, today, 'de')} qui est férié" if then.moved_from else ""
    if holiday:
        return (f"{when} est {holiday_phrase(holiday)}, mais {noun.text} {noun.be} {collected} {usual} : "
                f"la collecte a lieu {'normalement ' if not then.moved_from else ''}"
                f"{_day(then.day, today)}{moved_note}.")
    return (f"Il n'y a pas de collecte {noun.of} {_day(day, today)} : "
            f"la prochaine a lieu {_day(then.day, today)}{moved_note}.")


# ---------------------------------------------------------------------------
# School holidays
# ---------------------------------------------------------------------------

SCHOOL_KEYS = ("zone", "vacances")
SCHOOL_PERIOD_KEYS = ("nom", "du", "au")


@dataclass(frozen=True)
class SchoolBreak:
    name: str      # "vacances de Noël"
    first: date    # first day without school
    last: date     # last day without school (classes resume the next school day)


@dataclass(frozen=True)
class SchoolHolidays:
    zone: str
    breaks: tuple[SchoolBreak, ...] = ()
    alsace_moselle: bool = False

    def on(self, day: date) -> SchoolBreak | None:
        for period in self.breaks:
            if period.first <= day <= period.last:
                return period
        return None


def load_school_holidays(path: Path | str, alsace_moselle: bool = False
                         ) -> tuple[SchoolHolidays | None, list[Diagnostic]]:
    """Read vacances_scolaires.yaml; returns None with the diagnostics when anything is wrong."""
    reader, keys = _top_keys(path, "school holidays", SCHOOL_KEYS, ("zone", "vacances"))
    diagnostics = reader.diagnostics
    if keys is None:
        return None, diagnostics
    zone = reader.text(keys["zone"], "`zone`") if "zone" in keys else None
    breaks: list[tuple[SchoolBreak, yaml.Node]] = []
    for item in (reader.sequence(keys["vacances"], "`vacances`") or []) if "vacances" in keys else []:
        fields = reader.mapping(item, "a period of `vacances`", SCHOOL_PERIOD_KEYS, required=("nom", "du", "au"))
        if not fields or len(fields) < 3:
            continue
        name = reader.text(fields["nom"], "`nom`")
        first, last = reader.date(fields["du"], "`du`"), reader.date(fields["au"], "`au`")
        if name is None or first is None or last is None:
            continue
        if last < first:
            reader.error(fields["au"], f"`au` ({last:%d/%m/%Y}) is before `du` ({first:%d/%m/%Y})",
                         "put the first day of the holidays in `du` and the last one in `au`")
            continue
        period = SchoolBreak(name, first, last)
        for other, node in breaks:
            if other.first <= last and first <= other.last:
                reader.error(item, f"these holidays overlap those at line {reader.location(node).line}",
                             "check the dates of the two periods")
                break
        else:
            breaks.append((period, item))
    if _has_errors(diagnostics) or zone is None:
        return None, diagnostics
    return SchoolHolidays(zone, tuple(sorted((b for b, _ in breaks), key=lambda b: b.first)), alsace_moselle), diagnostics


# ---------------------------------------------------------------------------
# Canteen menus
# ---------------------------------------------------------------------------

MENU_COLUMNS = ("date", "entree", "plat", "accompagnement", "dessert")


@dataclass(frozen=True)
class Menu:
    day: date
    entree: str
    plat: str
    accompagnement: str = ""
    dessert: str = ""


def _decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV saved by Excel or LibreOffice: UTF-8 (with or without BOM), UTF-16, or cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252"), "cp1252"  # Excel on Windows ("CSV (séparateur: point-virgule)")


def load_menus(path: Path | str) -> tuple[dict[date, Menu], list[Diagnostic]]:
    """Read the canteen menus CSV (`date;entree;plat;accompagnement;dessert`).

    Lines with errors are reported and left out; the other menus are returned,
    so that a typo on one day does not silence every other day.
    """
    path = str(path)
    diagnostics: list[Diagnostic] = []

    def report(line: int, message: str, hint: str, severity: str = ERROR) -> None:
        diagnostics.append(Diagnostic(Location(path, line, 1), severity, message, hint))

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        report(1, f"cannot read file: {exc.strerror}", "check the path and the file's permissions")
        return {}, diagnostics
    try:
        text, _ = _decode(data)
    except UnicodeDecodeError:
        report(1, "the file's characters cannot be read", "save it again as `CSV UTF-8 (délimité par des virgules)`")
        return {}, diagnostics
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if header_index is None:
        report(1, "the menus file is empty", f"start with the line `{';'.join(MENU_COLUMNS)}`")
        return {}, diagnostics
    header_line = lines[header_index]
    delimiter = max(";,\t", key=header_line.count)
    header = [strip_accents(cell.strip().lower()) for cell in header_line.split(delimiter)]
    while header and not header[-1]:
        header.pop()
    if tuple(header) != MENU_COLUMNS:
        if _parse_date_text(header[0] if header else "") not in (None, "invalid"):
            report(header_index + 1, "the first line must be the column titles, not a menu",
                   f"insert the line `{';'.join(MENU_COLUMNS)}` at the top")
        else:
            report(header_index + 1, f"the column titles are `{header_line.strip()}`",
                   f"the first line must be exactly `{';'.join(MENU_COLUMNS)}`")
        return {}, diagnostics
    menus: dict[date, Menu] = {}
    first_line: dict[date, int] = {}
    reader = csv.reader(io.StringIO("\n".join(lines[header_index + 1:]) + "\n"), delimiter=delimiter)
    previous_end = header_index + 1
    for row in reader:
        line = previous_end + 1
        previous_end = header_index + 1 + reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue  # empty line (or `;;;;` from Excel), or a comment
        while len(cells) > len(MENU_COLUMNS) and not cells[-1]:
            cells.pop()  # empty cells after the dessert, as Excel leaves them
        if len(cells) != len(MENU_COLUMNS):
            hint = ("a dish containing `;` must be put in double quotes" if len(cells) > len(MENU_COLUMNS)
                    else "write all five cells, leaving empty the missing dishes (`;;`)")
            report(line, f"this line has {len(cells)} cells instead of {len(MENU_COLUMNS)} "
                         f"({';'.join(MENU_COLUMNS)})", hint)
            continue
        day = _parse_date_text(cells[0])
        if day is None or isinstance(day, str):  # str: "invalid"
            problem = "is not a date" if day is None else "does not exist in the calendar"
            report(line, f"`{cells[0]}` {problem}", "write the date as JJ/MM/AAAA, e.g. 03/12/2026")
            continue
        if day in menus:
            report(line, f"the menu of {day:%d/%m/%Y} is given twice (first at line {first_line[day]})",
                   "keep only one of the two lines")
            continue
        entree, plat, side, dessert = cells[1:]
        if not plat:
            if entree or side or dessert:
                report(line, f"the menu of {day:%d/%m/%Y} has no main dish (`plat`)",
                       "write the main dish in the third cell")
            else:
                report(line, f"the menu of {day:%d/%m/%Y} is empty; the line is ignored",
                       "fill in the dishes, or remove the line", WARNING)
            continue
        menus[day] = Menu(day, entree, plat, side, dessert)
        first_line[day] = line
    return menus, diagnostics


def describe_menu(menus: dict[date, Menu], day: date, today: date,
                  school: SchoolHolidays | None = None, alsace_moselle: bool | None = None) -> str:
    """The canteen menu of `day` as spoken French, or an honest reason why there is none."""
    am = (school.alsace_moselle if school else False) if alsace_moselle is None else alsace_moselle
    when = _cap(_day(day, today))
    menu = menus.get(day)
    if menu is not None:
        main = menu.plat + (f" et {menu.accompagnement}" if menu.accompagnement else "")
        dishes = f"{menu.entree}, puis {main}" if menu.entree else main
        if menu.dessert:
            dishes += f", et en dessert {menu.dessert}"
        return f"{when}, au menu de la cantine : {dishes}."
    if day.weekday() >= 5:
        return f"Il n'y a pas de cantine le {WEEKDAYS[day.weekday()]}."
    holiday = holiday_name(day, am)
    if holiday:
        return f"{when} est un jour férié ({holiday}) : il n'y a pas de cantine."
    period = school.on(day) if school else None
    if period is not None:
        back = _school_restarts(period, am)
        again = f" La cantine reprend {_day(back, today)}." if back else ""
        return f"{when}, ce sont les {period.name} : il n'y a pas de cantine.{again}"
    if day.weekday() == 2 and not any(d.weekday() == 2 for d in menus):
        return (f"Je n'ai pas de menu de cantine pour {_day(day, today)} : "
                "il n'y a habituellement pas de cantine le mercredi.")
    if day < today:
        return f"Je n'ai pas le menu {_day(day, today, 'de')}."
    return (f"Je n'ai pas encore le menu {_day(day, today, 'de')}, "
            "il est publié chaque semaine sur le site de la mairie.")


def _school_restarts(period: SchoolBreak, alsace_moselle: bool) -> date:
    day = period.last + timedelta(days=1)
    while day.weekday() >= 5 or is_public_holiday(day, alsace_moselle):
        day += timedelta(days=1)
    return day
