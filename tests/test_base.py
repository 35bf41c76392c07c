"""The common base of answers: its content, and how a commune adopts, fills, completes and disables it."""

import re
from pathlib import Path

import pytest
import yaml

from callbot.base.adoption import BASE_DIR, FACTS_TEMPLATE, base_answers, placeholders_of
from callbot.knowledge import load_knowledge, require_knowledge
from conftest import MINIMAL_CONFIG, run_callbot

TOPICS = BASE_DIR / "TOPICS.md"


@pytest.fixture(scope="module")
def base():
    diagnostics = []
    answers = base_answers(diagnostics)
    assert not diagnostics, diagnostics
    return answers


def test_the_base_covers_its_topic_list(base):
    ids = [i for i in re.findall(r"^\| ([a-z_]+) \|", TOPICS.read_text(encoding="utf-8"), re.M) if i != "id"]
    assert len(ids) >= 45
    assert [a.id for a in base] == ids


def test_every_base_answer_has_a_title_keywords_and_fifteen_questions_by_three_authors(base):
    text = (BASE_DIR / "answers.yaml").read_text(encoding="utf-8")
    for answer in base:
        assert answer.title and answer.keywords and answer.answer, answer.id
        assert len(answer.questions) >= 15, answer.id
    assert text.count("      # A") == text.count("      # B") == text.count("      # C") == len(base)


def test_base_answers_speak_politely_and_name_their_facts_as_placeholders(base):
    familiar = {"tu", "te", "toi", "ton", "ta", "tes"}
    for answer in base:
        words = set(re.sub(r"[',.;:!?()]", " ", answer.answer.lower()).split())
        assert not words & familiar, (answer.id, words & familiar)
        assert not re.search(r"\b0\d( \d\d){4}\b", answer.answer), f"{answer.id}: a phone number belongs in the facts"


def test_the_facts_template_names_every_placeholder_of_the_base(base):
    template = yaml.safe_load(FACTS_TEMPLATE.read_text(encoding="utf-8"))
    assert set(placeholders_of(base)) - {"commune"} == set(template)


BASE_CONFIG = MINIMAL_CONFIG + """\
base:
  adopt: all
  facts: faits.yaml
"""


def write_facts(config: Path, facts: dict[str, str]) -> None:
    (config.parent / "faits.yaml").write_text(yaml.safe_dump(facts, allow_unicode=True), encoding="utf-8")


def full_facts() -> dict[str, str]:
    return {k: str(v) for k, v in yaml.safe_load(FACTS_TEMPLATE.read_text(encoding="utf-8")).items()}


def test_adopting_all_fills_the_facts_everywhere(make_config, base):
    config = make_config(BASE_CONFIG, sheets={"vide.yaml": "answers: []\n"})
    write_facts(config, full_facts())
    knowledge = require_knowledge(config)
    assert [a.id for a in knowledge.book.answers] == [a.id for a in base]
    assert not any("{" in a.answer for a in knowledge.book.answers)
    assert "01 23 45 67 89" in knowledge.book.by_id("horaires_mairie").answer
    assert "Testville" in knowledge.book.by_id("horaires_mairie").answer  # {commune} comes from callbot.yaml


def test_a_missing_fact_is_an_error_naming_the_answers_that_need_it(make_config):
    config = make_config(BASE_CONFIG, sheets={"vide.yaml": "answers: []\n"})
    facts = full_facts()
    del facts["telephone_ccas"]
    write_facts(config, facts)
    knowledge, diagnostics = load_knowledge(config)
    assert knowledge is None
    errors = [str(d) for d in diagnostics if d.severity == "error"]
    assert len(errors) == 1 and "{telephone_ccas}" in errors[0] and "`ccas`" in errors[0]
    assert "callbot.yaml:" in errors[0] and "faits.yaml" in errors[0]


def test_a_commune_adopts_a_list_disables_completes_and_overrides(make_config):
    config = make_config(MINIMAL_CONFIG + """\
base:
  adopt: [cantine, marche, acte_naissance]
  disable: [acte_naissance]
  facts: faits.yaml
""", sheets={"nos_reponses.yaml": """\
answers:
  - id: cantine
    questions:
      - C'est quoi le menu de la cantoche demain ?
  - id: marche
    title: le marché du dimanche
    answer: Le marché a lieu le dimanche matin, place du Lavoir.
  - id: piscine
    title: la piscine
    questions:
      - La piscine est ouverte quand ?
    answer: La piscine ouvre en juin.
"""})
    write_facts(config, full_facts())
    knowledge = require_knowledge(config)
    book = knowledge.book
    assert [a.id for a in book.answers] == ["cantine", "marche", "piscine"]
    cantine = book.by_id("cantine")
    assert cantine.questions[-1].text == "C'est quoi le menu de la cantoche demain ?" and len(cantine.questions) >= 16
    assert cantine.origin == "base+sheet" and not cantine.local_text and "01 23 45 67 89" in cantine.answer
    marche = book.by_id("marche")
    assert (marche.title, marche.answer) == ("le marché du dimanche", "Le marché a lieu le dimanche matin, place du Lavoir.")
    assert marche.local_text and len(marche.questions) >= 15


def test_check_reports_unknown_ids_missing_transfer_targets_and_texts_to_write(make_config):
    config = make_config(MINIMAL_CONFIG + """\
base:
  adopt: [ordures_menageres, urgence_astreinte]
  disable: [cantinne]
  facts: faits.yaml
""", sheets={"vide.yaml": "answers: []\n"})
    write_facts(config, full_facts())
    result = run_callbot("check", "--config", str(config))
    assert result.returncode == 1
    assert "`cantinne` is not an answer of the common base (fix: did you mean `cantine`?)" in result.stderr
    config.write_text(config.read_text(encoding="utf-8").replace("  disable: [cantinne]\n", ""), encoding="utf-8")
    result = run_callbot("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "transfers to `astreinte`, which is not a target here" in result.stderr
    assert "base answer `ordures_menageres` needs your commune's own text" in result.stderr


def test_check_proposes_a_title_for_an_answer_without_one(make_config):
    result = run_callbot("check", "--config", str(make_config()))
    assert "answer `horaires` has no `title`" in result.stderr and "title:" in result.stderr
    assert result.returncode == 0


def test_sheet_tests_may_be_whole_calls(make_config):
    config = make_config(sheets={"a.yaml": """\
answers:
  - id: horaires
    title: les horaires de la mairie
    questions:
      - Quels sont les horaires de la mairie ?
    answer: La mairie est ouverte du lundi au vendredi.
    tests:
      - ["c est pour ma carte grise", "les horaires de la mairie"]
      - ["je voudrais parler à quelqu un"]
tests:
  - say: ["c est pour ma carte grise", "passez moi quelqu un"]
    expect: transfer
"""})
    result = run_callbot("check", "--config", str(config))
    assert result.returncode == 1
    assert 'test "je voudrais parler à quelqu un" gives transfer' in result.stderr
    assert "carte grise" not in result.stderr
    assert result.stderr.count("error:") == 1
