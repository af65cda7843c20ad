"""The kit catches subtle faults by a wide margin, and what is timed is what was verified.

Each planted fault (``tests/plugins/fake_backends.py``) is a realistic bug in an otherwise correct
NumPy backend. On the kit's stress spec every one fails the check built for it, naming the tensor or
behaviour, with an error at least 10x its tolerance; the timing suites fail cells whose closures skip
the work; honest backends pass.
"""

import json

import pytest

from harness.cli import main
from harness.conformance import CHECK_SPECS

from conftest import use_test_plugins

pytestmark = pytest.mark.slow
STRESS = next(spec for spec in CHECK_SPECS if spec.large_states)
STRESS_OPTIONS = ["--vocab-size", str(STRESS.vocab_size), "--embed-dim", str(STRESS.embed_dim), "--hidden",
                  str(STRESS.hidden), "--seq-len", str(STRESS.seq_len), "--batch-size", str(STRESS.batch_size),
                  "--large-states"]
FAULTS = {
    # backend: (suite, what the message names, where the margin is read)
    "fake-stale-gradients": ("behaviour", "repeated gradients: grad", ("checks", "repeated gradients")),
    "fake-aliased-weights": ("behaviour", "set_weights copies: embedding changed when the caller changed its arrays",
                             ("checks", "set_weights copies")),
    "fake-aliased-export": ("behaviour", "get_weights copies: the model's predictions changed",
                            ("checks", "get_weights copies")),
    "fake-shared-model": ("behaviour", "independent models: first model, after loading the second: the models share state",
                          ("checks", "independent models")),
    "fake-clipped-gradients": ("training", "sgd(lr=0.5) parts at step 1", ("optimizers", "sgd(lr=0.5)", "parted_at")),
    "fake-cell-not-squashed": ("gradients", "lstm_output rel error", ("errors", "lstm_output")),
    "fake-forward-only-step": ("timed-work", "train: the timed step did not update any weight", None),
    "fake-first-step-only": ("timed-work", "train: the timed step did not update the weights on call 3 (batch 0)", None),
    "fake-every-other-step": ("timed-work", "train: the timed step did not update the weights on call 3 (batch 0)", None),
    "fake-adam-restart": ("timed-work", "train: after 2 calls, embedding is not where the reference", None),
    "fake-prepared-features": ("timed-work", "infer: with the embedding x1.5, every LSTM kernel x0.8 and LSTM bias x0.5", None),
    "fake-cached-inference": ("timed-work", "infer: the timed inference did not follow a change of the weights", None),
    "fake-precomputed-inference": ("timed-work", "infer: the timed inference did not follow a change of the weights", None),
    "fake-first-batch-inference": ("timed-work", "infer: the timed inference of batch 1 returned batch 0's predictions", None),
    "fake-deferred-inference": ("timed-work", "infer: reading the predictions (output_to_numpy) took", None),
}


@pytest.fixture(scope="module")
def stress_records(tmp_path_factory):
    """One run of every planted fault and the healthy copy through the kit's suites, on the stress spec."""
    out = tmp_path_factory.mktemp("kit")
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "fake_backends")
        backends = ",".join(["fake-ok", *FAULTS])
        status = main(["run", "--suite", "gradients,behaviour,training,timed-work", "--backend", backends, "--steps", "3",
                       "--out", str(out), "--format", "json", *STRESS_OPTIONS])
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    return status, {(record["backend"], record["suite"]): record for record in records}


def test_the_stress_spec_has_large_cell_states_a_large_gradient_and_repeated_tokens():
    import numpy as np

    from harness.canonical import sample_batch
    from suites.reference_checks import reference_model

    reference = reference_model(STRESS.replace(return_state=True))
    token_ids, labels = sample_batch(STRESS)
    cells = reference.forward(token_ids).state_c
    assert np.abs(cells).min() > 3, "tanh(c) and c differ by far more than any tolerance"
    _, gradients = reference.loss_and_gradients(token_ids, labels)
    assert np.sqrt(sum(np.sum(g * g) for g in gradients.values())) > 2.5, "clipping at norm 1 changes every step"
    assert len(np.unique(token_ids)) < token_ids.size / 4, "the batch repeats tokens"


def test_the_healthy_copy_passes_every_kit_suite_on_the_stress_spec(stress_records):
    _, records = stress_records
    for suite in ("gradients", "behaviour", "training", "timed-work"):
        assert records["fake-ok", suite]["status"] == "pass", records["fake-ok", suite]["message"]


@pytest.mark.parametrize("backend", list(FAULTS))
def test_each_planted_fault_fails_its_check_by_ten_times_the_tolerance(stress_records, backend):
    status, records = stress_records
    suite, named, margin_path = FAULTS[backend]
    record = records[backend, suite]
    assert status == 1 and record["status"] == "fail", record["message"]
    assert named in record["message"], record["message"]
    if margin_path is None:
        return  # the timed-work faults: nothing moved, or the same answer again (no error to scale)
    found = record
    for key in margin_path:
        found = found[key]
    error = found.get("rel_error", found.get("norm_rel_error") if found.get("criterion") == "norm" else found.get("max_rel_error"))
    assert error >= 10 * found["rtol"], f"{backend}: {error:.1e} is within 10x of rtol {found['rtol']:g}"


def test_faults_fail_only_the_checks_that_see_them(stress_records):
    """The behaviour checks compare a backend with itself: a wrong forward pass fails gradients, not behaviour."""
    _, records = stress_records
    assert records["fake-cell-not-squashed", "behaviour"]["status"] == "pass"
    assert records["fake-forward-only-step", "training"]["status"] == "pass"
    assert records["fake-cached-inference", "gradients"]["status"] == "pass"


def test_timing_cells_of_closures_that_skip_the_work_fail_and_honest_ones_pass(capsys, tmp_path, fake_backends):
    status = main(["run", "--suite", "train,infer", "--backend", "fake-ok,fake-forward-only-step,fake-cached-inference",
                   "--hidden", "8", "--vocab-size", "100", "--embed-dim", "8", "--seq-len", "5", "--batch-size", "4",
                   "--min-time", "0.05", "--max-time", "0.1", "--warmup", "1", "--rounds", "1", "--device", "cpu",
                   "--out", str(tmp_path), "--format", "json"])
    records = {(record["backend"], record["suite"]): record for record in json.loads(capsys.readouterr().out)["records"]}
    assert status == 1
    assert records["fake-forward-only-step", "train"]["status"] == "fail"
    assert "train: the timed step did not update any weight" in records["fake-forward-only-step", "train"]["message"]
    assert records["fake-cached-inference", "infer"]["status"] == "fail"
    assert "a cached answer" in records["fake-cached-inference", "infer"]["message"]
    for cell in (("fake-ok", "train"), ("fake-ok", "infer"), ("fake-forward-only-step", "infer"),
                 ("fake-cached-inference", "train")):
        assert records[cell]["status"] == "unstable", records[cell]["message"]  # measured, in one round only
    verified = records["fake-ok", "train"]["timed_work"]
    assert verified["rel_error"] < verified["rtol"] and verified["margin"] > 10
    assert records["fake-ok", "infer"]["timed_work"]["worst"].startswith("predictions of batch")


def test_bench_check_takes_model_options_and_reports_margins(capsys):
    status = main(["check", "numpy", "--hidden", "8", "--seq-len", "5", "--suite", "gradients,timed-work",
                   "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0 and document["conforms"]
    assert document["suites"] == ["gradients", "timed-work"] and [spec["hidden"] for spec in document["specs"]] == [8]
    assert document["specs"][0]["seq_len"] == 5 and document["specs"][0]["vocab_size"] == 50000
    assert document["tolerances"]["gradients"] == "rtol 0.0001"
    for record in document["records"]:
        worst = record["worst_error"]
        assert worst["rel_error"] < worst["rtol"] and worst["margin"] > 10, worst
    assert main(["check", "numpy", "--suite", "train"]) == 2
    assert "check: --suite train measures time; bench check runs check suites" in capsys.readouterr().err


def test_a_speed_beyond_the_device_peak_is_implausible():
    from suites.timing_suite import implausible_speed

    assert implausible_speed(2.0, on_cpu=True) is None, "oneDNN may beat NumPy's BLAS"
    assert implausible_speed(262.0, on_cpu=True).startswith("implausible speed: 26200% of the device's float32 GEMM peak")
    assert implausible_speed(30.0, on_cpu=False) is None, "TF32 tensor cores reach 15-30x true float32"
    assert implausible_speed(None, on_cpu=True) is None


def test_bench_check_refuses_what_it_cannot_check_in_one_line(capsys):
    for argv, expected in (
        (["check", "numpy", "--suite", "checks,train"], "check: --suite train measures time"),
        (["check", "numpy", "--suite", "all"], "check: --suite: unknown check suite 'all' (available: params"),
        (["check", "all"], "bench check takes one backend at a time"),
        (["check", "numpy", "--device", "cuda", "--suite", "gradients"], "nothing was checked for numpy"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert expected in err[-1] and "Traceback" not in "\n".join(err), (argv, err)


def test_timing_cells_verify_three_steps_where_the_reference_is_cheap():
    from suites.timed_work import VERIFIED_TRAIN_SEQUENCE, verified_train_steps
    from suites.timing_suite import QUICK_SPEC, TIMING_DEFAULT_SPEC

    assert verified_train_steps(QUICK_SPEC.replace(hidden=128)) == len(VERIFIED_TRAIN_SEQUENCE) == 3
    assert verified_train_steps(TIMING_DEFAULT_SPEC.replace(hidden=256)) == 3
    assert verified_train_steps(TIMING_DEFAULT_SPEC.replace(hidden=1024)) == 1
    assert verified_train_steps(STRESS) == 3
