"""What the timing suites ``train`` and ``infer`` share: cells per device, rounds, the timing loop, the figures.

Each cell is measured in several rounds (`harness.measurement.timer.TimingBudget.rounds`), each in a
fresh worker process. A round builds the model on its device, prepares the batch there (outside the
timed region), and times one step with `harness.measurement.timer.time_step`, inside every registered
add-on (`harness.addons`: memory, machine load). The judge pools the rounds into the figures a reviewer
asks for, with an interval over rounds (`harness.measurement.statistics`), and marks the cell
``unstable`` when the figures cannot be trusted. The raw samples stay in the record with their round.
See docs/methodology.md.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from harness.addons.base import collect_figures, running
from harness.addons.machine_load import busy_reason
from harness.addons.registered import registered_addons
from harness.contract import Backend, ClassifierModel, UnsupportedCapability
from harness.measurement.gemm_peak import cpu_sgemm_gflops, machine_peak
from harness.measurement.round_measurement import RoundMeasurement
from harness.measurement.scaling import crossovers, fit_power_law
from harness.measurement.statistics import between_round_spread, cell_interval, ratio_of_cells, summarize
from harness.measurement.timer import MIN_ROUNDS, MIN_SAMPLES_PER_ROUND, time_step
from harness.model_spec import ModelSpec, varying_fields
from harness.profiling.step_profile import StepProfile
from harness.rendering import Table
from harness.results.record import FAIL, MEASURED_STATUSES, PASS, UNSTABLE, Record, round_medians
from harness.suite import NotRun, Suite, SuiteOptions
from suites.profile_tables import gap_table, profile_cell, profile_table
from suites.structure_costs import option_cost_table
from suites.timed_work import InferenceWork, TimedWorkMismatch, TrainWork

TIMING_DEFAULT_SPEC = ModelSpec(vocab_size=20000, embed_dim=128, hidden=32, seq_len=100, batch_size=64)
"""A realistic text classifier: 20k-word vocabulary, 128-wide embeddings, 100-token reviews, batch 64."""
TIMING_DEFAULT_HIDDEN = (32, 64, 128, 256, 512, 1024)
QUICK_SPEC = ModelSpec(vocab_size=2000, embed_dim=32, hidden=32, seq_len=20, batch_size=16)
QUICK_HIDDEN = (32, 64, 128)

MAX_BETWEEN_ROUND_SPREAD = 0.5
"""Round medians about 50% apart or more (standard deviation of their logarithms) make a cell unstable. On
a quiet 2-core machine the spread of ``--quick`` cells was 11-32% (median 18%) over 8 rounds: that much is
this machine's normal process-to-process variation, and it is already in the interval; 50% means a round
that was twice as slow (docs/methodology.md, "When a cell is unstable")."""
MAX_PLAUSIBLE_FRACTION_OF_PEAK = {"cpu": 10.0, "accelerator": 100.0}
"""A step that runs its FLOPs faster than this many times the device's float32 GEMM peak is not doing the
work in the timed region (it returned before the device finished, or returned a stored answer): the cell
fails. On the CPU a framework's GEMM beats NumPy's BLAS by 2x at most; on a GPU, TF32 or bf16 tensor
cores reach 15-30x true float32."""
MAX_WITHIN_ROUND_IQR = 1.0
"""A round whose interquartile range exceeds its median (a machine that kept interrupting the step)
makes a cell unstable; quiet rounds measured 0.05-0.65."""


COMPACT_COLUMNS = ("median", "95% CI", "round spread", "samples/s", "% of GEMM peak", "cell MiB")
"""What a timing table shows on a terminal besides backend, T, B and hidden (``--wide``: every column)."""

class TimedSuite(Suite):
    """A suite that times one kind of step per (backend, device, spec) cell, in rounds."""

    default_spec: ClassVar[ModelSpec] = TIMING_DEFAULT_SPEC
    default_hidden: ClassVar[tuple[int, ...]] = TIMING_DEFAULT_HIDDEN
    quick_spec: ClassVar[ModelSpec] = QUICK_SPEC
    quick_hidden: ClassVar[tuple[int, ...]] = QUICK_HIDDEN
    measures_time: ClassVar[bool] = True
    per_device: ClassVar[bool] = True
    step_noun: ClassVar[str]

    @abstractmethod
    def expected(self, spec: ModelSpec) -> Any:
        """The reference's answers the cell's closures are verified against (`suites.timed_work`); computed
        in the cell's first round only, before the add-ons start."""

    @abstractmethod
    def prepare(self, model: ClassifierModel, spec: ModelSpec, device: str, expected: Any) -> TrainWork | InferenceWork:
        """The work to time, with its inputs already on the model's device, and its verification
        (``expected`` is None after the first round)."""

    @abstractmethod
    def flops(self, spec: ModelSpec) -> int:
        """Analytic FLOPs of one step."""

    def rounds(self, options: SuiteOptions) -> int:
        return options.budget.rounds

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> RoundMeasurement | NotRun:
        """One round: build, prepare, verify the first step, time, check again, inside every add-on; then
        the device's GEMM peak (cached). A closure that does not do the verified work fails the cell."""
        device = options.device
        missing = self.device_unavailable(backend, options)
        if missing:
            return NotRun.skipped(missing)
        expected = self.expected(spec) if options.round == 0 else None
        addons = [addon() for addon in registered_addons()]
        with running(addons):
            try:
                model = backend.build(spec, device)
                work = self.prepare(model, spec, device, expected)
            except UnsupportedCapability as reason:
                return NotRun.unsupported(str(reason))
            model.reset_peak_device_memory()
            try:
                timing = time_step(work.step, options.budget, after_first_step=work.after_first_step)
                work.after_sampling()
            except TimedWorkMismatch as mismatch:
                return NotRun.failed(str(mismatch))
        profile = profile_cell(model, work.step) if options.profile and options.round == 0 else None
        return RoundMeasurement(
            first_step_seconds=timing.first_step_seconds,
            samples_seconds=list(timing.samples_seconds),
            peak_device_bytes=model.peak_device_memory_bytes(),
            device_peak=_device_peak(backend, device, options.threads),
            addons=collect_figures(addons),
            verified=work.verified.to_json() if work.verified else None,
            kernel_path=model.kernel_path(),
            profile=profile.to_json() if isinstance(profile, StepProfile) else profile,
            trace=profile.trace if isinstance(profile, StepProfile) else None,
        )

    def round_to_json(self, measurement: RoundMeasurement | NotRun) -> dict[str, Any]:
        if isinstance(measurement, NotRun):
            return {"not_run": {"status": measurement.status, "reason": measurement.reason}}
        return measurement.to_json()

    def round_from_json(self, data: dict[str, Any]) -> RoundMeasurement | NotRun:
        if "not_run" in data:
            return NotRun(**data["not_run"])
        return RoundMeasurement.from_json(data)

    def judge(self, spec: ModelSpec, backend_name: str, measurement: Any, options: SuiteOptions) -> Record:
        return self.judge_rounds(spec, backend_name, [measurement], options)

    def judge_rounds(self, spec: ModelSpec, backend_name: str, measurements: list[Any], options: SuiteOptions) -> Record:
        for measurement in measurements:
            not_run = self.not_run(spec, backend_name, measurement, options)
            if not_run:
                return not_run
        rounds: list[RoundMeasurement] = measurements
        details = self.record_details(options)
        round_stats = [summarize(measured.samples_seconds) for measured in rounds]
        medians = [stats["median_seconds"] for stats in round_stats]
        pooled = [sample for measured in rounds for sample in measured.samples_seconds]
        stats = summarize(pooled)
        interval = cell_interval(medians)
        if interval is not None:
            stats.update(ci95_low_seconds=interval.low, ci95_high_seconds=interval.high)
        median = stats["median_seconds"]
        flops = self.flops(spec)
        gflops = flops / median / 1e9
        device_peak = rounds[0].device_peak
        peak = device_peak["gflops"] if device_peak else None
        on_cpu = options.device == "cpu"
        unburdened = rounds[1:] or rounds  # the first round also holds the reference's answers (`expected`)
        memory = [measured.addons.get("memory", {}) for measured in unburdened]
        device_bytes = _largest([measured.peak_device_bytes for measured in unburdened])
        verified = next((measured.verified for measured in rounds if measured.verified), None)
        details.update(
            stats,
            ci95_method="t-interval over round medians" if interval else "order statistics of one round's samples",
            rounds=len(rounds),
            round_medians_seconds=medians,
            round_sample_counts=[len(measured.samples_seconds) for measured in rounds],
            between_round_spread=between_round_spread(medians),
            first_step_seconds=float(np.median([measured.first_step_seconds for measured in rounds])),
            samples_per_second=spec.batch_size / median,
            tokens_per_second=spec.batch_size * spec.seq_len / median,
            flops_per_step=flops,
            achieved_gflops=gflops,
            device_peak_gflops=peak,
            device_peak_calibrated_at=device_peak.get("calibrated_at") if device_peak else None,
            fraction_of_peak=gflops / peak if peak else None,
            peak_memory_bytes=_largest([figures.get("peak_rss_bytes") for figures in memory]) if on_cpu else device_bytes,
            peak_memory_kind="worker RSS" if on_cpu else "device allocated",
            cell_memory_bytes=_largest([figures.get("cell_memory_bytes") for figures in memory]) if on_cpu else device_bytes,
            round_details=[{"median_seconds": one["median_seconds"], "iqr_seconds": one["iqr_seconds"],
                            "samples": one["samples"], "first_step_seconds": measured.first_step_seconds,
                            "addons": measured.addons} for one, measured in zip(round_stats, rounds)],
            samples_seconds=pooled,
            timed_work=verified,
            kernel_path=_kernel_path(rounds),
            profile=next((measured.profile for measured in rounds if measured.profile), None) if options.profile else None,
        )
        unexpected = unexpected_kernel(options.expect_kernel, details)
        if unexpected:
            return Record(self.name, backend_name, FAIL, spec.to_dict(), f"{backend_name}: {unexpected}", details)
        implausible = implausible_speed(details["fraction_of_peak"], on_cpu)
        if implausible:
            return Record(self.name, backend_name, FAIL, spec.to_dict(), f"{backend_name}: {implausible}", details)
        reasons = instability(round_stats, rounds, details["between_round_spread"])
        if reasons:
            return Record(self.name, backend_name, UNSTABLE, spec.to_dict(), f"{backend_name}: " + "; ".join(reasons), details)
        return Record(self.name, backend_name, PASS, spec.to_dict(), "", details)

    def tables(self, records: list[Record]) -> list[Table]:
        tables = []
        for device in dict.fromkeys(record.details.get("device", "cpu") for record in records):
            on_device = [record for record in records if record.details.get("device", "cpu") == device]
            tables.append(self._figures(device, on_device))
            series = list(dict.fromkeys(_series(record) for record in on_device))
            shown = {"seq_len", "batch_size", *varying_fields([dict(key) for key in series], ModelSpec.series_fields())}
            for key in series:
                where = " ".join(f"{ModelSpec.short_name(name)}={value}" for name, value in key if name in shown)
                tables.extend(self._comparison(device, where, [r for r in on_device if _series(r) == key]))
            costs = option_cost_table(f"{self.name} on {device}", on_device)
            if costs:
                tables.append(costs)
            tables += [table for table in (profile_table(f"{self.name} on {device}", on_device),
                                           gap_table(f"{self.name} on {device}", on_device)) if table]
        return tables

    def _figures(self, device: str, records: list[Record]) -> Table:
        rows = []
        specs = [ModelSpec(**record.spec).to_dict() for record in records]
        extra = [name for name in varying_fields(specs, ModelSpec.series_fields()) if name not in ("seq_len", "batch_size")]
        for record, spec in zip(records, specs):
            d = record.details
            apart = " ".join(f"{ModelSpec.short_name(name)}={spec[name]}" for name in extra)
            backend = f"{record.backend} ({apart})" if apart else record.backend
            head = (backend, record.spec["seq_len"], record.spec["batch_size"], record.spec["hidden"])
            if record.status not in MEASURED_STATUSES:
                rows.append((*head, f"{record.status}: {record.message}", *[""] * 11))
                continue
            spread = d.get("between_round_spread")
            counts = d.get("round_sample_counts") or [d["samples"]]
            rows.append((
                *head,
                f"{d['median_seconds'] * 1e3:.3f}" + (" !" if record.status == UNSTABLE else ""),
                f"{d['ci95_low_seconds'] * 1e3:.3f}-{d['ci95_high_seconds'] * 1e3:.3f}",
                f"{len(counts)} x {min(counts)}-{max(counts)}" if min(counts) != max(counts) else f"{len(counts)} x {counts[0]}",
                f"{spread:.1%}" if spread is not None else "-",
                f"{d['samples_per_second']:,.0f}",
                f"{d['tokens_per_second']:,.0f}",
                f"{d['achieved_gflops']:.1f}",
                f"{100 * d['fraction_of_peak']:.1f}%" if d["fraction_of_peak"] is not None else "-",
                _mebibytes(d.get("peak_memory_bytes")),
                _mebibytes(d.get("cell_memory_bytes")),
                f"{d['first_step_seconds'] * 1e3:.1f}",
                d.get("kernel_path") or "-",
            ))
        spec = ModelSpec(**records[0].spec) if records else None
        vocabulary = f"V={spec.vocab_size} E={spec.embed_dim}" if spec else ""
        memory = "worker RSS" if device == "cpu" else "device allocated"
        return Table(
            title=f"{self.name} on {device}: one {self.step_noun} ({vocabulary}); times in ms; 95% CI over rounds; "
                  f"round spread = SD of log round medians; peak MiB = {memory}, cell MiB = what the cell added "
                  "to the worker; ! = unstable",
            headers=("backend", "T", "B", "hidden", "median", "95% CI", "rounds x n", "round spread", "samples/s",
                     "tokens/s", "GFLOP/s", "% of GEMM peak", "peak MiB", "cell MiB", "first step", "kernel"),
            rows=tuple(rows),
            align=("left", *["right"] * 14, "left"),
            compact=COMPACT_COLUMNS,
            key_columns=4,
        )

    def _comparison(self, device: str, series: str, records: list[Record]) -> list[Table]:
        """Ratios, scaling and crossovers of one hidden-size sweep (``series``: what sets it apart), with
        intervals over rounds; the unstable cells and why."""
        measured = {(record.backend, record.spec["hidden"]): record for record in records if record.status in MEASURED_STATUSES}
        if not measured:
            return []
        backends = list(dict.fromkeys(backend for backend, _ in measured))
        hiddens = sorted({hidden for _, hidden in measured})
        where = f"{self.name} on {device}, {series}"

        def ratio(a: str, b: str, hidden: int):
            """B/A at ``hidden``, paired by round (the rounds of one run ran side by side)."""
            return ratio_of_cells(round_medians(measured[a, hidden].details), round_medians(measured[b, hidden].details),
                                  paired=True)

        ratio_rows = []
        for hidden in hiddens:
            present = [backend for backend in backends if (backend, hidden) in measured]
            fastest = min(present, key=lambda backend: measured[backend, hidden].details["median_seconds"])
            cells = []
            for backend in backends:
                if backend not in present:
                    cells.append("-")
                elif backend == fastest:
                    cells.append("1.00x (fastest)")
                else:
                    estimate = ratio(fastest, backend, hidden)
                    cells.append(f"{estimate.ratio:.2f}x [{estimate.low:.2f}-{estimate.high:.2f}]" if estimate else
                                 f"{measured[backend, hidden].details['median_seconds'] / measured[fastest, hidden].details['median_seconds']:.2f}x")
            ratio_rows.append((hidden, *cells))
        scaling_rows = []
        for backend in backends:
            exponent = fit_power_law({hidden: measured[backend, hidden].details["median_seconds"]
                                      for hidden in hiddens if (backend, hidden) in measured})
            scaling_rows.append((backend, f"{exponent.estimate:.2f} [{exponent.low:.2f}-{exponent.high:.2f}]" if exponent
                                 else "- (needs 3 sizes)"))
        tables = [
            Table(f"{where}: median time relative to the fastest backend at each hidden size, 95% CI paired by round",
                  ("hidden", *backends), tuple(ratio_rows), align=("right", *("right" for _ in backends))),
            Table(f"{where}: scaling, time ~ hidden^k (least squares on log-log, 95% CI)", ("backend", "k"),
                  tuple(scaling_rows)),
        ]

        def order(a: str, b: str, hidden: int) -> int:
            if (a, hidden) not in measured or (b, hidden) not in measured:
                return 0
            estimate = ratio(a, b, hidden)
            if estimate is None or not estimate.significant:
                return 0
            return 1 if estimate.ratio < 1 else -1

        overtakes = crossovers(backends, hiddens, order)
        if overtakes:
            tables.append(Table(
                f"{where}: where one backend overtakes another (significant differences only)",
                ("faster backend", "slower backend", "from hidden", "slower up to hidden"),
                tuple((c.faster, c.slower, c.hidden, c.slower_until) for c in overtakes),
            ))
        unstable = [record for record in records if record.status == UNSTABLE]
        if unstable:
            tables.append(Table(f"{where}: unstable cells (! above): why their figures may mislead",
                                ("backend", "hidden", "why"),
                                tuple((r.backend, r.spec["hidden"], r.message.split(": ", 1)[-1]) for r in unstable)))
        return tables


def instability(round_stats: list[dict[str, Any]], rounds: list[RoundMeasurement], spread: float | None) -> list[str]:
    """Why a timing cell's figures cannot be trusted (empty when they can): too few rounds or samples, round
    medians too far apart, rounds too noisy, or a round measured while the machine was busy."""
    reasons = []
    if len(rounds) < MIN_ROUNDS:
        reasons.append(f"{len(rounds)} round(s), fewer than the {MIN_ROUNDS} an interval over rounds needs")
    fewest = min(stats["samples"] for stats in round_stats)
    if fewest < MIN_SAMPLES_PER_ROUND:
        reasons.append(f"a round has {fewest} sample(s), fewer than the minimum of {MIN_SAMPLES_PER_ROUND}")
    if spread is not None and spread > MAX_BETWEEN_ROUND_SPREAD:
        reasons.append(f"round medians spread {spread:.0%} (limit {MAX_BETWEEN_ROUND_SPREAD:.0%})")
    noisiest = max(stats["iqr_seconds"] / stats["median_seconds"] for stats in round_stats)
    if noisiest > MAX_WITHIN_ROUND_IQR:
        reasons.append(f"a round's IQR is {noisiest:.0%} of its median (limit {MAX_WITHIN_ROUND_IQR:.0%})")
    busy = [reason for measured in rounds if (reason := busy_reason(measured.addons.get("machine", {})))]
    if busy:
        reasons.append(f"{busy[0]} in {len(busy)} of {len(rounds)} round(s)")
    return reasons


def _device_peak(backend: Backend, device: str, threads: int | None) -> dict[str, Any] | None:
    """The device's GEMM peak, calibrated once per machine and cached (`harness.measurement.gemm_peak`)."""
    if device == "cpu":
        return machine_peak("cpu", threads, lambda: cpu_sgemm_gflops(threads), measured_by=f"numpy {np.__version__}")
    return machine_peak(device, None, lambda: backend.gemm_peak_gflops(device), measured_by=backend.framework_version())


def implausible_speed(fraction_of_peak: float | None, on_cpu: bool) -> str | None:
    """Why the measured speed cannot be the work's (see `MAX_PLAUSIBLE_FRACTION_OF_PEAK`), or None."""
    limit = MAX_PLAUSIBLE_FRACTION_OF_PEAK["cpu" if on_cpu else "accelerator"]
    if fraction_of_peak is None or fraction_of_peak <= limit:
        return None
    return (f"implausible speed: {fraction_of_peak:.0%} of the device's float32 GEMM peak (the limit is {limit:.0%}); "
            "the timed step cannot be doing its FLOPs: it returns before the device has finished, or a stored answer")


def _largest(values: list[int | None]) -> int | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _mebibytes(value: int | None) -> str:
    return f"{value / 2**20:,.0f}" if value else "-"


def _series(record: Record) -> tuple:
    """The hidden-size sweep a record belongs to: its spec's every field but hidden (defaults filled in)."""
    spec = ModelSpec(**record.spec).to_dict()
    return tuple((name, spec[name]) for name in ModelSpec.series_fields())


def _kernel_path(rounds: list[RoundMeasurement]) -> str | None:
    """The LSTM kernel the cell ran: read from its profile's trace where it has one, else what the backend
    says (`ClassifierModel.kernel_path`)."""
    traced = next((measured.profile.get("kernel_path") for measured in rounds
                   if measured.profile and measured.profile.get("kernel_path")), None)
    return traced or next((measured.kernel_path for measured in rounds if measured.kernel_path), None)


def unexpected_kernel(expected: str | None, details: dict[str, Any]) -> str | None:
    """Why a cell fails ``--expect-kernel``: the kernel its profile's trace shows does not name ``expected``
    (or the trace does not say, or the backend is not profiled); None when it does, or nothing is expected."""
    if not expected:
        return None
    profile = details.get("profile") or {}
    traced = profile.get("kernel_path")
    if traced is None:
        why = profile.get("error") or ("the backend is not profiled" if profile.get("not_profiled")
                                       else "its trace does not show which kernel ran")
        return f"--expect-kernel {expected}: cannot tell which LSTM kernel ran ({why})"
    if expected.lower() not in traced.lower():
        return f"--expect-kernel {expected}: the LSTM kernel that ran is {traced}"
    return None
