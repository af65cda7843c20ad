"""`Record`: one suite's verdict for one backend and one cell, and the statuses a record can have."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.cell import cell_key

PASS = "pass"
FAIL = "fail"
ERROR = "error"
UNAVAILABLE = "unavailable"
UNSUPPORTED = "unsupported"
SKIPPED = "skipped"
UNSTABLE = "unstable"

STATUSES = (PASS, UNSTABLE, FAIL, ERROR, UNAVAILABLE, UNSUPPORTED, SKIPPED)
"""Every status, in the order summaries list them."""

MEASURED_STATUSES = frozenset({PASS, UNSTABLE})
"""Statuses of a timing cell that has figures: ``unstable`` ones are shown, marked, and never decide a
comparison."""

FAILING_STATUSES = frozenset({FAIL, ERROR})
"""Statuses that make ``bench run`` exit with 1. An unavailable backend that was not asked for by name,
and an optional capability a backend lacks (``unsupported``), are reported, not failed."""


def round_medians(details: Mapping[str, Any]) -> list[float]:
    """A timing cell's round medians, in round order, from its record's fields (a saved JSON row or a
    `Record`'s details); a cell saved before rounds existed (one process) counts as one round."""
    medians = details.get("round_medians_seconds")
    return list(medians) if isinstance(medians, list) and medians else [details["median_seconds"]]


@dataclass
class Record:
    """One result, saved as one JSON line under ``results/<run-id>/records.jsonl``.

    Attributes:
        suite: suite name (``params``).
        backend: backend name (``torch``).
        status: ``pass``, ``unstable`` (a timing cell measured, but its figures may mislead: too few
            rounds or samples, rounds too far apart, or a busy machine; the message says which),
            ``fail``, ``error`` (the backend raised or its worker crashed), ``unavailable``
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

    @property
    def device(self) -> str:
        """The device the cell ran on; suites without devices run on the CPU."""
        return self.details.get("device", "cpu")

    @property
    def target(self) -> str | None:
        """The ``--hosts`` name of the host the cell was sent to; None in an untargeted run."""
        target = self.details.get("target")
        return target if isinstance(target, str) else None

    @property
    def backend_label(self) -> str:
        """The backend as reports name it: ``torch``, or ``torch@alpha`` for a cell sent to host ``alpha``."""
        return f"{self.backend}@{self.target}" if self.target else self.backend

    def cell_key(self) -> tuple:
        """The identity of the cell this record reports (`harness.cell.cell_key`)."""
        return cell_key(self.suite, self.backend, self.device, self.spec, self.target)

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


def labelled_by_host(records: list[Record]) -> list[Record]:
    """The records as a report shows them: a cell a ``--hosts`` run sent to a host has the backend
    ``torch@alpha`` (and no ``target`` left: labelling twice changes nothing), so the same backend on two
    machines is two columns of every table, side by side."""
    from dataclasses import replace

    return [replace(record, backend=record.backend_label,
                    details={key: value for key, value in record.details.items() if key != "target"})
            if record.target else record for record in records]
