"""Messages vocaux: list, listen (logged), mark as handled, delete; retention applied on every visit."""

from __future__ import annotations

import re

from flask import Response, abort, g, redirect, render_template, url_for

from callbot.console.pages import blueprint, editor_only, form_text
from callbot.messages import MessageSpool

DONE_KIND = "message"
_STEM = re.compile(r"^[0-9]{8}T[0-9]{6}-[A-Za-z0-9._-]{1,100}$")


def _spool() -> MessageSpool | None:
    settings = g.console.config.messages
    return MessageSpool(settings.spool, settings.retention_days) if settings else None


def _listed(spool: MessageSpool) -> dict[str, dict]:
    """The spool's messages by id (the stem of their files); only these ids are ever served or deleted."""
    if not spool.folder.is_dir():
        return {}
    found = {}
    for metadata in spool.messages():
        stem = str(metadata.get("audio", "")).removesuffix(".wav")
        if _STEM.match(stem):
            found[stem] = metadata
    return found


def _message(stem: str) -> tuple[MessageSpool, dict]:
    spool = _spool()
    if spool is None or not _STEM.match(stem):
        abort(404)
    message = _listed(spool).get(stem)
    if message is None:
        abort(404)
    return spool, message


@blueprint.route("/messages")
def messages():
    spool = _spool()
    if spool is None:
        return render_template("messages.html", messages=[], spool=None, done={})
    if spool.folder.is_dir():
        spool.purge()  # retention: older messages are deleted before anyone sees them
    listed = sorted(_listed(spool).items(), key=lambda kv: kv[0], reverse=True)
    return render_template("messages.html", messages=listed, spool=spool, done=g.console.store.done(DONE_KIND))


@blueprint.route("/messages/<stem>.wav")
def listen_message(stem: str):
    spool, message = _message(stem)
    g.console.store.audit(g.session.user, "écoute d'un message", f"{stem} ({message.get('caller') or 'numéro masqué'})")
    audio = spool.folder / f"{stem}.wav"
    if not audio.is_file():
        abort(404)
    return Response(audio.read_bytes(), mimetype="audio/wav", headers={"Cache-Control": "no-store"})


@blueprint.route("/messages/traiter", methods=["POST"])
def mark_handled():
    stem = form_text("message", 140, required=True)
    _message(stem)
    g.console.store.mark_done(DONE_KIND, stem, g.session.user)
    g.console.store.audit(g.session.user, "message marqué traité", stem)
    return redirect(url_for("pages.messages", note="handled"))


@blueprint.route("/messages/supprimer", methods=["POST"])
@editor_only
def delete_message():
    stem = form_text("message", 140, required=True)
    spool, message = _message(stem)
    (spool.folder / f"{stem}.wav").unlink(missing_ok=True)
    (spool.folder / f"{stem}.json").unlink(missing_ok=True)
    g.console.store.forget_done(DONE_KIND, stem)
    g.console.store.audit(g.session.user, "message supprimé", f"{stem} ({message.get('caller') or 'numéro masqué'})")
    return redirect(url_for("pages.messages", note="deleted"))
