"""What padding, stacking and a second direction cost, per backend: each timed cell with one of those
options against the same backend's cell without it, from the same run.

A ratio here is paired by round (the two cells' rounds ran side by side, in the same worker processes'
turns), with its 95% interval; "significant" when the interval excludes 1. Padding is compared with no
padding at the same ``seq_len``: the padded batch holds fewer real tokens (lengths drawn from
``[min_length, seq_len]``), so a backend that skips padded steps (packed sequences) can be faster than
the unpadded one, and one that computes them and then masks is slower. Where either cell is unstable
(its rounds disagree, the machine was busy), the row gives the plain ratio of the two medians and says
``unstable !`` instead of an interval: no claim is made from it.
"""

from __future__ import annotations

from harness.measurement.statistics import ratio_of_cells
from harness.model_spec import ModelSpec
from harness.rendering import Table
from harness.results.record import MEASURED_STATUSES, UNSTABLE, Record, round_medians

PLAIN = {"padding": "none", "bidirectional": False, "layers": 1}
"""Each structural option and the value it is measured against."""


def option_name(name: str, value) -> str:
    """How the table names an option: ``padding right``, ``bidirectional``, ``layers 2``."""
    return name if value is True else f"{name} {value}"


def option_cost_table(title: str, records: list[Record]) -> Table | None:
    """One row per measured cell that has a structural option and a measured cell without it (same
    backend, device and every other field): the time ratio, its interval, and both medians; None when the
    run swept no such option."""
    measured = [record for record in records if record.status in MEASURED_STATUSES]
    cells = {(record.backend, record.device, ModelSpec.from_saved(record.spec)): record for record in measured}
    rows = []
    for (backend, device, spec), record in cells.items():
        for name, plain in PLAIN.items():
            value = getattr(spec, name)
            base = cells.get((backend, device, spec.replace(**{name: plain})))
            if value == plain or base is None:
                continue
            ratio = record.details["median_seconds"] / base.details["median_seconds"]
            unstable = UNSTABLE in (record.status, base.status)
            estimate = None if unstable else ratio_of_cells(round_medians(base.details), round_medians(record.details),
                                                            paired=True)
            rows.append((
                backend, spec.hidden, option_name(name, value),
                " ".join(f"{ModelSpec.short_name(other)}={getattr(spec, other)}" for other in PLAIN
                         if other != name and getattr(spec, other) != PLAIN[other]) or "-",
                f"{base.details['median_seconds'] * 1e3:.3f}", f"{record.details['median_seconds'] * 1e3:.3f}",
                f"{estimate.ratio:.2f}x [{estimate.low:.2f}-{estimate.high:.2f}]" if estimate else f"{ratio:.2f}x",
                "unstable !" if unstable else ("yes" if estimate.significant else "no") if estimate else "-",
                record.details.get("kernel_path") or "-",
            ))
    if not rows:
        return None
    return Table(f"{title}: what each option costs (time with it / without it, same backend and size; 95% CI "
                 "paired by round)",
                 ("backend", "hidden", "option", "with", "ms without", "ms with", "ratio", "significant", "kernel"),
                 tuple(sorted(rows, key=lambda row: (row[0], row[2], row[3], row[1]))), key_columns=3)
