"""The conformance kit: does a backend build and compute the canonical model?

`check_backend` runs every check suite (each registered suite that does not measure time: today
``params``, ``shapes``, ``gradients``, ``behaviour``, ``training`` and ``timed-work``) for one backend
against the contract and the NumPy reference, on the kit's specs (`CHECK_SPECS`): the article's model, a
wider one without return_sequences, and a stress spec whose cell states reach ``|c| ~ 5`` and whose
gradient norm is about 3 (``large_states``), over a vocabulary of 9 so every batch repeats tokens, and two
bidirectional layers over right-padded batches; or on the specs and suites a caller gives. ``bench check NAME`` prints the result with each check's worst error
and its margin to the tolerance (`worst_error`); the pytest plugin (`harness.pytest_plugin`, ``pytest
--bench-backend NAME``) gives plugin authors the same checks.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
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
from harness.tolerances import GRADIENT_TOLERANCE, LOSS_TOLERANCE, OUTPUT_TOLERANCE, TRAINING_TOLERANCE, margin

CHECK_SPECS = (
    ModelSpec(),
    ModelSpec(vocab_size=300, embed_dim=8, hidden=16, seq_len=7, batch_size=5, return_sequences=False),
    ModelSpec(vocab_size=9, embed_dim=6, hidden=8, seq_len=12, batch_size=6, large_states=True),
    ModelSpec(vocab_size=30, embed_dim=4, hidden=5, seq_len=6, batch_size=4, layers=2, bidirectional=True,
              padding="right", min_length=2),
)
"""The kit's specs: the article's model; a wider one, last step only; the stress spec (large cell states,
gradient norm above 1, repeated tokens), where ``h = o * c``, clipped gradients or a stale gradient are off
by far more than any tolerance; and a real text classifier's: two bidirectional layers over right-padded
batches of 2 to 6 tokens (a backend that does not build them says so: its cells are ``unsupported``,
naming the options, `harness.contract.refuse_unsupported_options`)."""


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


def check_backend(name: str, *, out_dir: Path | None = None, steps: int = 20, timeout_seconds: float = 600,
                  specs: Sequence[ModelSpec] | None = None, suites: Sequence[str] | None = None,
                  devices: Sequence[str] = ("cpu",)) -> ConformanceResult:
    """Run the conformance suites for backend ``name`` (in its worker process, like any run).

    :param specs: the models to check (default `CHECK_SPECS`).
    :param suites: check suite names (default every registered check suite); a timing suite is refused.
    :param devices: devices for the per-device suites.
    """
    registry = discover()
    try:
        info = registry.backend(name)
    except BenchUsageError as error:
        raise BenchUsageError(_as_check_message(str(error), name)) from None
    availability = probe(info)
    if not availability.available:
        raise BenchUsageError(f"check: {name} is unavailable: {availability.reason}")
    chosen = check_suites(registry, suites)
    plans = [SuitePlan(suite, list(specs or CHECK_SPECS)) for suite in chosen]
    options = SuiteOptions(steps=steps, devices=tuple(devices))
    request = RunRequest(plans, [info], options, WorkerLimits(cell_timeout_seconds=timeout_seconds))
    with tempfile.TemporaryDirectory(prefix="lstm-bench-check-") as scratch:
        metadata = {"command_line": ["bench", "check", name],
                    "suites": {plan.suite.name: plan.suite.declaration() for plan in plans}}
        store = RunStore(out_dir or Path(scratch), metadata)
        result = execute(request, store)
        run_dir = store.directory if out_dir else None
    return ConformanceResult(name, result.records, run_dir)


def _as_check_message(message: str, name: str) -> str:
    """The registry's ``--backend: unknown backend ...``, said for ``bench check``, which takes one backend
    by name (a positional argument, and not ``all``)."""
    message = message.removeprefix("--backend: ").replace(", all)", ")")
    return f"check: {message}" + ("; bench check takes one backend at a time" if name == "all" else "")


def check_suites(registry, names: Sequence[str] | None = None) -> list:
    """The check suites called ``names`` (``checks``: all of them), in run order; every one when None."""
    available = registry.check_suites()
    if not available:
        raise BenchUsageError(f"check: {registry.no_suites_message()}")
    accepted = f"(available: {', '.join(suite.name for suite in available)}, checks)"
    chosen = []
    for suite_name in dict.fromkeys(names or ["checks"]):
        if suite_name == "checks":
            chosen += available
            continue
        if suite_name not in registry.suites:
            raise BenchUsageError(f"check: --suite: unknown check suite {suite_name!r} {accepted}")
        suite = registry.suite(suite_name)
        if suite.measures_time:
            raise BenchUsageError(f"check: --suite {suite_name} measures time; bench check runs check suites {accepted}")
        chosen.append(suite)
    return sorted(dict.fromkeys(chosen), key=lambda suite: (suite.run_order, suite.name))


@dataclass(frozen=True)
class WorstError:
    """A record's largest error relative to its tolerance: which tensor or check, the error, the rtol."""

    where: str
    rel_error: float
    rtol: float

    @property
    def margin(self) -> float | None:
        """How many times smaller than its tolerance the worst error is (None for an exact match)."""
        return margin(self.rel_error, self.rtol)

    def to_json(self) -> dict:
        return {"where": self.where, "rel_error": self.rel_error, "rtol": self.rtol, "margin": self.margin}


def worst_error(record: Record) -> WorstError | None:
    """The worst judged error anywhere in a record's details (see `judged_errors`), by its ratio to its
    tolerance; None for suites judged exactly (counts, shapes)."""
    found = judged_errors(record)
    return max(found, key=lambda worst: worst.rel_error / worst.rtol) if found else None


def judged_errors(record: Record) -> list[WorstError]:
    """Every judged error in a record's details, in order: each dict with an ``rtol`` and a relative error
    (the gradients suite's tensors, the training suite's final errors, the behaviour and timed-work
    checks), normwise where the tolerance is, named by where it sits (``adam(...): lstm.kernel``)."""
    found: list[WorstError] = []

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("rtol"), (int, float)) and value["rtol"] > 0:
                error = value.get("norm_rel_error") if value.get("criterion") == "norm" else value.get(
                    "max_rel_error", value.get("rel_error"))
                if isinstance(error, (int, float)) and math.isfinite(error):
                    where = f"{path}: {value['worst']}" if value.get("worst") else path
                    found.append(WorstError(where, float(error), float(value["rtol"])))
                    return
            for key, item in value.items():
                walk(item, f"{path} {key}".strip() if key not in ("errors", "final_errors", "checks", "closures",
                                                                   "optimizers") else path)

    walk(record.details, "")
    return found


def tolerances() -> dict[str, str]:
    """The documented tolerances the check suites judge by, as ``bench check`` prints them."""
    return {"outputs": OUTPUT_TOLERANCE.describe(), "gradients": GRADIENT_TOLERANCE.describe(),
            "loss": LOSS_TOLERANCE.describe(), "training (each weight's change)": TRAINING_TOLERANCE.describe()}


def describe_failures(result: ConformanceResult) -> str:
    """One line per failing record: suite, spec and the message that names the layer or tensor."""
    return "\n".join(
        f"{record.suite} [{ModelSpec(**record.spec).label()}]: {record.message}" for record in result.failures
    )
