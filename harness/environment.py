"""Environment metadata saved with every run: versions, machine, command line, time, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import harness
from harness.plugins.registry import BackendInfo

CORE_DISTRIBUTIONS = ("numpy", "pluggy")
"""What lstm-bench itself computes and loads plugins with; each backend's own distributions are added."""


def collect(argv: list[str], backends: Iterable[BackendInfo] = ()) -> dict[str, Any]:
    """A JSON-ready description of where and how this run happens.

    :param backends: the registered backends; the version of every distribution any of them requires is
        recorded (installed or not), so a new backend's framework is recorded without a list to edit.
    """
    distributions = (*CORE_DISTRIBUTIONS, *(name for info in backends for name in info.requires))
    return {
        "lstm_bench_version": harness.__version__,
        "command_line": ["bench", *argv],
        "started_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": installed_versions(tuple(dict.fromkeys(distributions))),
        "git_commit": git_commit(Path(harness.__file__).resolve().parent.parent),
    }


def host_facts(distributions: tuple[str, ...], threads: int | None = None, gemm_peak: bool = False) -> dict[str, Any]:
    """What one machine is, collected on it (a Dask worker's host for ``bench run --cluster``): its name,
    CPU, memory, OS, GPUs (``nvidia-smi``), Python and the versions of ``distributions``; with
    ``gemm_peak``, the CPU's float32 GEMM peak measured there at ``threads`` (cached per machine,
    `harness.measurement.gemm_peak.machine_peak`)."""
    import psutil

    facts: dict[str, Any] = {
        "node": platform.node(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "gpus": gpu_names(),
        "python": platform.python_version(),
        "packages": installed_versions(tuple(dict.fromkeys((*CORE_DISTRIBUTIONS, *distributions)))),
        "threads": threads,
    }
    if gemm_peak:
        import numpy as np

        from harness.measurement.gemm_peak import cpu_sgemm_gflops, machine_peak

        peak = machine_peak("cpu", threads, lambda: cpu_sgemm_gflops(threads), measured_by=f"numpy {np.__version__}")
        facts["cpu_gemm_peak_gflops"] = peak["gflops"] if peak else None
    return facts


def gpu_names() -> list[str]:
    """The NVIDIA GPUs ``nvidia-smi`` lists (name and memory), empty without one."""
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()] if listed.returncode == 0 else []


def installed_versions(distributions: tuple[str, ...]) -> dict[str, str | None]:
    """Each distribution's installed version, None when it is not installed."""
    versions: dict[str, str | None] = {}
    for distribution in distributions:
        try:
            versions[distribution] = version(distribution)
        except PackageNotFoundError:
            versions[distribution] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit(directory: Path) -> str | None:
    """The commit checked out in ``directory``'s repository, with ``+dirty`` for local changes; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")
