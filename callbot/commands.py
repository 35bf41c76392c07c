"""One function per `callbot` subcommand; each returns the process exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from callbot.checking import check_behaviour
from callbot.config import find_config
from callbot.knowledge import Knowledge, load_knowledge, require_knowledge
from callbot.understanding.matcher import Decision
from callbot.yamlsource import ERROR, WARNING, ConfigError, Diagnostic

EXIT_OK = 0
EXIT_INVALID = 1


def _print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in sorted(diagnostics, key=lambda d: (d.location.path, d.location.line, d.location.column)):
        print(diagnostic, file=sys.stderr)


def _sheets(args: argparse.Namespace) -> Path | None:
    return Path(args.sheets) if args.sheets else None


def check(args: argparse.Namespace) -> int:
    """Validate the configuration and every sheet; exit 1 on any error."""
    try:
        config_path = find_config(args.config)
    except ConfigError as exc:
        _print_diagnostics(list(exc.diagnostics))
        return EXIT_INVALID
    knowledge, diagnostics = load_knowledge(config_path, _sheets(args))
    if knowledge is not None:
        diagnostics += check_behaviour(knowledge)
    _print_diagnostics(diagnostics)
    errors = sum(d.severity == ERROR for d in diagnostics)
    warnings = sum(d.severity == WARNING for d in diagnostics)
    summary = f"{errors} error(s), {warnings} warning(s)"
    if knowledge is not None:
        summary += f"; {len(knowledge.book.answers)} answers, {len(knowledge.book.examples)} tests " \
                   f"in {len(knowledge.book.files)} sheet(s)"
    print(summary, file=sys.stderr)
    return EXIT_INVALID if errors else EXIT_OK


def ask(args: argparse.Namespace) -> int:
    """Say what the bot would do with TEXT, or with each line of standard input."""
    try:
        knowledge = require_knowledge(find_config(args.config), _sheets(args))
    except ConfigError as exc:
        _print_diagnostics(list(exc.diagnostics))
        return EXIT_INVALID
    render = _as_json if args.json else (lambda d: _as_text(d, knowledge))
    if args.text is not None:
        print(render(knowledge.matcher.decide(args.text)))
        return EXIT_OK
    interactive = sys.stdin.isatty()
    for line in sys.stdin:
        print(render(knowledge.matcher.decide(line.strip())), flush=interactive)
    return EXIT_OK


def _as_json(decision: Decision) -> str:
    return json.dumps(decision.as_dict(), ensure_ascii=False)


def _as_text(decision: Decision, knowledge: Knowledge) -> str:
    runner_up = f", next: {decision.runner_up} {decision.runner_up_score:.2f}" if decision.runner_up else ""
    head = f"{decision.action} {decision.answer or '-'} (score {decision.score:.2f}{runner_up})"
    if decision.action == "transfer":
        head += f" -> {decision.target}"
    if decision.answer:
        head += "\n  " + (knowledge.book.by_id(decision.answer).answer or "")
    return head
