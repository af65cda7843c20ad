"""How busy the machine is: counters read at the edges of a timing round, and facts for run metadata.

During a round, the CPU time the *other* processes used is the machine's busy CPU time (``psutil.cpu_times``:
user, nice, system, irq, softirq) minus what this worker itself used (``psutil.Process().cpu_times``);
``steal`` is CPU time the hypervisor gave to other guests. Both are read before and after the round, so
nothing runs beside the timed code. The load average (``os.getloadavg``) is recorded too, but not judged:
it is a one-minute moving average that includes this worker and lags the round.

The counters advance in clock ticks (``SC_CLK_TCK``, 10 ms on Linux) per CPU, so a difference of two
readings can be off by up to one tick per CPU counter per reading: `counter_resolution_seconds`. A
short round's figures in CPUs are only as good as that resolution divided by its length, which is why
`harness.addons.machine_load.busy_reason` judges the CPU-seconds beyond the limit against it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOVERNOR = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")


@dataclass(frozen=True)
class Counters:
    """Cumulative CPU counters at one instant."""

    wall_seconds: float
    busy_cpu_seconds: float
    steal_cpu_seconds: float
    own_cpu_seconds: float


def read_counters() -> Counters:
    """The machine's and this process's cumulative CPU time now."""
    import psutil

    machine = psutil.cpu_times()
    own = psutil.Process().cpu_times()
    return Counters(
        wall_seconds=time.monotonic(),
        busy_cpu_seconds=sum(getattr(machine, name, 0.0) for name in BUSY_FIELDS),
        steal_cpu_seconds=getattr(machine, "steal", 0.0),
        own_cpu_seconds=own.user + own.system + getattr(own, "children_user", 0.0) + getattr(own, "children_system", 0.0),
    )


def counter_resolution_seconds(cpu_count: int | None = None) -> float:
    """How far the difference of two readings of the CPU counters can be off: a tick for each of the
    machine's per-CPU counters and this process's counter, at each of the two readings."""
    tick = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
    return 2 * ((cpu_count or os.cpu_count() or 1) + 1) * tick


def load_between(before: Counters, after: Counters) -> dict[str, Any]:
    """What the rest of the machine did between two readings, in CPUs (1.0 = one core fully busy)."""
    wall = max(after.wall_seconds - before.wall_seconds, 1e-9)
    cpu_count = os.cpu_count() or 1
    others = (after.busy_cpu_seconds - before.busy_cpu_seconds) - (after.own_cpu_seconds - before.own_cpu_seconds)
    return {
        "wall_seconds": wall,
        "cpu_count": cpu_count,
        "counter_resolution_seconds": counter_resolution_seconds(cpu_count),
        "other_processes_cpus": max(others, 0.0) / wall,
        "steal_cpus": max(after.steal_cpu_seconds - before.steal_cpu_seconds, 0.0) / wall,
        "own_cpus": (after.own_cpu_seconds - before.own_cpu_seconds) / wall,
        "load_average_1min": _load_average(),
    }


def machine_facts() -> dict[str, Any]:
    """The machine's state for a run's metadata: load, CPU frequency and governor where readable, memory."""
    import psutil

    frequency = psutil.cpu_freq() if hasattr(psutil, "cpu_freq") else None
    memory = psutil.virtual_memory()
    return {
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cpu_count": os.cpu_count(),
        "cpu_frequency_mhz": round(frequency.current, 1) if frequency and frequency.current else None,
        "cpu_frequency_max_mhz": round(frequency.max, 1) if frequency and frequency.max else None,
        "cpu_governor": _read(GOVERNOR),
        "memory_total_bytes": memory.total,
        "memory_available_bytes": memory.available,
        "cpu_busy_fraction": psutil.cpu_percent(interval=0.2) / 100,
    }


def _load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
