"""What the parent (`harness.execution.worker_manager`) and the child (`harness.execution.worker`) exchange.

All files live in one job directory; each is written to a temporary name and renamed, so neither side
ever reads half a file:

- ``job.pkl`` (from the parent): ``{"backend": name, "cells": [Cell, ...]}``.
- ``hello.pkl`` (from the worker): a `WorkerHello` once the backend is loaded (or failed to load).
- ``result-00000.pkl``, ``result-00001.pkl``... (from the worker): one `CellOutcome` per cell, in order,
  as each finishes.

Only names, specs and options cross the boundary on the way in: the worker discovers plugins itself and
finds the backend and the suites by name.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOB_FILE = "job.pkl"
HELLO_FILE = "hello.pkl"
STDERR_FILE = "stderr.log"


def result_file(index: int) -> str:
    """File name of the outcome of cell ``index``."""
    return f"result-{index:05d}.pkl"


@dataclass
class WorkerHello:
    """What the worker says once its backend is loaded: the framework's own version, devices and threads,
    its resident memory right after loading the framework (the framework's import cost, before any model),
    and the machine it runs on (facts are taken where the cells run)."""

    framework_version: str = ""
    devices: list[str] = field(default_factory=list)
    pid: int = 0
    threads: int | None = None
    error: str | None = None
    import_rss_bytes: int | None = None
    machine: dict[str, Any] = field(default_factory=dict)


@dataclass
class CellOutcome:
    """The result of one cell: a measurement, or an error in one line plus its traceback; ``ran`` is when
    the worker ran it (Unix seconds, start and end, by the clock of the machine it ran on), ``host`` where
    (``{"host": ...}``, and the Dask worker on a cluster), set by the executor."""

    value: Any = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    host: dict[str, Any] | None = None
    ran: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def write_atomically(path: Path, value: Any) -> None:
    """Pickle ``value`` to ``path`` through a temporary file and a rename."""
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(value, handle)
    os.replace(temporary, path)


def read(path: Path) -> Any:
    """Unpickle a file written by `write_atomically`."""
    with open(path, "rb") as handle:
        return pickle.load(handle)
