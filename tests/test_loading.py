"""Loading callbot.yaml and the answer sheets: every problem names file, line, column and a fix."""

from pathlib import Path

import pytest

from callbot.knowledge import load_knowledge
from callbot.yamlsource import ERROR, WARNING
from conftest import MINIMAL_CONFIG, MINIMAL_SHEET


def problems(config_path: Path, severity: str = ERROR) -> list[str]:
    knowledge, diagnostics = load_knowledge(config_path)
    found = [d for d in diagnostics if d.severity == severity]
    if severity == ERROR:
        assert (knowledge is None) == bool(found)
    return [str(d) for d in found]


def test_example_configuration_loads_without_problems(example):
    assert example.config.commune == "Val-de-Lisière"
    assert len(example.book.answers) >= 25
    assert set(example.config.targets) == {"accueil", "astreinte"}


def test_minimal_configuration_loads(make_config):
    assert problems(make_config()) == []


@pytest.mark.parametrize("config, expected", [
    (MINIMAL_CONFIG + "comune: x\n", ["callbot.yaml:8:1: error: the configuration: unknown key `comune`",
                                      "did you mean `commune`?"]),
    (MINIMAL_CONFIG.replace("commune: Testville\n", ""), ["callbot.yaml:1:1: error: the configuration: missing key `commune`"]),
    (MINIMAL_CONFIG + "understanding:\n  threshold: high\n", ["callbot.yaml:9:14: error: `threshold` must be a number, not the text `high`"]),
    (MINIMAL_CONFIG + "understanding:\n  margin: 1.5\n", ["callbot.yaml:9:11: error: `margin` is 1.5, outside 0..1"]),
    (MINIMAL_CONFIG.replace("reception: accueil", "reception: standard"),
     ["callbot.yaml:4:14: error: `reception` names `standard`, which is not a target", "use one of: accueil"]),
    (MINIMAL_CONFIG.replace("uri: sip:accueil@127.0.0.1", "uri: 0199001234"),
     ["callbot.yaml:7:12: error: `uri` of target `accueil` must be a SIP address"]),
    (MINIMAL_CONFIG + "      context: non\n",
     ["callbot.yaml:8:16: error: `context` of target `accueil` must be true or false, not the text `non`"]),
    (MINIMAL_CONFIG + "      on_call: 1\n", ["callbot.yaml:8:16: error: `on_call` of target `accueil` must be true or false"]),
    (MINIMAL_CONFIG.replace("uri: sip:accueil@127.0.0.1", "uri: sip:accueil@127.0.0.1?X-Service=etat-civil"),
     ["callbot.yaml:7:12: error: `uri` of target `accueil` already carries headers", "set `context: false`"]),
    (MINIMAL_CONFIG + "commune: Autreville\n", ["callbot.yaml:8:1: error: the configuration: key `commune` appears twice (first at line 1)"]),
    ("commune: [Testville\nanswers: answers\n", ["callbot.yaml:2:8: error: YAML syntax:"]),
    ("commune:\tTestville\n", ["callbot.yaml:1:9: error: YAML syntax:", "indent with spaces, not tabs"]),
    ("", ["callbot.yaml:1:1: error: the configuration file is empty"]),
])
def test_configuration_errors_point_at_the_place(make_config, config, expected):
    found = "\n".join(problems(make_config(config)))
    for fragment in expected:
        assert fragment in found


def test_transfer_context_is_on_by_default_and_can_be_turned_off_per_target(make_config):
    config = MINIMAL_CONFIG + "      on_call: true\n    secretariat:\n      uri: sip:secretariat@127.0.0.1?X-Service=1\n" \
        "      context: false\n"
    knowledge, diagnostics = load_knowledge(make_config(config))
    assert diagnostics == []
    accueil, secretariat = knowledge.config.targets["accueil"], knowledge.config.targets["secretariat"]
    assert (accueil.context, accueil.on_call) == (True, True)
    assert (secretariat.context, secretariat.on_call) == (False, False)


def test_missing_answers_folder_is_an_error(make_config):
    path = make_config(MINIMAL_CONFIG.replace("answers: answers", "answers: nowhere"))
    assert any("answer sheets folder not found" in p for p in problems(path))


SHEET_CASES = [
    ("duplicate id across files", {
        "a.yaml": MINIMAL_SHEET,
        "b.yaml": MINIMAL_SHEET.replace("ouverte", "ouverte aussi"),
    }, ["b.yaml:2:9: error: id `horaires` is already used at", "a.yaml:2:9"]),
    ("empty answer", {"a.yaml": MINIMAL_SHEET.replace("answer: La mairie est ouverte du lundi au vendredi.", 'answer: ""')},
     ["a.yaml:5:13: error: `answer` of answer `horaires` is empty"]),
    ("no answer and no transfer", {"a.yaml": MINIMAL_SHEET.replace("    answer: La mairie est ouverte du lundi au vendredi.\n", "")},
     ["has no `answer` text and no `transfer`"]),
    ("questions as one text", {"a.yaml": "answers:\n  - id: x\n    questions: Quand ?\n    answer: Demain.\n"},
     ["a.yaml:3:16: error: `questions` of answer `x` must be a list, not a single text"]),
    ("no questions", {"a.yaml": "answers:\n  - id: x\n    questions: []\n    answer: Demain.\n"},
     ["a.yaml:3:16: error: answer `x` has no example question"]),
    ("missing id", {"a.yaml": "answers:\n  - questions: [Quand]\n    answer: Demain.\n"},
     ["a.yaml:2:5: error: an answer: missing key `id`"]),
    ("bad id", {"a.yaml": MINIMAL_SHEET.replace("id: horaires", "id: Horaires Été")},
     ["may only hold lower-case letters", "write it like `horaires_ete`"]),
    ("number as id", {"a.yaml": MINIMAL_SHEET.replace("id: horaires", "id: 12")},
     ["a.yaml:2:9: error: `id` must be text, not the number `12`"]),
    ("unknown key with suggestion", {"a.yaml": MINIMAL_SHEET + "    keyword: [horaires]\n"},
     ["a.yaml:6:5: error: an answer: unknown key `keyword`", "did you mean `keywords`?"]),
    ("unknown transfer target", {"a.yaml": MINIMAL_SHEET + "    transfer: pompiers\n"},
     ["a.yaml:6:15: error: answer `horaires`: unknown transfer target `pompiers`", "accueil"]),
    ("test expecting an unknown id", {"a.yaml": MINIMAL_SHEET + "tests:\n  - say: bonjour\n    expect: horaire\n"},
     ["a.yaml:8:13: error: test expects `horaire`, which is not an answer id"]),
    ("unknown top-level key", {"a.yaml": MINIMAL_SHEET + "answer:\n  - id: y\n"},
     ["a.yaml:6:1: error: an answer sheet: unknown key `answer`", "did you mean `answers`?"]),
    ("yaml syntax", {"a.yaml": "answers:\n  - id: x\n    questions: [a, b\n    answer: c\n"}, ["a.yaml:4:", "YAML syntax"]),
    ("question mark in a flow list", {"a.yaml": "answers:\n  - id: x\n    questions: [Quand ?]\n    answer: c\n"},
     ["a.yaml:3:23: error: YAML syntax", "quote texts that contain ?"]),
    ("unquoted colon", {"a.yaml": "answers:\n  - id: x\n    questions: [a]\n    answer: Attention: fermé\n"},
     ["a.yaml:4:22: error: YAML syntax", "put in double quotes"]),
    ("no sheet", {}, ["no answer sheet (*.yaml) in this folder"]),
]


@pytest.mark.parametrize("name, sheets, expected", SHEET_CASES, ids=[c[0] for c in SHEET_CASES])
def test_sheet_errors_point_at_the_place(make_config, name, sheets, expected):
    found = "\n".join(problems(make_config(sheets=sheets)))
    for fragment in expected:
        assert fragment in found, found


def test_all_problems_are_reported_at_once(make_config):
    sheet = MINIMAL_SHEET + "    keyword: [x]\n  - id: horaires\n    questions: [a]\n    answer: b\n    transfer: nulle_part\n"
    found = problems(make_config(sheets={"a.yaml": sheet}))
    assert len(found) == 3, found


def test_long_answer_is_a_warning_not_an_error(make_config):
    sheet = MINIMAL_SHEET.replace("du lundi au vendredi.", "du lundi au vendredi " + "et encore " * 70 + ".")
    path = make_config(sheets={"a.yaml": sheet})
    assert problems(path) == []
    assert any("words long" in w for w in problems(path, WARNING))


def test_transfer_only_entry_needs_no_answer_text(make_config):
    sheet = "answers:\n  - id: accueil_direct\n    questions: [Je veux le service urbanisme]\n    transfer: accueil\n"
    assert problems(make_config(sheets={"a.yaml": sheet})) == []


def test_staff_synonyms_are_loaded(make_config):
    sheet = """\
answers:
  - id: salle_polyvalente
    questions:
      - Comment réserver la salle polyvalente ?
    answer: La salle polyvalente se réserve à l'accueil.
synonyms:
  salle polyvalente: [salle jean moulin, foyer rural]
"""
    knowledge, _ = load_knowledge(make_config(sheets={"a.yaml": sheet}))
    assert knowledge.book.synonyms == {"salle polyvalente": ("salle jean moulin", "foyer rural")}
    assert knowledge.matcher.decide("je voudrais réserver la salle jean moulin").answer == "salle_polyvalente"


def test_a_greeting_without_the_ai_notice_is_a_warning(make_config):
    from conftest import MINIMAL_CONFIG

    path = make_config(MINIMAL_CONFIG + "prompts:\n  greeting: Bonjour, mairie de {commune}.\n")
    assert problems(path) == []
    assert any("automatic assistant" in w for w in problems(path, WARNING))
