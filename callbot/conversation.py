"""A call's caller turns, played through the real dialog as text: what `callbot ask --conversation` and
multi-turn sheet tests see.

The dialog runs without the calendar (answers are their written texts and transfers are not limited to
opening hours), so that a conversation's outcome does not depend on the time it is replayed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbot.dialog import CallStarted, Dialog, Play, Transfer, Utterance
from callbot.knowledge import Knowledge
from callbot.sheets import NOMATCH, TRANSFER
from callbot.understanding.matcher import ANSWER, CLARIFY


@dataclass(frozen=True)
class Conversation:
    """The end of a replayed call and every turn's decision."""

    action: str  # the last thing the bot did: answer, transfer, clarify, nomatch (or declined)
    answer: str | None
    target: str | None
    turns: tuple[dict, ...]

    @property
    def outcome(self) -> str:
        """The label of the end, in the vocabulary of `expect:` (an answer id, transfer or nomatch)."""
        if self.action == TRANSFER and self.answer is None:
            return TRANSFER
        return self.answer if self.answer is not None else NOMATCH

    def as_dict(self) -> dict:
        return {"action": self.action, "answer": self.answer, "target": self.target, "turns": len(self.turns),
                "decisions": list(self.turns)}


def replay(knowledge: Knowledge, texts: list[str]) -> Conversation:
    """Play a call whose caller says `texts`, one per turn, and report how it ended."""
    dialog = Dialog(knowledge.config, knowledge.book, knowledge.matcher, calendar=None)
    dialog.handle(CallStarted())
    action, answer, target = NOMATCH, None, None
    decisions = []
    for text in texts:
        if dialog.end_reason is not None:
            break
        before = len(dialog.turns)
        commands = dialog.handle(Utterance(text))
        prompt = next((c.prompt.text for c in commands if isinstance(c, Play)), None)
        for turn in dialog.turns[before:]:
            entry = {"text": turn.transcript, "kind": turn.kind, "control": turn.control}
            if turn.decision is not None:
                entry.update(turn.decision.as_dict(), text=turn.transcript)
                action, answer = turn.decision.action, turn.decision.answer
                target = turn.decision.target
                if action not in (ANSWER, TRANSFER, CLARIFY):
                    answer = None
            entry["said"] = prompt
            decisions.append(entry)
        transfer = next((c for c in commands if isinstance(c, Transfer)), None)
        if transfer is not None:
            action, target = TRANSFER, transfer.target
            if decisions and decisions[-1].get("action") != TRANSFER:
                answer = None  # handed over after the misunderstandings, not by an answer
    if action == CLARIFY:
        answer = None
    return Conversation(action, answer, target, tuple(decisions))
