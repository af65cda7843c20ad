"""The conformance kit: does a backend build and compute the canonical model?

`check_backend` runs every check suite (each registered suite that does not measure time: today
``params``, ``shapes``, ``gradients`` and ``training``) for one backend against the contract and the
NumPy reference, on two specs: the article's model, and a wider one without return_sequences. ``bench check NAME`` prints the result; the pytest plugin
(`harness.pytest_plugin`, ``pytest --bench-backend NAME``) gives plugin authors the same checks.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BenchUsageError
from harness.execution.runner import RunRequest, SuitePlan, execute
from harness.execution.worker_manager import WorkerLimits
from harness.model_spec import ModelSpec
from harness.plugins.availability import probe
from harness.plugins.discovery import discover
from harness.results.record import FAILING_STATUSES, PASS, Record
from harness.results.store import RunStore
from harness.suite import SuiteOptions

CHECK_SPECS = (
    ModelSpec(),
    ModelSpec(vocab_size=300, embed_dim=8, hidden=16, seq_len=7, batch_size=5, return_sequences=False),
)


@dataclass
class ConformanceResult:
    """Every record of the check, and the verdict."""

    backend: str
    records: list[Record]
    run_dir: Path | None = None

    @property
    def failures(self) -> list[Record]:
        return [record for record in self.records if record.status in FAILING_STATUSES]

    @property
    def conforms(self) -> bool:
        return not self.failures and any(record.status == PASS for record in self.records)

    def for_suite(self, suite: str) -> list[Record]:
        return [record for record in self.records if record.suite == suite]


def __getattr__(name: str):
    """``CHECK_SUITES`` of lstm-bench 0.1, now derived from the registry (deprecated: use `check_suite_names`)."""
    if name == "CHECK_SUITES":
        import warnings

        warnings.warn("harness.conformance.CHECK_SUITES is deprecated: use harness.api.check_suite_names()",
                      DeprecationWarning, stacklevel=2)
        return tuple(check_suite_names())
    raise AttributeError(f"module 'harness.conformance' has no attribute {name!r}")


def check_suite_names() -> list[str]:
    """The suites ``bench check`` runs: every registered check suite (`harness.plugins.registry.Registry.check_suites`)."""
    return [suite.name for suite in discover().check_suites()]


def check_backend(name: str, *, out_dir: Path | None = None, steps: int = 20, timeout_seconds: float = 600) -> ConformanceResult:
    """Run the conformance suites for backend ``name`` (in its worker process, like any run)."""
    registry = discover()
    info = registry.backend(name)
    availability = probe(info)
    if not availability.available:
        raise BenchUsageError(f"check: {name} is unavailable: {availability.reason}")
    plans = [SuitePlan(suite, list(CHECK_SPECS)) for suite in registry.check_suites()]
    request = RunRequest(plans, [info], SuiteOptions(steps=steps), WorkerLimits(cell_timeout_seconds=timeout_seconds))
    with tempfile.TemporaryDirectory(prefix="lstm-bench-check-") as scratch:
        metadata = {"command_line": ["bench", "check", name],
                    "suites": {plan.suite.name: plan.suite.declaration() for plan in plans}}
        store = RunStore(out_dir or Path(scratch), metadata)
        result = execute(request, store)
        run_dir = store.directory if out_dir else None
    return ConformanceResult(name, result.records, run_dir)


def describe_failures(result: ConformanceResult) -> str:
    """One line per failing record: suite, spec and the message that names the layer or tensor."""
    return "\n".join(
        f"{record.suite} [{ModelSpec(**record.spec).label()}]: {record.message}" for record in result.failures
    )
