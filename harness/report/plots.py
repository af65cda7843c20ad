"""Plots with matplotlib: one figure per timing suite and device, saved as PNG and SVG.

A timing figure has four panels against hidden size, one line per backend: median time (log-log, error
bars from the 95% CI over rounds), throughput (samples/s), % of the device's GEMM peak, and peak
memory (on the CPU the worker's resident memory, framework included; on a GPU the device allocator's).
A training figure shows, per optimizer, every backend's loss per step against the reference and the
worst weight's error per step against the tolerance. Log axes are labelled in plain numbers; the legend
sits below the panels. matplotlib is imported here only, with the non-interactive Agg backend.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.model_spec import ModelSpec, varying_fields
from harness.report.tables import timed_cells
from harness.results.store import write_file_atomically


@dataclass(frozen=True)
class Figure:
    """One rendered figure: a file stem, a title, and its PNG and SVG bytes."""

    stem: str
    title: str
    png: bytes
    svg: bytes


def report_figures(report) -> list[Figure]:
    """Every figure of a report (`harness.report.sections.RunReport`): timing, then training trajectories."""
    return timing_figures(report.frame) + profile_figures(report.records) + training_figures(report.records)


def timing_figures(frame) -> list[Figure]:
    """A figure per (timing suite, device) with measured cells; none when nothing was timed."""
    plt = _pyplot()
    timed = timed_cells(frame)
    figures = []
    series_fields = list(ModelSpec.series_fields())
    shown = varying_fields(timed.to_dict("records"), series_fields)
    for key, group in timed.groupby(["suite", "device", *series_fields], sort=False, dropna=False):
        suite, device, series = key[0], key[1], dict(zip(series_fields, key[2:]))
        apart = " ".join(f"{ModelSpec.short_name(name)}={series[name]}" for name in shown)
        figure, axes = plt.subplots(2, 2, figsize=(11, 8), layout="constrained")
        for backend, cells in group.groupby("backend", sort=False):
            cells = cells.sort_values("hidden")
            hidden = cells.hidden.to_numpy()
            median_ms = cells.median_seconds.to_numpy() * 1e3
            errors = np.clip([median_ms - cells.ci95_low_seconds.to_numpy() * 1e3,
                              cells.ci95_high_seconds.to_numpy() * 1e3 - median_ms], 0, None)
            axes[0, 0].errorbar(hidden, median_ms, yerr=errors, marker="o", capsize=3, label=backend)
            axes[0, 1].plot(hidden, cells.samples_per_second, marker="o", label=backend)
            axes[1, 0].plot(hidden, 100 * cells.fraction_of_peak.astype(float), marker="o", label=backend)
            axes[1, 1].plot(hidden, cells.peak_memory_bytes.astype(float) / 2**20, marker="o", label=backend)
        panels = (
            (axes[0, 0], "median time per step (ms), 95% CI over rounds", True),
            (axes[0, 1], "throughput (samples/s)", False),
            (axes[1, 0], "% of GEMM peak", False),
            (axes[1, 1], "peak memory (MiB): worker RSS with framework" if device == "cpu"
             else "peak memory (MiB): device allocated", False),
        )
        hiddens = sorted(set(group.hidden))
        for axis, label, log_y in panels:
            axis.set_xscale("log", base=2)
            axis.set_xticks(hiddens, [str(hidden) for hidden in hiddens])
            axis.xaxis.set_minor_formatter(_null_formatter())
            if log_y:
                _plain_log_axis(axis.yaxis)
            axis.set_xlabel("hidden units")
            axis.set_ylabel(label)
            axis.grid(True, which="both", alpha=0.3)
        _legend_below(figure, axes[0, 0])
        name = f"{suite}-{device}" + ("-" + "-".join(f"{name}{series[name]}" for name in shown) if shown else "")
        figures.append(_finished(plt, figure, name, f"{suite} on {device}" + (f" ({apart})" if apart else "")))
    return figures


def profile_figures(records) -> list[Figure]:
    """Per timing suite and device with profiled cells (``bench run --profile``): one bar per backend and
    size, its profiled step split into the categories of `harness.profiling.categories.CATEGORIES` as shares
    (100%), the step's length in ms beside it."""
    from harness.profiling.categories import CATEGORIES

    plt = _pyplot()
    groups: dict[tuple[str, str], list] = {}
    for record in records:
        if "categories" in (record.details.get("profile") or {}):
            groups.setdefault((record.suite, record.details.get("device", "cpu")), []).append(record)
    figures = []
    for (suite, device), members in groups.items():
        members = sorted(members, key=lambda record: (record.spec["hidden"], record.backend))
        labels = [f"{record.backend}, hidden {record.spec['hidden']}" for record in members]
        figure, axis = plt.subplots(figsize=(11, 0.5 * len(members) + 2), layout="constrained")
        steps = np.array([record.details["profile"]["step_seconds"] * 1e3 for record in members])
        left = np.zeros(len(members))
        for category in CATEGORIES:
            shares = np.array([record.details["profile"]["categories"].get(category, 0.0) * 1e3 for record in members])
            shares = 100 * shares / steps
            if shares.any():
                axis.barh(labels, shares, left=left, label=category)
                left += shares
        for row, step in enumerate(steps):
            axis.text(101, row, f"{step:,.1f} ms", va="center")
        axis.set_xlim(0, 115)
        axis.invert_yaxis()
        axis.set_xlabel("share of the profiled step (%); its length in ms at the right")
        axis.grid(True, axis="x", alpha=0.3)
        _legend_below(figure, axis)
        figures.append(_finished(plt, figure, f"profile-{suite}-{device}",
                                 f"{suite} on {device}: where the time goes (profiled steps)"))
    return figures


def training_figures(records) -> list[Figure]:
    """Per training spec and device: for each optimizer, the loss at every step of every backend against
    the reference, and the worst weight's error at every step against the tolerance (records saved before
    the per-step errors were kept plot the loss only)."""
    plt = _pyplot()
    groups: dict[tuple, list] = {}
    for record in records:
        if record.suite == "training" and isinstance(record.details.get("optimizers"), dict):
            groups.setdefault((ModelSpec(**record.spec).label(), record.device), []).append(record)
    figures = []
    for (label, device), members in groups.items():
        optimizers = list(dict.fromkeys(name for record in members for name in record.details["optimizers"]))
        figure, axes = plt.subplots(len(optimizers), 2, figsize=(11, 3.6 * len(optimizers)), layout="constrained",
                                    squeeze=False)
        for row, optimizer in enumerate(optimizers):
            loss_axis, error_axis = axes[row]
            reference = None
            for record in members:
                run = record.details["optimizers"].get(optimizer)
                if not isinstance(run, dict) or not run.get("losses"):
                    continue
                steps = np.arange(1, len(run["losses"]) + 1)
                if reference is None and run.get("reference_losses"):
                    reference = (steps, run["reference_losses"])
                loss_axis.plot(steps, run["losses"], marker=".", label=f"{record.backend} ({record.status})")
                worst = run.get("worst_weight_errors")
                if isinstance(worst, list) and worst:
                    error_axis.plot(steps[:len(worst)], [max(item["norm_rel_error"], 1e-17) for item in worst],
                                    marker=".", label=record.backend)
                    error_axis.axhline(worst[0]["rtol"], color="red", linestyle=":", linewidth=1.5)
            if reference is not None:  # drawn last, dashed, so that backends on top of it still show it
                loss_axis.plot(*reference, color="black", linestyle="--", linewidth=1.2, zorder=5,
                               label="NumPy float64 reference")
            short = optimizer.split("(")[0]
            loss_axis.set_title(f"{short}: loss per step")
            loss_axis.set_xlabel("step")
            loss_axis.set_ylabel("binary cross-entropy")
            error_axis.set_title(f"{short}: worst weight's error (red: tolerance)")
            error_axis.set_xlabel("step")
            error_axis.set_ylabel("relative error, normwise")
            error_axis.set_yscale("log")
            for axis in (loss_axis, error_axis):
                axis.grid(True, which="both", alpha=0.3)
            if row == 0:
                _legend_below(figure, loss_axis)
        figures.append(_finished(plt, figure, f"training-{device}-{label}",
                                 f"training trajectories on {device} ({label}; {'; '.join(optimizers)})"))
    return figures


def history_figure(histories, by: str) -> Figure:
    """One panel per (timing suite, device): every followed cell's median per run (95% CI over rounds),
    runs oldest first named ``by``, a red ▲ where it got significantly slower and a green ▼ where faster."""
    from harness.report.history import by_suite_and_device, run_order

    plt = _pyplot()
    groups = by_suite_and_device(histories)
    figure, axes = plt.subplots(len(groups), 1, figsize=(11, 4.2 * len(groups)), layout="constrained", squeeze=False)
    for axis, ((suite, device), members) in zip(axes[:, 0], groups.items()):
        run_ids = run_order(members)
        position = {run_id: index for index, run_id in enumerate(run_ids)}
        names = {point.run_id: point.name(by) for history in members for point in history.points}
        for history in members:
            x = [position[point.run_id] for point in history.points]
            y = [point.median_seconds * 1e3 for point in history.points]
            low = [value - point.row.get("ci95_low_seconds", point.median_seconds) * 1e3 for value, point in zip(y, history.points)]
            high = [point.row.get("ci95_high_seconds", point.median_seconds) * 1e3 - value for value, point in zip(y, history.points)]
            axis.errorbar(x, y, yerr=np.clip([low, high], 0, None), marker="o", capsize=3,
                                 label=f"{history.backend} hidden {history.spec['hidden']}")
            for index, step in enumerate(history.steps):
                if step.verdict in ("slower", "faster"):
                    axis.plot(x[index], y[index], marker="^" if step.verdict == "slower" else "v", markersize=14,
                              color="red" if step.verdict == "slower" else "green", zorder=5, linestyle="none")
        axis.set_yscale("log")
        _plain_log_axis(axis.yaxis)
        axis.set_xticks(range(len(run_ids)), [names[run_id] for run_id in run_ids], rotation=30, ha="right")
        axis.set_ylabel("median time per step (ms)")
        axis.set_title(f"{suite} on {device}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    return _finished(plt, figure, f"history-{by}",
                     f"history by {by}: red ▲ significantly slower, green ▼ faster than the run before")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_log_axis(axis) -> None:
    """A log axis labelled 1, 2, 5, 10, 20 ... in plain numbers (no 4x10^0), minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(_null_formatter())


def _null_formatter():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def _legend_below(figure, axis) -> None:
    """One legend for the whole figure, below the panels, so that it never covers a line."""
    handles, labels = axis.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), frameon=False)


def _finished(plt, figure, stem: str, title: str) -> Figure:
    """``figure`` titled, rendered as PNG and SVG, and closed."""
    figure.suptitle(title)
    finished = Figure(stem, title, _render(figure, "png"), _render(figure, "svg"))
    plt.close(figure)
    return finished


def _render(figure, image_format: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, dpi=100)
    return buffer.getvalue()


def write_figures(figures: list[Figure], directory: Path) -> list[Path]:
    """Save every figure as ``<stem>.png`` and ``<stem>.svg`` in ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for figure in figures:
        for suffix, content in (("png", figure.png), ("svg", figure.svg)):
            path = directory / f"{safe_file_stem(figure.stem)}.{suffix}"
            write_file_atomically(path, content)
            paths.append(path)
    return paths


def safe_file_stem(stem: str) -> str:
    """A file name made of a figure's stem (built from record fields: suite, device, spec values) that stays
    inside its directory: letters, digits, ``.=_-`` only, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9.=_-]+", "_", stem).lstrip(".") or "figure"
    return cleaned[:120]
