"""Calendrier: exceptional closures, opening hours, the canteen menu CSV, and what the bot says on a date."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from flask import abort, g, redirect, render_template, request, url_for

from callbot.console import calendar_edit, sheets_edit
from callbot.console.pages import blueprint, editor_only, form_text


def _draft_file(kind: str) -> tuple[str, Path] | None:
    """The draft's name and path of a calendar file of callbot.yaml (`hours`, `menus`), or None."""
    settings = g.console.config.calendar
    live = getattr(settings, kind, None) if settings else None
    if live is None:
        return None
    name = f"data/{Path(live).name}"
    return name, g.console.workspace.draft_path(name)


def _date(name: str, required: bool = True) -> date | None:
    text = form_text(name, 10, required=required) if request.method == "POST" else request.args.get(name, "")[:10]
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, "Date invalide : utilisez le calendrier du champ (AAAA-MM-JJ).")


def _page(error: str = "", error_field: str = "", menu_problems=None, menu_days: int | None = None):
    workspace = g.console.workspace
    hours = _draft_file("hours")
    places = calendar_edit.places_of(hours[1]) if hours else []
    check = workspace.check_draft()
    day = _date("jour", required=False) if request.method == "GET" else None
    said = calendar_edit.what_the_bot_says(check.knowledge.calendar if check.knowledge else None, day, datetime.now()) \
        if day else []
    diagnostics = [d for d in check.diagnostics if "/data/" in d.location.path]
    return render_template("calendar.html", places=places, hours=hours, menus=_draft_file("menus"), day=day, said=said,
                           error=error, error_field=error_field, diagnostics=diagnostics, menu_problems=menu_problems,
                           menu_days=menu_days, weekdays=calendar_edit.WEEKDAYS)


@blueprint.route("/calendrier")
@editor_only
def calendar_page():
    return _page()


@blueprint.route("/calendrier/fermeture", methods=["POST"])
@editor_only
def add_closure():
    hours = _draft_file("hours") or abort(404)
    first = _date("du")
    last = _date("au", required=False) or first
    place, reason = form_text("lieu", 64, required=True), " ".join(form_text("motif", 200).split())
    with g.console.workspace.lock:
        try:
            calendar_edit.add_closure(hours[1], place, first, last, reason, form_text("horaires", 100))
        except sheets_edit.EditError as problem:
            return _page(str(problem), problem.field), 400
    g.console.store.audit(g.session.user, "fermeture ajoutée", f"{place} du {first} au {last} : {reason}, dans le brouillon")
    return redirect(url_for("pages.calendar_page", note="saved"))


@blueprint.route("/calendrier/fermeture/supprimer", methods=["POST"])
@editor_only
def remove_closure():
    hours = _draft_file("hours") or abort(404)
    place, index = form_text("lieu", 64, required=True), form_text("index", 4, required=True)
    if not index.isdigit():
        abort(400)
    with g.console.workspace.lock:
        try:
            calendar_edit.remove_closure(hours[1], place, int(index))
        except sheets_edit.EditError as problem:
            return _page(str(problem), problem.field), 400
    g.console.store.audit(g.session.user, "fermeture supprimée", f"{place} n° {int(index) + 1}, dans le brouillon")
    return redirect(url_for("pages.calendar_page", note="saved"))


@blueprint.route("/calendrier/horaires", methods=["POST"])
@editor_only
def set_week():
    hours = _draft_file("hours") or abort(404)
    place = form_text("lieu", 64, required=True)
    week = {day: form_text(day, 100) for day in calendar_edit.WEEKDAYS}
    with g.console.workspace.lock:
        try:
            calendar_edit.set_week(hours[1], place, week)
        except sheets_edit.EditError as problem:
            return _page(str(problem), problem.field), 400
    g.console.store.audit(g.session.user, "horaires modifiés", f"{place}, dans le brouillon")
    return redirect(url_for("pages.calendar_page", note="saved"))


@blueprint.route("/calendrier/menu", methods=["POST"])
@editor_only
def upload_menu():
    menus = _draft_file("menus") or abort(404)
    upload = request.files.get("menu")
    if upload is None or not upload.filename:
        return _page("Choisissez le fichier CSV du menu.", "menu"), 400
    data = upload.read(calendar_edit.MAX_CSV_BYTES + 1)  # the uploaded name is never used
    try:
        days, problems = calendar_edit.check_menu_csv(data)
    except sheets_edit.EditError as problem:
        return _page(str(problem), problem.field), 400
    if any(p.severity == "error" for p in problems):
        return _page("Le menu n'a pas été remplacé : corrigez ces lignes du fichier et envoyez-le à nouveau.", "menu",
                     problems), 400
    with g.console.workspace.lock:
        menus[1].write_bytes(data)
    g.console.store.audit(g.session.user, "menu de la cantine remplacé", f"{days} jours, dans le brouillon")
    return _page(menu_problems=problems, menu_days=days)
