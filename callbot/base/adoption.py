"""A commune adopts the common base: which answers, its facts in the placeholders, its own words on top.

In callbot.yaml:

    base:
      adopt: all                # or a list of ids: [horaires_mairie, cantine, ...]
      disable: [marche]         # answers of the base that do not apply here
      facts: faits.yaml         # `placeholder: text` lines: telephone_mairie: 01 99 00 12 34

The commune's sheets may then use a base id to complete that answer (more
questions and keywords) or replace its text, title or transfer.
"""

from __future__ import annotations

import re
from typing import Any
from dataclasses import replace
from pathlib import Path

import yaml

from callbot.config import BaseSettings, Config
from callbot.sheets import BASE, Answer, AnswerBook, read_base_sheet
from rapidfuzz import process

from callbot.yamlsource import ERROR, WARNING, Diagnostic, Location, YamlReader

BASE_DIR = Path(__file__).parent
BASE_SHEET = BASE_DIR / "answers.yaml"
FACTS_TEMPLATE = BASE_DIR / "facts-modele.yaml"
PLACEHOLDER = re.compile(r"{([a-z][a-z0-9_]*)}")


def suggestion_hint(word: str, known: list[str], otherwise: str) -> str:
    found = process.extractOne(word, known, score_cutoff=70)
    return f"did you mean `{found[0]}`?" if found else otherwise


def base_answers(diagnostics: list[Diagnostic]) -> tuple[Answer, ...]:
    """Every answer of the common base, as shipped."""
    return read_base_sheet(BASE_SHEET, diagnostics)


def adopted_answers(config: Config, diagnostics: list[Diagnostic]) -> tuple[Answer, ...]:
    """The base answers this commune adopts, minus those it disables, with transfers it can carry out."""
    settings = config.base
    if settings is None:
        return ()
    answers = base_answers(diagnostics)
    known = [a.id for a in answers]
    for answer_id, location in (*(settings.adopt or ()), *settings.disable):
        if answer_id not in known:
            diagnostics.append(Diagnostic(location, ERROR, f"`{answer_id}` is not an answer of the common base",
                                          suggestion_hint(answer_id, known, "see callbot/base/TOPICS.md for the ids")))
    wanted = None if settings.adopt is None else {i for i, _ in settings.adopt}
    disabled = {i for i, _ in settings.disable}
    chosen = []
    for answer in answers:
        if (wanted is not None and answer.id not in wanted) or answer.id in disabled:
            continue
        if answer.transfer and answer.transfer not in config.targets:
            # the base hands emergencies to `astreinte`; a commune without that target answers with the text alone
            diagnostics.append(Diagnostic(
                settings.location or Location(str(config.path), 1, 1), WARNING,
                f"base answer `{answer.id}` transfers to `{answer.transfer}`, which is not a target here: "
                "the bot will only say its text",
                f"add a `{answer.transfer}` target under `transfer: targets:`, or give `{answer.id}` "
                "your own `transfer:` in a sheet"))
            answer = replace(answer, transfer=None)
        chosen.append(answer)
    return tuple(chosen)


def read_facts(settings: BaseSettings, diagnostics: list[Diagnostic]) -> dict[str, str]:
    """The commune's facts file: `name: text` lines (numbers and phone numbers as text)."""
    if settings.facts is None:
        return {}
    reader = YamlReader(settings.facts, diagnostics)
    root = reader.parse()
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        return {}
    if not isinstance(root, yaml.MappingNode):
        reader.error(root, "the facts file must hold `name: text` lines", f"start from {FACTS_TEMPLATE}")
        return {}
    facts: dict[str, str] = {}
    for key_node, value_node in root.value:
        name = str(key_node.value)
        if not isinstance(value_node, yaml.ScalarNode) or not str(value_node.value).strip():
            reader.warning(value_node, f"fact `{name}` is empty", "write its text after the colon, or remove the line")
            continue
        facts[name] = " ".join(str(value_node.value).split())
    return facts


def fill_facts(book: AnswerBook, config: Config, diagnostics: list[Diagnostic]) -> AnswerBook:
    """Put the commune's facts into every {placeholder}; an unfilled one is an error (the bot cannot say it)."""
    settings = config.base
    facts = {"commune": config.commune, **(read_facts(settings, diagnostics) if settings else {})}
    where = settings.location if settings and settings.location else Location(str(config.path), 1, 1)
    filled = []
    missing: dict[tuple[str, Location], list[str]] = {}
    for answer in book.answers:
        values: dict[str, Any] = {}
        for field in ("answer", "title", "follow_up"):
            text = getattr(answer, field)
            if text:
                values[field] = _fill(text, facts)
        location = where if answer.origin == BASE else answer.location
        for name in sorted({m for v in values.values() for m in PLACEHOLDER.findall(v)}):
            missing.setdefault((name, location), []).append(answer.id)
        filled.append(replace(answer, **values))
    facts_file = settings.facts.name if settings and settings.facts else "a facts file (`base: facts:` in callbot.yaml)"
    for (name, location), ids in missing.items():
        users = ", ".join(f"`{i}`" for i in ids)
        diagnostics.append(Diagnostic(
            location, ERROR, f"the fact {{{name}}} is not filled in; answer(s) {users} need it",
            f"add `{name}: ...` to {facts_file}, write your own `answer:` for them in a sheet, "
            "or add them to `base: disable`"))
    return replace(book, answers=tuple(filled))


def _fill(text: str, facts: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: facts.get(m.group(1), m.group(0)), text)


def placeholders_of(answers: tuple[Answer, ...]) -> dict[str, list[str]]:
    """Each placeholder of these answers, with the ids that use it (for the facts template and the guide)."""
    used: dict[str, list[str]] = {}
    for answer in answers:
        for text in (answer.answer, answer.title or "", answer.follow_up or ""):
            for name in PLACEHOLDER.findall(text):
                used.setdefault(name, [])
                if answer.id not in used[name]:
                    used[name].append(answer.id)
    return used
