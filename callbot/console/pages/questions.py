"""Questions sans réponse: teach the bot the questions it could not answer, or ignore them."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, url_for

from callbot.console import sheets_edit
from callbot.console.pages import answer_id_arg, blueprint, editor_only, form_text, period_args
from callbot.console.pages.answers import _sheets
from callbot.console.unanswered import DONE_KIND, default_period, group_key, question_groups


@blueprint.route("/questions")
@editor_only
def questions():
    console = g.console
    start, end, warning = period_args(default_period())
    journal = console.config.journal
    check = console.workspace.check_draft()
    groups = question_groups(journal.path, start, end, set(console.store.done(DONE_KIND)), check.knowledge) \
        if journal is not None else []
    answers = check.knowledge.book.answers if check.knowledge else ()
    # an id alone means little to staff: show the answer's first example question beside it
    labels = {a.id: f"{a.id} — {_short(a.questions[0].text)}" if a.questions else a.id for a in answers}
    return render_template("questions.html", groups=groups, start=start, end=end, warning=warning,
                           all_answers=sorted(labels), labels=labels, journal=journal)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def _group_from_form() -> tuple[str, str]:
    question = " ".join(form_text("question", 500, required=True).split())
    key = form_text("groupe", 64, required=True)
    if key != group_key(question):
        abort(400, "Ce groupe de questions ne correspond pas à la question envoyée.")
    return question, key


@blueprint.route("/questions/ajouter", methods=["POST"])
@editor_only
def add_to_answer():
    console = g.console
    question, key = _group_from_form()
    answer_id = answer_id_arg(form_text("reponse", 64, required=True))
    with console.workspace.lock:
        found = sheets_edit.find_answer(_sheets(), answer_id)
        if found is None:
            abort(400, "Cette réponse n'existe pas.")
        sheet, document, entry = found
        sheets_edit.add_question(entry, question)
        sheets_edit.dump(document, console.workspace.draft_path(sheet))
    console.store.mark_done(DONE_KIND, key, g.session.user)
    console.store.audit(g.session.user, "question ajoutée à une réponse", f"« {question} » → {answer_id}, dans le brouillon")
    return redirect(url_for("pages.answer", answer_id=answer_id, note="question_added"))


@blueprint.route("/questions/ignorer", methods=["POST"])
@editor_only
def ignore_question():
    question, key = _group_from_form()
    g.console.store.mark_done(DONE_KIND, key, g.session.user)
    g.console.store.audit(g.session.user, "question ignorée", f"« {question} »")
    return redirect(url_for("pages.questions", note="ignored"))
