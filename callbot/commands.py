"""One function per `callbot` subcommand; each returns the process exit code."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
import sys
from pathlib import Path

from callbot.checking import check_behaviour
from callbot.dialog import with_contractions
from callbot.config import find_config
from callbot.knowledge import Knowledge, load_knowledge, require_knowledge
from callbot.understanding.matcher import CLARIFY, Decision
from callbot.yamlsource import ERROR, WARNING, ConfigError, Diagnostic

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_MISSING_MODEL = 3


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
    if args.conversation:
        return _ask_conversations(knowledge, args.text)
    render = (lambda d: _as_json(d, knowledge)) if args.json else (lambda d: _as_text(d, knowledge))
    if args.text is not None:
        print(render(knowledge.matcher.decide(args.text)))
        return EXIT_OK
    interactive = sys.stdin.isatty()
    for line in sys.stdin:
        print(render(knowledge.matcher.decide(line.strip())), flush=interactive)
    return EXIT_OK


def _ask_conversations(knowledge: Knowledge, text: str | None) -> int:
    """One call per line, as a JSON list of the caller's turns; one JSON object per call."""
    from callbot.conversation import replay

    lines = [text] if text is not None else sys.stdin
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            turns = json.loads(line)
            if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
                raise ValueError
        except ValueError:
            print(f"callbot: line {number}: expected a JSON list of the caller's turns, "
                  f"like [\"je voudrais un papier pour mon fils\", \"la carte d'identité\"]", file=sys.stderr)
            return EXIT_INVALID
        print(json.dumps(replay(knowledge, turns).as_dict(), ensure_ascii=False), flush=True)
    return EXIT_OK


def clarifying_prompt(decision: Decision, knowledge: Knowledge) -> str | None:
    """What the bot would ask for a `clarify` decision."""
    if decision.action != CLARIFY:
        return None
    titles = [knowledge.book.by_id(c).spoken_title for c in decision.choices]
    if len(titles) == 1:
        return with_contractions(knowledge.config.prompt("clarify_one", first=titles[0]))
    return with_contractions(knowledge.config.prompt("clarify_two", first=titles[0], second=titles[1]))


def _as_json(decision: Decision, knowledge: Knowledge) -> str:
    fields = decision.as_dict()
    if decision.action == CLARIFY:
        fields["prompt"] = clarifying_prompt(decision, knowledge)
    return json.dumps(fields, ensure_ascii=False)


def _as_text(decision: Decision, knowledge: Knowledge) -> str:
    runner_up = f", next: {decision.runner_up} {decision.runner_up_score:.2f}" if decision.runner_up else ""
    candidate = decision.answer or (f"- (closest: {decision.best})" if decision.best else "-")
    head = f"{decision.action} {candidate} (score {decision.score:.2f}{runner_up})"
    if decision.action == CLARIFY:
        head += "\n  " + (clarifying_prompt(decision, knowledge) or "")
    if decision.action == "transfer":
        head += f" -> {decision.target}"
    if decision.answer:
        answer = knowledge.book.by_id(decision.answer)
        dated = knowledge.calendar.sentence(answer.dated, decision.text, datetime.now()) \
            if answer.dated and knowledge.calendar else None
        head += "\n  " + (dated or answer.answer or "")
    return head


def _load_for_speech(args: argparse.Namespace):
    """Knowledge and speech engines, or an exit code after printing why not."""
    from callbot.asr import ModelMissing
    from callbot.speech import load_speech

    try:
        knowledge = require_knowledge(find_config(args.config), _sheets(args))
    except ConfigError as exc:
        _print_diagnostics(list(exc.diagnostics))
        return None, EXIT_INVALID
    try:
        return (knowledge, load_speech(knowledge.config.speech)), EXIT_OK
    except ModelMissing as exc:
        print(f"callbot: {exc}", file=sys.stderr)
        return None, EXIT_MISSING_MODEL


def say(args: argparse.Namespace) -> int:
    """Speak TEXT (or the answer with that id) into a WAV file."""
    from callbot.audio import join_frames, write_wav
    from callbot.tts import render

    loaded, code = _load_for_speech(args)
    if loaded is None:
        return code
    knowledge, engines = loaded
    if not 0.5 <= args.speed <= 1.5:
        print("callbot: --speed must be between 0.5 and 1.5", file=sys.stderr)
        return EXIT_INVALID
    ids = {a.id: a for a in knowledge.book.answers}
    text = ids[args.text].answer if args.text in ids else args.text
    write_wav(Path(args.output), join_frames(render(engines.voice, text, args.rate, args.speed)), args.rate)
    print(f"{args.output}: {text}")
    return EXIT_OK


def simulate(args: argparse.Namespace) -> int:
    """Run a whole call from caller WAV files; writes the bot's side and a JSON log."""
    from callbot.audio import AudioFormatError
    from callbot.simulate import simulate_call
    from callbot.speech import warm

    loaded, code = _load_for_speech(args)
    if loaded is None:
        return code
    knowledge, engines = loaded
    warm(engines, knowledge.config, knowledge, (args.rate,))
    try:
        log = simulate_call(knowledge, engines, [Path(w) for w in args.wavs], Path(args.out), args.rate,
                            args.realtime, args.transfer)
    except AudioFormatError as exc:
        print(f"callbot: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for turn in log["turns"]:
        print(f"{turn['speech_start_ms'] / 1000:6.1f} s  caller: {turn['transcript']!r} -> {turn['action']} "
              f"{turn['answer'] or ''} (reply after {turn['response_ms']} ms)")
    print(f"ended: {log['end_reason']}; {args.out}/bot.wav, {args.out}/call.json")
    return EXIT_OK


def serve(args: argparse.Namespace) -> int:
    """Answer calls until SIGTERM or Ctrl-C; SIGHUP reloads the configuration and the sheets."""
    import logging

    from callbot.service import run_service
    from callbot.sip import call_rates
    from callbot.speech import cache_filler

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    loaded, code = _load_for_speech(args)
    if loaded is None:
        return code
    knowledge, engines = loaded
    config = knowledge.config
    print(f"callbot: answering calls for {config.commune} on sip:callbot@{config.sip.host}:{config.sip.port} "
          f"({config.sip.mode} mode); Ctrl-C to stop", file=sys.stderr, flush=True)
    if config.sip.workers > 1:
        from callbot.workers import Supervisor

        # the supervisor fills the prompt cache itself, once its workers are forked
        Supervisor(knowledge, engines, find_config(args.config), _sheets(args), config.sip.workers).run()
    else:
        # calls are answered while the cache fills: what is not rendered yet is synthesised during the call
        filler = cache_filler(engines, config, knowledge, call_rates(config.sip.codecs)).start()
        try:
            run_service(knowledge, engines, find_config(args.config), _sheets(args))
        finally:
            filler.stop()
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    """Print the report of a period, and write it as HTML when asked."""
    from datetime import date, timedelta

    from callbot.config import require_config
    from callbot.report import build_report, render_html, render_text

    try:
        config = require_config(find_config(args.config))
    except ConfigError as exc:
        _print_diagnostics(list(exc.diagnostics))
        return EXIT_INVALID
    if config.journal is None:
        print("callbot: no call journal is configured (`journal: path:` in callbot.yaml)", file=sys.stderr)
        return EXIT_INVALID
    try:
        end = date.fromisoformat(args.end) if args.end else date.today()
        start = date.fromisoformat(args.start) if args.start else end - timedelta(days=29)
        built = build_report(config.journal.path, start, end)
    except (ValueError, FileNotFoundError) as exc:
        print(f"callbot: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(render_text(built))
    if args.html:
        Path(args.html).write_text(render_html(built), encoding="utf-8")
        print(f"HTML report: {args.html}", file=sys.stderr)
    return EXIT_OK


def kamailio_config(args: argparse.Namespace) -> int:
    """Write kamailio.cfg and dispatcher.list for the workers of this configuration (and other servers')."""
    from callbot.config import require_config
    from callbot.kamailio import front_for, write_front

    try:
        config = require_config(find_config(args.config))
        listen = _host_port(args.listen)
        others = tuple(_host_port(w) for w in args.worker)
    except ConfigError as exc:
        _print_diagnostics(list(exc.diagnostics))
        return EXIT_INVALID
    except ValueError as exc:
        print(f"callbot: {exc}", file=sys.stderr)
        return EXIT_INVALID
    front = front_for(config, listen, others)
    cfg = write_front(front, Path(args.out))
    print(f"{cfg}: Kamailio on {listen[0]}:{listen[1]} in front of "
          + ", ".join(f"{h}:{p}" for h, p in front.workers))
    return EXIT_OK


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"`{text}` is not ADDRESS:PORT")
    return host, int(port)


def console(args: argparse.Namespace) -> int:
    """Serve the staff web console until interrupted."""
    import logging

    from callbot.console.app import serve as serve_console

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        serve_console(find_config(args.config))
    except ConfigError as exc:
        _print_diagnostics(list(exc.diagnostics))
        return EXIT_INVALID
    return EXIT_OK


def console_adduser(args: argparse.Namespace) -> int:
    """Create a console account (or reset its role and password)."""
    import getpass

    from callbot.config import require_config
    from callbot.console.app import store_path
    from callbot.console.auth import Authenticator
    from callbot.console.store import ConsoleStore

    try:
        config = require_config(find_config(args.config))
    except ConfigError as exc:
        _print_diagnostics(list(exc.diagnostics))
        return EXIT_INVALID
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            print("callbot: the two passwords differ", file=sys.stderr)
            return EXIT_INVALID
    store = ConsoleStore(store_path(config))
    try:
        Authenticator(store).add_user(args.name, args.role, password)
    except ValueError as exc:
        print(f"callbot: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        store.close()
    print(f"account {args.name} ({args.role}) saved in {store_path(config)}")
    return EXIT_OK
