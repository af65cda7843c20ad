"""Report tables from a run's DataFrame: environment, backend comparison per device, check summary."""

from __future__ import annotations

from typing import Any

from harness.measurement.statistics import ratio_of_cells
from harness.model_spec import ModelSpec, varying_fields
from harness.rendering import Table
from harness.results.record import MEASURED_STATUSES, round_medians

TIMED_COLUMNS = ("median_seconds", "iqr_seconds", "ci95_low_seconds", "ci95_high_seconds", "samples",
                 "samples_per_second", "tokens_per_second", "fraction_of_peak", "peak_memory_bytes")
"""The figures the comparisons, plots and exports read: a column a run lacks (an older version, a damaged
record left out) reads as missing values, never as an error."""


def timed_cells(frame):
    """The rows of measured timing cells (``pass`` and ``unstable``): what the comparisons, plots and
    exports are made of."""
    timed = frame[frame.measures_time & frame.status.isin(list(MEASURED_STATUSES))].copy()
    for column in TIMED_COLUMNS:
        if column not in timed:
            timed[column] = float("nan")
    return timed


def environment_table(metadata: dict[str, Any], frame=None) -> Table:
    """Where and how the run happened."""
    packages = ", ".join(f"{name} {version}" for name, version in metadata.get("packages", {}).items() if version)
    rows = [
        ("run", metadata.get("run_id", "")),
        ("command", " ".join(metadata.get("command_line", []))),
        ("started", metadata.get("started_at", "")),
        ("lstm-bench", metadata.get("lstm_bench_version", "")),
        ("python", metadata.get("python", "")),
        ("os", metadata.get("os", "")),
        ("cpu", f"{metadata.get('cpu_model', '')} ({metadata.get('cpu_count', '?')} cores)"),
        ("threads", metadata.get("threads", "")),
        ("CPU GEMM peak", _cpu_peak(metadata, frame)),
        ("machine at start", _machine_state(metadata.get("machine_state"))),
        ("packages", packages),
        ("git commit", metadata.get("git_commit") or "-"),
    ]
    return Table("environment", ("field", "value"), tuple(rows))


def _cpu_peak(metadata: dict[str, Any], frame) -> str:
    """The CPU's GEMM peak the run's cells used (calibrated once per machine, with its date)."""
    if _is_number(metadata.get("cpu_gemm_peak_gflops")) and metadata["cpu_gemm_peak_gflops"]:
        return f"{metadata['cpu_gemm_peak_gflops']:.1f} GFLOP/s"
    if frame is None or "device_peak_gflops" not in frame:
        return "-"
    cpu = timed_cells(frame)
    cpu = cpu[(cpu.device == "cpu") & cpu.device_peak_gflops.notna()]
    if cpu.empty:
        return "-"
    row = cpu.iloc[0]
    when = getattr(row, "device_peak_calibrated_at", None)
    return f"{row.device_peak_gflops:.1f} GFLOP/s" + (f" (calibrated {when})" if isinstance(when, str) else "")


def _machine_state(state: dict[str, Any] | None) -> str:
    """The machine's state at the start, from what of it is readable (a damaged field is left out)."""
    if not isinstance(state, dict):
        return "-"
    parts = []
    load = state.get("load_average")
    if isinstance(load, list) and load and all(_is_number(value) for value in load):
        parts.append("load " + " ".join(f"{value:.2f}" for value in load))
    if _is_number(state.get("cpu_busy_fraction")):
        parts.append(f"CPU {state['cpu_busy_fraction']:.0%} busy")
    if _is_number(state.get("cpu_frequency_mhz")) and state["cpu_frequency_mhz"]:
        parts.append(f"{state['cpu_frequency_mhz']:.0f} MHz")
    if isinstance(state.get("cpu_governor"), str) and state["cpu_governor"]:
        parts.append(f"governor {state['cpu_governor']}")
    return ", ".join(parts) or "-"


def _is_number(value: Any) -> bool:
    from harness.results.reader import is_finite_number

    return is_finite_number(value)


def choose_baseline(frame, requested: str | None) -> str | None:
    """The backend ratios are relative to: ``requested``, else torch, else the first one measured."""
    timed = timed_cells(frame)
    backends = list(dict.fromkeys(timed.backend))
    if requested:
        return requested
    return "torch" if "torch" in backends else (backends[0] if backends else None)


def comparison_tables(frame, baseline: str | None) -> list[Table]:
    """Per timing suite, device and hidden-size sweep (every spec field but hidden; the title names T, B
    and whatever else tells the sweeps apart): each backend's median and its speed-up over the
    baseline with a bootstrap 95% CI; ``*`` marks the fastest backend at each hidden size."""
    timed = timed_cells(frame)
    tables = []
    series_fields = list(ModelSpec.series_fields())
    shown = ["seq_len", "batch_size", *(name for name in varying_fields(timed.to_dict("records"), series_fields)
                                        if name not in ("seq_len", "batch_size"))]
    for key, group in timed.groupby(["suite", "device", *series_fields], sort=False, dropna=False):
        suite, device, series = key[0], key[1], dict(zip(series_fields, key[2:]))
        backends = list(dict.fromkeys(group.backend))
        rows = []
        for hidden, cells in group.groupby("hidden"):
            by_backend = {row.backend: row for row in cells.itertuples()}
            fastest = min(by_backend, key=lambda name: by_backend[name].median_seconds)
            reference = by_backend.get(baseline)
            row = [hidden]
            for backend in backends:
                cell = by_backend.get(backend)
                if cell is None:
                    row.append("-")
                    continue
                text = f"{cell.median_seconds * 1e3:.3f} ms" + (" !" if cell.status == "unstable" else "")
                if reference is not None and backend != baseline:
                    estimate = ratio_of_cells(round_medians(cell._asdict()), round_medians(reference._asdict()), paired=True)
                    text += (f", {estimate.ratio:.2f}x [{estimate.low:.2f}-{estimate.high:.2f}]" if estimate
                             else f", {reference.median_seconds / cell.median_seconds:.2f}x")
                row.append(("* " if backend == fastest else "") + text)
            rows.append(tuple(row))
        where = ", ".join(f"{ModelSpec.short_name(name)}={series[name]}" for name in shown)
        title = (f"{suite} on {device} ({where}): median, and speed-up over {baseline} "
                 "with 95% CI over rounds (paired by round); * = fastest; ! = unstable")
        tables.append(Table(title, ("hidden", *backends), tuple(rows), align=("right", *["right"] * len(backends))))
    return tables


def checks_table(frame) -> Table | None:
    """Per check suite and backend: how many cells passed, failed or errored, and the worst error."""
    checks = frame[~frame.measures_time]
    if checks.empty:
        return None
    rows = []
    for (suite, backend), group in checks.groupby(["suite", "backend"], sort=False):
        counts = group.status.value_counts()
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        rows.append((suite, backend, summary, _worst_error(suite, group)))
    title = "checks: " + ", ".join(dict.fromkeys(checks.suite))
    return Table(title, ("suite", "backend", "cells", "worst error"), tuple(rows))


def _worst_error(suite: str, group) -> str:
    if suite == "gradients" and "errors" in group:
        worst = [(error["max_rel_error"], name) for errors in group.errors.dropna() for name, error in errors.items()]
        return f"{max(worst)[0]:.1e} ({max(worst)[1]})" if worst else "-"
    if suite == "training" and "optimizers" in group:
        worst = [
            (error["norm_rel_error"], f"{label}: {name}")
            for runs in group.optimizers.dropna() for label, run in runs.items()
            for name, error in run["final_errors"].items()
        ]
        return f"{max(worst)[0]:.1e} ({max(worst)[1]})" if worst else "-"
    if suite == "params" and "total_params" in group:
        totals = sorted({int(total) for total in group.total_params.dropna()})
        return "total " + ", ".join(f"{total:,}" for total in totals) if totals else "-"
    return "-"
