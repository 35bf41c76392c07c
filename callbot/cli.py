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
    ask.add_argument("text", nargs="?", metavar="TEXT",
                     help="the transcript; without it, one transcript per line is read from standard input")
    ask.set_defaults(run=commands.ask)
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
