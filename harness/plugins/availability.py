"""Whether a backend can run here, found without importing its framework."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness.plugins.registry import BackendInfo

NVIDIA_GPUS_DIR = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True)
class Availability:
    """A backend's status from installed-package metadata alone.

    Attributes:
        available: every required distribution is installed.
        reason: why not, in one line with the install command; empty when available.
        versions: installed version of each required distribution.
        devices: ``cpu``, plus ``cuda?`` when an NVIDIA GPU is visible and the backend is not ``cpu_only``
            (``bench list --deep`` asks the framework itself, in a worker, which devices it can really use).
    """

    available: bool
    reason: str
    versions: dict[str, str]
    devices: tuple[str, ...]


def probe(info: BackendInfo) -> Availability:
    """Check ``info.requires`` against installed distributions; reads metadata only (fast)."""
    versions: dict[str, str] = {}
    for distribution in info.requires:
        try:
            versions[distribution] = version(distribution)
        except PackageNotFoundError:
            hint = f": {info.install_hint}" if info.install_hint else ""
            return Availability(False, f"{distribution} is not installed{hint}", versions, ())
    return Availability(True, "", versions, ("cpu", "cuda?") if not info.cpu_only and nvidia_gpu_visible() else ("cpu",))


def nvidia_gpu_visible() -> bool:
    """True when the NVIDIA driver lists at least one GPU."""
    try:
        return any(NVIDIA_GPUS_DIR.iterdir())
    except OSError:
        return False
