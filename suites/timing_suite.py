"""What the timing suites ``train`` and ``infer`` share: cells per device, the timing loop, the figures.

Each cell builds the model on its device, prepares the batch there (outside the timed region), times
one step with `harness.measurement.timer.time_step`, and samples the worker's peak memory while doing so. The
judge turns raw samples into the figures a reviewer asks for; the raw samples stay in the record.
See docs/methodology.md.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from harness.canonical import sample_batch
from harness.contract import Backend, ClassifierModel, UnsupportedCapability
from harness.measurement.memory import PeakRSSSampler
from harness.measurement.scaling import crossovers, fit_power_law
from harness.measurement.statistics import summarize
from harness.measurement.timer import time_step
from harness.model_spec import ModelSpec, varying_fields
from harness.rendering import Table
from harness.results.record import PASS, Record
from harness.suite import Suite, SuiteOptions

TIMING_DEFAULT_SPEC = ModelSpec(vocab_size=20000, embed_dim=128, hidden=32, seq_len=100, batch_size=64)
"""A realistic text classifier: 20k-word vocabulary, 128-wide embeddings, 100-token reviews, batch 64."""
TIMING_DEFAULT_HIDDEN = (32, 64, 128, 256, 512, 1024)
QUICK_SPEC = ModelSpec(vocab_size=2000, embed_dim=32, hidden=32, seq_len=20, batch_size=16)
QUICK_HIDDEN = (32, 64, 128)

_gemm_peaks: dict[str, float | None] = {}


class TimedSuite(Suite):
    """A suite that times one kind of step per (backend, device, spec) cell."""

    default_spec: ClassVar[ModelSpec] = TIMING_DEFAULT_SPEC
    default_hidden: ClassVar[tuple[int, ...]] = TIMING_DEFAULT_HIDDEN
    quick_spec: ClassVar[ModelSpec] = QUICK_SPEC
    quick_hidden: ClassVar[tuple[int, ...]] = QUICK_HIDDEN
    measures_time: ClassVar[bool] = True
    per_device: ClassVar[bool] = True
    step_noun: ClassVar[str]

    @abstractmethod
    def prepare(self, model: ClassifierModel, token_ids: np.ndarray, labels: np.ndarray) -> Callable[[], object]:
        """The step to time, with its inputs already on the model's device."""

    @abstractmethod
    def flops(self, spec: ModelSpec) -> int:
        """Analytic FLOPs of one step."""

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> dict[str, Any]:
        device = options.device
        missing = self.device_unavailable(backend, options)
        if missing:
            return {"skipped": missing}
        token_ids, labels = sample_batch(spec)
        try:
            model = backend.build(spec, device)
            step = self.prepare(model, token_ids, labels)
        except UnsupportedCapability as reason:
            return {"unsupported": str(reason)}
        model.reset_peak_device_memory()
        with PeakRSSSampler() as rss:
            timing = time_step(step, options.budget)
        if device not in _gemm_peaks and device != "cpu":
            _gemm_peaks[device] = backend.gemm_peak_gflops(device)
        return {
            "timing": timing,
            "peak_rss_bytes": rss.peak_bytes,
            "peak_device_bytes": model.peak_device_memory_bytes(),
            "device_peak_gflops": options.cpu_peak_gflops if device == "cpu" else _gemm_peaks.get(device),
        }

    def judge(self, spec: ModelSpec, backend_name: str, measurement: dict[str, Any], options: SuiteOptions) -> Record:
        not_run = self.not_run(spec, backend_name, measurement, options)
        if not_run:
            return not_run
        details = self.record_details(options)
        timing = measurement["timing"]
        stats = summarize(timing.samples_seconds)
        median = stats["median_seconds"]
        flops = self.flops(spec)
        gflops = flops / median / 1e9
        peak = measurement["device_peak_gflops"]
        memory = measurement["peak_device_bytes"] if options.device != "cpu" else measurement["peak_rss_bytes"]
        details.update(
            stats,
            first_step_seconds=timing.first_step_seconds,
            samples_per_second=spec.batch_size / median,
            tokens_per_second=spec.batch_size * spec.seq_len / median,
            flops_per_step=flops,
            achieved_gflops=gflops,
            device_peak_gflops=peak,
            fraction_of_peak=gflops / peak if peak else None,
            peak_memory_bytes=memory,
            peak_memory_kind="device allocated" if options.device != "cpu" else "worker RSS",
            samples_seconds=list(timing.samples_seconds),
        )
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
            if record.status != PASS:
                rows.append((*head, f"{record.status}: {record.message}", *[""] * 9))
                continue
            rows.append((
                *head,
                f"{d['median_seconds'] * 1e3:.3f}",
                f"{d['iqr_seconds'] * 1e3:.3f}",
                f"{d['ci95_low_seconds'] * 1e3:.3f}-{d['ci95_high_seconds'] * 1e3:.3f}",
                d["samples"],
                f"{d['samples_per_second']:,.0f}",
                f"{d['tokens_per_second']:,.0f}",
                f"{d['achieved_gflops']:.1f}",
                f"{100 * d['fraction_of_peak']:.1f}%" if d["fraction_of_peak"] is not None else "-",
                f"{d['peak_memory_bytes'] / 2**20:,.0f}" if d["peak_memory_bytes"] else "-",
                f"{d['first_step_seconds'] * 1e3:.1f}",
            ))
        spec = ModelSpec(**records[0].spec) if records else None
        vocabulary = f"V={spec.vocab_size} E={spec.embed_dim}" if spec else ""
        return Table(
            title=f"{self.name} on {device}: one {self.step_noun} ({vocabulary}); times in ms",
            headers=("backend", "T", "B", "hidden", "median", "IQR", "95% CI of median", "n", "samples/s", "tokens/s",
                     "GFLOP/s", "% of GEMM peak", "peak MiB", "first step"),
            rows=tuple(rows),
            align=("left", *["right"] * 13),
        )

    def _comparison(self, device: str, series: str, records: list[Record]) -> list[Table]:
        """Ratios, scaling and crossovers of one hidden-size sweep (``series``: what sets it apart)."""
        measured = [record for record in records if record.status == PASS]
        medians: dict[str, dict[int, float]] = {}
        for record in measured:
            medians.setdefault(record.backend, {})[record.spec["hidden"]] = record.details["median_seconds"]
        if not medians:
            return []
        where = f"{self.name} on {device}, {series}"
        hiddens = sorted({hidden for by_hidden in medians.values() for hidden in by_hidden})
        ratio_rows = []
        for hidden in hiddens:
            present = {backend: by_hidden[hidden] for backend, by_hidden in medians.items() if hidden in by_hidden}
            fastest = min(present.values())
            ratio_rows.append((hidden, *(
                f"{present[backend] / fastest:.2f}x" if backend in present else "-" for backend in medians
            )))
        scaling_rows = []
        for backend, by_hidden in medians.items():
            exponent = fit_power_law(by_hidden)
            scaling_rows.append((backend, f"{exponent:.2f}" if exponent is not None else "- (needs 2 sizes)"))
        tables = [
            Table(f"{where}: median time relative to the fastest backend at each hidden size",
                  ("hidden", *medians), tuple(ratio_rows), align=("right", *("right" for _ in medians))),
            Table(f"{where}: scaling, time ~ hidden^k (least squares on log-log)", ("backend", "k"), tuple(scaling_rows)),
        ]
        overtakes = crossovers(medians)
        if overtakes:
            tables.append(Table(
                f"{where}: where one backend overtakes another",
                ("faster backend", "slower backend", "from hidden"),
                tuple((faster, slower, hidden) for faster, slower, hidden in overtakes),
            ))
        return tables


def _series(record: Record) -> tuple:
    """The hidden-size sweep a record belongs to: its spec's every field but hidden (defaults filled in)."""
    spec = ModelSpec(**record.spec).to_dict()
    return tuple((name, spec[name]) for name in ModelSpec.series_fields())

