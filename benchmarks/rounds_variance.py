"""Where a timing cell's variation lives: within one process, or between processes.

    bench run --suite train,infer --quick --rounds 8 --format json > run.json
    python benchmarks/rounds_variance.py run.json

For every timing cell of the run: the between-round spread (SD of log round medians), the median
within-round 95% CI half-width of a round's median (what one process alone would claim), their ratio, the
other processes' CPU per round, and, for the run, how the 95% interval over rounds narrows with the number
of rounds used (first 3, 5, all). The figures in docs/methodology.md ("Rounds") come from this script.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from harness.measurement.statistics import between_round_spread, cell_interval, median_confidence_interval


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    rows = []
    for record in document["records"]:
        if "round_medians_seconds" not in record:
            continue
        medians = record["round_medians_seconds"]
        samples = np.asarray(record["samples_seconds"])
        bounds = np.cumsum([0, *record["round_sample_counts"]])
        within = []
        for start, stop in zip(bounds, bounds[1:]):
            low, high = median_confidence_interval(samples[start:stop])
            within.append((math.log(high) - math.log(low)) / 2)
        widths = {}
        for count in (3, 5, len(medians)):
            interval = cell_interval(medians[:count])
            widths[count] = (math.log(interval.high) - math.log(interval.low)) / 2 if interval else float("nan")
        others = [details["addons"].get("machine", {}).get("other_processes_cpus", float("nan"))
                  for details in record["round_details"]]
        iqr = max(details["iqr_seconds"] / details["median_seconds"] for details in record["round_details"])
        rows.append((record["suite"], record["backend"], record["spec"]["hidden"], between_round_spread(medians),
                     float(np.median(within)), widths, max(others), iqr, record["status"]))
    print(f"{'cell':28} {'between':>8} {'within':>7} {'ratio':>6} {'CI3':>6} {'CI5':>6} {'CIall':>6} "
          f"{'others':>6} {'IQR':>5} status")
    for suite, backend, hidden, between, within, widths, others, iqr, status in rows:
        counts = sorted(widths)
        print(f"{suite + ' ' + backend + ' ' + str(hidden):28} {between:8.1%} {within:7.1%} {between / within:6.1f} "
              + " ".join(f"{widths[count]:6.1%}" for count in counts) + f" {others:6.2f} {iqr:5.2f} {status}")
    between = [row[3] for row in rows]
    within = [row[4] for row in rows]
    print(f"\n{len(rows)} cells; between-round spread: median {np.median(between):.1%}, 90th percentile "
          f"{np.percentile(between, 90):.1%}, max {max(between):.1%}; within-round CI half-width: median "
          f"{np.median(within):.1%}; between/within median {np.median(np.divide(between, within)):.1f}x")


if __name__ == "__main__":
    main(sys.argv[1])
