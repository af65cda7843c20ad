"""How often ``bench compare`` cries wolf, and how often it finds a real slowdown.

    python benchmarks/compare_calibration.py false-alarms --pairs 20
    python benchmarks/compare_calibration.py power --pairs 10 --slowdown 0.10 -- --suite train --hidden 128

``false-alarms``: ``--pairs`` pairs of back-to-back identical runs (default: ``bench run --suite
train,infer --quick`` of the built-in backends); each pair is compared with ``bench compare`` and its exit
status counted. Also reports every cell's B/A, whose spread is this machine's run-to-run drift (the noise
floor's default comes from it).

``power``: pairs of runs of the ``planted`` backend (``benchmarks/planted_slowdown.py``), A at no slowdown,
B with ``--slowdown`` (a fraction) of extra work in every step; counts the pairs where ``bench compare``
exits 1, and how often each cell's 95% interval covers the planted ratio ``1 + slowdown``. With
``--control numpy`` the control backend is measured in the same runs and ``bench compare --control numpy``
judges the planted cells relative to it, round by round:

    python benchmarks/compare_calibration.py power --pairs 10 --slowdown 0.10 --control numpy

``recompare``: no new runs; compares the runs already saved under ``--out`` (in the order they were made,
as pairs 1-2, 3-4, ...) again with ``--compare-args`` (e.g. another ``--min-effect``), and, with
``--a-vs-a``, the A runs of consecutive pairs (1-3, 3-5, ...): identical configurations a few minutes
apart, the false alarms of a power experiment.

Arguments after ``--`` go to ``bench run`` (replacing the defaults). Runs are saved under ``--out``
(default: a temporary directory) and a JSON summary is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
FALSE_ALARM_RUN = ["--suite", "train,infer", "--quick"]
POWER_RUN = ["--suite", "train,infer", "--hidden", "128", "--threads", "1"]


def bench(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *arguments], capture_output=True, text=True,
                          env=environment, cwd=REPOSITORY, check=False)


def one_run(out: Path, run_arguments: list[str], environment: dict[str, str]) -> str:
    """Run ``bench run`` and return the id of the run it saved."""
    before = set(os.listdir(out)) if out.exists() else set()
    finished = bench(["run", *run_arguments, "--out", str(out), "--format", "json"], environment)
    created = sorted(set(os.listdir(out)) - before)
    if not created:
        raise SystemExit(f"bench run saved nothing: {finished.stderr[-2000:]}")
    return created[-1]


def compare(out: Path, run_a: str, run_b: str, environment: dict[str, str], extra: list[str]) -> tuple[int, dict]:
    finished = bench(["compare", run_a, run_b, "--results-dir", str(out), "--format", "json", *extra], environment)
    try:
        return finished.returncode, json.loads(finished.stdout)
    except ValueError:
        raise SystemExit(f"bench compare failed ({finished.returncode}): {finished.stderr[-2000:]}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("false-alarms", "power", "recompare"))
    parser.add_argument("--a-vs-a", action="store_true", help="recompare: the A runs of consecutive pairs")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--slowdown", type=float, default=0.10, help="power: the planted slowdown, a fraction")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--compare-args", default="", help="extra arguments for bench compare, space-separated")
    parser.add_argument("--control", default=None, help="power: a backend measured beside planted, the compare's --control")
    arguments, run_arguments = parser.parse_known_args()
    run_arguments = [argument for argument in run_arguments if argument != "--"]
    out = arguments.out or Path(tempfile.mkdtemp(prefix="lstm-bench-calibration-"))
    out.mkdir(parents=True, exist_ok=True)
    base = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))}
    if arguments.mode == "power":
        base["LSTM_BENCH_PLUGINS"] = ",".join(filter(None, [base.get("LSTM_BENCH_PLUGINS"), "benchmarks.planted_slowdown"]))
        run_arguments = run_arguments or POWER_RUN
        backends = ",".join(filter(None, ["planted", arguments.control]))
        run_arguments = [*run_arguments, "--backend", backends] if "--backend" not in run_arguments else run_arguments
    else:
        run_arguments = run_arguments or FALSE_ALARM_RUN
    extra = arguments.compare_args.split() + (["--control", arguments.control] if arguments.control else [])
    if arguments.mode == "recompare":
        recompare(out, base, extra, arguments)
        return
    pairs = []
    for number in range(arguments.pairs):
        started = time.monotonic()
        environment_a = {**base, "LSTM_BENCH_PLANTED_SLOWDOWN": "0"}
        environment_b = {**base, "LSTM_BENCH_PLANTED_SLOWDOWN": str(arguments.slowdown if arguments.mode == "power" else 0)}
        run_a = one_run(out, run_arguments, environment_a)
        run_b = one_run(out, run_arguments, environment_b)
        status, document = compare(out, run_a, run_b, base, extra)
        truth = 1 + arguments.slowdown if arguments.mode == "power" else 1.0
        cells = [cell for cell in document["cells"] if cell["verdict"] != "control"]
        covered = sum(cell["ci95"] is not None and cell["ci95"][0] <= truth <= cell["ci95"][1] for cell in cells)
        pairs.append({"runs": [run_a, run_b], "exit": status, "regressions": document["regressions"],
                      "counts": document["counts"], "ratios": [cell["ratio"] for cell in cells],
                      "covered": covered, "cells": len(cells), "seconds": round(time.monotonic() - started, 1)})
        print(f"pair {number + 1}/{arguments.pairs}: exit {status}, {document['regressions']} regression(s), "
              f"counts {document['counts']}, ratios {[round(r, 3) for r in pairs[-1]['ratios']]}, "
              f"{covered}/{len(cells)} intervals cover {truth:g}, {pairs[-1]['seconds']:.0f} s", flush=True)
    ratios = sorted(abs(math.log(ratio)) for pair in pairs for ratio in pair["ratios"])
    summary = {
        "mode": arguments.mode, "pairs": len(pairs), "run_arguments": run_arguments, "slowdown": arguments.slowdown,
        "compare_args": extra,
        "exit_1": sum(pair["exit"] == 1 for pair in pairs),
        "intervals_covering_truth": f"{sum(p['covered'] for p in pairs)}/{sum(p['cells'] for p in pairs)}",
        "abs_log_ratio_p50": ratios[len(ratios) // 2] if ratios else None,
        "abs_log_ratio_p95": ratios[int(0.95 * (len(ratios) - 1))] if ratios else None,
        "abs_log_ratio_max": ratios[-1] if ratios else None,
        "seconds_per_run": round(sum(p["seconds"] for p in pairs) / (2 * len(pairs)), 1) if pairs else None,
        "out": str(out), "pair_details": pairs,
    }
    print(json.dumps(summary, indent=1))


def recompare(out: Path, environment: dict[str, str], extra: list[str], arguments: argparse.Namespace) -> None:
    """Compare saved runs again: pairs (1, 2), (3, 4)...; with ``--a-vs-a`` (1, 3), (3, 5)..."""
    runs = sorted(path.name for path in out.iterdir() if (path / "metadata.json").exists())
    pairs = list(zip(runs[0::2], runs[2::2])) if arguments.a_vs_a else list(zip(runs[0::2], runs[1::2]))
    truth = 1.0 if arguments.a_vs_a else 1 + arguments.slowdown
    flagged, covered, cells = 0, 0, 0
    for run_a, run_b in pairs:
        status, document = compare(out, run_a, run_b, environment, extra)
        judged = [cell for cell in document["cells"] if cell["verdict"] != "control"]
        flagged += status == 1
        cells += len(judged)
        covered += sum(cell["ci95"] is not None and cell["ci95"][0] <= truth <= cell["ci95"][1] for cell in judged)
        print(f"{run_a} -> {run_b}: exit {status}, ratios {[round(cell['ratio'], 3) for cell in judged]}, "
              f"adjusted p {[round(cell['p_adjusted'], 4) if cell['p_adjusted'] is not None else None for cell in judged]}")
    print(json.dumps({"pairs": len(pairs), "exit_1": flagged, "intervals_covering": f"{covered}/{cells}",
                      "truth": truth, "compare_args": extra}))


if __name__ == "__main__":
    main()
