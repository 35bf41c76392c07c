"""French text as it should be spoken, for the speech synthesiser.

The answers are written by town-hall staff for reading ("de 8h30 à 12h",
"12,50 €", "01 99 00 12 34", "le CCAS"), but the Piper voice reads its input
literally: it stumbles on digits, symbols and abbreviations, or reads them
the English way. `spoken_french` rewrites such a text into the words a person
at the reception desk would say ("de huit heures trente à midi", "douze euros
cinquante", "zéro un, quatre-vingt-dix-neuf, ...", "le cé cé a esse"),
leaving ordinary text and its punctuation (the voice's pauses) alone.

The rewriting is a sequence of regular-expression passes; the order matters,
because the most specific forms (addresses, phone numbers, dates, times,
amounts) must be read before their digits fall to the generic number pass.
Every number word comes from num2words so that agreement and hyphenation
follow one consistent source.

The acronym table `ACRONYMS` is meant to be extended by the team. An unknown
all-capital word of 2 to 5 letters is spelled letter by letter only when it
has no vowel (SNCF, PMR, TTC): with a vowel it may be an ordinary word
written in capitals (MAIRIE, OUVERT, LE), so it is left to the voice.
"""

from __future__ import annotations

import re
from datetime import date

from num2words import num2words

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet",
          "août", "septembre", "octobre", "novembre", "décembre")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

# French letter names, written so that the voice pronounces them as a name
# and not as a sound ("s" alone would be a hiss, "esse" is the letter).
LETTER_NAMES = {
    "a": "a", "b": "bé", "c": "cé", "d": "dé", "e": "eu", "f": "effe", "g": "gé",
    "h": "hache", "i": "i", "j": "ji", "k": "ka", "l": "elle", "m": "aime",
    "n": "enne", "o": "o", "p": "pé", "q": "ku", "r": "erre", "s": "esse",
    "t": "té", "u": "u", "v": "vé", "w": "double vé", "x": "ixe", "y": "i grec",
    "z": "zède",
}

# What people say for an all-capital word: an expansion, the acronym read as
# a word (in lower case, so that the voice does not spell it), or None to
# spell it letter by letter. Acronyms without a vowel are spelled anyway;
# they are listed here only when it documents a choice.
ACRONYMS: dict[str, str | None] = {
    "ALSH": None,
    "ANTS": None,
    "APL": None,
    "CAF": "caf",
    "CCAS": None,
    "CE": None,
    "CESU": "césu",
    "CNI": "carte nationale d'identité",
    "CNIL": "cnil",
    "CPAM": None,
    "EDF": None,
    "EHPAD": "èpade",
    "HLM": None,
    "IBAN": "iban",
    "INSEE": "insee",
    "JDC": "journée défense et citoyenneté",
    "PACS": "pacs",
    "PLU": "plan local d'urbanisme",
    "PMI": None,
    "PMR": "personnes à mobilité réduite",
    "RDV": "rendez-vous",
    "RER": None,
    "RIB": "rib",
    "RSA": None,
    "SAMU": "samu",
    "SNCF": None,
    "SVP": "s'il vous plaît",
    "UE": None,
    "URSSAF": "urssaf",
}

# Abbreviations read the same wherever they are.
ABBREVIATIONS = {"Mme": "madame", "Mmes": "mesdames", "Mlle": "mademoiselle", "Mlles": "mesdemoiselles"}
# Abbreviations that are only abbreviations in front of a name ("M. Dupont",
# "rue St-Jean"); elsewhere "M." may be a letter ending a sentence.
BEFORE_NAME = {"M.": "monsieur", "MM.": "messieurs", "Dr": "docteur", "St": "Saint", "Ste": "Sainte"}

# Units after a number: (singular, plural). Longest first in the pattern.
UNITS = {
    "km/h": ("kilomètre heure", "kilomètres heure"),
    "km²": ("kilomètre carré", "kilomètres carrés"),
    "m²": ("mètre carré", "mètres carrés"),
    "m2": ("mètre carré", "mètres carrés"),
    "km": ("kilomètre", "kilomètres"),
    "cm": ("centimètre", "centimètres"),
    "kg": ("kilo", "kilos"),
    "min": ("minute", "minutes"),
    "°C": ("degré", "degrés"),
    "m": ("mètre", "mètres"),
}
_FEMININE_UNITS = {"min"}

# "1 semaine" is "une semaine": the nouns a mairie text counts that are feminine.
FEMININE_NOUNS = frozenset("""
heure heures minute minutes seconde secondes semaine semaines journée journées nuit nuits
année années personne personnes fois place places page pages pièce pièces photo photos
""".split())

# A web address without scheme or "www." is only recognised by one of these endings,
# so that "etc." or "M. Dupont" are never taken for one.
WEB_ENDINGS = ("fr", "com", "org", "net", "eu", "info", "gouv")

_SPACES = re.compile(r"[\u00a0\u202f\u2009]")
_SUPERSCRIPTS = str.maketrans({"ᵉ": "e", "ʳ": "r", "ᵈ": "d", "º": "°"})
_NUM = r"(?<![\d,.])(\d{1,3}(?:[ .]\d{3})+(?!\d)|\d+)(?:[,.](\d+))?"
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"\b(?:https?://)?(?:www\.)?(?:[a-z0-9-]+\.)+(?:" + "|".join(WEB_ENDINGS) + r")\b"
    r"(?:/[\w/-]*(?:\.[\w/-]+)*)?", re.IGNORECASE)
_URL_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\d+])(?:(\+33)\s?(?:\(0\)\s?)?([1-9])|(0\d))((?:[ .-]?\d{2}){4})(?!\d)")
_DATE = re.compile(r"(?:\b(le|Le|du|Du|au|Au)\s+)?(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")
_PER = re.compile(r"(?<!\d)(\d+)\s?([hj])\s?/\s?(\d+)(?!\d)")
_TIME_TOKEN = r"\d{1,2}(?:\s?[hH](?:\s?\d{2})?|:\d{2})"
_TIME_RANGE = re.compile(
    rf"(?:\b([dD]e)\s+)?(?<![\w,.:])({_TIME_TOKEN})\s*[-–—]\s*({_TIME_TOKEN})(?![\w:])")
_TIME = re.compile(rf"(?<![\w,.:])({_TIME_TOKEN})(?![\w:])")
_AMOUNT = re.compile(_NUM + r"\s?(?:€|euros?\b|EUR\b)")
_PERCENT = re.compile(_NUM + r"\s?%")
_UNIT = re.compile(_NUM + r"\s?(" + "|".join(re.escape(u) for u in UNITS) + r")(?![\w²])")
_SQUARE_METRE = re.compile(r"\bm²")
_ROMAN_ORDINAL = re.compile(
    r"\b([IVXLC]+)(?:e|ème|er)(?=\s+(?:siècles?|République|arrondissement|millénaire)\b)")
_ORDINAL = re.compile(r"(?<![\d,.])(\d+)(er|re|ère|ere|nde|nd|ème|eme|ième|ieme|e)(?!\w)")
_FIRST_OF_MONTH = re.compile(r"(?<![\d,.])1(?=\s+(?:" + "|".join(MONTHS) + r")\b)")
_NUMERO = re.compile(r"\b[nN]°\s?")
_ETC = re.compile(r"\betc\.(?=(\s+[A-ZÀ-Ý]|\s*$))?")
_ABBREVIATION = re.compile(r"\b(" + "|".join(ABBREVIATIONS) + r")\b\.?")
_BEFORE_NAME = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(a) for a in sorted(BEFORE_NAME, key=len, reverse=True))
    + r")\.?(?=[\s-]+[A-ZÀ-Ý])")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_CAPITALS = re.compile(r"\b[A-Z]{2,}\b")
_NUMBER = re.compile(_NUM + r"(?:(?=\s+([^\W\d_]+)))?")


def spoken_french(text: str) -> str:
    """Rewrite a French text so that a speech synthesiser reads it as a person would."""
    text = _SPACES.sub(" ", text).translate(_SUPERSCRIPTS)
    for rewrite in _PASSES:
        text = rewrite(text)
    return " ".join(text.split())


def speak_time(hour: int, minute: int = 0) -> str:
    """A clock time as said in French: "huit heures trente", "midi", "minuit quinze", "une heure cinq"."""
    if not (0 <= hour <= 24 and 0 <= minute <= 59) or (hour == 24 and minute):
        raise ValueError(f"not a time of day: {hour}:{minute:02d}")
    if hour in (0, 24):
        words = "minuit"
    elif hour == 12:
        words = "midi"
    else:
        words = f"{_feminine(num2words(hour, lang='fr'))} heure{'s' if hour > 1 else ''}"
    return f"{words} {_feminine(num2words(minute, lang='fr'))}" if minute else words


def speak_date(day: date, *, weekday: bool = True, year: bool = False) -> str:
    """A date as said in French: "le jeudi trois décembre", "le premier mai deux mille vingt-six"."""
    words = ["le"]
    if weekday:
        words.append(WEEKDAYS[day.weekday()])
    words.append(_day_and_month(day))
    if year:
        words.append(num2words(day.year, lang="fr"))
    return " ".join(words)


def _day_and_month(day: date) -> str:
    number = "premier" if day.day == 1 else num2words(day.day, lang="fr")
    return f"{number} {MONTHS[day.month - 1]}"


def _feminine(words: str) -> str:
    # Hours, minutes and feminine nouns agree: "une heure", "vingt et une minutes".
    return words[:-2] + "une" if words == "un" or words.endswith((" un", "-un")) else words


def _integer_words(digits: str) -> str:
    # A leading zero is said ("zéro cinq"), num2words would drop it.
    zeros = len(digits) - len(digits.lstrip("0"))
    if zeros == len(digits):
        return " ".join(["zéro"] * max(zeros, 1))
    return " ".join(["zéro"] * zeros + [num2words(int(digits), lang="fr")])


def _number_words(whole: str, decimals: str | None = None) -> str:
    words = _integer_words(re.sub(r"[ .]", "", whole))
    return f"{words} virgule {_integer_words(decimals)}" if decimals else words


def _number_value(whole: str, decimals: str | None) -> float:
    return float(re.sub(r"[ .]", "", whole) + ("." + decimals if decimals else ""))


def _spell(word: str) -> str:
    return " ".join(LETTER_NAMES[letter] for letter in word.lower())


def _say_email(match: re.Match) -> str:
    local, domain = match.group(0).split("@", 1)
    *labels, ending = domain.split(".")
    # Every character of an e-mail address must be typed, so each one is said.
    said = [_say_address_part(local, "tiret"), "arobase"]
    said += [_say_address_part(label, "tiret") + " point" for label in labels]
    return " ".join(said + [_say_ending(ending)])


def _say_url(match: re.Match) -> str:
    address = _URL_PREFIX.sub("", match.group(0))
    host, _, path = address.partition("/")
    *labels, ending = host.split(".")
    # Nobody says "www" or the hyphens of a site name: the site is found by its words.
    said = [label.replace("-", " ") + " point" for label in labels] + [_say_ending(ending)]
    if path.strip("/"):
        said += ["slash " + _say_address_part(part, "tiret") for part in path.strip("/").split("/")]
    return " ".join(said)


def _say_address_part(part: str, hyphen: str) -> str:
    part = part.replace(".", " point ").replace("_", " tiret bas ").replace("-", f" {hyphen} ")
    return " ".join(part.split())


def _say_ending(ending: str) -> str:
    # Country codes are spelled ("f r"), longer endings are words ("com", "gouv").
    return " ".join(ending) if len(ending) == 2 else ending


def _say_phone(match: re.Match) -> str:
    country, first, prefix, rest = match.groups()
    pairs = re.findall(r"\d{2}", rest)
    said = [f"plus {num2words(int(country[1:]), lang='fr')}", _integer_words(first)] if country else [
        _integer_words(prefix)]
    # Pairs as the French say them, commas so that the voice pauses between them.
    return ", ".join(said + [_integer_words(pair) for pair in pairs])


def _say_date(match: re.Match) -> str:
    article, day, month, year = match.groups()
    if year is None and article is None:
        return match.group(0)  # "1/2" alone is more likely a fraction than a date
    full_year = 2000 if year is None else int(year) + 2000 if len(year) == 2 else int(year)
    try:
        when = date(full_year, int(month), int(day))  # 2000 is a leap year: "le 29/02" is a date
    except ValueError:
        return match.group(0)
    said = f"{article or 'le'} {_day_and_month(when)}"
    return f"{said} {num2words(when.year, lang='fr')}" if year else said


def _say_per(match: re.Match) -> str:
    count, unit, per = match.groups()
    noun = "heures" if unit == "h" else "jours"
    return f"{num2words(int(count), lang='fr')} {noun} sur {num2words(int(per), lang='fr')}"


def _time_words(token: str) -> str | None:
    hour, minute = (int(n) if n else 0 for n in re.split(r"\s?[hH:]\s?", token))
    if hour <= 24 and minute <= 59 and not (hour == 24 and minute):
        return speak_time(hour, minute)
    # "48h" is a duration, not a time of day.
    return f"{num2words(hour, lang='fr')} heures" if not minute and ":" not in token else None


def _say_time_range(match: re.Match) -> str:
    article, start, end = match.groups()
    start_words, end_words = _time_words(start), _time_words(end)
    if start_words is None or end_words is None:
        return match.group(0)
    return f"{article or 'de'} {start_words} à {end_words}"


def _say_time(match: re.Match) -> str:
    return _time_words(match.group(1)) or match.group(0)


def _say_amount(match: re.Match) -> str:
    whole, decimals = match.groups()
    if decimals and len(decimals) > 2:
        return f"{_number_words(whole, decimals)} euros"
    euros, cents = int(re.sub(r"[ .]", "", whole)), int((decimals or "0").ljust(2, "0"))
    if cents and not euros:
        return f"{num2words(cents, lang='fr')} centime{'s' if cents > 1 else ''}"
    said = f"{num2words(euros, lang='fr')} {_euro_noun(euros)}"
    # "douze euros cinquante": the word "centimes" is left out after euros.
    return f"{said} {num2words(cents, lang='fr')}" if cents else said


def _euro_noun(euros: int) -> str:
    if euros >= 1_000_000 and euros % 1_000_000 == 0:
        return "d'euros"  # "un million d'euros"
    return "euros" if euros > 1 else "euro"


def _say_percent(match: re.Match) -> str:
    return f"{_number_words(*match.groups())} pour cent"


def _say_unit(match: re.Match) -> str:
    whole, decimals, unit = match.groups()
    singular, plural = UNITS[unit]
    words = _number_words(whole, decimals)
    if unit in _FEMININE_UNITS:
        words = _feminine(words)
    return f"{words} {plural if _number_value(whole, decimals) >= 2 else singular}"


def _roman_value(numeral: str) -> int:
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
    total = 0
    for letter, following in zip(numeral, numeral[1:] + " ", strict=True):
        value = values[letter]
        total += -value if value < values.get(following, 0) else value
    return total


def _say_roman_ordinal(match: re.Match) -> str:
    return num2words(_roman_value(match.group(1)), lang="fr", to="ordinal")


def _say_ordinal(match: re.Match) -> str:
    number, suffix = int(match.group(1)), match.group(2)
    if number == 2 and suffix.startswith("nd"):
        return "seconde" if suffix == "nde" else "second"  # "la classe de 2nde"
    words = num2words(number, lang="fr", to="ordinal")
    return "première" if words == "premier" and suffix in ("re", "ère", "ere") else words


def _say_etc(match: re.Match) -> str:
    # The abbreviation's dot is dropped, but kept where it also ends the sentence.
    return "et cetera." if match.group(1) is not None else "et cetera"


def _say_capitals(match: re.Match) -> str:
    word = match.group(0)
    if word in ACRONYMS:
        return ACRONYMS[word] or _spell(word)
    # Spelled only when surely not a word; Roman numerals (XV, XX) are not spelled.
    if len(word) <= 5 and not re.search(r"[AEIOUY]", word) and not re.fullmatch(r"[IVX]+", word):
        return _spell(word)
    return word


def _say_number(match: re.Match) -> str:
    whole, decimals, next_word = match.groups()
    words = _number_words(whole, decimals)
    return _feminine(words) if not decimals and next_word in FEMININE_NOUNS else words


_PASSES = (
    lambda t: _EMAIL.sub(_say_email, t),
    lambda t: _URL.sub(_say_url, t),
    lambda t: _PHONE.sub(_say_phone, t),
    lambda t: _DATE.sub(_say_date, t),
    lambda t: _PER.sub(_say_per, t),
    lambda t: _TIME_RANGE.sub(_say_time_range, t),
    lambda t: _TIME.sub(_say_time, t),
    lambda t: _AMOUNT.sub(_say_amount, t),
    lambda t: _PERCENT.sub(_say_percent, t),
    lambda t: _UNIT.sub(_say_unit, t),
    lambda t: _SQUARE_METRE.sub("mètre carré", t),
    lambda t: _ROMAN_ORDINAL.sub(_say_roman_ordinal, t),
    lambda t: _ORDINAL.sub(_say_ordinal, t),
    lambda t: _FIRST_OF_MONTH.sub("premier", t),
    lambda t: _NUMERO.sub("numéro ", t),
    lambda t: t.replace("&", " et "),
    lambda t: _ETC.sub(_say_etc, t),
    lambda t: _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m.group(1)], t),
    lambda t: _BEFORE_NAME.sub(lambda m: BEFORE_NAME[m.group(1)], t),
    lambda t: _LETTER_DIGIT.sub(" ", t),
    lambda t: _CAPITALS.sub(_say_capitals, t),
    lambda t: _NUMBER.sub(_say_number, t),
)
