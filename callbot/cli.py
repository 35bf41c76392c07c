"""The `callbot` command: parses arguments and calls one function per subcommand."""

from __future__ import annotations

import argparse
import sys

from callbot import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callbot", description="Offline telephone voicebot for French town halls.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate the configuration and every answer sheet")
    _add_common(check)
    check.set_defaults(run=commands.check)

    ask = sub.add_parser("ask", help="show what the bot would do with a transcript")
    _add_common(ask)
    ask.add_argument("--json", action="store_true", help="one JSON object per result")
    ask.add_argument("--conversation", action="store_true",
                     help="each line (or TEXT) is one call: a JSON list of the caller's turns; prints one JSON object "
                          "per call (final action, answer, target, number of turns, every turn's decision)")
    ask.add_argument("text", nargs="?", metavar="TEXT",
                     help="the transcript; without it, one transcript per line is read from standard input")
    ask.set_defaults(run=commands.ask)

    say = sub.add_parser("say", help="speak a text, or an answer by its id, into a WAV file")
    _add_common(say)
    say.add_argument("text", metavar="TEXT", help="French text, or the id of an answer")
    say.add_argument("-o", "--output", required=True, metavar="OUT.wav")
    say.add_argument("--rate", type=int, default=8000, help="sample rate (8000 sounds like the telephone; default)")
    say.add_argument("--speed", type=float, default=1.0, help="speaking rate, 0.5 to 1.5 (default 1.0)")
    say.set_defaults(run=commands.say)

    simulate = sub.add_parser("simulate", help="run a whole call from caller WAV files, one per turn")
    _add_common(simulate)
    simulate.add_argument("wavs", nargs="+", metavar="CALLER.wav", help="what the caller says, one file per turn")
    simulate.add_argument("--out", required=True, metavar="DIR", help="folder for bot.wav, caller.wav and call.json")
    simulate.add_argument("--rate", type=int, choices=(8000, 16000), default=8000,
                          help="the call's sample rate: 8000 (G.711, default) or 16000 (G.722)")
    simulate.add_argument("--realtime", action="store_true", help="feed audio in real time instead of as fast as possible")
    simulate.add_argument("--transfer", choices=("answered", "busy"), default="answered",
                          help="what happens when the bot transfers the call (default: answered)")
    simulate.set_defaults(run=commands.simulate)

    report = sub.add_parser("report", help="calls, answers and unanswered questions over a period (from the journal)")
    report.add_argument("--config", metavar="FILE", help="callbot.yaml (its `journal: path` is read)")
    report.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day (default: 30 days ago)")
    report.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day (default: today)")
    report.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with charts")
    report.set_defaults(run=commands.report)

    front = sub.add_parser("kamailio-config", help="write a Kamailio front (dispatcher) for the workers")
    front.add_argument("--config", metavar="FILE", help="callbot.yaml (its `sip: listen` and `sip: workers`)")
    front.add_argument("--out", required=True, metavar="DIR", help="folder for kamailio.cfg and dispatcher.list")
    front.add_argument("--listen", default="0.0.0.0:5060", metavar="ADDR:PORT", help="where Kamailio listens")
    front.add_argument("--worker", action="append", default=[], metavar="HOST:PORT",
                       help="a worker on another callbot server (repeat for each)")
    front.set_defaults(run=commands.kamailio_config)

    console = sub.add_parser("console", help="the staff web console (and `console adduser` to create accounts)")
    console.add_argument("--config", metavar="FILE",
                         help="callbot.yaml (default: $CALLBOT_CONFIG, ./callbot.yaml, /etc/callbot/callbot.yaml)")
    console.set_defaults(run=commands.console)
    console_sub = console.add_subparsers(dest="console_command", metavar="adduser")
    adduser = console_sub.add_parser("adduser", help="create an account, or change its role and password")
    adduser.add_argument("name", metavar="NAME")
    adduser.add_argument("--role", choices=("editor", "viewer"), required=True,
                         help="editor: every page; viewer: dashboard and voice messages")
    adduser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    adduser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="callbot.yaml")
    adduser.set_defaults(run=commands.console_adduser)

    serve = sub.add_parser("serve", help="answer telephone calls (SIP)")
    _add_common(serve)
    serve.set_defaults(run=commands.serve)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="callbot.yaml (default: $CALLBOT_CONFIG, ./callbot.yaml, /etc/callbot/callbot.yaml)")
    parser.add_argument("--sheets", metavar="DIR", help="folder of answer sheets, instead of the configuration's")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
