"""Answer sheets: the YAML files in which mairie staff write what the bot knows.

A sheet may hold three top-level keys:

- `answers:` a list of entries (`id`, `questions`, `answer`, optional
  `keywords`, `transfer`, `follow_up`, `tests`);
- `tests:` regression examples that must resolve to a given result
  (`say: ...`, `expect: <answer id> | nomatch | transfer`);
- `synonyms:` the commune's own words, added to the built-in French lexicon
  (`concept: [variant, variant]`).

Loading checks structure and types only; whether examples resolve as
expected needs the matcher and is done by `callbot check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from callbot.yamlsource import ERROR, ConfigError, Diagnostic, Location, YamlReader

ANSWER_KEYS = ("id", "title", "questions", "answer", "keywords", "transfer", "follow_up", "tests", "dated")
DATED_KINDS = ("hours", "collection", "menu")  # answers computed from the calendar data for the date asked
BASE_ANSWER_KEYS = (*ANSWER_KEYS, "needs_local_text")  # the common base may say an answer needs the commune's words
SHEET_KEYS = ("answers", "tests", "synonyms")
SHEET = "sheet"  # an answer's origin: the commune's sheets ...
BASE = "base"  # ... the common base as it is ...
BASE_EXTENDED = "base+sheet"  # ... or a base answer that the commune's sheets complete
EXAMPLE_KEYS = ("say", "expect")
NOMATCH = "nomatch"
TRANSFER = "transfer"
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
LONG_ANSWER_WORDS = 120


@dataclass(frozen=True)
class Example:
    """A regression example: a transcript (or a whole call, turn by turn) and the result it must give."""

    text: str
    expect: str  # an answer id, NOMATCH or TRANSFER
    location: Location
    turns: tuple[str, ...] = ()  # a call of several turns (the reply to a clarifying question...): `text` is the first

    @property
    def conversation(self) -> bool:
        return len(self.turns) > 1


@dataclass(frozen=True)
class Question:
    text: str
    location: Location


@dataclass(frozen=True)
class Answer:
    """One entry of an answer sheet."""

    id: str
    questions: tuple[Question, ...]
    answer: str  # may be empty when the entry only transfers
    keywords: tuple[str, ...]
    transfer: str | None
    follow_up: str | None
    location: Location
    dated: tuple[str, str] | None = None  # (kind, name): e.g. ("hours", "mairie"), ("menu", "cantine")
    title: str | None = None  # how the bot names it in a clarifying question: "les horaires de la mairie"
    origin: str = SHEET  # SHEET, BASE or BASE_EXTENDED
    needs_local_text: bool = False  # a base answer whose generic text should be replaced by the commune's
    local_text: bool = True  # the answer text was written by the commune (not the base's)

    @property
    def spoken_title(self) -> str:
        """The title, or one proposed from the keywords or the first question when staff wrote none."""
        return self.title or propose_title(self)


@dataclass(frozen=True)
class AnswerBook:
    """Everything the sheets folder holds, validated."""

    answers: tuple[Answer, ...]
    examples: tuple[Example, ...]
    synonyms: dict[str, tuple[str, ...]]
    files: tuple[str, ...]

    def by_id(self, answer_id: str) -> Answer:
        return next(a for a in self.answers if a.id == answer_id)

    def titles(self) -> dict[str, str]:
        return {a.id: a.spoken_title for a in self.answers}


def propose_title(answer: Answer) -> str:
    """A title staff can start from: the first keyword, else the first question without its question mark."""
    if answer.keywords:
        return answer.keywords[0]
    if answer.questions:
        return answer.questions[0].text.rstrip(" ?!.")
    return answer.id.replace("_", " ")


def sheet_files(folder: Path) -> list[Path]:
    """The sheets of a folder: `*.yaml` and `*.yml`, not hidden, sorted so loading is stable."""
    files = [p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith(".")]
    return sorted(files)


def load_answer_book(folder: Path, targets: tuple[str, ...], diagnostics: list[Diagnostic],
                     base: tuple[Answer, ...] = ()) -> AnswerBook | None:
    """Read every sheet of `folder`, over the adopted base answers. Problems go to `diagnostics`; None on any error.

    A sheet answer with the id of a base answer completes it: its questions and keywords are added to the
    base's, and its `answer`, `title`, `transfer`, `follow_up` or `dated` replace the base's.
    """
    reader = _BookReader(targets, diagnostics, base)
    if not folder.is_dir():
        diagnostics.append(Diagnostic(Location(str(folder), 1, 1), ERROR, "answer sheets folder not found",
                                      "create it, or point `answers:` in callbot.yaml (or --sheets) at the right folder"))
        return None
    files = sheet_files(folder)
    if not files:
        diagnostics.append(Diagnostic(Location(str(folder), 1, 1), ERROR, "no answer sheet (*.yaml) in this folder",
                                      "add at least one sheet with an `answers:` list"))
        return None
    for path in files:
        reader.read_sheet(path)
    reader.check_expectations()
    if any(d.severity == ERROR for d in diagnostics):
        return None
    return AnswerBook(reader.book_answers(), tuple(reader.examples), reader.synonyms, tuple(map(str, files)))


def read_base_sheet(path: Path, diagnostics: list[Diagnostic]) -> tuple[Answer, ...]:
    """The answers of the common base's sheet, as written (placeholders not filled, any transfer target)."""
    reader = _BookReader(None, diagnostics)
    reader.read_sheet(path)
    return tuple(replace(a, origin=BASE, local_text=False) for a in reader.answers)


def require_answer_book(folder: Path, targets: tuple[str, ...]) -> AnswerBook:
    """Like load_answer_book, but raises ConfigError carrying every diagnostic."""
    diagnostics: list[Diagnostic] = []
    book = load_answer_book(folder, targets, diagnostics)
    if book is None:
        raise ConfigError(diagnostics)
    return book


class _BookReader:
    def __init__(self, targets: tuple[str, ...] | None, diagnostics: list[Diagnostic], base: tuple[Answer, ...] = ()):
        self.targets = targets  # None: the common base, whose targets each commune maps
        self.diagnostics = diagnostics
        self.answers: list[Answer] = []
        self.examples: list[Example] = []
        self.synonyms: dict[str, tuple[str, ...]] = {}
        self._ids: dict[str, Location] = {}
        self.base = {a.id: a for a in base}

    def book_answers(self) -> tuple[Answer, ...]:
        """The base's answers (completed by the sheets where they say so), then the sheets' own."""
        extended = {a.id: a for a in self.answers if a.id in self.base}
        own = [a for a in self.answers if a.id not in self.base]
        return tuple(extended.get(i, a) for i, a in self.base.items()) + tuple(own)

    def read_sheet(self, path: Path) -> None:
        yaml_reader = YamlReader(path, self.diagnostics)
        root = yaml_reader.parse()
        if root is None:
            return
        if isinstance(root, yaml.ScalarNode) and root.value == "":
            yaml_reader.warning(root, "this sheet is empty and is ignored", "add an `answers:` list or delete the file")
            return
        keys = yaml_reader.mapping(root, "an answer sheet", SHEET_KEYS)
        if keys is None:
            return
        if "answers" in keys:
            for node in yaml_reader.sequence(keys["answers"], "`answers`") or ():
                self._read_answer(yaml_reader, node)
        if "tests" in keys:
            for node in yaml_reader.sequence(keys["tests"], "`tests`") or ():
                self._read_example(yaml_reader, node)
        if "synonyms" in keys:
            self._read_synonyms(yaml_reader, keys["synonyms"])

    def _read_answer(self, r: YamlReader, node: yaml.Node) -> None:
        keys = r.mapping(node, "an answer", BASE_ANSWER_KEYS if self.targets is None else ANSWER_KEYS,
                         required=("id",))
        if keys is None or "id" not in keys:
            return
        answer_id = r.text(keys["id"], "`id`")
        if answer_id is None:
            return
        base = self.base.get(answer_id)
        if base is None and "questions" not in keys:
            r.error(node, "an answer: missing key `questions`",
                    f"add `questions:` to `{answer_id}` with a few ways a caller asks it "
                    "(or use the id of an answer of the common base that callbot.yaml adopts)")
            return
        if not _ID_PATTERN.match(answer_id):
            r.error(keys["id"], f"id `{answer_id}` may only hold lower-case letters without accents, digits and _",
                    f"write it like `{_suggest_id(answer_id)}`")
        if answer_id in self._ids:
            r.error(keys["id"], f"id `{answer_id}` is already used at {self._ids[answer_id]}",
                    "give each answer its own id")
        else:
            self._ids[answer_id] = r.location(keys["id"])
        what = f"answer `{answer_id}`"
        questions = self._questions(r, keys.get("questions"), what)
        transfer = self._transfer(r, keys.get("transfer"), what)
        text = self._answer_text(r, keys, transfer or (base.transfer if base else None), what) \
            if base is None or "answer" in keys else None
        keywords = tuple(v for v, _ in r.text_list(keys["keywords"], f"`keywords` of {what}") or ()) \
            if "keywords" in keys else ()
        follow_up = r.text(keys["follow_up"], f"`follow_up` of {what}") if "follow_up" in keys else None
        title = r.text(keys["title"], f"`title` of {what}") if "title" in keys else None
        for item in (r.sequence(keys["tests"], f"`tests` of {what}") or ()) if "tests" in keys else ():
            if isinstance(item, yaml.SequenceNode):  # a whole call, turn by turn
                turns = tuple(v for v, _ in r.text_list(item, f"a test of {what} (the caller's turns)") or ())
            else:
                turns = tuple(t for t in [r.text(item, f"a test of {what}")] if t)
            if turns:
                self.examples.append(Example(turns[0], answer_id, r.location(item), turns))
        dated = self._dated(r, keys["dated"], what) if "dated" in keys else None
        needs_local = bool(r.boolean(keys["needs_local_text"], "`needs_local_text`")) \
            if "needs_local_text" in keys else False
        answer = Answer(answer_id, questions, text or "", keywords, transfer, follow_up, r.location(node), dated, title,
                        needs_local_text=needs_local)
        if base is not None:
            answer = Answer(answer_id, base.questions + questions, (text or "") if "answer" in keys else base.answer,
                            base.keywords + keywords, transfer if "transfer" in keys else base.transfer,
                            follow_up or base.follow_up, r.location(node), dated or base.dated, title or base.title,
                            BASE_EXTENDED, base.needs_local_text, "answer" in keys)
        self.answers.append(answer)

    def _dated(self, r: YamlReader, node: yaml.Node, what: str) -> tuple[str, str] | None:
        keys = r.mapping(node, f"`dated` of {what}", DATED_KINDS)
        if not keys:
            if keys is not None:
                r.error(node, f"`dated` of {what} is empty", "write e.g. `dated: {hours: mairie}`")
            return None
        if len(keys) > 1:
            r.error(node, f"`dated` of {what} names several kinds", f"keep one of {', '.join(DATED_KINDS)}")
            return None
        kind, value = next(iter(keys.items()))
        name = r.text(value, f"`dated: {kind}` of {what}")
        return (kind, name) if name else None

    def _questions(self, r: YamlReader, node: yaml.Node | None, what: str) -> tuple[Question, ...]:
        if node is None:
            return ()
        items = r.text_list(node, f"`questions` of {what}")
        if items is None:
            return ()
        if not items:
            r.error(node, f"{what} has no example question", "add at least one way a caller asks it")
        seen: set[str] = set()
        questions = []
        for value, item in items:
            if value.lower() in seen:
                r.warning(item, f"{what}: this question is written twice", "remove one of them")
            seen.add(value.lower())
            questions.append(Question(value, r.location(item)))
        return tuple(questions)

    def _transfer(self, r: YamlReader, node: yaml.Node | None, what: str) -> str | None:
        if node is None:
            return None
        target = r.text(node, f"`transfer` of {what}")
        if target is not None and self.targets is not None and target not in self.targets:
            known = ", ".join(self.targets) or "none defined"
            r.error(node, f"{what}: unknown transfer target `{target}`",
                    f"use one of the targets of callbot.yaml ({known}), or add it there under `transfer: targets:`")
            return None
        return target

    def _answer_text(self, r: YamlReader, keys: dict[str, yaml.Node], transfer: str | None, what: str) -> str | None:
        if "answer" not in keys:
            if transfer is None:
                r.error(r.location(next(iter(keys.values()))), f"{what} has no `answer` text and no `transfer`",
                        "add `answer: >-` followed by the sentence to say, indented on the next lines")
            return None
        text = r.text(keys["answer"], f"`answer` of {what}", allow_empty=transfer is not None)
        if text and len(text.split()) > LONG_ANSWER_WORDS:
            r.warning(keys["answer"], f"{what}: the answer is {len(text.split())} words long, hard to follow on the phone",
                      f"keep it under {LONG_ANSWER_WORDS} words; give the key information first")
        return text

    def _read_example(self, r: YamlReader, node: yaml.Node) -> None:
        keys = r.mapping(node, "a test", EXAMPLE_KEYS, required=EXAMPLE_KEYS)
        if keys is None or set(keys) != set(EXAMPLE_KEYS):
            return
        if isinstance(keys["say"], yaml.SequenceNode):  # a whole call: what the caller says, turn by turn
            turns = tuple(v for v, _ in r.text_list(keys["say"], "`say` of a test (the caller's turns)") or ())
        else:
            turns = tuple(t for t in [r.text(keys["say"], "`say` of a test")] if t)
        expect = r.text(keys["expect"], "`expect` of a test")
        if turns and expect:
            self.examples.append(Example(turns[0], expect, r.location(keys["expect"]), turns))

    def _read_synonyms(self, r: YamlReader, node: yaml.Node) -> None:
        keys = _free_mapping(r, node, "`synonyms`")
        for concept, value in keys.items():
            variants = r.text_list(value, f"the variants of `{concept}`")
            if variants is not None:
                self.synonyms[concept] = tuple(v for v, _ in variants)

    def check_expectations(self) -> None:
        valid = set(self._ids) | {NOMATCH, TRANSFER}
        for example in self.examples:
            if example.expect not in valid:
                self.diagnostics.append(Diagnostic(
                    example.location, ERROR, f"test expects `{example.expect}`, which is not an answer id",
                    f"write an existing id, `{NOMATCH}` or `{TRANSFER}`"))


def _free_mapping(r: YamlReader, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    """A mapping whose keys are chosen by staff (any text)."""
    if not isinstance(node, yaml.MappingNode):
        r.error(node, f"{what} must be a mapping of `word: [variant, variant]` lines", "see the staff guide for an example")
        return {}
    keys: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = r.text(key_node, f"a key of {what}")
        if key is None:
            continue
        if key in keys:
            r.error(key_node, f"{what}: `{key}` appears twice", "merge the two lists")
            continue
        keys[key] = value_node
    return keys


def _suggest_id(text: str) -> str:
    from callbot.understanding.normalise import strip_accents
    return re.sub(r"[^a-z0-9_]+", "_", strip_accents(text).lower()).strip("_") or "mon_id"


def load_synonyms_file(path: Path, diagnostics: list[Diagnostic]) -> dict[str, tuple[str, ...]]:
    """Read a lexicon file holding only `synonyms:` (the built-in French lexicon)."""
    reader = _BookReader((), diagnostics)
    reader.read_sheet(path)
    if reader.answers or reader.examples:
        diagnostics.append(Diagnostic(Location(str(path), 1, 1), ERROR, "a lexicon file holds only `synonyms:`",
                                      "move answers and tests to an answer sheet"))
    return reader.synonyms
