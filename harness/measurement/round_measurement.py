"""`RoundMeasurement`: what one round of one timing cell measured in its worker, as the parent receives it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RoundMeasurement:
    """One round of a timing cell, measured in a fresh worker process.

    Attributes:
        first_step_seconds: the round's first (cold: tracing, compiling, allocating) step.
        samples_seconds: the timed steps after warm-up, in order.
        peak_device_bytes: the device allocator's peak during the round (GPU cells), else None.
        device_peak: the device's GEMM peak (`harness.measurement.gemm_peak.machine_peak`), or None.
        addons: each add-on's figures by its name (`harness.addons.base.CellAddon`).
        verified: what verifying the timed closure against the reference found (`suites.timed_work.Verified`
            as JSON: the worst error and its margin), in the round that checked it (the first); else None.
        kernel_path: which LSTM kernel the timed model runs, as its framework tells
            (`harness.contract.ClassifierModel.kernel_path`), or None where the backend does not say.
        profile: with ``--profile``, the first round's `harness.profiling.step_profile.StepProfile` as JSON
            (``{"error": ...}`` when profiling failed; None: not asked, or the backend is not profiled).
        trace: the profile's Chrome trace, on its way from the worker to the run directory (never saved in
            ``rounds.jsonl``; the profile's ``trace_file`` names the file).
    """

    first_step_seconds: float
    samples_seconds: list[float]
    peak_device_bytes: int | None = None
    device_peak: dict[str, Any] | None = None
    addons: dict[str, dict[str, Any]] = field(default_factory=dict)
    verified: dict[str, Any] | None = None
    kernel_path: str | None = None
    profile: dict[str, Any] | None = None
    trace: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key != "trace"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoundMeasurement:
        """A round saved by `to_json` (``rounds.jsonl``); `ValueError` for one that cannot be a measurement
        (no samples, a sample that is not a positive finite number, a mistyped field): it is measured again."""
        if not isinstance(data, dict):
            raise ValueError("a round is an object")  # noqa: TRY004 - every unreadable round is one ValueError
        samples = [_seconds(value) for value in data["samples_seconds"]]
        if not samples:
            raise ValueError("a round without samples")
        optional = {"peak_device_bytes": (int, float), "device_peak": dict, "addons": dict, "verified": dict,
                    "kernel_path": str, "profile": dict}
        for name, kind in optional.items():
            if data.get(name) is not None and (isinstance(data[name], bool) or not isinstance(data[name], kind)):
                raise ValueError(f"{name} is mistyped")
        return cls(
            first_step_seconds=_seconds(data["first_step_seconds"]),
            samples_seconds=samples,
            peak_device_bytes=data.get("peak_device_bytes"),
            device_peak=data.get("device_peak"),
            addons=dict(data.get("addons") or {}),
            verified=data.get("verified"),
            kernel_path=data.get("kernel_path"),
            profile=data.get("profile"),
        )


def _seconds(value: Any) -> float:
    """A duration read back from JSON: a positive finite number, else `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number of seconds")  # noqa: TRY004 - as above
    seconds = float(value)
    if not (0 < seconds < math.inf):
        raise ValueError(f"{value!r} is not a positive finite number of seconds")
    return seconds
