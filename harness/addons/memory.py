"""Add-on ``memory``: what a cell costs in resident memory, apart from what the worker already held.

``peak_rss_bytes`` is the worker's peak during the round (framework, model, batch, step: what a user of
that framework pays); ``start_rss_bytes`` is what the worker held when the cell began (the framework's
import cost, plus anything earlier cells of the round left allocated); ``cell_memory_bytes`` is the
difference: what building this model and running its step added. The framework's import cost alone is the
worker's ``import_rss_bytes`` in its hello (`harness.execution.protocol.WorkerHello`).
"""

from __future__ import annotations

from typing import Any

from harness.addons.base import CellAddon
from harness.measurement.memory import PeakRSSSampler, current_rss_bytes
from harness.plugins.hookspecs import hookimpl


class MemoryAddon(CellAddon):
    """Peak resident memory of the worker during the round, and how much of it the cell added."""

    name = "memory"
    description = "peak resident memory of the worker, and what the cell added to it"

    def __init__(self) -> None:
        self._sampler = PeakRSSSampler()
        self._start_bytes = 0

    def start(self) -> None:
        self._start_bytes = current_rss_bytes()
        self._sampler.__enter__()

    def stop(self) -> None:
        self._sampler.__exit__(None, None, None)

    def figures(self) -> dict[str, Any]:
        peak = self._sampler.peak_bytes
        return {
            "start_rss_bytes": self._start_bytes,
            "peak_rss_bytes": peak,
            "cell_memory_bytes": max(peak - self._start_bytes, 0),
        }


@hookimpl
def bench_register_addons(register):
    """Register the ``memory`` add-on."""
    register(MemoryAddon)
