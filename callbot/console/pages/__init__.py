"""The console's pages, one module each, on one blueprint; shared helpers here."""

from __future__ import annotations

import functools
import re
from datetime import date

from flask import Blueprint, abort, g, request

blueprint = Blueprint("pages", __name__)

MAX_FIELD = 2000


def editor_only(view):
    """Pages that change what the bot says are for editors; viewers get a 403 (and the refusal is logged)."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if g.session.role != "editor":
            g.console.store.audit(g.session.user, "accès refusé", request.path)
            abort(403)
        return view(*args, **kwargs)

    return guarded


def form_text(name: str, limit: int = MAX_FIELD, required: bool = False) -> str:
    """A form field, stripped; too long or missing when required is a 400."""
    value = request.form.get(name, "")
    if len(value) > limit or "\x00" in value:
        abort(400, f"Le champ « {name} » est trop long.")
    value = value.strip()
    if required and not value:
        abort(400, f"Le champ « {name} » est obligatoire.")
    return value


def answer_id_arg(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", value):
        abort(404)
    return value


def period_args(default: tuple[date, date]) -> tuple[date, date, str]:
    """The period picked in the page (?du=YYYY-MM-DD&au=...), or the default; a message when it was invalid."""
    try:
        start = date.fromisoformat(request.args["du"]) if request.args.get("du") else default[0]
        end = date.fromisoformat(request.args["au"]) if request.args.get("au") else default[1]
    except ValueError:
        return default[0], default[1], "Date invalide : la période par défaut est affichée."
    if start > end or (end - start).days > 366:
        return default[0], default[1], "La période doit aller d'une date à une date plus tardive, un an au plus."
    return start, end, ""


from callbot.console.pages import account, answers, audit, calendar, dashboard, messages, publish, questions  # noqa: E402,F401,E501
