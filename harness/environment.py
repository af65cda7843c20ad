"""Environment metadata saved with every run: versions, machine, command line, time, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import harness

FRAMEWORK_DISTRIBUTIONS = ("numpy", "torch", "tensorflow", "keras", "jax", "jaxlib", "pluggy")


def collect(argv: list[str]) -> dict[str, Any]:
    """A JSON-ready description of where and how this run happens."""
    return {
        "lstm_bench_version": harness.__version__,
        "command_line": ["bench", *argv],
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": installed_versions(FRAMEWORK_DISTRIBUTIONS),
        "git_commit": git_commit(Path(harness.__file__).resolve().parent.parent),
    }


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
