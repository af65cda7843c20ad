"""Report tables from a run's DataFrame: environment, backend comparison per device, check summary."""

from __future__ import annotations

from typing import Any

from harness.measurement.statistics import ratio_of_cells
from harness.model_spec import ModelSpec, varying_fields
from harness.rendering import Table
from harness.results.record import MEASURED_STATUSES, Record, round_medians

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
    hosts = metadata.get("hosts") if isinstance(metadata.get("hosts"), dict) else {}
    rows += [(f"host {name}", machine_words(facts) if isinstance(facts, dict) else "-") for name, facts in hosts.items()]
    return Table("environment", ("field", "value"), tuple(rows))


def machine_words(facts: dict) -> str:
    """A machine in a few words from its facts (`harness.environment.host_facts`): name, CPU, CPU count,
    GPUs, GEMM peak; or why there are none."""
    if isinstance(facts.get("error"), str):
        return f"facts not collected: {facts['error']}"
    parts = [str(facts.get(key)) for key in ("node", "cpu_model") if facts.get(key)]
    if isinstance(facts.get("cpu_count"), int):
        parts.append(f"{facts['cpu_count']} CPUs")
    if isinstance(facts.get("gpus"), list) and facts["gpus"]:
        parts.append(", ".join(map(str, facts["gpus"])))
    if isinstance(facts.get("cpu_gemm_peak_gflops"), (int, float)):
        parts.append(f"CPU GEMM peak {facts['cpu_gemm_peak_gflops']:.0f} GFLOP/s")
    return "; ".join(parts) or "unknown machine"


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
    """The backend speed-ups are relative to: ``requested``; else, of the backends the run measured, the one
    measured in the most timing cells (the first in the run's order among equals), so that every row has
    its baseline wherever the run allows."""
    if requested:
        return requested
    timed = timed_cells(frame)
    if timed.empty:
        return None
    counts = timed.groupby("backend", sort=False).size()
    return str(max(dict.fromkeys(timed.backend), key=lambda backend: counts[backend]))


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


def checks_table(records: list[Record], timed: set[str]) -> Table | None:
    """Per check suite and backend: how many cells (records) passed, failed or errored, and the worst
    judged error against its tolerance (`harness.conformance.worst_error`, whatever the suite)."""
    from harness.conformance import worst_error

    checks = [record for record in records if record.suite not in timed]
    if not checks:
        return None
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in checks:
        groups.setdefault((record.suite, record.backend), []).append(record)
    rows = []
    for (suite, backend), group in groups.items():
        counts: dict[str, int] = {}
        for record in group:
            counts[record.status] = counts.get(record.status, 0) + 1
        found = [worst for worst in map(worst_error, group) if worst is not None]
        worst = max(found, key=lambda item: item.rel_error / item.rtol) if found else None
        rows.append((suite, backend, ", ".join(f"{count} {status}" for status, count in counts.items()),
                     f"{worst.rel_error:.1e} (rtol {worst.rtol:g}; {worst.where})" if worst else "-"))
    title = "checks: " + ", ".join(dict.fromkeys(record.suite for record in checks)) + " (cells per status; worst error)"
    return Table(title, ("suite", "backend", "cells", "worst error vs tolerance"), tuple(rows), key_columns=2)
