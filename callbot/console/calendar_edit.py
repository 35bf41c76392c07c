"""The calendar page's logic: closures and weekly hours in horaires.yaml (round trip), the canteen menu CSV,
and what the bot says about a given date."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from callbot import calendar
from callbot.console import sheets_edit
from callbot.dated import MairieCalendar
from callbot.yamlsource import Diagnostic

WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MAX_CSV_BYTES = 512 * 1024


@dataclass(frozen=True)
class Closure:
    place: str
    index: int
    first: str
    last: str
    reason: str
    hours: str


@dataclass(frozen=True)
class PlaceView:
    key: str
    name: str
    week: tuple[tuple[str, str], ...]  # (day, hours as written)
    closures: tuple[Closure, ...]


def _places(document) -> CommentedMap:
    places = document.get("lieux") if isinstance(document, CommentedMap) else None
    if not isinstance(places, CommentedMap):
        raise sheets_edit.EditError("lieux", "Le fichier des horaires n'a pas de `lieux`.")
    return places


def places_of(path: Path) -> list[PlaceView]:
    views = []
    for key, place in _places(sheets_edit.load(path)).items():
        if not isinstance(place, CommentedMap):
            continue
        week = place.get("semaine") if isinstance(place.get("semaine"), CommentedMap) else {}
        closures = []
        for index, item in enumerate(place.get("fermetures") or []):
            if isinstance(item, CommentedMap):
                first = _french(item.get("date") or item.get("du"))
                closures.append(Closure(str(key), index, first, _french(item.get("au")) or first,
                                        str(item.get("motif") or ""), str(item.get("horaires") or "")))
        views.append(PlaceView(str(key), str(place.get("nom") or key),
                               tuple((day, str(week.get(day, ""))) for day in WEEKDAYS), tuple(closures)))
    return views


def _french(value) -> str:
    """A date of the file as staff write it in French (dd/mm/yyyy); text is shown as written."""
    return f"{value:%d/%m/%Y}" if isinstance(value, date) else str(value or "")


def add_closure(path: Path, place_key: str, first: date, last: date, reason: str, hours: str) -> None:
    if last < first:
        raise sheets_edit.EditError("au", "La fin de la fermeture est avant son début.")
    if not reason or len(reason) > 200:
        raise sheets_edit.EditError("motif", "Écrivez le motif (200 caractères au plus), il est dit au téléphone.")
    document = sheets_edit.load(path)
    place = _places(document).get(place_key)
    if not isinstance(place, CommentedMap):
        raise sheets_edit.EditError("lieu", "Choisissez un lieu de la liste.")
    entry = CommentedMap()
    if first == last:
        entry["date"] = first
    else:
        entry["du"], entry["au"] = first, last
    if hours:
        entry["horaires"] = hours[:100]
    entry["motif"] = reason
    closures = place.get("fermetures")
    if not isinstance(closures, CommentedSeq):
        closures = CommentedSeq()
        place.insert(list(place.keys()).index("semaine") + 1 if "semaine" in place else len(place), "fermetures",
                     closures)
    closures.append(entry)
    sheets_edit.dump(document, path)


def remove_closure(path: Path, place_key: str, index: int) -> None:
    document = sheets_edit.load(path)
    place = _places(document).get(place_key)
    closures = place.get("fermetures") if isinstance(place, CommentedMap) else None
    if not isinstance(closures, CommentedSeq) or not 0 <= index < len(closures):
        raise sheets_edit.EditError("fermeture", "Cette fermeture n'existe plus.")
    del closures[index]
    if not closures:
        del place["fermetures"]
    sheets_edit.dump(document, path)


def set_week(path: Path, place_key: str, week: dict[str, str]) -> None:
    document = sheets_edit.load(path)
    place = _places(document).get(place_key)
    if not isinstance(place, CommentedMap) or not isinstance(place.get("semaine"), CommentedMap):
        raise sheets_edit.EditError("lieu", "Choisissez un lieu de la liste.")
    for day in WEEKDAYS:
        value = " ".join(week.get(day, "").split())[:100] or "fermé"
        if str(place["semaine"].get(day, "")) != value:
            place["semaine"][day] = value
    sheets_edit.dump(document, path)


def check_menu_csv(data: bytes) -> tuple[int, list[Diagnostic]]:
    """Load an uploaded canteen menu as the service would; (days, diagnostics) with the CSV's line numbers."""
    if len(data) > MAX_CSV_BYTES:
        raise sheets_edit.EditError("menu", "Le fichier est trop gros pour un menu de cantine.")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "menu.csv"
        path.write_bytes(data)
        menus, diagnostics = calendar.load_menus(path)
    return len(menus or {}), diagnostics


def what_the_bot_says(cal: MairieCalendar | None, day: date, now: datetime) -> list[tuple[str, str]]:
    """(subject, sentence) for hours, collections and menu on `day`, as a caller asking on `now` would hear."""
    if cal is None:
        return []
    said = []
    today = now.date()
    if cal.schedule is not None:
        for place in cal.schedule.places:
            said.append((f"Horaires : {place.name}", calendar.describe_day(place, day, now if day == today else today)))
    if cal.collections is not None:
        for stream in cal.collections.streams:
            said.append((f"Collecte : {stream.noun.text}",
                         calendar.describe_collection(stream, day, today, cal.alsace_moselle)))
    if cal.menus is not None:
        said.append(("Menu de la cantine", calendar.describe_menu(cal.menus, day, today, cal.school, cal.alsace_moselle)))
    return said
