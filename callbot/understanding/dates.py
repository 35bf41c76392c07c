"""Dates and times in French transcripts: "demain", "lundi prochain", "le vingt cinq décembre".

The parser works on the same canonical words as the rest of the understanding
(`normalise.surface_words`, accents removed), so "Après-demain", "apres demain"
and "après demain" give the same two words, and "le 25 décembre" reads
"le vingt cinq decembre". At every word position, from the left, each rule
tries to match; the first position with a match wins (the caller's first date),
and there the longest match wins ("lundi de pâques" over "lundi").

Every date is computed from `today`, never from the clock. Weeks start on
Monday. Choices where French is ambiguous:

- "lundi" said on a Monday means today (the caller asks whether the town hall
  is open "lundi" on a Monday morning: today is the useful answer). "le lundi"
  (habitually, "on Mondays") also gives the next Monday, which answers it too.
- "lundi prochain" is the Monday of next calendar week: in 3 days on a Friday
  (the same day as "lundi"), in 7 days on a Monday. "le week end prochain"
  likewise is the weekend of next week.
- "ce week end" said on a Sunday is that Sunday alone (what is left of it).
- "dans huit jours" is 7 days and "dans quinze jours" 14, as French people mean.
- A day number alone ("le quinze") is this month's if not past, else next
  month's; "le premier" alone is not a date ("le premier étage").
- Without a year, a day and month are the next occurrence, today included.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

from callbot.understanding.normalise import strip_accents, surface_words

Date = datetime.date
DAY = datetime.timedelta(days=1)

MONTHS = ("janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet",
          "aout", "septembre", "octobre", "novembre", "decembre")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

# Words the recogniser sometimes glues together, split back into canonical words.
GLUED = {"aujourdhui": ("aujourd", "hui"), "weekend": ("week", "end"),
         "apresmidi": ("apres", "midi"), "apresdemain": ("apres", "demain")}

# Words after "le <number>" showing the number counts something else than a day.
NOT_A_DAY = frozenset("""
heure heures h minute minutes an ans annee annees mois jour jours semaine semaines fois
euro euros centime centimes rue avenue boulevard bd place chemin impasse allee route quai bis ter
personne personnes enfant enfants numero etage places kilo kilos metre metres kilometres cent mille
""".split())

# French number words; "vingt" after "quatre", "cent" and "mille" multiply, handled in `_number`.
UNITS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
         "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14,
         "quinze": 15, "seize": 16, "vingt": 20, "vingts": 20, "trente": 30, "quarante": 40,
         "cinquante": 50, "soixante": 60}

# "14/07", "3/12/2026", "03/12/26": a recogniser or a staff member wrote digits with slashes,
# which `surface_words` would turn into two unrelated numbers.
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*(\d{4}|\d{2}))?\b")
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")  # "17:30" -> "17h30", spelled by surface_words


@dataclass(frozen=True)
class DateSpan:
    """The day, or inclusive range of days, a caller refers to."""

    start: datetime.date
    end: datetime.date  # inclusive; == start for a single day
    expression: str  # the words that gave it, e.g. "lundi prochain"
    evening: bool = False  # "ce soir", "demain soir"

    @property
    def single_day(self) -> bool:
        return self.start == self.end


class _Hit(NamedTuple):
    size: int  # number of words matched
    start: Date
    end: Date
    evening: bool = False


# ---------------------------------------------------------------- calendar helpers

def easter(year: int) -> Date:
    """Easter Sunday (Gregorian), by the anonymous Meeus/Jones/Butcher formula.

    python-dateutil is not a dependency of the project, and the formula is short.
    """
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return Date(year, month, day + 1)


def _monday(day: Date) -> Date:
    return day - day.weekday() * DAY


def _safe_date(year: int, month: int, day: int) -> Date | None:
    try:
        return Date(year, month, day)
    except ValueError:  # 30 February, 29 February of a common year...
        return None


def _next_yearly(today: Date, month: int, day: int) -> Date | None:
    """The next `day`/`month`, today included; 29 February may be up to 8 years away."""
    for year in range(today.year, today.year + 9):
        found = _safe_date(year, month, day)
        if found and found >= today:
            return found
    return None


def _next_monthly(today: Date, day: int) -> Date | None:
    """The next day numbered `day`, today included, skipping months too short for it."""
    year, month = today.year, today.month
    for _ in range(13):
        found = _safe_date(year, month, day)
        if found and found >= today:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _add_months(day: Date, months: int) -> Date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for last in (day.day, 30, 29, 28):  # 31 January + 1 month -> the end of February
        found = _safe_date(year, month + 1, last)
        if found:
            return found
    raise AssertionError("unreachable")


def _month_span(today: Date, offset: int) -> tuple[Date, Date]:
    first = _add_months(today.replace(day=1), offset)
    return first, _add_months(first, 1) - DAY


def _week_span(today: Date, offset: int) -> tuple[Date, Date]:
    monday = _monday(today) + offset * 7 * DAY
    return monday, monday + 6 * DAY


def _weekend(today: Date, offset: int) -> tuple[Date, Date]:
    saturday = _monday(today) + (5 + offset * 7) * DAY
    start = max(saturday, today) if offset == 0 else saturday  # on a Sunday, "ce week end" is today
    return start, saturday + DAY


def _yearly(month: int, day: int) -> Callable[[Date], Date | None]:
    return lambda today: _next_yearly(today, month, day)


def _after_easter(days: int) -> Callable[[Date], Date]:
    """A holiday `days` after Easter Sunday: this year's if not past, else next year's."""
    def holiday(today: Date) -> Date:
        this_year = easter(today.year) + days * DAY
        return this_year if this_year >= today else easter(today.year + 1) + days * DAY
    return holiday


# ---------------------------------------------------------------- fixed phrases

_Rule = Callable[[Date], "Date | tuple[Date, Date] | None"]  # a day or an inclusive span

# Canonical words (accent-free) -> (the day or span they name, evening?).
PHRASES: dict[tuple[str, ...], tuple[_Rule, bool]] = {
    words: (rule, evening) for phrase, rule, evening in [
        ("aujourd hui", lambda t: t, False),
        ("ce matin", lambda t: t, False),
        ("cet apres midi", lambda t: t, False),
        ("ce soir", lambda t: t, True),
        ("tout a l heure", lambda t: t, False),
        ("demain", lambda t: t + DAY, False),
        ("demain matin", lambda t: t + DAY, False),
        ("demain apres midi", lambda t: t + DAY, False),
        ("demain soir", lambda t: t + DAY, True),
        ("apres demain", lambda t: t + 2 * DAY, False),
        ("hier", lambda t: t - DAY, False),
        ("hier soir", lambda t: t - DAY, True),
        ("avant hier", lambda t: t - 2 * DAY, False),
        ("ce week end", lambda t: _weekend(t, 0), False),
        ("week end prochain", lambda t: _weekend(t, 1), False),
        ("prochain week end", lambda t: _weekend(t, 1), False),
        ("week end dernier", lambda t: _weekend(t, -1), False),
        ("cette semaine", lambda t: (t, _week_span(t, 0)[1]), False),
        ("semaine prochaine", lambda t: _week_span(t, 1), False),
        ("semaine derniere", lambda t: _week_span(t, -1), False),
        ("semaine passee", lambda t: _week_span(t, -1), False),
        ("ce mois ci", lambda t: (t, _month_span(t, 0)[1]), False),
        ("mois prochain", lambda t: _month_span(t, 1), False),
        ("mois dernier", lambda t: _month_span(t, -1), False),
        ("noel", _yearly(12, 25), False),
        ("veille de noel", _yearly(12, 24), False),
        ("jour de l an", _yearly(1, 1), False),
        ("nouvel an", _yearly(1, 1), False),
        ("saint sylvestre", _yearly(12, 31), False),
        ("toussaint", _yearly(11, 1), False),
        ("armistice", _yearly(11, 11), False),
        ("fete du travail", _yearly(5, 1), False),
        ("fete nationale", _yearly(7, 14), False),
        ("assomption", _yearly(8, 15), False),
        ("paques", _after_easter(0), False),
        ("lundi de paques", _after_easter(1), False),
        ("ascension", _after_easter(39), False),
        ("pentecote", _after_easter(49), False),
        ("lundi de pentecote", _after_easter(50), False),
    ] for words in [tuple(phrase.split())]
}
_LONGEST_PHRASE = max(map(len, PHRASES))


def _phrase(words: list[str], i: int, today: Date) -> _Hit | None:
    for size in range(min(_LONGEST_PHRASE, len(words) - i), 0, -1):
        found = PHRASES.get(tuple(words[i:i + size]))
        if found:
            rule, evening = found
            value = rule(today)
            if value is None:  # a rule that names no day (none of today's does)
                continue
            start, end = value if isinstance(value, tuple) else (value, value)
            return _Hit(size, start, end, evening)
    return None


# ---------------------------------------------------------------- patterns

def _at(words: list[str], j: int) -> str:
    return words[j] if 0 <= j < len(words) else ""


def _number(words: list[str], i: int) -> tuple[int, int] | None:
    """The French number spelled from words[i], and the index after it; None if none.

    A word is added only after a round tens word and smaller than it ("vingt cinq",
    "soixante dix", not "cinq vingt"), so two numbers in a row ("deux quinze",
    "quinze treize") are not summed.
    """
    total, current, last, j = 0, 0, 10**6, i
    while j < len(words):
        word = words[j]
        if word == "et" and _at(words, j + 1) in ("un", "une", "onze") and current >= 20:
            j += 1
            continue
        if word == "mille":
            total, current, last = total + (current or 1) * 1000, 0, 1000
        elif word in ("cent", "cents") and current < 10:
            current, last = (current or 1) * 100, 100
        elif word in ("vingt", "vingts") and last == 4:  # quatre vingt(s)
            current, last = current + 76, 20
        elif word in UNITS and last % 10 == 0 and UNITS[word] < last:
            current, last = current + UNITS[word], UNITS[word]
        else:
            break
        j += 1
    return (total + current, j) if j > i else None


def _weekday(words: list[str], i: int, today: Date) -> _Hit | None:
    """ "lundi", "ce lundi", "lundi prochain", "mardi dernier", "jeudi en huit", "lundi soir"."""
    j = i + 1 if words[i] in ("ce", "cette") else i
    if _at(words, j) not in WEEKDAYS:
        return None
    weekday = WEEKDAYS.index(words[j])
    j += 1
    delta = (weekday - today.weekday()) % 7  # today included: "lundi" on a Monday is today
    day = today + delta * DAY
    modifier = _at(words, j)
    if modifier in ("prochain", "prochaine"):
        day, j = _monday(today) + (7 + weekday) * DAY, j + 1
    elif modifier in ("dernier", "passe"):
        day, j = today - ((today.weekday() - weekday) % 7 or 7) * DAY, j + 1
    elif words[j:j + 2] == ["en", "huit"]:
        day, j = day + 7 * DAY, j + 2
    elif words[j:j + 2] == ["qui", "vient"]:
        j += 2
    evening = _at(words, j) == "soir"
    if evening or _at(words, j) == "matin":
        j += 1
    elif words[j:j + 2] == ["apres", "midi"]:
        j += 2
    return _Hit(j - i, day, day, evening)


def _day_of_month(words: list[str], i: int, today: Date) -> _Hit | None:
    """ "le vingt cinq décembre", "mardi trois décembre deux mille vingt six", "le quinze"."""
    if _at(words, i - 1) in UNITS or _at(words, i - 1) == "et":
        return None  # inside a longer number: "un février" in "trente et un février"
    j, anchored = i, False  # a day number alone needs "le" or a weekday before it
    if words[j] == "le":
        j, anchored = j + 1, True
    if _at(words, j) in WEEKDAYS:
        j, anchored = j + 1, True
    if _at(words, j) == "premier":
        day, j = 1, j + 1
    else:
        parsed = _number(words, j)
        if not parsed:
            return None
        day, j = parsed
    if not 1 <= day <= 31:
        return None
    if _at(words, j) in MONTHS:
        month = MONTHS.index(words[j]) + 1
        j += 1
        year = _number(words, j)
        if year and 1900 <= year[0] <= 2199:
            found = _safe_date(year[0], month, day)
            j = year[1]
        else:
            found = _next_yearly(today, month, day)
    elif anchored and day >= 2 and _at(words, j) not in NOT_A_DAY and not _number(words, j):
        found = _next_monthly(today, day)
    else:
        return None
    return _Hit(j - i, found, found) if found else None


def _relative(words: list[str], i: int, today: Date) -> _Hit | None:
    """ "dans trois jours", "dans une semaine", "dans quinze jours", "il y a deux jours"."""
    if words[i] == "dans":
        sign, j = 1, i + 1
    elif words[i:i + 3] == ["il", "y", "a"]:
        sign, j = -1, i + 3
    else:
        return None
    parsed = _number(words, j)
    if not parsed:
        return None
    count, j = parsed
    unit = _at(words, j)
    if unit in ("jour", "jours"):
        days = count - 1 if count in (8, 15) else count  # "huit jours" is a week, "quinze" two
    elif unit in ("semaine", "semaines"):
        days = 7 * count
    elif unit == "mois":
        day = _add_months(today, sign * count)
        return _Hit(j + 1 - i, day, day)
    else:
        return None
    day = today + sign * days * DAY
    return _Hit(j + 1 - i, day, day)


_RULES = (_phrase, _weekday, _day_of_month, _relative)


# ---------------------------------------------------------------- public functions

def _words(text: str) -> tuple[list[str], list[str]]:
    """The words as heard (for `expression`) and their accent-free canonical forms."""
    def spell_date(match: re.Match) -> str:
        day, month, year = match.group(1), int(match.group(2)), match.group(3)
        if not 1 <= month <= 12:
            return match.group(0)
        year = f" 20{year}" if year and len(year) == 2 else f" {year}" if year else ""
        return f"{int(day)} {MONTHS[month - 1]}{year}"

    text = _CLOCK.sub(r"\1h\2", _NUMERIC_DATE.sub(spell_date, text))
    heard: list[str] = []
    plain: list[str] = []
    for word in surface_words(text):
        canonical = strip_accents(word)
        parts = GLUED.get(canonical)
        heard.extend(parts or (word,))
        plain.extend(parts or (canonical,))
    return heard, plain


def find_date(text: str, today: datetime.date) -> DateSpan | None:
    """The date a French transcript refers to, relative to `today`, or None if it names none."""
    heard, words = _words(text)
    for i in range(len(words)):
        hits = [hit for rule in _RULES if (hit := rule(words, i, today))]
        if hits:
            best = max(hits, key=lambda hit: hit.size)  # max keeps the first rule on a tie
            expression = " ".join(heard[i:i + best.size])
            return DateSpan(best.start, best.end, expression, best.evening)
    return None


def _minutes(words: list[str], j: int) -> tuple[int, int]:
    """Minutes after "heures": "trente", "et demie", "et quart", "moins le quart"; 0 if none."""
    if words[j:j + 2] in (["et", "demie"], ["et", "demi"]):
        return 30, j + 2
    if words[j:j + 2] == ["et", "quart"]:
        return 15, j + 2
    if words[j:j + 3] == ["moins", "le", "quart"]:
        return -15, j + 3
    parsed = _number(words, j)
    if parsed and parsed[0] < 60:
        return parsed[0], parsed[1]
    return 0, j


def find_time(text: str) -> datetime.time | None:
    """The time of day in a French transcript ("à dix sept heures", "vers midi"), or None.

    The hour is taken as said ("à cinq heures" is 05:00) unless "du soir" or
    "de l après midi" follows. Durations ("dans deux heures", "pendant une
    heure") and "cet après midi" are not times.
    """
    _, words = _words(text)
    for i, word in enumerate(words):
        if word in ("midi", "minuit") and _at(words, i - 1) != "apres":
            hour, j = (12 if word == "midi" else 0), i + 1
        else:
            parsed = _number(words, i)
            if not parsed or _at(words, parsed[1]) not in ("heure", "heures", "h"):
                continue
            if _at(words, i - 1) in ("dans", "pendant", "depuis") or words[max(i - 2, 0):i] == ["y", "a"]:
                continue
            hour, j = parsed[0], parsed[1] + 1
            if hour > 23:
                continue
        minutes, j = _minutes(words, j)
        if hour < 12 and (words[j:j + 2] == ["du", "soir"] or words[j:j + 4] == ["de", "l", "apres", "midi"]):
            hour += 12
        total = (hour * 60 + minutes) % (24 * 60)
        return datetime.time(total // 60, total % 60)
    return None
