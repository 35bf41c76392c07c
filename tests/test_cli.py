"""`callbot check` and `callbot ask`, run as a user runs them."""

import json

from callbot.config import EXAMPLE_CONFIG
from conftest import MINIMAL_SHEET, run_callbot

SHEET_WITH_TESTS = """\
answers:
  - id: horaires
    questions:
      - Quels sont les horaires de la mairie ?
      - À quelle heure êtes-vous ouverts ?
    keywords: [horaires]
    answer: La mairie est ouverte du lundi au vendredi.
    tests:
      - bonjour vous êtes ouverts quand
  - id: cantine
    questions:
      - Comment inscrire mon enfant à la cantine ?
      - Quel est le menu de la cantine ?
    keywords: [cantine]
    answer: Les inscriptions à la cantine se font auprès du service enfance.
    tests:
      - c est pour la cantine de ma fille
tests:
  - say: c est pour ma carte grise
    expect: nomatch
  - say: passez moi quelqu un
    expect: transfer
"""


def test_check_accepts_the_example_configuration():
    result = run_callbot("check", "--config", str(EXAMPLE_CONFIG))
    assert result.returncode == 0, result.stderr
    assert "0 error(s)" in result.stderr


def test_check_accepts_clean_sheets(make_config):
    result = run_callbot("check", "--config", str(make_config(sheets={"a.yaml": SHEET_WITH_TESTS})))
    assert result.returncode == 0, result.stderr
    assert "2 answers, 4 tests in 1 sheet(s)" in result.stderr


def test_check_reports_every_error_as_file_line_column_and_exits_1(make_config):
    broken = SHEET_WITH_TESTS.replace("id: cantine", "id: horaires")
    result = run_callbot("check", "--config", str(make_config(sheets={"a.yaml": broken})))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors and all(line.split(":")[1].isdigit() and line.split(":")[2].isdigit()
                          for line in (e.split("answers/")[1] for e in errors))
    assert "a.yaml:10:9: error: id `horaires` is already used" in result.stderr


def test_check_fails_when_a_regression_example_resolves_elsewhere(make_config):
    sheet = SHEET_WITH_TESTS.replace("      - c est pour la cantine de ma fille", "      - vous êtes ouverts quand")
    result = run_callbot("check", "--config", str(make_config(sheets={"a.yaml": sheet})))
    assert result.returncode == 1
    assert 'a.yaml:17:9: error: test "vous êtes ouverts quand" gives `horaires`' in result.stderr
    assert "expected `cantine`" in result.stderr


def test_check_fails_when_an_off_topic_example_gets_answered(make_config):
    sheet = SHEET_WITH_TESTS.replace("say: c est pour ma carte grise", "say: le menu de la cantine")
    result = run_callbot("check", "--config", str(make_config(sheets={"a.yaml": sheet})))
    assert result.returncode == 1
    assert 'test "le menu de la cantine" gives `cantine`' in result.stderr and "expected `nomatch`" in result.stderr


def test_check_fails_on_questions_that_collide_between_answers(make_config):
    sheet = SHEET_WITH_TESTS.replace("Quel est le menu de la cantine ?", "Quels sont les horaires de la mairie ?")
    result = run_callbot("check", "--config", str(make_config(sheets={"a.yaml": sheet})))
    assert result.returncode == 1
    assert "a.yaml:13:9: error: question of `cantine` means the same as a question of `horaires`" in result.stderr


def test_check_warnings_do_not_fail(make_config):
    sheet = SHEET_WITH_TESTS.replace("keywords: [cantine]", "keywords: [cantine, horaires]")
    result = run_callbot("check", "--config", str(make_config(sheets={"a.yaml": sheet})))
    assert result.returncode == 0, result.stderr
    assert 'warning: keyword "horaires" of `cantine` is also a keyword of `horaires`' in result.stderr


def test_check_without_configuration_says_how_to_get_one(tmp_path):
    result = run_callbot("check", "--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1
    assert "absent.yaml:1:1: error: cannot read file" in result.stderr


def test_ask_json_gives_action_answer_score_and_runner_up():
    result = run_callbot("ask", "--config", str(EXAMPLE_CONFIG), "--json",
                         "bonjour je voudrais savoir quand passent les poubelles")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["action"] == "answer"
    assert decision["answer"] == "ordures_menageres"
    assert decision["text"] == "bonjour je voudrais savoir quand passent les poubelles"
    assert 0 <= decision["runner_up_score"] < decision["score"] <= 1
    assert decision["runner_up"] != "ordures_menageres"


def test_ask_reads_one_transcript_per_line_from_stdin():
    lines = ["c est pour ma carte grise", "passez moi quelqu un s il vous plait", "le recensement de mon fils"]
    result = run_callbot("ask", "--config", str(EXAMPLE_CONFIG), "--json", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["text"] for d in decisions] == lines
    assert [d["action"] for d in decisions] == ["nomatch", "transfer", "answer"]
    assert decisions[0]["answer"] is None
    assert decisions[1]["target"] == "accueil"
    assert decisions[2]["answer"] == "recensement_citoyen"


def test_ask_text_output_shows_the_answer_that_would_be_spoken():
    result = run_callbot("ask", "--config", str(EXAMPLE_CONFIG), "où est la déchetterie")
    assert result.returncode == 0, result.stderr
    first, spoken = result.stdout.splitlines()[:2]
    assert first.startswith("answer dechetterie (score ")
    assert "déchetterie" in spoken.lower()


def test_ask_sheets_option_overrides_the_configuration(make_config, tmp_path):
    config = make_config()
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.yaml").write_text(SHEET_WITH_TESTS, encoding="utf-8")
    with_config = json.loads(run_callbot("ask", "--config", str(config), "--json", "la cantine").stdout)
    with_override = json.loads(run_callbot("ask", "--config", str(config), "--sheets", str(other),
                                           "--json", "la cantine").stdout)
    assert with_config["action"] == "nomatch"
    assert with_override["answer"] == "cantine"


def test_ask_refuses_broken_sheets_with_the_diagnostics(make_config):
    config = make_config(sheets={"a.yaml": "answers:\n  - id: x\n"})
    result = run_callbot("ask", "--config", str(config), "bonjour")
    assert result.returncode == 1
    assert "a.yaml:2:5: error: an answer: missing key `questions`" in result.stderr


def test_ask_names_the_closest_answer_of_a_nomatch_apart_from_the_runner_up():
    decision = json.loads(run_callbot("ask", "--config", str(EXAMPLE_CONFIG), "--json", "c est pour un papier").stdout)
    assert decision["action"] in ("nomatch", "clarify") and decision["answer"] is None
    assert decision["best"] and decision["runner_up"] and decision["best"] != decision["runner_up"]
    assert decision["score"] >= decision["runner_up_score"]
