"""The ``bench`` command: one module per subcommand, assembled here."""

from __future__ import annotations

import sys

from harness.cli import (
    check_command,
    compare_command,
    list_command,
    plugins_command,
    report_command,
    run_command,
)
from harness.cli.arguments import OneLineArgumentParser
from harness.errors import BenchUsageError

COMMANDS = (list_command, run_command, check_command, report_command, compare_command, plugins_command)


def build_parser() -> OneLineArgumentParser:
    """The argument parser with every subcommand."""
    parser = OneLineArgumentParser(
        prog="bench",
        description="lstm-bench: do these frameworks compute the same LSTM text classifier, and how fast?",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``bench`` with ``argv``; return the exit status (0 passed, 1 a check failed, 2 bad usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, or a one-line usage error already printed
        return int(exit_request.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args, argv)
    except BenchUsageError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
