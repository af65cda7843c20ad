"""Add-on ``machine``: how much CPU other processes (and the hypervisor) took while a round ran.

The figures (`harness.measurement.machine_state.load_between`) say whether the round was measured on a
quiet machine; `suites.timing_suite` marks a cell ``unstable`` when others used more than
`BUSY_OTHER_CPUS` CPUs or steal exceeded `BUSY_STEAL_CPUS` in any of its rounds, by more CPU-seconds
than the counters can resolve (a short round of 50 ms reads 0.2 CPUs from one 10 ms tick of steal).
"""

from __future__ import annotations

from typing import Any

from harness.addons.base import CellAddon
from harness.measurement.machine_state import Counters, load_between, read_counters
from harness.plugins.hookspecs import hookimpl

BUSY_OTHER_CPUS = 0.5
"""Other processes using more than half a CPU on average during a round make it busy. On an idle 2-core
machine this reads 0.00-0.02 between runs and 0.03-0.3 during a round (the ``bench`` parent polling, the
kernel, counter granularity); one competing single-threaded job reads about 1.0 (docs/methodology.md,
"Busy machines")."""
BUSY_STEAL_CPUS = 0.1
"""Hypervisor steal above a tenth of a CPU during a round makes it busy."""


class MachineLoadAddon(CellAddon):
    """CPU used by other processes and stolen by the hypervisor during the round."""

    name = "machine"
    description = "CPU used by other processes and stolen by the hypervisor during the round"

    def __init__(self) -> None:
        self._before: Counters | None = None
        self._after: Counters | None = None

    def start(self) -> None:
        self._before = read_counters()

    def stop(self) -> None:
        self._after = read_counters()

    def figures(self) -> dict[str, Any]:
        if self._before is None or self._after is None:
            return {}
        return load_between(self._before, self._after)


def busy_reason(figures: dict[str, Any]) -> str | None:
    """Why a round's machine figures make it busy, or None when the machine was quiet.

    A figure counts only when the CPU-seconds beyond its limit exceed the counters' resolution
    (``counter_resolution_seconds``) over the round's ``wall_seconds``: what the counters cannot resolve is
    not evidence of a busy machine."""
    wall = figures.get("wall_seconds")
    resolution = figures.get("counter_resolution_seconds") or 0.0

    def beyond(cpus: float | None, limit: float) -> bool:
        if cpus is None or cpus <= limit:
            return False
        return wall is None or (cpus - limit) * wall > resolution

    others, steal = figures.get("other_processes_cpus"), figures.get("steal_cpus")
    if beyond(others, BUSY_OTHER_CPUS):
        return f"machine busy: other processes used {others:.2f} CPUs (limit {BUSY_OTHER_CPUS})"
    if beyond(steal, BUSY_STEAL_CPUS):
        return f"machine busy: the hypervisor stole {steal:.2f} CPUs (limit {BUSY_STEAL_CPUS})"
    return None


@hookimpl
def bench_register_addons(register):
    """Register the ``machine`` add-on."""
    register(MachineLoadAddon)
