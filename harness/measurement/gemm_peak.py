"""The device's float32 GEMM throughput, calibrated once per machine and cached: the denominator of
"% of peak". Measured in the worker, where the cell runs (`machine_peak`)."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

CPU_GEMM_SIZE = 2048
GPU_GEMM_SIZE = 8192


def best_gflops(run_once: Callable[[], object], flops: int, repeats: int = 10, warmup: int = 3) -> float:
    """The best GFLOP/s of ``repeats`` timed calls (``run_once`` must synchronise); best, not median,
    because a peak is what the hardware *can* do."""
    for _ in range(warmup):
        run_once()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run_once()
        best = min(best, time.perf_counter() - started)
    return flops / best / 1e9


def cpu_sgemm_gflops(threads: int | None, size: int = CPU_GEMM_SIZE) -> float:
    """NumPy float32 ``size x size`` matrix product at ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    with threadpool_limits(threads):
        return best_gflops(lambda: a @ b, 2 * size**3)


CACHE_DIR_ENV = "LSTM_BENCH_CACHE_DIR"
"""Where per-machine calibrations are kept (default ``$XDG_CACHE_HOME/lstm-bench``, else ``~/.cache/lstm-bench``)."""
CACHE_FILE = "gemm-peak.json"


def cache_directory() -> Path:
    """The directory of lstm-bench's per-machine cache."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lstm-bench"


def machine_peak(device: str, threads: int | None, measure: Callable[[], float | None], *, measured_by: str) -> dict | None:
    """The GEMM peak of ``device`` on this machine, calibrated once and cached with its date.

    The same machine, device, thread count and measuring library give the same denominator in every run,
    so two runs' "% of peak" can be compared. The key names the host, the CPU model and count, the device,
    the threads and ``measured_by`` (e.g. ``numpy 2.4.6`` or ``torch 2.13.0+cu126``); delete the cache file
    to calibrate again.

    :returns: ``{"gflops", "calibrated_at", "key", "cached"}``, or None when ``measure`` gives None.
    """
    from harness.environment import cpu_model

    key = f"{platform.node()}|{cpu_model()}|{os.cpu_count()} cpus|{device}|threads={threads}|{measured_by}"
    path = cache_directory() / CACHE_FILE
    entries = _read_cache(path)
    if isinstance(entries.get(key), dict) and isinstance(entries[key].get("gflops"), (int, float)):
        return {**entries[key], "key": key, "cached": True}
    gflops = measure()
    if gflops is None:
        return None
    entry = {"gflops": float(gflops), "calibrated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _write_cache(path, {**_read_cache(path), key: entry})
    return {**entry, "key": key, "cached": False}


def _read_cache(path: Path) -> dict:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _write_cache(path: Path, entries: dict) -> None:
    """Write through a temporary file and a rename; a cache that cannot be written is not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass
