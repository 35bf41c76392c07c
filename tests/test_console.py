"""The staff console's logic, page by page, through Flask's test client (the browser tests are in test_console_browser.py)."""

from __future__ import annotations

import io
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import soundfile

from conftest import REPO, run_callbot
from console_fixtures import EDITOR, PASSWORD, UNANSWERED, VIEWER, fill_journal, leave_message, make_mairie
from callbot.config import load_config
from callbot.console import sheets_edit
from callbot.console.app import create_app, open_console
from callbot.console.auth import MAX_FAILURES
from callbot.console.unanswered import group_key


@pytest.fixture
def mairie(tmp_path, prompt_cache_dir):
    config = make_mairie(tmp_path, prompt_cache_dir)
    fill_journal(tmp_path / "journal.sqlite3", datetime.now())
    return config


@pytest.fixture
def console(mairie):
    console = open_console(mairie)
    console.auth.add_user(EDITOR, "editor", PASSWORD)
    console.auth.add_user(VIEWER, "viewer", PASSWORD)
    return console


@pytest.fixture
def app(console):
    return create_app(console)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def log_in(client, name: str = EDITOR, password: str = PASSWORD):
    token = csrf_of(client.get("/connexion").text)
    return client.post("/connexion", data={"csrf": token, "nom": name, "mot_de_passe": password, "suite": "/"})


@pytest.fixture
def editor(app):
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


def post(client, path: str, data: dict, page: str = "/"):
    return client.post(path, data={"csrf": csrf_of(client.get(page).text), **data})


def live_sheet(console, name: str = "salle_des_fetes") -> str:
    return (console.config.answers_dir / "vie_locale.yaml").read_text(encoding="utf-8")


# -- round-trip YAML ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted((REPO / "callbot" / "example" / "answers").glob("*.yaml"))
                         + sorted((REPO / "callbot" / "example" / "data").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_file_comes_back_byte_for_byte(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    sheets_edit.dump(sheets_edit.load(copy), copy)
    assert copy.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_an_edit_changes_only_the_lines_of_the_fields_changed(tmp_path):
    sheet = tmp_path / "mairie.yaml"
    shutil.copy(REPO / "callbot" / "example" / "answers" / "mairie.yaml", sheet)
    _, document, answer = sheets_edit.find_answer({"mairie": sheet}, "contact_mairie")
    form = sheets_edit.form_of(answer)
    form.keywords.append("courriel")
    form.answer += " Merci de votre appel."
    sheets_edit.apply(answer, form)
    sheets_edit.dump(document, sheet)
    before = (REPO / "callbot" / "example" / "answers" / "mairie.yaml").read_text(encoding="utf-8").splitlines()
    after = sheet.read_text(encoding="utf-8").splitlines()
    assert after[0].startswith("# Réponses sur la mairie")  # the staff's comment is still there
    changed = [line for line in after if line not in before]
    assert changed == ["    keywords: [adresse de la mairie, stationnement, e-mail, site internet, téléphone de la mairie, "
                       "courriel]", "      Merci de votre appel."]
    assert len(after) == len(before) + 1


ENTRY = "  - id: fete\n    questions:\n      - Quand a lieu la fête ?\n    answer: En juillet.\n"


@pytest.mark.parametrize("sheet, expected", [
    ("mairie.yaml", lambda original: original.replace("\ntests:\n", f"\n{ENTRY}\ntests:\n", 1)),  # before `tests:`
    ("vie_locale.yaml", lambda original: f"{original}\n{ENTRY}"),  # at the end of the file
])
def test_a_new_answer_is_laid_out_like_its_neighbours(tmp_path, sheet, expected):
    path = tmp_path / sheet
    shutil.copy(REPO / "callbot" / "example" / "answers" / sheet, path)
    document = sheets_edit.load(path)
    sheets_edit.new_answer(document, sheets_edit.AnswerForm("fete", ["Quand a lieu la fête ?"], [], "En juillet."))
    sheets_edit.dump(document, path)
    original = (REPO / "callbot" / "example" / "answers" / sheet).read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8") == expected(original)


# -- accounts, sessions and the forms' protection ------------------------------------------------------------------

def test_login_sets_a_strict_http_only_cookie_and_secure_over_https(app):
    client = app.test_client()
    response = log_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    secure = app.test_client()
    token = csrf_of(secure.get("/connexion", base_url="https://mairie.example").text)
    response = secure.post("/connexion", base_url="https://mairie.example",
                           data={"csrf": token, "nom": EDITOR, "mot_de_passe": PASSWORD})
    assert "Secure" in response.headers["Set-Cookie"]


def test_pages_need_a_session(app):
    response = app.test_client().get("/reponses")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_wrong_passwords_lock_the_account_even_for_the_right_one(app, console):
    client = app.test_client()
    for _ in range(MAX_FAILURES - 1):
        assert "Nom ou mot de passe erroné" in log_in(client, password="pas le bon mot").text
    assert "bloqué pendant 15 minutes" in log_in(client, password="pas le bon mot").text
    refused = log_in(client)
    assert refused.status_code == 401 and "Ce compte est bloqué" in refused.text
    assert console.store.user(EDITOR).locked_until > time.time()
    assert [e.action for e in console.store.audit_entries()][:2] == ["connexion refusée", "connexion refusée"]


def test_an_unknown_name_is_refused_like_a_wrong_password(app):
    assert "Nom ou mot de passe erroné" in log_in(app.test_client(), name="inconnu").text


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(editor, console):
    before = live_sheet(console)
    question = UNANSWERED[0]
    response = editor.post("/questions/ajouter", data={"question": question, "groupe": group_key(question),
                                                      "reponse": "salle_des_fetes"})
    assert response.status_code == 400 and "falsifié" in response.text
    forged = editor.post("/questions/ajouter", data={"csrf": "x" * 43, "question": question,
                                                    "groupe": group_key(question), "reponse": "salle_des_fetes"})
    assert forged.status_code == 400
    assert console.workspace.changes() == [] and live_sheet(console) == before
    assert console.store.audit_entries()[0].action == "requête refusée"


def test_a_login_form_without_its_token_is_refused(app):
    response = app.test_client().post("/connexion", data={"nom": EDITOR, "mot_de_passe": PASSWORD})
    assert response.status_code == 400 and "callbot_session" not in response.headers.get("Set-Cookie", "")


def test_a_viewer_sees_the_dashboard_and_messages_but_no_editor_page(app, console):
    viewer = app.test_client()
    log_in(viewer, VIEWER)
    assert viewer.get("/").status_code == 200 and viewer.get("/messages").status_code == 200
    for page in ("/reponses", "/questions", "/publier", "/essayer", "/reponses/contact_mairie", "/journal"):
        response = viewer.get(page)
        assert response.status_code == 403 and "réservée aux comptes « éditeur »" in response.text, page
    assert post(viewer, "/publier", {"note": "x"}).status_code == 403
    assert console.store.audit_entries()[0].action == "accès refusé"


def test_logging_out_ends_the_session(editor):
    post(editor, "/deconnexion", {})
    assert editor.get("/reponses").status_code == 302


def test_adduser_on_the_command_line(mairie):
    result = run_callbot("console", "adduser", "agent", "--role", "viewer", "--password-stdin", "--config", str(mairie),
                         stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert open_console(mairie).store.user("agent").role == "viewer"
    short = run_callbot("console", "adduser", "agent", "--role", "viewer", "--password-stdin", "--config", str(mairie),
                        stdin="court\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr


def test_passwords_are_stored_as_argon2id(console):
    assert console.store.user(EDITOR).password_hash.startswith("$argon2id$")


# -- unanswered questions ------------------------------------------------------------------------------------------

def test_unanswered_questions_are_grouped_most_frequent_first(editor):
    page = editor.get("/questions").text
    first = page.index("louer la salle des fêtes")
    assert first < page.index("piscine municipale")
    assert "3 fois" in page  # two wordings of the same question, one of them twice
    # the answers closest to the group are proposed first
    likely = re.search(r'<optgroup label="Les plus probables">(.*?)</optgroup>', page).group(1)
    assert '<option value="mariage">' in likely and '<option value="salle_des_fetes">' in likely


def test_adding_a_question_to_an_answer_edits_the_draft_only(editor, console):
    before = live_sheet(console)
    question = UNANSWERED[0]
    response = post(editor, "/questions/ajouter", {"question": question, "groupe": group_key(question),
                                                   "reponse": "salle_des_fetes"}, "/questions")
    assert response.status_code == 302 and "/reponses/salle_des_fetes" in response.headers["Location"]
    assert question in editor.get("/reponses/salle_des_fetes").text
    assert live_sheet(console) == before  # nothing live until published
    [(name, diff)] = console.workspace.changes()
    assert name == "answers/vie_locale.yaml" and f"+      - {question}" in diff
    assert f"« {question} »" not in editor.get("/questions").text  # the group is handled
    assert f"« {UNANSWERED[2]} »" in editor.get("/questions").text


def test_a_forged_group_key_is_refused(editor):
    response = post(editor, "/questions/ignorer", {"question": "autre chose", "groupe": group_key(UNANSWERED[0])})
    assert response.status_code == 400


def test_ignoring_a_group(editor, console):
    question = UNANSWERED[2]
    assert f"« {question} »" in editor.get("/questions").text
    post(editor, "/questions/ignorer", {"question": question, "groupe": group_key(question)})
    assert f"« {question} »" not in editor.get("/questions").text
    assert console.workspace.changes() == []


def test_creating_an_answer_from_a_question(editor, console):
    question = UNANSWERED[2]
    page = editor.get(f"/reponses/nouvelle?question={question}&groupe={group_key(question)}").text
    assert question in page
    response = post(editor, "/reponses/nouvelle", {
        "sheet": "answers/vie_locale.yaml", "id": "piscine", "questions": question + "\nLa piscine est-elle ouverte ?",
        "answer": "La piscine municipale est ouverte du mardi au dimanche, de 10h à 19h.", "groupe": group_key(question)})
    assert response.status_code == 302
    assert console.workspace.check_draft().knowledge.matcher.decide("la piscine est ouverte quand").answer == "piscine"
    assert f"« {question} »" not in editor.get("/questions").text


def test_a_new_answer_with_an_id_already_used_is_refused_beside_the_field(editor):
    response = post(editor, "/reponses/nouvelle", {"sheet": "answers/vie_locale.yaml", "id": "salle_des_fetes",
                                                   "questions": "Bonjour ?", "answer": "Oui."})
    assert 'id="err-id"' in response.text and "déjà utilisé" in response.text


# -- answers: edit, diagnostics, try, listen -----------------------------------------------------------------------

def test_diagnostics_of_check_are_shown_beside_the_field_at_fault(editor, console):
    form = sheets_edit.form_of(sheets_edit.find_answer(
        {n: console.workspace.draft_path(n) for n in console.workspace.draft_sheets()}, "salle_des_fetes")[2])
    data = {"questions": "\n".join(form.questions), "keywords": "\n".join(form.keywords), "answer": form.answer,
            "follow_up": form.follow_up, "transfer": form.transfer, "dated": form.dated,
            "tests": "\n".join(form.tests + ["je voudrais une carte grise"])}
    assert post(editor, "/reponses/salle_des_fetes", data).status_code == 302
    page = editor.get("/reponses/salle_des_fetes").text
    diagnostic = re.search(r'<p class="diag error" id="diag-tests-1">([^<]*)', page)
    assert diagnostic and "je voudrais une carte grise" in diagnostic.group(1)
    publish = post(editor, "/publier", {"note": "test cassé"}, "/publier")
    assert publish.status_code == 422 and "Publication refusée" in publish.text


def test_an_invalid_transfer_target_is_refused(editor):
    response = post(editor, "/reponses/salle_des_fetes", {"questions": "Une question ?", "answer": "Oui.",
                                                          "transfer": "../../etc/passwd"})
    assert 'id="err-transfer"' in response.text


def test_try_shows_the_decision_on_the_draft(editor):
    question = UNANSWERED[2]
    before = post(editor, "/essayer", {"phrase": "la piscine est ouverte quand"}).text
    assert "faire reformuler (nomatch)" in before
    post(editor, "/reponses/nouvelle", {"sheet": "answers/vie_locale.yaml", "id": "piscine", "questions": question,
                                        "answer": "La piscine municipale est ouverte du mardi au dimanche."})
    after = post(editor, "/essayer", {"phrase": "la piscine est ouverte quand"}).text
    assert "répondre (answer)" in after and "La piscine municipale est ouverte du mardi au dimanche." in after


def test_listen_gives_the_answer_as_a_telephone_wav(editor):
    response = editor.get("/reponses/contact_mairie/ecouter.wav")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    samples, rate = soundfile.read(io.BytesIO(response.data), dtype="int16")
    assert rate == 8000 and len(samples) > rate  # more than a second of speech
    assert abs(samples).max() > 1000


def test_answer_ids_from_the_browser_never_reach_the_filesystem(editor):
    for path in ("/reponses/..%2F..%2Fetc%2Fpasswd", "/reponses/inconnue", "/reponses/A/ecouter.wav",
                 "/messages/..%2Fjournal.wav"):
        assert editor.get(path).status_code == 404, path


# -- publish and restore -------------------------------------------------------------------------------------------

@pytest.fixture
def service(tmp_path):
    """A stand-in process that records the SIGHUPs it gets (the real `callbot serve` is in the browser tests)."""
    marker = tmp_path / "hups"
    code = ("import signal, time, pathlib\n"
            f"p = pathlib.Path({str(marker)!r})\n"
            "signal.signal(signal.SIGHUP, lambda *a: p.write_text(p.read_text() + 'x' if p.exists() else 'x'))\n"
            "print('ready', flush=True)\n"
            "while True: time.sleep(0.05)\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    process.stdout.readline()
    (tmp_path / "callbot.pid").write_text(str(process.pid))
    yield marker
    process.send_signal(signal.SIGTERM)
    process.wait(5)


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_publish_installs_the_draft_keeps_versions_and_reloads_the_service(editor, console, service):
    original = live_sheet(console)
    question = UNANSWERED[0]
    post(editor, "/questions/ajouter", {"question": question, "groupe": group_key(question), "reponse": "salle_des_fetes"})
    page = editor.get("/publier").text
    assert f"+      - {question}" in page and "Aucune erreur" in page
    response = post(editor, "/publier", {"note": "salle des fêtes : mariage"}, "/publier")
    assert response.status_code == 200 and "Publié : version 2" in response.text
    assert question in live_sheet(console)
    assert wait_for(lambda: service.exists() and service.read_text() == "x")
    versions = console.store.versions()
    assert [(v.number, v.user) for v in versions] == [(2, EDITOR), (1, EDITOR)]
    assert versions[0].note == "salle des fêtes : mariage"
    # restore the version that was live before
    restored = post(editor, "/publier/restaurer", {"version": "1"}, "/publier")
    assert "Version 1 restaurée" in restored.text
    assert live_sheet(console) == original
    assert wait_for(lambda: service.read_text() == "xx")
    assert console.workspace.changes() == []  # the draft starts again from what is live
    assert [e.action for e in console.store.audit_entries()][:2] == ["restauration", "publication"]


def test_a_refused_version_changes_nothing_live(editor, console, service):
    before = {name: path.read_text(encoding="utf-8") for name, path in console.workspace.live_files().items()}
    post(editor, "/reponses/salle_des_fetes", {"questions": "Quels sont les horaires d'ouverture de la mairie ?",
                                               "answer": "Oui.", "tests": "quels sont vos horaires"})
    response = post(editor, "/publier", {"note": "cassé"}, "/publier")
    assert response.status_code == 422
    after = {name: path.read_text(encoding="utf-8") for name, path in console.workspace.live_files().items()}
    assert after == before and console.store.versions() == [] and not service.exists()


def test_publish_says_when_the_service_cannot_be_told(editor, console, tmp_path):
    (tmp_path / "callbot.pid").write_text("999999999")
    question = UNANSWERED[0]
    post(editor, "/questions/ajouter", {"question": question, "groupe": group_key(question), "reponse": "salle_des_fetes"})
    response = post(editor, "/publier", {"note": "x"}, "/publier")
    assert "pas pu être prévenu" in response.text and question in live_sheet(console)


# -- voice messages, dashboard, audit ------------------------------------------------------------------------------

def test_a_message_is_listened_to_logged_marked_and_deleted(editor, console, tmp_path):
    stem = leave_message(tmp_path / "spool", datetime.now())
    page = editor.get("/messages").text
    assert "madame martin" in page and "0612345678" in page
    audio = editor.get(f"/messages/{stem}.wav")
    assert audio.status_code == 200 and soundfile.read(io.BytesIO(audio.data))[1] == 8000
    assert console.store.audit_entries()[0].action == "écoute d'un message"
    post(editor, "/messages/traiter", {"message": stem}, "/messages")
    assert f"traité par {EDITOR}" in editor.get("/messages").text
    post(editor, "/messages/supprimer", {"message": stem}, "/messages")
    assert not list((tmp_path / "spool").glob(f"{stem}.*"))
    assert console.store.audit_entries()[0].action == "message supprimé"
    assert post(editor, "/messages/supprimer", {"message": "../journal"}, "/messages").status_code == 404


def test_a_viewer_may_listen_but_not_delete(app, tmp_path):
    stem = leave_message(tmp_path / "spool", datetime.now())
    viewer = app.test_client()
    log_in(viewer, VIEWER)
    assert viewer.get(f"/messages/{stem}.wav").status_code == 200
    assert post(viewer, "/messages/supprimer", {"message": stem}, "/messages").status_code == 403
    assert (tmp_path / "spool" / f"{stem}.wav").exists()


def test_old_messages_are_deleted_when_the_page_is_shown(editor, tmp_path):
    import os

    stem = leave_message(tmp_path / "spool", datetime.now())
    old = time.time() - 31 * 86400
    os.utime(tmp_path / "spool" / f"{stem}.json", (old, old))
    assert "madame martin" not in editor.get("/messages").text
    assert not (tmp_path / "spool" / f"{stem}.wav").exists()


def test_the_dashboard_draws_the_report_for_the_period_picked(editor):
    page = editor.get("/").text
    assert "<svg" in page and "Appels par heure" in page and "Transferts par destinataire" in page
    assert "Aucun appel sur cette période" in editor.get("/?du=2001-01-01&au=2001-01-31").text
    assert "Date invalide" in editor.get("/?du=hier").text


def test_the_audit_log_page_lists_actions(editor):
    assert "connexion" in editor.get("/journal").text


def test_every_page_has_a_content_security_policy_without_other_origins(editor):
    policy = editor.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "http" not in policy


def test_console_settings_are_validated(tmp_path):
    config = make_mairie(tmp_path, tmp_path / "cache", {"console": {"listen": "partout", "service": "a b"}})
    diagnostics = []
    assert load_config(config, diagnostics) is None
    messages = " ".join(d.message for d in diagnostics)
    assert "`listen` must be ADDRESS:PORT" in messages and "not a unit name" in messages


# -- calendar ------------------------------------------------------------------------------------------------------

def draft_hours(console) -> str:
    return console.workspace.draft_path("data/horaires.yaml").read_text(encoding="utf-8")


def test_a_closure_added_in_the_calendar_is_what_the_bot_says_that_day(editor, console):
    before = editor.get("/calendrier?jour=2027-03-16").text
    assert "La mairie est ouverte" in before or "ouverte" in before
    response = post(editor, "/calendrier/fermeture", {"lieu": "mairie", "du": "2027-03-15", "au": "2027-03-19",
                                                     "motif": "inventaire des archives"}, "/calendrier")
    assert response.status_code == 302
    hours = draft_hours(console)
    assert "      - du: 2027-03-15\n        au: 2027-03-19\n        motif: inventaire des archives\n" in hours
    assert hours.startswith("# Horaires des lieux de la commune")  # the staff's comments stay
    said = re.search(r'<dl class="decision" id="dit">(.*?)</dl>', editor.get("/calendrier?jour=2027-03-16").text,
                     re.S).group(1)
    assert "inventaire des archives" in said
    live = (console.config.calendar.hours).read_text(encoding="utf-8")
    assert "inventaire" not in live  # until published


def test_removing_a_closure(editor, console):
    assert "- date: 2026-12-24" in draft_hours(console)
    post(editor, "/calendrier/fermeture/supprimer", {"lieu": "mairie", "index": "0"}, "/calendrier")
    assert "- date: 2026-12-24" not in draft_hours(console) and "- date: 2026-12-31" in draft_hours(console)


def test_a_closure_ending_before_it_starts_is_refused(editor, console):
    response = post(editor, "/calendrier/fermeture", {"lieu": "mairie", "du": "2027-03-19", "au": "2027-03-15",
                                                     "motif": "x"}, "/calendrier")
    assert response.status_code == 400 and 'id="err-au"' in response.text
    assert console.workspace.changes() == []


def test_weekly_hours_are_edited_and_checked(editor, console):
    week = {"lieu": "mairie", "lundi": "9h00-12h00", "mardi": "8h30-12h00, 13h30-17h30",
            "mercredi": "8h30-12h00, 13h30-17h30", "jeudi": "8h30-12h00, 13h30-17h30",
            "vendredi": "8h30-12h00, 13h30-17h30", "samedi": "9h00-12h00", "dimanche": "fermé"}
    post(editor, "/calendrier/horaires", week, "/calendrier")
    assert "      lundi: 9h00-12h00\n" in draft_hours(console)
    assert [name for name, _ in console.workspace.changes()] == ["data/horaires.yaml"]
    post(editor, "/calendrier/horaires", {**week, "lundi": "midi à deux"}, "/calendrier")
    assert "horaires.yaml, ligne" in editor.get("/calendrier").text  # the loader's diagnostic, with its line


def test_a_menu_csv_with_errors_is_refused_with_its_lines(editor, console):
    good = (REPO / "callbot" / "example" / "data" / "menus_cantine.csv").read_bytes()
    bad = good + "32/12/2026;soupe;poisson;riz;fruit\n".encode()
    response = editor.post("/calendrier/menu", data={"csrf": csrf_of(editor.get("/calendrier").text),
                                                     "menu": (io.BytesIO(bad), "../../etc/menu.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "n'a pas été remplacé" in response.text.replace("&#39;", "'")
    line = len(bad.decode("utf-8-sig").splitlines())
    assert f"Ligne {line} :" in response.text
    assert console.workspace.changes() == []
    replaced = good.replace("poulet rôti".encode(), "poulet basquaise".encode())
    response = editor.post("/calendrier/menu", data={"csrf": csrf_of(editor.get("/calendrier").text),
                                                     "menu": (io.BytesIO(replaced), "menu.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and "Menu enregistré dans le brouillon" in response.text
    assert "poulet basquaise" in console.workspace.draft_path("data/menus_cantine.csv").read_text(encoding="utf-8-sig")


def test_try_shows_any_decision_the_understanding_layer_returns(editor, console, monkeypatch):
    """A decision with fields this console does not know yet (e.g. `clarify` with its choices) is shown whole."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Clarify:
        text: str

        def as_dict(self) -> dict:
            return {"text": self.text, "action": "clarify", "answer": None, "score": 0.61,
                    "choices": ["salle_des_fetes", "mariage"], "question_to_caller": "Parlez-vous de la salle ?"}

    knowledge = console.workspace.check_draft().knowledge
    monkeypatch.setattr(knowledge.matcher, "decide", Clarify)
    page = post(editor, "/essayer", {"phrase": "la salle pour mon mariage"}).text
    assert "demander de préciser (clarify)" in page
    assert "Choix proposés" in page and "salle_des_fetes, mariage" in page
    assert "question_to_caller" in page and "Parlez-vous de la salle ?" in page


def test_one_address_may_not_try_passwords_on_many_accounts(console):
    from callbot.console.auth import MAX_ATTEMPTS_PER_ADDRESS, Authenticator, LoginRefused

    clock = [1000.0]
    auth = Authenticator(console.store, clock=lambda: clock[0])
    for n in range(MAX_ATTEMPTS_PER_ADDRESS):
        with pytest.raises(LoginRefused, match="erroné"):
            auth.log_in(f"personne{n}", "mauvais mot de passe", "192.0.2.7")
    with pytest.raises(LoginRefused, match="Trop de tentatives"):
        auth.log_in(EDITOR, PASSWORD, "192.0.2.7")
    auth.log_in(EDITOR, PASSWORD, "192.0.2.8")  # another address is not held back
    clock[0] += 11 * 60
    auth.log_in(EDITOR, PASSWORD, "192.0.2.7")  # nor this one, ten minutes later


def test_a_lock_ends_after_fifteen_minutes_and_sessions_expire(console):
    from callbot.console.auth import IDLE_SECONDS, LOCK_SECONDS, Authenticator, LoginRefused

    clock = [1000.0]
    auth = Authenticator(console.store, clock=lambda: clock[0])
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginRefused):
            auth.log_in(EDITOR, "mauvais mot de passe", f"192.0.2.{_}")
    clock[0] += LOCK_SECONDS + 1
    token, _ = auth.log_in(EDITOR, PASSWORD, "192.0.2.50")
    assert auth.session(token).user == EDITOR
    clock[0] += IDLE_SECONDS + 1
    assert auth.session(token) is None


def test_a_sheet_edited_by_hand_reaches_the_draft_and_a_clash_blocks_publishing(editor, console, service):
    live = console.config.answers_dir / "vie_locale.yaml"
    editor.get("/publier")  # the draft starts
    live.write_text(live.read_text(encoding="utf-8").replace("Faut-il verser une caution",
                                                             "Doit-on verser une caution"), encoding="utf-8")
    assert console.workspace.changes() == []  # taken into the draft, which did not touch that file
    assert "Doit-on verser" in console.workspace.draft_path("answers/vie_locale.yaml").read_text(encoding="utf-8")
    question = UNANSWERED[0]
    post(editor, "/questions/ajouter", {"question": question, "groupe": group_key(question), "reponse": "salle_des_fetes"})
    live.write_text(live.read_text(encoding="utf-8") + "# modifié à la main\n", encoding="utf-8")
    page = editor.get("/publier").text
    assert 'id="conflits"' in page and "answers/vie_locale.yaml" in page
    before = live.read_text(encoding="utf-8")
    assert post(editor, "/publier", {"note": "x"}, "/publier").status_code == 422
    assert live.read_text(encoding="utf-8") == before and not service.exists()


def test_clarified_turns_are_unanswered_questions_too(console, editor):
    """When the understanding layer asks the caller to choose (action `clarify`), the question is shown too."""
    from callbot.journal import CallJournal, JournalTurn

    journal = CallJournal(console.config.journal.path)
    journal.record("call-clarify", datetime.now(), 20.0, "answered", "", None,
                   [JournalTurn("une concession au columbarium", "clarify", None, 0.5, 200.0)])
    journal.close()
    assert "« une concession au columbarium »" in editor.get("/questions").text


def test_the_title_callers_hear_in_a_clarifying_question_is_edited_beside_the_id(editor, console):
    form = sheets_edit.form_of(sheets_edit.find_answer(
        {n: console.workspace.draft_path(n) for n in console.workspace.draft_sheets()}, "salle_des_fetes")[2])
    data = {"title": "la location de la salle polyvalente", "questions": "\n".join(form.questions),
            "keywords": "\n".join(form.keywords), "answer": form.answer, "follow_up": form.follow_up,
            "transfer": form.transfer, "dated": form.dated, "tests": "\n".join(form.tests)}
    assert post(editor, "/reponses/salle_des_fetes", data).status_code == 302
    found = sheets_edit.find_answer({n: console.workspace.draft_path(n) for n in console.workspace.draft_sheets()},
                                    "salle_des_fetes")
    assert list(found[2].keys())[:2] == ["id", "title"]
    assert found[2]["title"] == "la location de la salle polyvalente"
    assert 'value="la location de la salle polyvalente"' in editor.get("/reponses/salle_des_fetes").text
    check = console.workspace.check_draft()
    assert check.knowledge is not None and check.knowledge.book.titles()["salle_des_fetes"] == \
        "la location de la salle polyvalente"
    too_long = post(editor, "/reponses/salle_des_fetes", {**data, "title": "x" * 200})
    assert 'id="err-title"' in too_long.text
