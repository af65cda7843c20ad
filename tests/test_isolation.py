"""Worker isolation: a crash, a hang or an exception fails only its own cell."""

from harness.cell import Cell
from harness.execution.worker_manager import WorkerLimits, describe_backend, run_cells
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover
from harness.suite import SuiteOptions

TRIGGER_HIDDEN = 13  # fake_backends.TRIGGER_HIDDEN: the size that makes the fakes misbehave

CELLS = [Cell("params", ModelSpec(hidden=hidden, vocab_size=20), SuiteOptions()) for hidden in (2, TRIGGER_HIDDEN, 4)]


def run(backend_name, timeout=60.0):
    outcomes = {}
    hello = run_cells(
        discover().backend(backend_name), CELLS, lambda index, outcome: outcomes.__setitem__(index, outcome),
        limits=WorkerLimits(cell_timeout_seconds=timeout),
    )
    return hello, [outcomes[index] for index in range(len(CELLS))]


def test_healthy_backend_runs_every_cell_and_says_hello(fake_backends):
    hello, outcomes = run("fake-ok")
    assert all(outcome.ok for outcome in outcomes)
    assert hello.framework_version.startswith("numpy ") and hello.devices == ["cpu"]
    assert hello.pid > 0


def test_a_segfault_fails_its_cell_and_a_new_worker_runs_the_rest(fake_backends):
    _, outcomes = run("fake-crash")
    assert outcomes[0].ok and outcomes[2].ok
    assert outcomes[1].error.startswith("worker crashed: killed by SIGSEGV")


def test_a_hang_is_killed_after_the_timeout_and_the_rest_run(fake_backends):
    _, outcomes = run("fake-hang", timeout=8.0)
    assert outcomes[0].ok and outcomes[2].ok
    assert outcomes[1].error == "timed out after 8 s; its worker was killed"


def test_an_exception_is_reported_with_its_traceback(fake_backends):
    _, outcomes = run("fake-raise")
    assert outcomes[1].error == "RuntimeError: planted failure"
    assert "planted failure" in outcomes[1].traceback
    assert outcomes[0].ok and outcomes[2].ok


def test_a_backend_that_fails_to_load_fails_every_cell_with_the_reason(fake_backends):
    hello, outcomes = run("fake-unloadable")
    assert hello.error == "ImportError: libfake.so: cannot open shared object file"
    assert all(outcome.error == f"backend failed to load: {hello.error}" for outcome in outcomes)


def test_describe_backend_asks_the_framework_itself(fake_backends):
    hello = describe_backend(discover().backend("fake-ok"), timeout_seconds=60)
    assert hello.error is None and hello.framework_version.startswith("numpy ")
