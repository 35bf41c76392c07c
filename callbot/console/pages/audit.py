"""Journal des actions: who changed, published, listened to or deleted what, and when."""

from __future__ import annotations

from flask import g, render_template

from callbot.console.pages import blueprint, editor_only


@blueprint.route("/journal")
@editor_only
def audit_log():
    return render_template("audit.html", entries=g.console.store.audit_entries(300))
