"""``bench history``: the same timing cells followed across saved runs, with the significant changes marked."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from harness.cli.arguments import (
    add_layout_options,
    checked_layout,
    directory,
    integer_list_at_least,
    name_list,
    output_file,
    percentage,
    require_results_dir,
)
from harness.rendering import percent_text

BY = ("commit", "date", "version")
"""What names a run along the history: its git commit, its start time, or the backend's framework version."""


def add_parser(subparsers) -> None:
    from harness.report.run_comparison import DEFAULT_MIN_EFFECT

    parser = subparsers.add_parser("history", help="follow timing cells across saved runs; mark significant changes")
    parser.add_argument("--results-dir", type=directory, default=Path("results"), help="where runs are saved (default: ./results)")
    parser.add_argument("--suite", type=name_list, help="timing suites to follow, comma-separated (default: all)")
    parser.add_argument("--backend", type=name_list, help="backends to follow, comma-separated (default: all)")
    parser.add_argument("--device", type=name_list, help="devices to follow, e.g. cpu (default: all)")
    parser.add_argument("--hidden", type=integer_list_at_least(1), help="hidden sizes to follow, e.g. 64,256 (default: all)")
    parser.add_argument("--by", choices=BY, default="commit",
                        help="name each run by its git commit, its start date, or the backend's framework version "
                             "(default: commit)")
    parser.add_argument("--min-effect", type=percentage, default=DEFAULT_MIN_EFFECT, metavar="PERCENT",
                        help=f"noise floor: a significant change counts only beyond this (default: {DEFAULT_MIN_EFFECT * 100:.0f}%%)")
    parser.add_argument("--plot", type=output_file, metavar="FILE",
                        help="also draw the history into FILE (.png or .svg), the changes marked")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    add_layout_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.errors import BenchUsageError
    from harness.report.history import HistoryFilter, follow
    from harness.report.history_tables import MARKS, history_json, history_tables
    from harness.results.catalog import list_runs

    require_results_dir(args.results_dir)
    if args.plot is not None and args.plot.suffix.lower() not in (".png", ".svg"):
        raise BenchUsageError(f"--plot: {str(args.plot)!r} must end in .png or .svg")
    if args.plot is not None and not args.plot.absolute().parent.is_dir():
        raise BenchUsageError(f"--plot: {str(args.plot)!r} is in no existing directory (expected a file name in one, "
                              "e.g. history.png)")
    runs = list_runs(args.results_dir)
    readable = sum(not run.damaged for run in runs)
    wanted = HistoryFilter(frozenset(args.suite or ()), frozenset(args.backend or ()), frozenset(args.device or ()),
                           frozenset(args.hidden or ()))
    histories = follow(args.results_dir, wanted, args.min_effect, runs)
    if not histories:
        raise BenchUsageError(f"history: no timing cell under {str(args.results_dir)!r} was measured in two or more runs"
                              + (" with the --suite/--backend/--device/--hidden given" if wanted != HistoryFilter() else "")
                              + f" ({readable} readable run(s); bench runs lists them)")
    if args.format == "json":
        print(json.dumps(history_json(histories, args.by), indent=2))
    else:
        from harness.rendering import render_tables

        tables = history_tables(histories, args.by, args.min_effect)
        print(render_tables(tables, args.format, checked_layout(args, tables)))
        changes = sum(step.verdict in MARKS for history in histories for step in history.steps)
        print(f"bench: {len(histories)} cell(s) across {readable} run(s); {changes} significant change(s) beyond "
              f"{percent_text(args.min_effect)}", file=sys.stderr)
    if args.plot is not None:
        from harness.report.plots import history_figure
        from harness.results.store import write_file_atomically

        figure = history_figure(histories, args.by)
        try:
            write_file_atomically(args.plot, figure.svg if args.plot.suffix.lower() == ".svg" else figure.png)
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else (error.strerror or type(error).__name__)
            raise BenchUsageError(f"--plot: cannot write {str(args.plot)!r} ({reason})") from None
        print(f"bench: wrote {args.plot}", file=sys.stderr)
    return 0
