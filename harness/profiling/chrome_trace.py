"""Chrome trace files (the JSON that chrome://tracing and Perfetto open) for backends without a profiler."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable


def intervals_trace(intervals: Iterable[tuple], process: str) -> str:
    """A Chrome trace of named intervals ``(name, start_seconds, end_seconds[, thread])`` as JSON text:
    complete events (``"ph": "X"``) in microseconds, on thread 0 unless one is given."""
    events = [{"name": interval[0], "ph": "X", "ts": interval[1] * 1e6, "dur": (interval[2] - interval[1]) * 1e6,
               "pid": os.getpid(), "tid": interval[3] if len(interval) > 3 else 0, "cat": process}
              for interval in intervals]
    return json.dumps({"traceEvents": events, "displayTimeUnit": "ms"})
