"""Publier: what changed, every check, then the running service reloads; versions and one-click restore."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, url_for

from callbot.console.pages import blueprint, editor_only, form_text


@blueprint.route("/publier")
@editor_only
def publish_page():
    workspace = g.console.workspace
    check = workspace.check_draft()
    return render_template("publish.html", changes=workspace.changes(), check=check,
                           versions=g.console.store.versions(), result=None, conflicts=workspace.conflicts())


@blueprint.route("/publier", methods=["POST"])
@editor_only
def publish():
    console = g.console
    note = " ".join(form_text("note", 300).split()) or "sans commentaire"
    changes = console.workspace.changes()
    if not changes:
        return redirect(url_for("pages.publish_page", note="nothing"))
    result = console.workspace.publish(console.store, g.session.user, note, console.reloader)
    if result.published:
        console.store.audit(g.session.user, "publication", f"version {result.version} : {note} "
                            f"({', '.join(name for name, _ in changes)})")
    else:
        console.store.audit(g.session.user, "publication refusée", f"{len(result.check.errors)} erreur(s)")
    return render_template("publish.html", changes=console.workspace.changes(), check=result.check,
                           versions=console.store.versions(), result=result,
                           conflicts=console.workspace.conflicts()), 200 if result.published else 422


@blueprint.route("/publier/restaurer", methods=["POST"])
@editor_only
def restore():
    console = g.console
    number = form_text("version", 12, required=True)
    if not number.isdigit():
        abort(400)
    try:
        result = console.workspace.restore(console.store, g.session.user, int(number), console.reloader)
    except KeyError:
        abort(404)
    if result.published:
        console.store.audit(g.session.user, "restauration", f"version {number}, publiée comme version {result.version}")
    return render_template("publish.html", changes=console.workspace.changes(), check=result.check,
                           versions=console.store.versions(), result=result, restored=int(number), conflicts=[])


@blueprint.route("/publier/abandonner", methods=["POST"])
@editor_only
def discard():
    g.console.workspace.discard_draft()
    g.console.store.audit(g.session.user, "brouillon abandonné", "")
    return redirect(url_for("pages.publish_page", note="discarded"))
