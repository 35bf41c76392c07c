"""Logging in and out."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for

from callbot.console.app import LOGIN_COOKIE, SESSION_COOKIE, login_token, set_session_cookie
from callbot.console.auth import LoginRefused, same_token
from callbot.console.pages import blueprint


def _safe_next(target: str | None) -> str:
    # only a path of this site: never an address the browser could be sent away to
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.dashboard")


@blueprint.route("/connexion", methods=["GET", "POST"])
def login():
    console = g.console
    error, status = "", 200
    if request.method == "POST":
        name = request.form.get("nom", "")[:64].strip().lower()
        password = request.form.get("mot_de_passe", "")[:256]
        if not same_token(request.form.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")):
            error, status = "Formulaire expiré : recommencez.", 400
        else:
            try:
                token, session = console.auth.log_in(name, password, request.remote_addr or "?")
            except LoginRefused as refused:
                console.store.audit(name or "?", "connexion refusée", str(refused))
                error, status = str(refused), 401
            else:
                console.store.audit(session.user, "connexion", "")
                response = redirect(_safe_next(request.form.get("suite")))
                set_session_cookie(response, token)
                response.delete_cookie(LOGIN_COOKIE)
                return response
    response = make_response("", status)
    token = login_token(response)
    response.set_data(render_template("login.html", error=error, login_csrf=token,
                                      next=_safe_next(request.values.get("next") or request.form.get("suite"))))
    return response


@blueprint.route("/deconnexion", methods=["POST"])
def logout():
    g.console.auth.log_out(g.session)
    g.console.store.audit(g.session.user, "déconnexion", "")
    response = redirect(url_for("pages.login"))
    response.delete_cookie(SESSION_COOKIE)
    return response
