"""Plots with matplotlib: one figure per timing suite and device, saved as PNG and SVG.

Each figure has four panels against hidden size, one line per backend: median time (log-log, error
bars from the 95% CI over rounds), throughput (samples/s), % of the device's GEMM peak, and peak
memory (on the CPU the worker's resident memory, framework included; on a GPU the device allocator's). matplotlib is imported here only, with the non-interactive Agg backend.
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


def timing_figures(frame) -> list[Figure]:
    """A figure per (timing suite, device) with measured cells; none when nothing was timed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    timed = timed_cells(frame)
    figures = []
    series_fields = list(ModelSpec.series_fields())
    shown = varying_fields(timed.to_dict("records"), series_fields)
    for key, group in timed.groupby(["suite", "device", *series_fields], sort=False, dropna=False):
        suite, device, series = key[0], key[1], dict(zip(series_fields, key[2:]))
        apart = " ".join(f"{ModelSpec.short_name(name)}={series[name]}" for name in shown)
        figure, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
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
            if log_y:
                axis.set_yscale("log")
                axis.yaxis.set_major_formatter(ScalarFormatter())
            axis.set_xlabel("hidden units")
            axis.set_ylabel(label)
            axis.grid(True, which="both", alpha=0.3)
            axis.legend()
        title = f"{suite} on {device}" + (f" ({apart})" if apart else "")
        figure.suptitle(title)
        name = f"{suite}-{device}" + ("-" + "-".join(f"{name}{series[name]}" for name in shown) if shown else "")
        figures.append(Figure(name, title, _render(figure, "png"), _render(figure, "svg")))
        plt.close(figure)
    return figures


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
