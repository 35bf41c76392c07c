"""The unanswered questions of a period, grouped by similarity, with the answers they most likely belong to.

The turns come from the call journal (action `nomatch`, and `clarify` when
the understanding layer asked the caller to choose), read through a
read-only connection like `callbot report`. A group the staff handled (taught
to an answer, made a new answer, or ignored) is remembered by its key and
no longer shown.
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from callbot.knowledge import Knowledge
from callbot.report import Cluster, _connect_read_only, _fold, cluster_transcripts

UNANSWERED_ACTIONS = ("nomatch", "clarify")
DONE_KIND = "question"


@dataclass(frozen=True)
class QuestionGroup:
    key: str
    cluster: Cluster
    likely: tuple[str, ...]  # answer ids to propose first, best first


def group_key(text: str) -> str:
    """A stable key for a group, from its representative wording once folded."""
    return hashlib.sha256(_fold(" ".join(text.split())).encode()).hexdigest()[:24]


def unanswered_transcripts(journal: Path, start: date, end: date) -> list[str]:
    if not journal.is_file():
        return []
    marks = ",".join("?" * len(UNANSWERED_ACTIONS))
    with closing(_connect_read_only(journal)) as db:
        rows = db.execute(
            f"SELECT t.transcript FROM turns t JOIN calls c ON c.id = t.call_id "
            f"WHERE t.action IN ({marks}) AND substr(c.started_at, 1, 10) BETWEEN ? AND ? "
            f"ORDER BY c.started_at, t.turn",
            (*UNANSWERED_ACTIONS, start.isoformat(), end.isoformat())).fetchall()
    return [text for (text,) in rows if text and text.strip()]


def question_groups(journal: Path, start: date, end: date, done: set[str], knowledge: Knowledge | None
                    ) -> list[QuestionGroup]:
    groups = []
    for cluster in cluster_transcripts(unanswered_transcripts(journal, start, end)):
        key = group_key(cluster.representative)
        if key in done:
            continue
        groups.append(QuestionGroup(key, cluster, likely_answers(knowledge, cluster) if knowledge else ()))
    return groups


def likely_answers(knowledge: Knowledge, cluster: Cluster) -> tuple[str, ...]:
    """The answers the matcher found closest for the group's wordings, best first."""
    scored: dict[str, float] = {}
    for text in (cluster.representative, *cluster.examples):
        decision = knowledge.matcher.decide(text)
        for answer, score in ((decision.best or decision.answer, decision.score),
                              (decision.runner_up, decision.runner_up_score)):
            if answer:
                scored[answer] = max(scored.get(answer, 0.0), score)
    return tuple(sorted(scored, key=lambda a: -scored[a]))[:3]


def default_period(today: date | None = None) -> tuple[date, date]:
    end = today or date.today()
    return end - timedelta(days=29), end
