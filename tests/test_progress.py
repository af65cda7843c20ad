"""Progress that tells the truth: the ETA comes from the cells' budgets, then from what the run measured;
the bar names the running cell and shows a worker's start-up as its own phase; the summary names the
fastest backend only where its lead is significant."""

from __future__ import annotations

import pytest

from harness.cli.progress import ProgressBar
from harness.execution.estimate import CHECK_GUESS_SECONDS, FIRST_STEP_GUESS_SECONDS, STARTUP_GUESS_SECONDS, RunEstimate
from harness.execution.runner import RunRequest, SuitePlan, planned_jobs
from harness.measurement.timer import TimingBudget
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover
from harness.report.summary import summary_lines, sweeps
from harness.suite import SuiteOptions

BUDGET = TimingBudget(rounds=3, min_seconds=0.5, max_seconds=1.5)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def request(backends=("numpy", "torch")) -> RunRequest:
    registry = discover()
    spec = ModelSpec(hidden=8, vocab_size=50, embed_dim=4, seq_len=3, batch_size=2)
    return RunRequest([SuitePlan(registry.suite("params"), [spec]), SuitePlan(registry.suite("train"), [spec])],
                      [registry.backend(name) for name in backends], SuiteOptions(budget=BUDGET))


def test_planned_jobs_follow_the_runners_order():
    jobs = planned_jobs(request())
    assert [(job.backend, [cell.suite for cell in job.cells], [cell.round for cell in job.cells]) for job in jobs] == [
        ("numpy", ["params", "train"], [0, 0]), ("torch", ["params", "train"], [0, 0]),
        ("numpy", ["train"], [1]), ("torch", ["train"], [1]),
        ("numpy", ["train"], [2]), ("torch", ["train"], [2]),
    ]
    assert jobs[0].timed == (False, True)


def test_the_estimate_starts_from_the_budgets_and_learns_from_the_run():
    clock = Clock()
    jobs = planned_jobs(request())
    estimate = RunEstimate(jobs, clock=clock)
    timed_guess = FIRST_STEP_GUESS_SECONDS + (BUDGET.min_seconds + BUDGET.max_seconds) / 2
    assert estimate.remaining_seconds() == pytest.approx(6 * STARTUP_GUESS_SECONDS + 2 * CHECK_GUESS_SECONDS + 6 * timed_guess)

    first = jobs[0]
    estimate.worker_starting("numpy", first.cells)
    clock.now += 1.0  # the framework loads in 1 s
    estimate.cell_started("numpy", first.cells[0])
    assert estimate.startup("numpy") == 1.0
    clock.now += 0.4
    estimate.round_finished("numpy", first.cells[0], 0.4)
    estimate.cell_started("numpy", first.cells[1])
    clock.now += 3.0
    estimate.round_finished("numpy", first.cells[1], 3.0)
    # numpy's later rounds: its start-up (1 s) and the train cell's measured 3 s; torch: still the guesses
    assert estimate.remaining_seconds() == pytest.approx(
        2 * (1.0 + 3.0) + STARTUP_GUESS_SECONDS + CHECK_GUESS_SECONDS + timed_guess + 2 * (STARTUP_GUESS_SECONDS + timed_guess))

    estimate.worker_starting("torch", jobs[1].cells)
    clock.now += 2.0  # loading for 2 s of the guessed 5
    assert estimate.remaining_seconds() == pytest.approx(
        (STARTUP_GUESS_SECONDS - 2.0) + CHECK_GUESS_SECONDS + timed_guess + 2 * (1.0 + 3.0) + 2 * (STARTUP_GUESS_SECONDS + timed_guess))


def test_a_skipped_backend_leaves_the_estimate():
    estimate = RunEstimate(planned_jobs(request()), clock=Clock())
    before = estimate.remaining_seconds()
    estimate.backend_skipped("torch")
    timed_guess = FIRST_STEP_GUESS_SECONDS + (BUDGET.min_seconds + BUDGET.max_seconds) / 2
    assert estimate.remaining_seconds() == pytest.approx(before - 3 * STARTUP_GUESS_SECONDS - CHECK_GUESS_SECONDS - 3 * timed_guess)


def test_the_bar_names_the_running_cell_and_the_start_up_phase(monkeypatch):
    jobs = planned_jobs(request())
    bar = ProgressBar(jobs)
    with bar:
        bar.worker_starting("numpy", jobs[0].cells)
        assert bar.status_line().endswith(" elapsed · numpy: starting a worker, round 1 of 3 (loading the framework)")
        bar.cell_started("numpy", jobs[0].cells[0])
        assert bar.status_line().endswith(" elapsed · numpy: params cpu hidden 8")
        bar.cell_started("numpy", jobs[0].cells[1])
        assert bar.status_line().endswith(" elapsed · numpy: train cpu hidden 8, round 1 of 3")
        assert bar.status_line().startswith("ETA 0:")
        assert 0 <= bar.fraction_done() < 1


def row(backend, hidden, medians, status="pass", suite="train"):
    return {"suite": suite, "backend": backend, "device": "cpu", "status": status, "hidden": hidden, "seq_len": 5,
            "batch_size": 4, "median_seconds": sorted(medians)[len(medians) // 2], "round_medians_seconds": medians}


def test_the_summary_names_a_leader_only_where_the_lead_is_significant():
    rows = [
        row("a", 8, [1.0, 1.02, 0.99, 1.01]), row("b", 8, [2.0, 2.1, 1.95, 2.05]),
        row("a", 16, [1.0, 1.3, 0.8, 1.1]), row("b", 16, [1.05, 0.9, 1.2, 1.0]),
        row("a", 32, [3.0, 3.1, 2.9, 3.05]), row("b", 32, [1.5, 1.52, 1.49, 1.51]),
        row("a", 8, [0.1], status="fail", suite="gradients"),
    ]
    (sweep,) = sweeps(rows)
    assert [lead.fastest for lead in sweep.leads] == ["a", "b", "b"]
    assert [lead.significant for lead in sweep.leads] == [True, False, True]
    lines = summary_lines(rows)
    assert lines[0].startswith("train on cpu (T=5 B=4): a fastest at hidden 8 (2.0") and "no significant lead at hidden 16" in lines[0]
    assert "b fastest at hidden 32 (2.0" in lines[0]
    assert lines[1] == "needs a look: fail: gradients a"


def test_no_lead_is_claimed_from_unstable_cells():
    rows = [row("a", 8, [1.0, 1.01, 0.99, 1.0]), row("b", 8, [2.0, 2.02, 1.98, 2.0], status="unstable"),
            row("a", 16, [1.0, 1.01, 0.99, 1.0]), row("b", 16, [2.0, 2.02, 1.98, 2.0])]
    (sweep,) = sweeps(rows)
    assert [lead.significant for lead in sweep.leads] == [False, True]
    assert summary_lines(rows)[0] == ("train on cpu (T=5 B=4): no lead claimed at hidden 8 (unstable cells); "
                                      "a fastest at hidden 16 (2.00x ahead of the next)")


def test_the_bar_never_goes_back_and_stops_short_of_100_until_the_run_ends(monkeypatch):
    bar = ProgressBar(planned_jobs(request()))
    with bar:
        monkeypatch.setattr(bar.estimate, "remaining_seconds", lambda: 0.0)
        assert bar.fraction_done() == 0.99  # nothing left by the estimate, but the run has not ended
        monkeypatch.setattr(bar.estimate, "remaining_seconds", lambda: 1e9)
        assert bar.fraction_done() == 0.99  # a grown estimate holds the bar still
