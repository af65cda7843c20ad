"""`Record`: one suite's verdict for one backend and one spec; `Table`: what a suite prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
FAIL = "fail"
ERROR = "error"
UNAVAILABLE = "unavailable"
UNSUPPORTED = "unsupported"
SKIPPED = "skipped"

FAILING_STATUSES = frozenset({FAIL, ERROR})
"""Statuses that make ``bench run`` exit with 1. An unavailable backend that was not asked for by name,
and an optional capability a backend lacks (``unsupported``), are reported, not failed."""


@dataclass
class Record:
    """One result, saved as one JSON line under ``results/<run-id>/records.jsonl``.

    Attributes:
        suite: suite name (``params``).
        backend: backend name (``torch``).
        status: ``pass``, ``fail``, ``error`` (the backend raised or its worker crashed), ``unavailable``
            (its framework is not installed), ``unsupported`` (it lacks an optional capability) or
            ``skipped`` (e.g. a timing cell for a device the backend does not have, with the reason).
        spec: the `ModelSpec` fields this record is about.
        message: one line saying why, empty when it passed.
        details: suite-specific fields (``total_params``, ``layers``...), merged into the JSON record.
    """

    suite: str
    backend: str
    status: str
    spec: dict[str, Any]
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record as a flat JSON-ready dict: the fixed fields, then ``details``."""
        return {
            "suite": self.suite,
            "backend": self.backend,
            "status": self.status,
            "message": self.message,
            "spec": self.spec,
            **self.details,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """Rebuild a record saved by `to_json`."""
        fixed = {"suite", "backend", "status", "message", "spec"}
        return cls(
            suite=data["suite"],
            backend=data["backend"],
            status=data["status"],
            spec=data["spec"],
            message=data.get("message", ""),
            details={key: value for key, value in data.items() if key not in fixed},
        )


@dataclass(frozen=True)
class Table:
    """A titled table, rendered with tabulate as text, markdown, or embedded in JSON."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    align: tuple[str, ...] | None = None
    """Per-column ``left``/``right``/``center``; default: everything left-aligned."""
