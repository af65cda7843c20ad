"""Peak resident memory of this process during a block of code.

On Linux the kernel keeps the peak itself (``VmHWM`` in /proc/self/status) and lets a process reset it
(writing ``5`` to /proc/self/clear_refs), so measuring costs nothing while the code runs: no sampling
thread competes with the timed code for the GIL. Elsewhere a sampling thread reading ``psutil`` is the
fallback.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_PEAK = "5"


def kernel_peak_rss_bytes() -> int | None:
    """``VmHWM``: the process's peak resident memory since start or the last reset; None off Linux."""
    try:
        match = re.search(r"VmHWM:\s+(\d+) kB", STATUS.read_text())
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def current_rss_bytes() -> int:
    """Resident memory now (``VmRSS``; ``psutil`` where /proc is missing, e.g. macOS)."""
    try:
        match = re.search(r"VmRSS:\s+(\d+) kB", STATUS.read_text())
        if match:
            return int(match.group(1)) * 1024
    except OSError:
        pass
    import psutil

    return int(psutil.Process().memory_info().rss)


class PeakRSSSampler:
    """Peak resident memory of this process inside a ``with`` block, as ``peak_bytes``.

    The peak includes everything the process holds (framework, model, batch): what a user of that
    framework pays.
    """

    def __init__(self, interval_seconds: float = 0.005) -> None:
        self.interval_seconds = interval_seconds
        self.peak_bytes = 0
        self._kernel_tracks_peak = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakRSSSampler:
        try:
            CLEAR_REFS.write_text(RESET_PEAK)
            self._kernel_tracks_peak = kernel_peak_rss_bytes() is not None
        except OSError:
            self._kernel_tracks_peak = False
        self.peak_bytes = current_rss_bytes()
        if not self._kernel_tracks_peak:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())
            self._stop.wait(self.interval_seconds)

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        kernel_peak = kernel_peak_rss_bytes() if self._kernel_tracks_peak else None
        self.peak_bytes = max(self.peak_bytes, kernel_peak or 0, current_rss_bytes())
