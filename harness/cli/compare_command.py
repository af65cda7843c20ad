"""``bench compare RUN_A RUN_B``: per cell B/A with a bootstrap significance test; exit 1 on a regression."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.cli.arguments import percentage
from harness.rendering import render_tables


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="compare two saved runs cell by cell, with significance")
    parser.add_argument("run_a", metavar="RUN_A", help="the baseline run (id, directory, or 'latest')")
    parser.add_argument("run_b", metavar="RUN_B", help="the run to judge against it")
    parser.add_argument("--results-dir", type=Path, default=Path("results"), help="where runs are saved (default: ./results)")
    parser.add_argument("--threshold", type=percentage, default=0.05,
                        help="a significant slowdown beyond this is a regression, exit 1 (default: 5%%)")
    parser.add_argument("--force", action="store_true", help="compare runs from different machines or configurations")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.model_spec import ModelSpec, varying_fields
    from harness.rendering import Table
    from harness.report.run_comparison import compare_runs
    from harness.results.frame import resolve_run

    run_a, run_b = resolve_run(args.run_a, args.results_dir), resolve_run(args.run_b, args.results_dir)
    comparison = compare_runs(run_a, run_b, threshold=args.threshold, force=args.force)
    regressions = comparison.regressions
    if args.format == "json":
        print(json.dumps({
            "run_a": run_a.name, "run_b": run_b.name, "threshold": args.threshold,
            "method": "ratio of medians B/A with a 95% percentile-bootstrap CI; significance: two-sided "
                      "Mann-Whitney U on the raw samples, p < 0.05",
            "geometric_mean_ratio": comparison.geometric_mean_ratio,
            "regressions": len(regressions),
            "cells": [{**cell.cell, "median_a_seconds": cell.median_a_seconds, "median_b_seconds": cell.median_b_seconds,
                       "ratio": cell.estimate.ratio, "ci95": [cell.estimate.low, cell.estimate.high],
                       "p_value": cell.p_value,
                       "verdict": cell.verdict, "regression": cell.regression} for cell in comparison.cells],
        }, indent=2))
        return 1 if regressions else 0
    shown = ("hidden", "seq_len", "batch_size")
    apart = [name for name in varying_fields([cell.cell for cell in comparison.cells], ModelSpec.series_fields())
             if name not in shown]
    rows = tuple(
        (cell.cell["suite"], cell.cell["device"], cell.cell["backend"], *(cell.cell[name] for name in (*shown, *apart)),
         f"{cell.median_a_seconds * 1e3:.3f}", f"{cell.median_b_seconds * 1e3:.3f}",
         f"{cell.estimate.ratio:.3f}", f"{cell.estimate.low:.3f}-{cell.estimate.high:.3f}", f"{cell.p_value:.2g}",
         cell.verdict + (" (regression)" if cell.regression else ""))
        for cell in comparison.cells
    )
    table = Table(
        f"compare {run_a.name} (A) -> {run_b.name} (B): ratio of medians B/A (95% bootstrap CI), "
        "Mann-Whitney U p-value on the raw samples (significant below 0.05)",
        ("suite", "device", "backend", "hidden", "T", "B", *apart, "A ms", "B ms", "B/A", "95% CI", "p", "verdict"), rows,
    )
    print(render_tables([table], args.format))
    counts = {verdict: sum(cell.verdict == verdict for cell in comparison.cells) for verdict in ("faster", "slower", "not significant")}
    print(f"geometric mean B/A: {comparison.geometric_mean_ratio:.3f}; " + ", ".join(f"{n} {v}" for v, n in counts.items())
          + f"; {len(regressions)} regression(s) beyond {args.threshold:.0%}"
          + (f"; cells only in A: {comparison.only_in_a}, only in B: {comparison.only_in_b}" if comparison.only_in_a or comparison.only_in_b else ""))
    return 1 if regressions else 0
