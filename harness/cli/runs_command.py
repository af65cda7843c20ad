"""``bench runs``: the saved runs under a results directory, newest last, with what names each one."""

from __future__ import annotations

import argparse
import json

from harness.cli.arguments import directory, require_results_dir


def add_parser(subparsers) -> None:
    from pathlib import Path

    parser = subparsers.add_parser("runs", help="list saved runs: id, label, when, commit, suites, backends, outcome")
    parser.add_argument("--results-dir", type=directory, default=Path("results"), help="where runs are saved (default: ./results)")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.rendering import Table, render_tables
    from harness.results.catalog import RELATIVE_NAMES, list_runs
    from harness.table_layout import Layout

    require_results_dir(args.results_dir)
    summaries = [summary.to_json() for summary in list_runs(args.results_dir)]
    if args.format == "json":
        print(json.dumps({"results_dir": str(args.results_dir), "runs": summaries}, indent=2))
        return 0
    if not summaries:
        print(f"bench: no saved runs under {str(args.results_dir)!r} (run 'bench run' first, or give --results-dir)")
        return 0
    names = {len(summaries) - 1 - back: name for name, back in RELATIVE_NAMES.items() if back < len(summaries)}
    rows = tuple(
        (run["run_id"], run["label"] or "", names.get(index, ""), (run["started_at"] or "")[:16].replace("T", " "),
         (run["git_commit"] or "-")[:10], ",".join(run["suites"]), ",".join(run["backends"]),
         "damaged: " + run["damaged"] if run["damaged"] else
         (run["status"] or "unfinished") + (": " + ", ".join(f"{count} {status}" for status, count in run["counts"].items())
                                            if run["counts"] else ""))
        for index, run in enumerate(summaries)
    )
    table = Table(f"runs under {args.results_dir} (bench report/compare take an id, a label, latest or previous)",
                  ("run", "label", "", "started (UTC)", "commit", "suites", "backends", "outcome"), rows)
    print(render_tables([table], args.format, Layout.for_output()))
    return 0
