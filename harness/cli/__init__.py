"""The ``bench`` command: one module per subcommand, assembled here."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

from harness.cli import (
    check_command,
    cluster_command,
    compare_command,
    explain_command,
    history_command,
    list_command,
    plugins_command,
    report_command,
    run_command,
    runs_command,
)
from harness.cli.arguments import OneLineArgumentParser, attach_flag_values, refuse_repeated_options
from harness.cli.run_command import sweepable_flags
from harness.errors import BenchUsageError


def subcommand_parser(parser: OneLineArgumentParser, command: str) -> OneLineArgumentParser:
    """The parser of ``bench COMMAND``."""
    (found,) = [action.choices[command] for action in parser._subparsers._group_actions]
    return found


COMMANDS = (list_command, run_command, check_command, explain_command, report_command, compare_command, runs_command, history_command,
            plugins_command, cluster_command)


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
    argv = attach_flag_values(list(sys.argv[1:] if argv is None else argv), sweepable_flags())
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, or a one-line usage error already printed
        return int(exit_request.code or 0)
    if args.command is None:
        names = ", ".join(command.__name__.rsplit(".", 1)[-1].removesuffix("_command") for command in COMMANDS)
        print(f"bench: error: a command is required ({names}); bench --help says what each does", file=sys.stderr)
        return 2
    try:
        refuse_repeated_options(subcommand_parser(parser, args.command), argv[1:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy/scipy on degenerate data: the tables say it
            return args.handler(args, argv)
    except BenchUsageError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2


def run() -> None:
    """Console-script entry point. Text that cannot be encoded (a path in a foreign encoding) is escaped,
    never a crash; output to a closed pipe (``bench report | head -1``) ends quietly; output that cannot be
    written (a full disk) is one line on standard error and exit 1."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    try:
        status = main()
        sys.stdout.flush()
    except KeyboardInterrupt:  # before a run exists (while importing, reading): nothing to keep
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own advice: no second error at exit
        sys.exit(0)
    except OSError as error:
        if error.filename is not None:
            raise
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"bench: error: cannot write the output ({error.strerror or type(error).__name__})", file=sys.stderr)
        sys.exit(1)
    sys.exit(status)
