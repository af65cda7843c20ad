"""``bench report``: a saved run as comparison tables, plots, HTML, CSV, JSON or dashboard data."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from harness.cli.arguments import add_layout_options, checked_layout, directory, name, output_file, write_output
from harness.errors import BenchUsageError
from harness.rendering import render_tables

REPORT_FORMATS = ("table", "markdown", "csv", "json", "html", "dashboard")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="compare backends in a saved run: tables, plots, HTML, exports")
    parser.add_argument("run", nargs="?", default="latest", help="run id, label, run directory, 'previous', or 'latest' (default)")
    parser.add_argument("--results-dir", type=directory, default=Path("results"), help="where runs are saved (default: ./results)")
    parser.add_argument("--format", choices=REPORT_FORMATS, default="table",
                        help="table/markdown (terminal), csv, json, html (one self-contained file), "
                             "dashboard (github-action-benchmark JSON)")
    parser.add_argument("--out", type=output_file, help="write to this file instead of standard output (html: default "
                                                 "<run>/report.html)")
    parser.add_argument("--baseline", type=name, help="backend the speed-ups are relative to (default: torch, else the first)")
    add_layout_options(parser)
    parser.add_argument("--explain-gap", nargs=2, type=name, metavar=("A", "B"),
                        help="for a run made with --profile: only, per timing suite and cell, A against B: the timed "
                             "ratio and which categories (lstm, host, optimizer...) account for the difference")
    parser.add_argument("--plots", type=directory, metavar="DIR", help="also write every figure as PNG and SVG into DIR")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness import results
    from harness.report import export
    from harness.report.sections import build_report

    if args.explain_gap and (args.format not in ("table", "markdown", "json") or args.plots):
        raise BenchUsageError(f"--explain-gap: its tables are shown as table, markdown or json (got "
                              f"{'--plots' if args.plots else '--format ' + args.format})")
    run_dir = results.resolve_run(args.run, args.results_dir)
    report = build_report(run_dir, args.baseline)
    frame, metadata, baseline = report.frame, report.metadata, report.baseline
    if args.baseline and args.baseline not in set(frame.backend):
        raise BenchUsageError(f"--baseline: {args.baseline!r} is not in run {run_dir.name} "
                              f"(backends: {', '.join(sorted(set(frame.backend)))})")
    report_tables = explain_gap_tables(report, *args.explain_gap) if args.explain_gap else report.tables()
    layout = checked_layout(args, report_tables, to_terminal=args.out is None)
    if args.out is not None:
        _refuse_writing_over_the_run(args.out, run_dir)
    figures = _figures(report) if args.format == "html" or args.plots else []
    if args.plots and not figures:
        print(f"bench: warning: --plots: run {run_dir.name} has no measured timing cells and no training "
              "trajectories, so there is no figure to write", file=sys.stderr)
    if args.plots:
        from harness.report.plots import write_figures

        try:
            written = write_figures(figures, args.plots)
        except OSError as error:
            raise BenchUsageError(f"--plots: cannot write into {str(args.plots)!r} "
                                  f"({error.strerror or type(error).__name__})") from None
        for path in written:
            print(f"bench: wrote {path}", file=sys.stderr)
    if args.format == "html":
        from harness.report.html import render_html

        out = args.out or run_dir / "report.html"
        write_output(out, render_html(report, figures),
               option="--out" if args.out else "the HTML report (give --out FILE to write it elsewhere)",
               named_by_user=args.out is not None)
        print(f"bench: wrote {out}", file=sys.stderr)
        return 0
    if args.format in ("table", "markdown"):
        text = summary_text(report, args.format, layout.width) + "\n" + render_tables(report_tables, args.format, layout)
    elif args.format == "csv":
        text = export.to_csv(report.export_frame)
    elif args.format == "dashboard":
        text = json.dumps(export.to_dashboard(frame), indent=2)
    else:
        text = json.dumps({
            "run_id": run_dir.name,
            "metadata": metadata,
            "baseline": baseline,
            "summary": report.summary,
            "tables": [{"title": t.title, "headers": list(t.headers), "rows": [list(r) for r in t.rows]} for t in report_tables],
        }, indent=2, default=str)
    if args.out:
        write_output(args.out, text)
        print(f"bench: wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def explain_gap_tables(report, first: str, second: str) -> list:
    """The ``--explain-gap A B`` tables of ``report``: one per timing suite and device with cells where both
    were profiled; a usage error naming what the run holds when there are none."""
    from suites.profile_tables import pair_gap_table

    run = report.run_dir.name
    if first == second:
        raise BenchUsageError(f"--explain-gap: give two different backends (got {first!r} twice)")
    backends = sorted({record.backend for record in report.records})
    for backend in (first, second):
        if backend not in backends:
            raise BenchUsageError(f"--explain-gap: {backend!r} is not in run {run} (backends: {', '.join(backends)})")
    profiled = sorted({record.backend for record in report.records
                       if "categories" in (record.details.get("profile") or {})})
    if not profiled:
        raise BenchUsageError(f"--explain-gap: run {run} has no profiles (run it with --profile, e.g. bench run "
                              "--suite train --profile)")
    tables = []
    for suite in dict.fromkeys(record.suite for record in report.records):
        own = [record for record in report.records if record.suite == suite]
        for device in dict.fromkeys(record.details.get("device", "cpu") for record in own):
            table = pair_gap_table(f"{suite} on {device}", [r for r in own if r.details.get("device", "cpu") == device],
                                   first, second)
            if table:
                tables.append(table)
    if not tables:
        raise BenchUsageError(f"--explain-gap: no cell of run {run} has profiles of both {first} and {second} "
                              f"(profiled: {', '.join(profiled)})")
    return tables


def _figures(report):
    from harness.report.plots import report_figures

    return report_figures(report)


def summary_text(report, output_format: str, width: int | None) -> str:
    """The report's title and summary, before its tables."""
    import textwrap

    from harness.rendering import markdown_text

    if output_format == "markdown":
        return f"## {markdown_text(report.title)}\n\n" + "".join(f"- {markdown_text(line)}\n" for line in report.summary)
    if width is None:
        return "\n".join([report.title, *(f"- {line}" for line in report.summary)]) + "\n"
    lines = [textwrap.fill(report.title, width=width, break_on_hyphens=False)]
    lines += [textwrap.fill(line, width=width, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False)
              for line in report.summary]
    return "\n".join(lines) + "\n"


def _refuse_writing_over_the_run(out: Path, run_dir: Path) -> None:
    """A report never overwrites the run it reads (``--out RUN/records.jsonl``)."""
    from harness.results.store import LOCK_FILE, METADATA_FILE, RECORDS_FILE, ROUNDS_FILE

    for own in (METADATA_FILE, RECORDS_FILE, ROUNDS_FILE, LOCK_FILE):
        try:
            same = Path(out).exists() and (run_dir / own).exists() and os.path.samefile(out, run_dir / own)
        except OSError:
            same = False
        if same:
            raise BenchUsageError(f"--out: {str(out)!r} is the run's own {own}; a report never overwrites the run it "
                                  "reads (give another file)")
