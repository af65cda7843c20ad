"""Peak resident memory of this process during a block of code, sampled from /proc."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
STATM = Path("/proc/self/statm")


def current_rss_bytes() -> int:
    """Resident set size now (Linux /proc), or the lifetime peak where /proc is missing."""
    try:
        return int(STATM.read_text().split()[1]) * PAGE_BYTES
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSSSampler:
    """Samples this process's RSS every ``interval_seconds`` on a thread; ``peak_bytes`` is the maximum.

    Use as a context manager around the code to measure; the peak includes everything the process
    holds (framework, model, batch), which is what a user of that framework pays.
    """

    def __init__(self, interval_seconds: float = 0.002) -> None:
        self.interval_seconds = interval_seconds
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())
            self._stop.wait(self.interval_seconds)

    def __enter__(self) -> PeakRSSSampler:
        self.peak_bytes = current_rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, current_rss_bytes())
