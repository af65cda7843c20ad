"""What verifying the timed closures costs, and that it does not change the timed medians.

    python benchmarks/verification_overhead.py --backend numpy,torch --hidden 32,256 --blocks 6

Two questions, answered in one process per backend:

1. **Does the rotation change the median?** An ``infer`` cell now times `suites.timed_work.Rotation` over
   4 prepared batches instead of one closure over one batch. Per hidden size, blocks of
   `harness.measurement.timer.time_step` alternate between the single closure (as before) and the
   rotation, on one model; the ratio of the two medians is printed per block and as the median over
   blocks (1.00 = unchanged). The train cell's timed function is unchanged (the verification runs
   outside the timed region), so only inference is compared.
2. **What does the verification cost?** The reference's answers (`expected_train_changes`,
   `expected_predictions`: NumPy float64, once per cell, in its first round) and the checks around the
   samples, in seconds, for the default timing spec at each hidden size.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="numpy,torch")
    parser.add_argument("--hidden", default="32,256")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[variable] = str(arguments.threads)  # before any framework is imported
    from threadpoolctl import threadpool_limits

    from harness.measurement.timer import TimingBudget, time_step
    from harness.plugins.discovery import discover
    from suites.timed_work import (
        InferenceWork,
        TrainWork,
        expected_predictions,
        expected_train_changes,
        inference_batches,
    )
    from suites.timing_suite import TIMING_DEFAULT_SPEC

    registry = discover()
    budget = TimingBudget(rounds=1, warmup_steps=3, min_seconds=0.5, max_seconds=1.0)
    report = {"threads": arguments.threads, "blocks": arguments.blocks, "rotation": {}, "verification_seconds": {}}
    with threadpool_limits(arguments.threads):
        backends = {name: registry.backend(name).load() for name in arguments.backend.split(",")}
        for name, backend in backends.items():
            for hidden in (int(value) for value in arguments.hidden.split(",")):
                spec = TIMING_DEFAULT_SPEC.replace(hidden=hidden)
                batches = inference_batches(spec)
                started = time.perf_counter()
                expected = expected_predictions(spec, batches)
                infer_reference = time.perf_counter() - started
                started = time.perf_counter()
                change = expected_train_changes(spec)
                train_reference = time.perf_counter() - started
                model = backend.build(spec, "cpu")
                work = InferenceWork(model, spec, "cpu", batches, expected)
                started = time.perf_counter()
                work.after_first_step(work.step())
                work.after_sampling()
                infer_checks = time.perf_counter() - started
                single = model.prepare_inference(batches[0])
                ratios = []
                for _ in range(arguments.blocks):
                    plain = np.median(time_step(single, budget).samples_seconds)
                    rotated = np.median(time_step(work.step, budget).samples_seconds)
                    ratios.append(rotated / plain)
                train = TrainWork(backend.build(spec, "cpu"), spec, "cpu", change)
                started = time.perf_counter()
                train.after_first_step(train.step())
                train.after_sampling()
                train_checks = time.perf_counter() - started
                key = f"{name} hidden {hidden}"
                report["rotation"][key] = {"median_ratio": float(np.median(ratios)), "ratios": [round(r, 4) for r in ratios]}
                report["verification_seconds"][key] = {
                    "reference_train": round(train_reference, 3), "reference_infer": round(infer_reference, 3),
                    "checks_train": round(train_checks, 3), "checks_infer": round(infer_checks, 3)}
                print(f"{key}: rotation/single median {np.median(ratios):.3f} {[round(r, 3) for r in ratios]}; "
                      f"reference {train_reference:.2f} s (train) {infer_reference:.2f} s (infer); "
                      f"checks {train_checks:.2f} s / {infer_checks:.2f} s", flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
