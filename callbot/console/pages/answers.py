"""Réponses: every answer by sheet, with search; edit, create, try a sentence, listen at 8 kHz."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Response, abort, g, redirect, render_template, request, url_for

from callbot.console import sheets_edit
from callbot.console.pages import answer_id_arg, blueprint, editor_only, form_text
from callbot.console.unanswered import DONE_KIND
from callbot.sheets import DATED_KINDS
from callbot.understanding.normalise import strip_accents

FIELD_LABELS = {"": "Réponse", "id": "Identifiant", "title": "Titre", "questions": "Questions d'exemple", "keywords": "Mots-clés",
                "answer": "Texte de la réponse", "follow_up": "Question de relance", "transfer": "Transfert",
                "dated": "Réponse selon la date", "tests": "Tests"}
DECISION_LABELS = {"text": "Phrase", "action": "Décision", "answer": "Réponse donnée", "score": "Score",
                   "runner_up": "Deuxième réponse", "runner_up_score": "Score de la deuxième", "target": "Transfert vers",
                   "best": "Réponse la plus proche", "choices": "Choix proposés"}
ACTION_LABELS = {"answer": "répondre", "transfer": "passer l'appel à une personne", "nomatch": "faire reformuler",
                 "clarify": "demander de préciser"}


def _sheets() -> dict[str, Path]:
    workspace = g.console.workspace
    return {name: workspace.draft_path(name) for name in workspace.draft_sheets()}


def _places() -> dict[str, tuple[str, ...]]:
    """The names a `dated:` setting may use, from the draft's calendar."""
    check = g.console.workspace.check_draft()
    cal = check.knowledge.calendar if check.knowledge else None
    places: dict[str, tuple[str, ...]] = {kind: () for kind in DATED_KINDS}
    if cal is not None:
        if cal.schedule is not None:
            places["hours"] = tuple(cal.schedule.keys)
        if cal.collections is not None:
            places["collection"] = tuple(stream.key for stream in cal.collections.streams)
        if cal.menus is not None:
            places["menu"] = ("cantine",)
    return places


def _dated_choices(places: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    kinds = {"hours": "horaires de", "collection": "collecte", "menu": "menu"}
    return [(f"{kind}:{name}", f"{kinds[kind]} {name}") for kind, names in places.items() for name in names]


@blueprint.route("/reponses")
@editor_only
def answers():
    query = request.args.get("q", "")[:200].strip()
    folded = strip_accents(query.lower())
    listing = []
    for name, path in _sheets().items():
        document = sheets_edit.load(path)
        entries = []
        for answer in sheets_edit.answers_of(document):
            form = sheets_edit.form_of(answer)
            haystack = strip_accents(" ".join([form.id, form.answer, *form.questions, *form.keywords]).lower())
            if not folded or folded in haystack:
                entries.append(form)
        if entries:
            listing.append((name.removeprefix("answers/"), entries))
    return render_template("answers.html", listing=listing, query=query)


def _form_from_request(answer_id: str) -> sheets_edit.AnswerForm:
    return sheets_edit.AnswerForm(
        id=answer_id,
        title=" ".join(form_text("title", 1000).split()),
        questions=sheets_edit.lines_of(form_text("questions", 20000)),
        keywords=sheets_edit.lines_of(form_text("keywords", 20000)),
        answer=" ".join(form_text("answer").split()),
        follow_up=" ".join(form_text("follow_up").split()),
        transfer=form_text("transfer", 64),
        dated=form_text("dated", 200),
        tests=sheets_edit.lines_of(form_text("tests", 20000)))


def _diagnostics_for(sheet: str, answer_id: str) -> dict[str, list]:
    check = g.console.workspace.check_draft()
    found = sheets_edit.find_answer({sheet: g.console.workspace.draft_path(sheet)}, answer_id)
    if found is None:
        return {}
    _, document, answer = found
    path = g.console.workspace.draft_path(sheet)
    end = sheets_edit.answer_end_line(document, answer, len(path.read_text(encoding="utf-8").splitlines()))
    return sheets_edit.diagnostics_by_field(answer, path, end, check.diagnostics)


@blueprint.route("/reponses/<answer_id>", methods=["GET", "POST"])
@editor_only
def answer(answer_id: str):
    answer_id = answer_id_arg(answer_id)
    console = g.console
    with console.workspace.lock:
        found = sheets_edit.find_answer(_sheets(), answer_id)
        if found is None:
            abort(404)
        sheet, document, entry = found
        error_field, error = "", ""
        form = sheets_edit.form_of(entry)
        if request.method == "POST":
            form = _form_from_request(answer_id)
            try:
                sheets_edit.validate(form, tuple(console.config.targets), _places())
            except sheets_edit.EditError as problem:
                error_field, error = problem.field, str(problem)
            else:
                sheets_edit.apply(entry, form)
                sheets_edit.dump(document, console.workspace.draft_path(sheet))
                console.store.audit(g.session.user, "réponse modifiée", f"{answer_id} ({sheet}), dans le brouillon")
                return redirect(url_for("pages.answer", answer_id=answer_id, note="saved"))
        diagnostics = _diagnostics_for(sheet, answer_id)
    return render_template("answer.html", form=form, sheet=sheet, error=error, error_field=error_field,
                           diagnostics=diagnostics, labels=FIELD_LABELS, targets=console.config.targets,
                           dated_choices=_dated_choices(_places()), new=False, sheets=[], question_key="")


@blueprint.route("/reponses/nouvelle", methods=["GET", "POST"])
@editor_only
def new_answer():
    console = g.console
    sheets = _sheets()
    error_field, error = "", ""
    question = request.values.get("question", "")[:500].strip()
    question_key = request.values.get("groupe", "")[:64]
    form = sheets_edit.AnswerForm(id="", questions=[question] if question else [])
    if request.method == "POST":
        form = _form_from_request(form_text("id", 64))
        sheet = form_text("sheet", 200)
        with console.workspace.lock:
            try:
                if sheet not in sheets:
                    raise sheets_edit.EditError("sheet", "Choisissez une fiche de la liste.")
                sheets_edit.validate(form, tuple(console.config.targets), _places())
                if sheets_edit.find_answer(sheets, form.id) is not None:
                    raise sheets_edit.EditError("id", "Cet identifiant est déjà utilisé par une autre réponse.")
            except sheets_edit.EditError as problem:
                error_field, error = problem.field, str(problem)
            else:
                document = sheets_edit.load(sheets[sheet])
                sheets_edit.new_answer(document, form)
                sheets_edit.dump(document, sheets[sheet])
                if question_key:
                    console.store.mark_done(DONE_KIND, question_key, g.session.user)
                console.store.audit(g.session.user, "réponse créée", f"{form.id} ({sheet}), dans le brouillon")
                return redirect(url_for("pages.answer", answer_id=form.id, note="created"))
    return render_template("answer.html", form=form, sheet="", error=error, error_field=error_field, diagnostics={},
                           labels=FIELD_LABELS, targets=console.config.targets, dated_choices=_dated_choices(_places()),
                           new=True, sheets=[s for s in sheets], question_key=question_key)


def decision_view(text: str) -> dict:
    """What the bot would do with a sentence, on the draft: every field the decision has, labelled."""
    check = g.console.workspace.check_draft()
    if check.knowledge is None:
        return {"error": "Le brouillon contient des erreurs : corrigez-les (page Publier) pour pouvoir essayer."}
    decision = check.knowledge.matcher.decide(text)
    fields = decision.as_dict() if hasattr(decision, "as_dict") else vars(decision)
    rows = []
    for key, value in fields.items():
        if value is None or value == "" or key == "text":
            continue
        if key == "action":
            value = f"{ACTION_LABELS.get(value, value)} ({value})"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        elif isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        rows.append((DECISION_LABELS.get(key, key), str(value)))
    spoken = ""
    chosen = fields.get("answer")
    if chosen:
        entry = check.knowledge.book.by_id(chosen)
        calendar = check.knowledge.calendar
        spoken = (calendar.sentence(entry.dated, text, datetime.now()) if entry.dated and calendar else None) \
            or entry.answer
    return {"rows": rows, "spoken": spoken, "answer": chosen, "action": fields.get("action")}


@blueprint.route("/essayer", methods=["GET", "POST"])
@editor_only
def try_sentence():
    text = form_text("phrase", 500) if request.method == "POST" else ""
    result = decision_view(text) if text else None
    return render_template("try.html", text=text, result=result)


@blueprint.route("/reponses/<answer_id>/ecouter.wav")
@editor_only
def listen(answer_id: str):
    answer_id = answer_id_arg(answer_id)
    check = g.console.workspace.check_draft()
    found = sheets_edit.find_answer(_sheets(), answer_id)
    if found is None:
        abort(404)
    text = sheets_edit.form_of(found[2]).answer
    if check.knowledge is not None and check.knowledge.calendar is not None:
        entry = next((a for a in check.knowledge.book.answers if a.id == answer_id), None)
        if entry is not None and entry.dated:
            text = check.knowledge.calendar.sentence(entry.dated, "aujourd'hui", datetime.now()) or text
    if not text:
        abort(404)
    from callbot.asr import ModelMissing

    try:
        audio = g.console.speaker.wav(text)
    except ModelMissing as missing:
        abort(404, f"Pas de voix installée : {missing}")
    return Response(audio, mimetype="audio/wav", headers={"Cache-Control": "no-store"})
