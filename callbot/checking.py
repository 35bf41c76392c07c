"""What `callbot check` verifies beyond structure: that the sheets behave as staff expect.

- every regression example (`tests:`) resolves to what it expects;
- no example question is, once normalised, the same as another answer's;
- an example question that the bot would send to another answer, or not
  answer at all, is reported as a warning;
- a keyword shared by several answers does not tell them apart: warning.
"""

from __future__ import annotations

from collections import defaultdict

from callbot.base.adoption import BASE_SHEET
from callbot.knowledge import Knowledge
from callbot.sheets import BASE, NOMATCH, TRANSFER
from callbot.understanding.matcher import Decision
from callbot.yamlsource import ERROR, WARNING, Diagnostic


def outcome(decision: Decision) -> str:
    """The label a decision gives, in the vocabulary of `expect:`."""
    if decision.answer is not None:  # an ANSWER decision always names its answer
        return decision.answer
    return TRANSFER if decision.action == TRANSFER else NOMATCH


def describe(decision: Decision) -> str:
    label = outcome(decision)
    if label == NOMATCH:
        best = f"; best was `{decision.best}` at {decision.score:.2f}" if decision.best else ""
        return f"nomatch (not understood{best})"
    if label == TRANSFER:
        return "transfer (asks for a person)"
    return f"`{label}` (score {decision.score:.2f})"


def check_behaviour(knowledge: Knowledge) -> list[Diagnostic]:
    return [*_check_examples(knowledge), *_check_questions(knowledge), *_check_keywords(knowledge),
            *_check_titles(knowledge), *_check_local_texts(knowledge)]


def _check_titles(knowledge: Knowledge) -> list[Diagnostic]:
    """Clarifying questions name answers by their titles: every answer needs one."""
    return [Diagnostic(a.location, WARNING, f"answer `{a.id}` has no `title`; a clarifying question would call it "
                                            f"\"{a.spoken_title}\"",
                       f"add a short spoken title with its article, e.g. `title: la {a.spoken_title}` or "
                       f"`title: les {a.spoken_title}`, as a caller would say it after « votre question concerne »")
            for a in knowledge.book.answers if not a.title]


def _check_local_texts(knowledge: Knowledge) -> list[Diagnostic]:
    """Adopted base answers whose generic text should be replaced by the commune's own."""
    where = knowledge.config.base.location if knowledge.config.base else None
    return [Diagnostic(where or a.location, WARNING,
                       f"base answer `{a.id}` needs your commune's own text; callers hear the general one for now",
                       f"in a sheet, add `- id: {a.id}` with your own `answer:`")
            for a in knowledge.book.answers if a.needs_local_text and not a.local_text]


def _check_examples(knowledge: Knowledge) -> list[Diagnostic]:
    from callbot.conversation import replay

    problems = []
    for example in knowledge.book.examples:
        if example.conversation:
            ended = replay(knowledge, list(example.turns))
            if ended.outcome != example.expect:
                got = ended.answer or ended.action
                problems.append(Diagnostic(example.location, ERROR,
                                           f"call {list(example.turns)} ends with `{got}`, expected `{example.expect}`",
                                           "add a question or keyword to the expected answer, or check its title"))
            continue
        decision = knowledge.matcher.decide(example.text)
        if outcome(decision) != example.expect:
            hint = (f"add a question or keyword close to this phrasing to `{example.expect}`"
                    if example.expect not in (NOMATCH, TRANSFER) else
                    "reword the questions or keywords that this phrasing matches by mistake")
            problems.append(Diagnostic(example.location, ERROR,
                                       f"test \"{example.text}\" gives {describe(decision)}, expected `{example.expect}`",
                                       hint))
    return problems


def _check_questions(knowledge: Knowledge) -> list[Diagnostic]:
    problems = []
    seen: dict[tuple[str, ...], tuple[str, object]] = {}
    normaliser = knowledge.matcher.normaliser
    for answer in knowledge.book.answers:
        for question in answer.questions:
            tokens = tuple(sorted(set(normaliser.tokens(question.text))))
            if not tokens:
                problems.append(Diagnostic(question.location, WARNING,
                                           f"question \"{question.text}\" has no meaningful word for matching",
                                           "name the subject, e.g. \"les horaires de la mairie\""))
                continue
            other = seen.get(tokens)
            if other and other[0] != answer.id:
                problems.append(Diagnostic(question.location, ERROR,
                                           f"question of `{answer.id}` means the same as a question of `{other[0]}` at {other[1]}",
                                           "reword one of them so that each answer has its own questions"))
            seen.setdefault(tokens, (answer.id, question.location))
            if question.location.path == str(BASE_SHEET):
                continue  # the common base's own questions are measured where it is written, not by each commune
            decision = knowledge.matcher.decide(question.text)
            if outcome(decision) not in (answer.id, TRANSFER):
                problems.append(Diagnostic(question.location, WARNING,
                                           f"question of `{answer.id}` gives {describe(decision)}",
                                           "make it more specific to this answer, or add a keyword"))
    return problems


def _check_keywords(knowledge: Knowledge) -> list[Diagnostic]:
    owners: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for answer in knowledge.book.answers:
        for keyword in answer.keywords:
            owners[knowledge.matcher.normaliser.tokens(keyword)].add(answer.id)
    problems = []
    for answer in knowledge.book.answers:
        if answer.origin == BASE:
            continue  # staff cannot change the base's keywords; the clash is reported on their own answer's side
        for keyword in answer.keywords:
            tokens = knowledge.matcher.normaliser.tokens(keyword)
            if not tokens:
                problems.append(Diagnostic(answer.location, WARNING,
                                           f"keyword \"{keyword}\" of `{answer.id}` is only a common word",
                                           "choose a word that names the subject"))
            elif len(owners[tokens]) > 1:
                others = ", ".join(f"`{o}`" for o in sorted(owners[tokens]) if o != answer.id)
                problems.append(Diagnostic(answer.location, WARNING,
                                           f"keyword \"{keyword}\" of `{answer.id}` is also a keyword of {others}",
                                           "keep keywords that belong to one answer only"))
    return problems
