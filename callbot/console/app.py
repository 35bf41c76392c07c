"""The console's Flask application: services, security plumbing, and serving with waitress."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, abort, g, redirect, render_template, request, url_for

from callbot.config import Config, require_config
from callbot.console.auth import Authenticator, same_token
from callbot.console.speaker import AnswerSpeaker
from callbot.console.store import ConsoleStore
from callbot.console.workspace import ServiceReloader, Workspace

log = logging.getLogger(__name__)

SESSION_COOKIE = "callbot_session"
LOGIN_COOKIE = "callbot_login"  # double-submit CSRF token of the login form, before any session exists
MAX_BODY = 2 * 1024 * 1024  # a canteen menu CSV is far smaller
# messages shown after an action; the browser only names one of these keys, never the text
NOTICES = {
    "saved": "Enregistré dans le brouillon. Publiez pour que le standard l'utilise.",
    "created": "Réponse créée dans le brouillon. Publiez pour que le standard l'utilise.",
    "question_added": "Question ajoutée aux exemples de cette réponse, dans le brouillon. "
                      "Essayez-la, écoutez la réponse, puis publiez.",
    "ignored": "Question ignorée : elle ne sera plus proposée.",
    "nothing": "Rien à publier : le brouillon est identique à la version en service.",
    "discarded": "Brouillon abandonné : il repart de la version en service.",
    "handled": "Message marqué comme traité.",
    "deleted": "Message supprimé.",
}


@dataclass
class Console:
    """What every page needs, built once per process."""

    config_path: Path
    config: Config
    store: ConsoleStore
    auth: Authenticator
    workspace: Workspace
    reloader: ServiceReloader
    speaker: AnswerSpeaker


def state_folder(config: Config) -> Path:
    if config.console.state is not None:
        return config.console.state
    if config.journal is not None:
        return config.journal.path.parent / "console"
    return config.path.parent / "console-state"


def store_path(config: Config) -> Path:
    """The journal database when there is one (the audit log belongs beside the calls), else the state folder's."""
    return config.journal.path if config.journal is not None else state_folder(config) / "console.sqlite3"


def open_console(config_path: Path) -> Console:
    config = require_config(config_path)
    store = ConsoleStore(store_path(config))
    return Console(config_path, config, store, Authenticator(store), Workspace(config_path, state_folder(config)),
                   ServiceReloader(config.console.service, config.console.service_pid_file), AnswerSpeaker(config))


def create_app(console: Console) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["callbot"] = console
    if console.config.console.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    @app.before_request
    def authenticate():
        g.console = console
        g.session = console.auth.session(request.cookies.get(SESSION_COOKIE))
        if request.endpoint in ("static", "pages.login"):
            return None
        if g.session is None:
            return redirect(url_for("pages.login", next=request.path if request.method == "GET" else None))
        if request.method == "POST" and not same_token(request.form.get("csrf"), g.session.csrf):
            console.store.audit(g.session.user, "requête refusée", f"jeton CSRF absent ou faux sur {request.path}")
            abort(400, "Formulaire expiré ou falsifié : rechargez la page et recommencez.")
        return None

    @app.after_request
    def harden(response):
        # everything is served by the console itself: no inline script, no other origin
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.template_filter("quand")
    def when(text: str) -> str:
        """An ISO time of the journal or the spool as staff read it: 08/12/2026 à 14:05."""
        from datetime import datetime

        try:
            moment = datetime.fromisoformat(text)
        except (TypeError, ValueError):
            return str(text)
        return f"{moment:%d/%m/%Y à %H:%M}"

    @app.context_processor
    def common():
        session = g.get("session")
        return {"user": session, "csrf": session.csrf if session else "", "commune": console.config.commune,
                "notice": NOTICES.get(request.args.get("note", ""), "")}

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(413)
    def error_page(error):
        messages = {403: "Cette page est réservée aux comptes « éditeur ».", 404: "Cette page n'existe pas.",
                    413: "Le fichier envoyé est trop gros."}
        message = messages.get(error.code) or error.description
        return render_template("error.html", code=error.code, message=message), error.code

    from callbot.console import pages

    app.register_blueprint(pages.blueprint)
    return app


def set_session_cookie(response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure, path="/")


def login_token(response) -> str:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure, path="/")
    return token


def serve(config_path: Path) -> None:
    """Serve the console with waitress until interrupted."""
    import waitress

    console = open_console(config_path)
    host, port = console.config.console.listen
    app = create_app(console)
    if not console.store.execute("SELECT 1 FROM console_users LIMIT 1"):
        print(f"callbot console: no account yet; create one with `callbot console adduser NAME --role editor "
              f"--config {config_path}`", flush=True)
    log.info("console on http://%s:%d/", host, port)
    print(f"callbot console: http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    waitress.serve(app, host=host, port=port, threads=4, ident="callbot-console")

