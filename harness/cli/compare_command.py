"""``bench compare RUN_A RUN_B``: per cell B/A over round medians, Holm-adjusted; exit 1 on a regression."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.cli.arguments import add_layout_options, checked_layout, directory, percentage
from harness.rendering import percent_text

METHOD = ("B/A = ratio of the geometric means of the cells' round medians, 95% CI and p-value from Welch's t-test "
          "on their logarithms; p-values Holm-adjusted over all cells; a regression is significant (adjusted p < 0.05) "
          "and beyond the noise floor; unstable cells are not judged")
CONTROL_METHOD = ("; relative to the control {control}: each round median divided by the control's median in the same "
                  "round (same suite, device and spec) before the test")


def add_parser(subparsers) -> None:
    from harness.report.run_comparison import DEFAULT_MIN_EFFECT

    parser = subparsers.add_parser("compare", help="compare two saved runs cell by cell, with significance")
    parser.add_argument("run_a", metavar="RUN_A", help="the baseline run (id, label, directory, 'latest' or 'previous'); "
                                                        "RUN@HOST: only its cells that ran on HOST (bench run --hosts)")
    parser.add_argument("run_b", metavar="RUN_B", help="the run to judge against it (as RUN_A); RUN_A@a RUN_B@b with "
                                                        "two hosts compares the machines cell by cell")
    parser.add_argument("--results-dir", type=directory, default=Path("results"), help="where runs are saved (default: ./results)")
    parser.add_argument("--min-effect", "--threshold", dest="min_effect", type=percentage, default=None,
                        metavar="PERCENT",
                        help="noise floor: a significant slowdown is a regression (exit 1) only beyond this "
                             f"(default: {DEFAULT_MIN_EFFECT * 100:.0f}%%, this machine's run-to-run drift; see docs/methodology.md)")
    parser.add_argument("--control", metavar="BACKEND", default=None,
                        help="a backend measured in both runs: judge every other cell relative to it, round by round, "
                             "which divides out the machine's drift between the runs (e.g. --control numpy)")
    parser.add_argument("--force", action="store_true", help="compare runs from different machines or configurations")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    add_layout_options(parser)
    parser.set_defaults(handler=handle)


def run_and_host(text: str, results_dir: Path) -> tuple[Path, str | None]:
    """``RUN`` or ``RUN@HOST``: the run's directory and the host named (None); a run whose own name holds
    an ``@`` is found first."""
    from harness.errors import BenchUsageError
    from harness.results.frame import resolve_run

    try:
        return resolve_run(text, results_dir), None
    except BenchUsageError:
        run, separator, host = text.rpartition("@")
        if not separator or not run or not host:
            raise
    return resolve_run(run, results_dir), host


def handle(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.model_spec import ModelSpec, varying_fields
    from harness.rendering import Table, render_tables
    from harness.report.run_comparison import VERDICTS, compare_runs

    (run_a, host_a), (run_b, host_b) = run_and_host(args.run_a, args.results_dir), run_and_host(args.run_b, args.results_dir)
    comparison = compare_runs(run_a, run_b, min_effect=args.min_effect, force=args.force, control=args.control,
                              host_a=host_a, host_b=host_b)
    name_a, name_b = (run_a.name + (f"@{host_a}" if host_a else "")), (run_b.name + (f"@{host_b}" if host_b else ""))
    regressions, min_effect = comparison.regressions, comparison.min_effect
    if args.format == "json":
        print(json.dumps({
            "run_a": name_a, "run_b": name_b, "min_effect": min_effect, "control": comparison.control,
            "machines": list(comparison.machines) if comparison.machines else None,
            "method": METHOD + (CONTROL_METHOD.format(control=comparison.control) if comparison.control else ""),
            "geometric_mean_ratio": comparison.geometric_mean_ratio,
            "regressions": len(regressions),
            "counts": {verdict: comparison.count(verdict) for verdict in VERDICTS},
            "cells": [{**cell.cell, "median_a_seconds": cell.median_a_seconds, "median_b_seconds": cell.median_b_seconds,
                       "ratio": cell.ratio,
                       "ci95": [cell.estimate.low, cell.estimate.high] if cell.estimate else None,
                       "p_value": cell.estimate.p_value if cell.estimate else None, "p_adjusted": cell.p_adjusted,
                       "rounds": list(cell.rounds), "between_round_spread": list(cell.spreads),
                       "verdict": cell.verdict, "regression": cell.regression, "note": cell.note}
                      for cell in comparison.cells],
        }, indent=2))
        return 1 if regressions else 0
    shown = ("hidden", "seq_len", "batch_size")
    apart = [name for name in varying_fields([cell.cell for cell in comparison.cells], ModelSpec.series_fields())
             if name not in shown]
    rows = tuple(
        (cell.cell["suite"], cell.cell["device"], cell.cell["backend"], *(cell.cell[name] for name in (*shown, *apart)),
         f"{cell.median_a_seconds * 1e3:.3f}", f"{cell.median_b_seconds * 1e3:.3f}", f"{cell.ratio:.3f}",
         f"{cell.estimate.low:.3f}-{cell.estimate.high:.3f}" if cell.estimate else "-",
         f"{cell.p_adjusted:.2g}" if cell.p_adjusted is not None else "-",
         " / ".join(f"{spread:.1%}" if spread is not None else "-" for spread in cell.spreads),
         cell.verdict + (" (regression)" if cell.regression else "") + (f": {cell.note}" if cell.note else ""))
        for cell in comparison.cells
    )
    relative = f", relative to the control {comparison.control} round by round" if comparison.control else ""
    table = Table(
        f"compare {name_a} (A) -> {name_b} (B): B/A over round medians{relative} (95% CI), Holm-adjusted p, "
        f"round spread in A / B; " + (f"machines: A = {comparison.machines[0]}; B = {comparison.machines[1]}"
                                      if comparison.machines else
                                      f"regression = significant and beyond {percent_text(min_effect)}"),
        ("suite", "device", "backend", "hidden", "T", "B", *apart, "A ms", "B ms", "B/A", "95% CI", "p (Holm)",
         "round spread", "verdict"), rows,
        compact=("A ms", "B ms", "B/A", "95% CI", "p (Holm)", "verdict"), key_columns=6 + len(apart),
    )
    print(render_tables([table], args.format, checked_layout(args, [table])))
    counts = ", ".join(f"{comparison.count(verdict)} {verdict}" for verdict in VERDICTS if comparison.count(verdict))
    unstable = comparison.count("unstable")
    print(f"geometric mean B/A: {comparison.geometric_mean_ratio:.3f}; {counts}; "
          + ((f"B is {'a worker of the same machine' if comparison.same_machine else 'a different machine'}: slower cells "
              "are differences, not regressions") if comparison.machines else
             f"{len(regressions)} regression(s) beyond the {percent_text(min_effect)} noise floor")
          + (f"; {unstable} unstable cell(s) not judged: rerun them on a quiet machine" if unstable else "")
          + (f"; cells only in A: {comparison.only_in_a}, only in B: {comparison.only_in_b}"
             if comparison.only_in_a or comparison.only_in_b else ""))
    return 1 if regressions else 0
