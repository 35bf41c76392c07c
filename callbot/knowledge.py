"""Loading what the bot knows: configuration, answer sheets, lexicon, matcher.

One function builds it all and reports every problem at once, so that
`callbot check`, `callbot ask` and the running service (on start and on
reload) agree on what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callbot.base.adoption import adopted_answers, fill_facts
from callbot.config import Config, load_config
from callbot.dated import MairieCalendar, check_references, load_calendar
from callbot.sheets import AnswerBook, load_answer_book, load_synonyms_file
from callbot.understanding.matcher import Matcher
from callbot.yamlsource import ERROR, ConfigError, Diagnostic

BUILTIN_LEXICON = Path(__file__).parent / "understanding" / "lexicon_fr.yaml"


@dataclass(frozen=True)
class Knowledge:
    config: Config
    book: AnswerBook
    matcher: Matcher
    calendar: MairieCalendar | None = None


def load_knowledge(config_path: Path, sheets_dir: Path | None = None) -> tuple[Knowledge | None, list[Diagnostic]]:
    """Load and validate everything; returns None with the diagnostics when anything is wrong."""
    diagnostics: list[Diagnostic] = []
    config = load_config(config_path, diagnostics)
    if config is None:
        return None, diagnostics
    return knowledge_of(config, sheets_dir, diagnostics)


def knowledge_of(config: Config, sheets_dir: Path | None, diagnostics: list[Diagnostic]
                 ) -> tuple[Knowledge | None, list[Diagnostic]]:
    """The rest of load_knowledge, for a configuration already read (the console's drafts swap its paths)."""
    base = adopted_answers(config, diagnostics)
    book = load_answer_book(sheets_dir or config.answers_dir, tuple(config.targets), diagnostics, base)
    if book is not None:
        book = fill_facts(book, config, diagnostics)
    synonyms = load_synonyms_file(BUILTIN_LEXICON, diagnostics)
    calendar = load_calendar(config.calendar, diagnostics) if config.calendar else None
    if book is not None:
        check_references(book, calendar, config.targets, diagnostics)
    if book is None or any(d.severity == ERROR for d in diagnostics):
        return None, diagnostics
    matcher = Matcher(book, config.understanding, synonyms, config.reception)
    return Knowledge(config, book, matcher, calendar), diagnostics


def require_knowledge(config_path: Path, sheets_dir: Path | None = None) -> Knowledge:
    knowledge, diagnostics = load_knowledge(config_path, sheets_dir)
    if knowledge is None:
        raise ConfigError(diagnostics)
    return knowledge
