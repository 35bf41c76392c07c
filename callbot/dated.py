"""Date-aware answers: the mairie's calendar data, and what to say for the date a caller asks about.

An answer sheet entry with `dated: {hours: mairie}`, `{collection: ordures_menageres}`
or `{menu: cantine}` keeps its written answer for general questions; when
the caller names a date ("demain", "lundi de Pâques", "le 25 décembre"), the
bot computes the sentence for that date from the data files that staff keep
up to date (callbot.yaml, `calendar:`). With no data for a date, the
sentences say so instead of inventing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from callbot import calendar
from callbot.sheets import AnswerBook
from callbot.understanding.dates import find_date
from callbot.understanding.person import canonical_text
from callbot.yamlsource import ERROR, WARNING, Diagnostic

# A menu is given only when the caller asks about food: "la cantine lundi" may be about enrolment.
MENU_WORDS = ("menu", "mang", "repas", "dejeun", "plat", "dessert", "entree")  # word beginnings: mangent, déjeuner


@dataclass(frozen=True)
class CalendarSettings:
    hours: Path | None = None
    collections: Path | None = None
    menus: Path | None = None
    school_holidays: Path | None = None
    alsace_moselle: bool = False


@dataclass(frozen=True)
class MairieCalendar:
    schedule: calendar.Schedule | None
    collections: calendar.Collections | None
    menus: dict[date, calendar.Menu] | None
    school: calendar.SchoolHolidays | None
    alsace_moselle: bool

    def reception_open(self, place: str, moment: datetime) -> bool:
        if self.schedule is None or place not in self.schedule.keys:
            return True
        return calendar.is_open(self.schedule.place(place), moment)

    def opening_sentence(self, place: str, now: datetime) -> str:
        """When `place` opens again, said from now ("La mairie est fermée en ce moment ... elle rouvre ...")."""
        if self.schedule is None:  # no hours, never closed: `reception_open` said so already
            raise ValueError(f"no opening hours known for {place}")
        return calendar.describe_day(self.schedule.place(place), now.date(), now)

    def sentence(self, dated: tuple[str, str], transcript: str, now: datetime) -> str | None:
        """What to say for this dated answer and transcript, or None to keep the written answer."""
        span = calendar_date(transcript, now.date())
        if span is None:
            return None
        kind, name = dated
        today = now.date()
        if kind == "hours" and self.schedule is not None:
            return calendar.describe_day(self.schedule.place(name), span, now if span == today else today)
        if kind == "collection" and self.collections is not None:
            return calendar.describe_collection(self.collections.stream(name), span, today, self.alsace_moselle)
        if kind == "menu" and self.menus is not None and asks_about_food(transcript):
            return calendar.describe_menu(self.menus, span, today, self.school, self.alsace_moselle)
        return None


def asks_about_food(transcript: str) -> bool:
    return any(word.startswith(MENU_WORDS) for word in canonical_text(transcript).split())


def calendar_date(transcript: str, today: date) -> date | None:
    span = find_date(transcript, today)
    return span.start if span else None


def load_calendar(settings: CalendarSettings, diagnostics: list[Diagnostic]) -> MairieCalendar | None:
    """Load every configured data file; problems go to `diagnostics` (file:line:column)."""
    am = settings.alsace_moselle
    schedule = collections = school = None
    menus = None
    if settings.hours:
        schedule, found = calendar.load_schedule(settings.hours, am)
        diagnostics += found
    if settings.collections:
        collections, found = calendar.load_collections(settings.collections, am)
        diagnostics += found
    if settings.school_holidays:
        school, found = calendar.load_school_holidays(settings.school_holidays, am)
        diagnostics += found
    if settings.menus:
        menus, found = calendar.load_menus(settings.menus)
        diagnostics += found
    return MairieCalendar(schedule, collections, menus, school, am)


def check_references(book: AnswerBook, cal: MairieCalendar | None, targets: dict, diagnostics: list[Diagnostic]) -> None:
    """Every `dated:` answer and every target's `hours:` must name something the data files hold."""
    known = {
        "hours": set(cal.schedule.keys) if cal and cal.schedule else set(),
        "collection": {s.key for s in cal.collections.streams} if cal and cal.collections else set(),
        "menu": {"cantine"} if cal and cal.menus is not None else set(),
    }
    files = {"hours": "calendar: hours", "collection": "calendar: collections", "menu": "calendar: menus"}
    for answer in book.answers:
        if not answer.dated or answer.dated[1] in known[answer.dated[0]]:
            continue
        kind, name = answer.dated
        if not known[kind]:  # no such data at all: the written answer is said, which is fine, but say so
            diagnostics.append(Diagnostic(answer.location, WARNING,
                                          f"answer `{answer.id}`: `dated: {kind}` but no `{files[kind]}` file is "
                                          f"configured; the written answer is said for every date",
                                          f"set `{files[kind]}` in callbot.yaml, or remove `dated:`"))
            continue
        diagnostics.append(Diagnostic(answer.location, ERROR,
                                      f"answer `{answer.id}`: `dated: {kind}: {name}` is not in the calendar data",
                                      f"use one of: {', '.join(sorted(known[kind]))}"))
    for target in targets.values():
        if target.hours and target.hours not in known["hours"]:
            diagnostics.append(Diagnostic(target.hours_location, ERROR,
                                          f"transfer target `{target.name}`: no opening hours for `{target.hours}`",
                                          f"use a place of `calendar: hours` ({', '.join(sorted(known['hours'])) or 'none configured'})"))
