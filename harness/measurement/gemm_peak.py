"""The device's float32 GEMM throughput, measured once per run: the denominator of "% of peak"."""

from __future__ import annotations

import time
from collections.abc import Callable

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
