"""``bench history``: the same timing cells followed across saved runs, with the significant changes marked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.cli.arguments import (
    add_layout_options,
    directory,
    integer_list_at_least,
    name_list,
    output_file,
    percentage,
    table_layout,
    unknown_columns,
)

MARKS = {"slower": "▲", "faster": "▼"}
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
    from harness.results.catalog import list_runs

    if not args.results_dir.is_dir():
        raise BenchUsageError(f"--results-dir: {str(args.results_dir)!r} is not a directory (expected the directory "
                              "bench run saved runs in, ./results by default)")
    if args.plot is not None and args.plot.suffix.lower() not in (".png", ".svg"):
        raise BenchUsageError(f"--plot: {str(args.plot)!r} must end in .png or .svg")
    runs = [summary for summary in list_runs(args.results_dir) if not summary.damaged]
    wanted = HistoryFilter(frozenset(args.suite or ()), frozenset(args.backend or ()), frozenset(args.device or ()),
                           frozenset(args.hidden or ()))
    histories = follow(args.results_dir, wanted, args.min_effect, runs)
    if not histories:
        raise BenchUsageError(f"history: no timing cell under {str(args.results_dir)!r} was measured in two or more runs"
                              + (" with the --suite/--backend/--device/--hidden given" if wanted != HistoryFilter() else "")
                              + f" ({len(runs)} readable run(s); bench runs lists them)")
    if args.format == "json":
        print(json.dumps(_json(histories, args.by), indent=2))
    else:
        from harness.rendering import render_tables

        tables = history_tables(histories, args.by, args.min_effect)
        layout = table_layout(args)
        problem = unknown_columns(tables, layout)
        if problem:
            raise BenchUsageError(problem)
        print(render_tables(tables, args.format, layout))
        changes = sum(step.verdict in MARKS for history in histories for step in history.steps)
        print(f"bench: {len(histories)} cell(s) across {len(runs)} run(s); {changes} significant change(s) beyond "
              f"{args.min_effect:.0%}", file=sys.stderr)
    if args.plot is not None:
        from harness.report.plots import history_figure
        from harness.results.store import write_file_atomically

        figure = history_figure(histories, args.by)
        try:
            write_file_atomically(args.plot, figure.svg if args.plot.suffix.lower() == ".svg" else figure.png)
        except OSError as error:
            raise BenchUsageError(f"--plot: cannot write {str(args.plot)!r} ({error.strerror or type(error).__name__})") from None
        print(f"bench: wrote {args.plot}", file=sys.stderr)
    return 0


def history_tables(histories, by: str, min_effect: float):
    """Per suite and device: a row per backend and spec, a column per run (named ``by``), each cell the
    median with ▲/▼ and the ratio where it changed significantly; then the changes with their intervals."""
    from harness.model_spec import ModelSpec, varying_fields
    from harness.rendering import Table

    tables = []
    extra = [name for name in varying_fields([history.spec for history in histories], ModelSpec.field_names())
             if name != "hidden"]
    groups: dict[tuple[str, str], list] = {}
    for history in histories:
        groups.setdefault((history.suite, history.device), []).append(history)
    for (suite, device), members in groups.items():
        run_ids = list(dict.fromkeys(point.run_id for history in members for point in history.points))
        order = {point.run_id: point.started_at for history in members for point in history.points}
        run_ids.sort(key=lambda run_id: (order[run_id], run_id))
        names = _column_names(members, run_ids, by)
        rows = []
        for history in sorted(members, key=lambda item: (item.backend, item.spec["hidden"])):
            cells = {point.run_id: (point, step) for point, step in zip(history.points, history.steps)}
            row = [history.backend, history.spec["hidden"], *(history.spec[name] for name in extra)]
            for run_id in run_ids:
                if run_id not in cells:
                    row.append("-")
                    continue
                point, step = cells[run_id]
                text = f"{point.median_seconds * 1e3:.3f}" + (" !" if point.row.get("status") == "unstable" else "")
                if step.verdict in MARKS:
                    text += f" {MARKS[step.verdict]}{step.estimate.ratio:.2f}x"
                row.append(text)
            rows.append(tuple(row))
        headers = ("backend", "hidden", *(ModelSpec.short_name(name) for name in extra), *names)
        tables.append(Table(f"history: {suite} on {device}, median ms per run (runs by {by}, oldest first); "
                            f"▲ slower / ▼ faster than the run before: significant and beyond {min_effect:.0%}; ! = unstable",
                            headers, tuple(rows), align=("left", *["right"] * (len(headers) - 1)), key_columns=2 + len(extra)))
    change_rows = tuple(
        (history.title, before.name(by), after.name(by), f"{step.estimate.ratio:.3f}",
         f"{step.estimate.low:.3f}-{step.estimate.high:.3f}", f"{step.p_adjusted:.2g}", step.verdict)
        for history in histories
        for before, after, step in zip(history.points, history.points[1:], history.steps[1:])
        if step.verdict in MARKS
    )
    if change_rows:
        tables.append(Table("significant changes: after/before over round medians (95% CI), Holm-adjusted p",
                            ("cell", "from", "to", "ratio", "95% CI", "p (Holm)", "verdict"), change_rows, key_columns=1))
    return tables


def _column_names(histories, run_ids: list[str], by: str) -> list[str]:
    """Each run's column header: its name ``by`` commit, date or version, made unique (``#2``)."""
    points = {point.run_id: point for history in histories for point in history.points}
    names, seen = [], {}
    for run_id in run_ids:
        name = (_versions(histories, run_id) or "?") if by == "version" else points[run_id].name(by)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return names


def _versions(histories, run_id: str) -> str:
    """The framework versions of the backends measured in ``run_id``: ``torch 2.13.0`` or ``a 1.0, b 2.0``."""
    found = {}
    for history in histories:
        for point in history.points:
            if point.run_id == run_id and point.version:
                found[history.backend] = point.version
    distinct = set(found.values())
    if len(distinct) == 1:
        return distinct.pop()
    return ", ".join(f"{backend} {version}" for backend, version in found.items())


def _json(histories, by: str) -> list[dict]:
    return [{
        "suite": history.suite, "backend": history.backend, "device": history.device, "spec": history.spec,
        "points": [{
            "run_id": point.run_id, "label": point.label, "name": point.name(by), "started_at": point.started_at,
            "git_commit": point.commit, "framework_version": point.version, "median_seconds": point.median_seconds,
            "status": point.row.get("status"), "ratio_to_previous": step.estimate.ratio if step.estimate else None,
            "ci95": [step.estimate.low, step.estimate.high] if step.estimate else None, "p_adjusted": step.p_adjusted,
            "verdict": step.verdict,
        } for point, step in zip(history.points, history.steps)],
    } for history in histories]
