"""Editing answer sheets in place, keeping the comments and layout staff wrote by hand (ruamel.yaml round trip).

An answer is addressed by its id; its fields come from and go back to the
form as plain values. After a save the draft is loaded again by the real
loader (callbot.sheets) and every diagnostic is attached to the field whose
lines it points at, so the staff see it beside the field at fault.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import FoldedScalarString

from callbot.sheets import ANSWER_KEYS, DATED_KINDS
from callbot.yamlsource import Diagnostic

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 2000  # characters of one field
MAX_LINES = 60  # example questions, keywords or tests of one answer
FIELDS = ("id", "title", "questions", "keywords", "answer", "follow_up", "transfer", "dated", "tests")
MAX_TITLE = 120  # a title is said inside a sentence: "Votre question concerne-t-elle {title} ?"


class EditError(ValueError):
    """A form value that cannot be written; the message is for the staff, in French."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass
class AnswerForm:
    id: str
    questions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    answer: str = ""
    follow_up: str = ""
    transfer: str = ""
    dated: str = ""  # "kind:name" or ""
    tests: list[str] = field(default_factory=list)
    title: str = ""  # empty: the base's title, or `callbot check` proposes one


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the staff's lines
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout of the example sheets and the staff guide
    return yaml


def load(path: Path):
    return _yaml().load(path.read_text(encoding="utf-8"))


def dump(document, path: Path) -> None:
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(buffer.getvalue(), encoding="utf-8")
    temporary.replace(path)


def answers_of(document) -> list[CommentedMap]:
    if not isinstance(document, CommentedMap) or not isinstance(document.get("answers"), CommentedSeq):
        return []
    return [a for a in document["answers"] if isinstance(a, CommentedMap)]


def find_answer(sheets: dict[str, Path], answer_id: str) -> tuple[str, object, CommentedMap] | None:
    """(sheet name, document, the answer's mapping) for an id, or None."""
    for name, path in sheets.items():
        document = load(path)
        for answer in answers_of(document):
            if answer.get("id") == answer_id:
                return name, document, answer
    return None


def _texts(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def form_of(answer: CommentedMap) -> AnswerForm:
    dated = answer.get("dated")
    dated_text = next((f"{k}:{v}" for k, v in dated.items()), "") if isinstance(dated, dict) else ""
    return AnswerForm(str(answer.get("id", "")), _texts(answer.get("questions")), _texts(answer.get("keywords")),
                      " ".join(str(answer.get("answer") or "").split()), str(answer.get("follow_up") or ""),
                      str(answer.get("transfer") or ""), dated_text, _texts(answer.get("tests")),
                      " ".join(str(answer.get("title") or "").split()))


def lines_of(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def validate(form: AnswerForm, targets: tuple[str, ...], places: dict[str, tuple[str, ...]]) -> None:
    """Refuse what the sheet loader would refuse or what cannot be a sheet value; raises EditError."""
    if not ID_PATTERN.match(form.id):
        raise EditError("id", "L'identifiant ne peut contenir que des lettres minuscules sans accent, des chiffres et _, "
                              "et commence par une lettre (64 caractères au plus).")
    if not form.questions:
        raise EditError("questions", "Écrivez au moins une question d'exemple, une par ligne.")
    for name in ("questions", "keywords", "tests"):
        values = getattr(form, name)
        if len(values) > MAX_LINES:
            raise EditError(name, f"{MAX_LINES} lignes au plus.")
        if any(len(v) > MAX_TEXT for v in values):
            raise EditError(name, f"Une ligne dépasse {MAX_TEXT} caractères.")
    for name in ("answer", "follow_up"):
        if len(getattr(form, name)) > MAX_TEXT:
            raise EditError(name, f"{MAX_TEXT} caractères au plus.")
    if len(form.title) > MAX_TITLE:
        raise EditError("title", f"{MAX_TITLE} caractères au plus : quelques mots, comme « les horaires de la mairie ».")
    if form.transfer and form.transfer not in targets:
        raise EditError("transfer", "Choisissez un destinataire de la liste.")
    if not form.answer and not form.transfer:
        raise EditError("answer", "Écrivez la réponse, ou choisissez un transfert vers une personne.")
    if form.dated:
        kind, _, name = form.dated.partition(":")
        if kind not in DATED_KINDS or name not in places.get(kind, ()):
            raise EditError("dated", "Choisissez un réglage de la liste.")


def _set_list(answer: CommentedMap, key: str, values: list[str], after: str) -> None:
    if not values:
        answer.pop(key, None)
        return
    current = answer.get(key)
    if isinstance(current, CommentedSeq):
        if list(current) == values:
            return
        for index in list(current.ca.items):  # comments of items that no longer exist
            if index >= len(values):
                del current.ca.items[index]
        current[:] = values  # in place: keeps the list's flow or block style
        return
    seq = CommentedSeq(values)
    _insert_after(answer, key, seq, after)


def _set_text(answer: CommentedMap, key: str, value: str, after: str, folded: bool = False) -> None:
    if not value:
        answer.pop(key, None)
        return
    current = answer.get(key)
    if current is not None and " ".join(str(current).split()) == value:
        return  # unchanged: keep its quoting and line breaks as written
    new = _folded(value) if folded and (isinstance(current, FoldedScalarString) or len(value) > 80) else value
    if key in answer:
        answer[key] = new
    else:
        _insert_after(answer, key, new, after)


def _folded(text: str) -> FoldedScalarString:
    """A `>-` block with one sentence per line, the way the staff guide writes answers."""
    folded = FoldedScalarString(text)
    folded.fold_pos = [m.start() for m in re.finditer(r"(?<=[.?!]) (?=\S)", text)]
    return folded


def _insert_after(answer: CommentedMap, key: str, value, after: str) -> None:
    keys = list(answer.keys())
    position = keys.index(after) + 1 if after in keys else len(keys)
    answer.insert(position, key, value)


def apply(answer: CommentedMap, form: AnswerForm) -> None:
    """Write the form's values into the answer's mapping, touching only what changed."""
    if answer.get("id") != form.id:
        answer["id"] = form.id
    _set_list(answer, "questions", form.questions, "id")
    _set_list(answer, "keywords", form.keywords, "questions")
    if form.dated:
        kind, _, name = form.dated.partition(":")
        current = answer.get("dated")
        if not (isinstance(current, dict) and dict(current) == {kind: name}):
            value = CommentedMap({kind: name})
            value.fa.set_flow_style()
            if "dated" in answer:
                answer["dated"] = value
            else:
                _insert_after(answer, "dated", value, "keywords" if "keywords" in answer else "questions")
    else:
        answer.pop("dated", None)
    _set_text(answer, "title", form.title, "id")
    _set_text(answer, "answer", form.answer, "dated" if "dated" in answer else
              "keywords" if "keywords" in answer else "questions", folded=True)
    _set_text(answer, "follow_up", form.follow_up, "answer")
    _set_text(answer, "transfer", form.transfer, "follow_up" if "follow_up" in answer else "answer")
    _set_list(answer, "tests", form.tests, "transfer" if "transfer" in answer else "follow_up"
              if "follow_up" in answer else "answer")


def new_answer(document, form: AnswerForm) -> CommentedMap:
    """Append a new answer to a sheet's `answers:` list."""
    if not isinstance(document, CommentedMap):
        raise EditError("sheet", "Cette fiche n'est pas une liste de réponses.")
    answers = document.get("answers")
    if not isinstance(answers, CommentedSeq):
        answers = CommentedSeq()
        document["answers"] = answers
    entry = CommentedMap()
    entry["id"] = form.id
    apply(entry, form)
    if len(answers):
        _keep_blank_lines(answers, entry)
    answers.append(entry)
    return entry


def _last_holder(node):
    """The collection holding the last value written under `node`, and that value's key or index."""
    while True:
        if isinstance(node, CommentedMap) and len(node):
            key = list(node.keys())[-1]
        elif isinstance(node, CommentedSeq) and len(node):
            key = len(node) - 1
        else:
            return None
        value = node[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
            node = value
            continue
        return node, key


def _trailing_blank(node):
    """The comment token ending `node`'s last value when it holds a blank line, else None."""
    holder = _last_holder(node)
    comments = holder[0].ca.items.get(holder[1]) if holder else None
    token = next((c for c in comments or () if c is not None and not isinstance(c, list)), None)
    return token if token is not None and token.value.startswith("\n") else None


def _set_trailing(node, token) -> None:
    import copy

    holder = _last_holder(node)
    if holder is None:
        return
    position = 2 if isinstance(holder[0], CommentedMap) else 0
    slots = [None, None, None, None] if position == 2 else [None, None]
    slots[position] = copy.copy(token)
    holder[0].ca.items[holder[1]] = slots


def _keep_blank_lines(answers: CommentedSeq, entry: CommentedMap) -> None:
    """The example sheets leave a blank line after each answer (ruamel keeps it as a comment on the answer's
    last value): keep one between the last answer and the new one, and one after the new one when a key follows."""
    after_last = _trailing_blank(answers[-1])
    style = after_last or (_trailing_blank(answers[-2]) if len(answers) > 1 else None)
    if after_last is not None:
        _set_trailing(entry, after_last)  # something follows the answers: keep it apart
    elif style is not None:
        _set_trailing(answers[-1], style)


def add_question(answer: CommentedMap, question: str) -> bool:
    """Add an example question to an answer; False when it is already there."""
    question = " ".join(question.split())
    questions = answer.get("questions")
    if not isinstance(questions, CommentedSeq):
        questions = CommentedSeq()
        _insert_after(answer, "questions", questions, "id")
    if question.lower() in (str(q).lower() for q in questions):
        return False
    questions.append(question)
    return True


def field_lines(answer: CommentedMap) -> list[tuple[int, str]]:
    """(first line, 1-based, key) of each field of an answer as it is in its file."""
    return sorted((answer.lc.key(key)[0] + 1, str(key)) for key in answer if key in ANSWER_KEYS)


def diagnostics_by_field(answer: CommentedMap, sheet_file: Path, end_line: int,
                         diagnostics: tuple[Diagnostic, ...]) -> dict[str, list[Diagnostic]]:
    """The diagnostics about this answer, by the field whose lines they point at ('' for the answer as a whole)."""
    lines = field_lines(answer)
    start = answer.lc.line + 1
    found: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        where = diagnostic.location
        if Path(where.path).resolve() != sheet_file.resolve() or not start <= where.line < end_line:
            continue
        owner = ""
        for line, key in lines:
            if line <= where.line:
                owner = key
        found.setdefault(owner if where.line > start else "", []).append(diagnostic)
    return found


def answer_end_line(document, answer: CommentedMap, total_lines: int) -> int:
    """The line after an answer's last one: the next answer's first line, or the end of the file."""
    entries = answers_of(document)
    index = next(i for i, a in enumerate(entries) if a is answer)
    if index + 1 < len(entries):
        return entries[index + 1].lc.line + 1
    top_keys = [document.lc.key(k)[0] + 1 for k in document if document.lc.key(k)[0] > answer.lc.line]
    return min(top_keys, default=total_lines + 1)
