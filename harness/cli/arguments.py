"""Argument types with one-line messages that name the bad value and say what is accepted."""

from __future__ import annotations

import argparse
import math
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

MAX_INTEGER = 2**31 - 1
"""The largest size, count or seed an option takes: beyond it no framework can build the model."""


def integer_at_least(minimum: int, maximum: int = MAX_INTEGER) -> Callable[[str], int]:
    """An argument type for one int from ``minimum`` to ``maximum``."""
    noun = _integer_noun(minimum) if maximum == MAX_INTEGER else f"an integer from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun} (accepted: an integer from {minimum} to "
                                             f"{maximum})")
        return value

    parse.__name__ = noun
    return parse


def integer_list_at_least(minimum: int, maximum: int = MAX_INTEGER) -> Callable[[str], list[int]]:
    """An argument type for comma-separated ints from ``minimum`` to ``maximum``, e.g. ``3,32,64``."""
    one = integer_at_least(minimum, maximum)
    noun = _integer_noun(minimum) if maximum == MAX_INTEGER else f"an integer from {minimum} to {maximum}"

    def parse(text: str) -> list[int]:
        values = []
        for part in text.split(","):
            try:
                value = one(part.strip())
            except argparse.ArgumentTypeError:
                within = f">= {minimum}" if maximum == MAX_INTEGER else f"from {minimum} to {maximum}"
                raise argparse.ArgumentTypeError(
                    f"{part.strip()!r} is not {noun} (accepted: comma-separated integers {within}, e.g. 3,32,64)"
                ) from None
            if value in values:
                raise argparse.ArgumentTypeError(f"{value} is given twice in {text!r} (accepted: distinct values, "
                                                 "e.g. 3,32,64; each is one cell)")
            values.append(value)
        return values

    parse.__name__ = f"list of integers >= {minimum}"
    parse.sweep_example = "3,32,64"
    return parse


def choice_list(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argument type for comma-separated distinct values among ``choices``, e.g. ``none,right,left``."""
    def parse(text: str) -> list[str]:
        values = []
        for part in (part.strip() for part in text.split(",")):
            if part not in choices:
                raise argparse.ArgumentTypeError(f"{part!r} is not accepted (accepted: {', '.join(choices)}, or a "
                                                 f"comma list of them, e.g. {','.join(choices)})")
            if part in values:
                raise argparse.ArgumentTypeError(f"{part} is given twice in {text!r} (accepted: distinct values)")
            values.append(part)
        return values

    parse.__name__ = f"list of {', '.join(choices)}"
    parse.sweep_example = ",".join(choices[:2])
    return parse


BOOLEAN_WORDS = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}


def boolean_list(text: str) -> list[bool]:
    """An argument type for a sweepable flag's values: ``on``, ``off`` or ``off,on`` (also true/false, yes/no)."""
    values = []
    for part in (part.strip().lower() for part in text.split(",")):
        if part not in BOOLEAN_WORDS:
            raise argparse.ArgumentTypeError(f"{part!r} is not accepted (accepted: on, off, or off,on to sweep both)")
        if BOOLEAN_WORDS[part] in values:
            raise argparse.ArgumentTypeError(f"{part} is given twice in {text!r} (accepted: distinct values)")
        values.append(BOOLEAN_WORDS[part])
    return values


boolean_list.__name__ = "list of on, off"
boolean_list.sweep_example = "off,on"


def is_boolean_list(text: str) -> bool:
    """Whether ``text`` is a value `boolean_list` accepts (``on``, ``off,on``...)."""
    return all(part.strip().lower() in BOOLEAN_WORDS for part in text.split(","))


def attach_flag_values(argv: list[str], flags: set[str]) -> list[str]:
    """``argv`` with each bare sweepable flag (``--bidirectional``, which may take ``off,on``) written
    ``--bidirectional=on`` unless its next token is a value for it: argparse would otherwise take the next
    token, a backend's name in ``bench check --bidirectional numpy``, as the flag's value."""
    attached = []
    for index, token in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else None
        if token in flags and (following is None or not is_boolean_list(following)):
            token = f"{token}=on"
        attached.append(token)
    return attached


def _integer_noun(minimum: int) -> str:
    return {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")


positive_int = integer_at_least(1)
thread_count = integer_at_least(1, 1024)
"""Threads per framework: a thread pool of millions is not a benchmark, it is a machine brought down."""
non_negative_int = integer_at_least(0)


def positive_seconds(text: str) -> float:
    """A number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds (accepted: a finite number "
                                         "above 0, e.g. 60 or 0.5)")
    return value


def percentage(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05; must be >= 0. A bare number is a fraction and must be below 1 (``5``
    would mean 500%: write ``5%``)."""
    stripped = text.strip()
    try:
        value = float(stripped[:-1]) / 100 if stripped.endswith("%") else float(stripped)
    except ValueError:
        value = -1.0
    if not (0 <= value < math.inf):
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (accepted: a finite number >= 0, e.g. 5% "
                                         "or 0.05)")
    if not stripped.endswith("%") and value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is ambiguous: as a fraction it means {value:.0%}; write "
                                         f"{text.strip()}% for {text.strip()} percent, or a fraction below 1 (e.g. 0.05)")
    return value


def directory(text: str) -> Path:
    """A directory path; the empty string (which would mean the current directory by accident) is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("'' is not a directory (accepted: a path, e.g. results or /tmp/runs)")
    return Path(text)


def output_file(text: str) -> Path:
    """A file to write; the empty string is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("'' is not a file name (accepted: a path, e.g. report.html)")
    return Path(text)


def name(text: str) -> str:
    """One non-empty name, e.g. ``torch``."""
    if not text.strip():
        raise argparse.ArgumentTypeError("'' is not a name (accepted: a backend name, e.g. torch)")
    return text.strip()


def name_list(text: str) -> list[str]:
    """Comma-separated names, e.g. ``numpy,torch``; empty names are refused."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty name (accepted: comma-separated names, e.g. numpy,torch)")
    return names


def add_layout_options(parser: argparse.ArgumentParser) -> None:
    """``--columns`` and ``--wide``: which columns the terminal tables show (see `harness.table_layout`)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--columns", type=name_list, metavar="NAMES",
                       help="show these columns, by header, comma-separated (e.g. median,samples/s), in the tables that "
                            "have them, beside each table's row labels (default: a compact set that fits the terminal)")
    group.add_argument("--wide", action="store_true", help="show every column of every table")


def table_layout(args: argparse.Namespace, *, to_terminal: bool = True):
    """The `Layout` for ``args``' ``--columns``/``--wide``: the terminal's width when printing to one."""
    from harness.table_layout import Layout

    return Layout.for_output(columns=tuple(getattr(args, "columns", None) or ()), wide=getattr(args, "wide", False),
                             to_terminal=to_terminal)


def require_results_dir(path) -> None:
    """`BenchUsageError` (one line) unless ``path`` is a directory (what ``--results-dir`` must name)."""
    from harness.errors import BenchUsageError

    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise BenchUsageError(f"--results-dir: {str(path)!r} {what} (expected the directory bench run saved "
                              "runs in, ./results by default)")


def checked_layout(args: argparse.Namespace, tables: list, *, to_terminal: bool = True):
    """`table_layout` for ``args``, or `BenchUsageError` (one line) when ``--columns`` names a header none of
    ``tables`` has."""
    from harness.errors import BenchUsageError

    layout = table_layout(args, to_terminal=to_terminal)
    problem = unknown_columns(tables, layout)
    if problem:
        raise BenchUsageError(problem)
    return layout


def unknown_columns(tables: list, layout) -> str | None:
    """A one-line complaint when ``--columns`` names a header that none of ``tables`` has, else None."""
    from harness.table_layout import known_columns

    known = known_columns(tables)
    folded = {header.casefold() for header in known}
    unknown = [column for column in layout.columns if column.casefold() not in folded]
    if not unknown:
        return None
    return (f"--columns: no table here has a column {', '.join(map(repr, unknown))} "
            f"(columns: {', '.join(known)})")


def options_given(parser: argparse.ArgumentParser, tokens: list[str]) -> list[argparse.Action]:
    """The option actions of ``parser`` that ``tokens`` (a subcommand's arguments) name, in order, once per
    occurrence (``--hid 3`` and ``--hidden=3`` included: argparse's own matching)."""
    actions = []
    for token in tokens:
        if token == "--":
            break
        if not token.startswith("-") or parser._negative_number_matcher.match(token):
            continue
        found = parser._parse_optional(token)
        if isinstance(found, list):  # Python 3.12.7+: every (action, option, ...) the token may mean
            found = found[0] if found else None
        if found and found[0] is not None:
            actions.append(found[0])
    return actions


def refuse_repeated_options(parser: argparse.ArgumentParser, tokens: list[str]) -> None:
    """An option given twice would silently keep its last value: one line instead."""
    from harness.errors import BenchUsageError

    seen: dict[str, argparse.Action] = {}
    for action in options_given(parser, tokens):
        if isinstance(action, (argparse._AppendAction, argparse._CountAction, argparse._HelpAction)):
            continue
        if action.dest not in seen:
            seen[action.dest] = action
            continue
        first, flag = seen[action.dest], _long_flag(action)
        if first is not action:
            raise BenchUsageError(f"{_long_flag(first)} and {flag} are both given (only the last would count); give one")
        example = getattr(action.type, "sweep_example", None)  # set by the list types: a sweepable option
        raise BenchUsageError(f"{flag} is given more than once (only the last would count); give it once"
                              + (f", with a comma list to sweep (e.g. {example})" if example else ""))


def _long_flag(action: argparse.Action) -> str:
    return action.option_strings[-1] if action.option_strings[-1].startswith("--") else action.option_strings[0]


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``bench: error: ...``) and exit status 2; a negative
    number, with or without ``%``, is an option's value (``--min-effect -5%`` is refused by its type with
    what is accepted, not mistaken for an unknown option)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\d+%?$|^-\d*\.\d+%?$|^-inf$|^-nan$", re.IGNORECASE)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"bench: error: {message}\n")


def write_output(path: Path, text: str, option: str = "--out", named_by_user: bool = True) -> None:
    """Write the whole file or nothing, replacing (never following) a symlink to a regular file at ``path``;
    a device or a FIFO the user named, directly or through a link (``/dev/stdout``, ``/dev/full``, a pipe),
    is written to, never replaced (one found at a default path is replaced); a directory is refused. Text
    that cannot be UTF-8 (lone surrogates from undecodable command-line bytes) is written escaped."""
    from harness.errors import BenchUsageError
    from harness.results.store import StoreWriteError, write_file_atomically

    data = text.encode("utf-8", errors="backslashreplace")
    try:
        status = os.stat(path) if os.path.exists(path) else None  # a symlink's target (/dev/stdout's device)
        if status is not None and stat.S_ISREG(status.st_mode) and os.path.islink(path):
            status = None  # a link to a regular file: the link is replaced, never followed
        if status is not None and stat.S_ISDIR(status.st_mode):
            raise BenchUsageError(f"{option}: {str(path)!r} is a directory (expected a file to write)")
        if status is not None and not stat.S_ISREG(status.st_mode) and named_by_user:
            with open(path, "wb") as handle:
                handle.write(data)
            return
        write_file_atomically(Path(path), data)
    except StoreWriteError as error:
        raise BenchUsageError(f"{option}: {error.strerror}") from None
    except OSError as error:
        raise BenchUsageError(f"{option}: cannot write {str(path)!r} ({error.strerror or type(error).__name__})") from None
