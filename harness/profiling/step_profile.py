"""`StepProfile`: where one profiled step's time goes, as a backend reports it and a record keeps it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.profiling.categories import CATEGORIES

TOP_OPS = 10
"""How many ops, by self time, a profile keeps by name."""


@dataclass
class StepProfile:
    """One cell's profile, per step (the profiled steps' mean).

    Attributes:
        calls: how many steps ran under the profiler.
        step_seconds: wall time per profiled step (the profiler's own overhead included).
        categories: seconds per step in each of `CATEGORIES` (``host`` is the wall time outside every op).
        top_ops: the ops with the most self time per step: ``{"op", "seconds", "category"}``.
        kernel_path: the LSTM implementation that ran, read from the trace (None: the trace does not say).
        profiler: which profiler measured it, e.g. ``torch.profiler``.
        trace: the Chrome trace (JSON text) while in transit from the worker; the run keeps it as a file and
            says which in ``trace_file``.
        note: what the profile could not see, where the profiler missed part of the step (shown with it).
    """

    calls: int
    step_seconds: float
    categories: dict[str, float]
    top_ops: list[dict[str, Any]]
    kernel_path: str | None
    profiler: str
    trace: str | None = field(default=None, repr=False)
    trace_file: str | None = None
    note: str | None = None

    @classmethod
    def from_ops(cls, ops: Iterable[tuple[str, float, str | None]], *, calls: int, wall_seconds: float,
                 kernel_path: str | None, profiler: str, trace: str | None = None) -> StepProfile:
        """A profile from every op's self time over ``calls`` steps (``(name, seconds, category or None)``);
        an op without a category counts as ``other``; the wall time outside the ops is ``host``."""
        categories = dict.fromkeys(CATEGORIES, 0.0)
        by_op: dict[str, list] = {}
        for name, seconds, category in ops:
            category = category or "other"
            categories[category] += seconds / calls
            entry = by_op.setdefault(name, [0.0, category])
            entry[0] += seconds / calls
        step = wall_seconds / calls
        categories["host"] = max(step - sum(categories.values()), 0.0)
        top = sorted(by_op.items(), key=lambda item: -item[1][0])[:TOP_OPS]
        return cls(calls, step, categories,
                   [{"op": name, "seconds": seconds, "category": category} for name, (seconds, category) in top],
                   kernel_path, profiler, trace)

    @classmethod
    def from_wall_attribution(cls, totals: dict[str, float], *, calls: int, wall_seconds: float,
                              top_ops: list[dict[str, Any]], kernel_path: str | None, profiler: str,
                              trace: str | None = None) -> StepProfile:
        """A profile from wall time already attributed to categories over ``calls`` steps
        (`harness.profiling.timeline.attribute_wall_time`); ``top_ops`` as `from_ops` keeps them."""
        categories = {name: totals.get(name, 0.0) / calls for name in CATEGORIES}
        return cls(calls, wall_seconds / calls, categories, top_ops[:TOP_OPS], kernel_path, profiler, trace)

    @property
    def coverage(self) -> float:
        """The share of the step the categories place (everything but ``other``)."""
        return 1.0 - self.categories.get("other", 0.0) / self.step_seconds if self.step_seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        """The profile for a record, without the trace's text."""
        document = {key: value for key, value in asdict(self).items() if key != "trace"}
        document["coverage"] = self.coverage
        return document
