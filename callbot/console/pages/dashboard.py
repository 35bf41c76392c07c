"""Tableau de bord: what `callbot report` computes, as charts, for a period the user picks."""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup
from flask import g, render_template

from callbot.console.pages import blueprint, period_args
from callbot.report import build_report, render_sections


@blueprint.route("/")
def dashboard():
    config = g.console.config
    today = date.today()
    start, end, warning = period_args((today - timedelta(days=29), today))
    sections = None
    if config.journal is not None and config.journal.path.is_file():
        sections = Markup(render_sections(build_report(config.journal.path, start, end)))  # escaped by the report
    return render_template("dashboard.html", start=start, end=end, warning=warning, sections=sections,
                           journal=config.journal)
