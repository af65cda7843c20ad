"""Suites ``gradients`` and ``training``: built-ins pass over a grid, planted faults fail for the right reason."""

import json

import pytest

from harness.cli import main

from conftest import DEFAULT_BACKENDS, REGISTRY

SMALL = ["--hidden", "16", "--seq-len", "5", "--batch-size", "6", "--vocab-size", "200"]


def run_json(capsys, *argv):
    status = main(["run", "--format", "json", *argv])
    return status, json.loads(capsys.readouterr().out)["records"]


def available_builtins(records):
    return {record["backend"] for record in records if record["backend"] in DEFAULT_BACKENDS and record["status"] != "unavailable"}


@pytest.mark.parametrize("head", ["--return-sequences", "--no-return-sequences"], ids=["seq", "last"])
def test_builtins_agree_over_the_grid(capsys, tmp_path, head):
    """Hidden 3, 64 x seq_len 1, 7 x batch 1, 5: one run (one worker per backend) per head."""
    status, records = run_json(capsys, "--suite", "gradients,training", "--hidden", "3,64", "--vocab-size", "300",
                               "--seq-len", "1,7", "--batch-size", "1,5", "--steps", "3", "--out", str(tmp_path), head)
    checked = [record for record in records if record["status"] != "unavailable"]
    assert status == 0, [record["message"] for record in checked if record["status"] != "pass"]
    assert {(record["suite"], record["spec"]["hidden"], record["spec"]["seq_len"], record["spec"]["batch_size"])
            for record in checked} == {
        (suite, hidden, seq_len, batch) for suite in ("gradients", "training") for hidden in (3, 64)
        for seq_len in (1, 7) for batch in (1, 5)
    }
    assert "numpy" in available_builtins(records)


def test_issue_configuration_passes_with_errors_per_tensor_in_json(capsys, tmp_path):
    status, records = run_json(capsys, "--suite", "gradients,training", "--hidden", "64", "--seq-len", "20",
                               "--batch-size", "8", "--out", str(tmp_path))
    assert status == 0, [record["message"] for record in records if record["status"] not in ("pass", "unavailable")]
    gradients = [record for record in records if record["suite"] == "gradients" and record["status"] == "pass"]
    assert {record["backend"] for record in gradients} == available_builtins(records)
    errors = gradients[0]["errors"]
    assert list(errors) == ["lstm_output", "state_h", "state_c", "predictions", "loss", "grad embedding", "grad lstm.kernel",
                            "grad lstm.recurrent_kernel", "grad lstm.bias", "grad dense.kernel", "grad dense.bias"]
    for error in errors.values():
        assert error["passed"] and 0 <= error["max_rel_error"] < 1e-4 and error["max_abs_error"] >= 0
    training = [record for record in records if record["suite"] == "training" and record["status"] == "pass"]
    for record in training:
        assert record["steps"] == 20
        adam = record["optimizers"]["adam(lr=0.01, b1=0.9, b2=0.999, eps=1e-07)"]
        assert len(adam["losses"]) == 20 and adam["parted_at"] is None
        assert adam["reference_losses"][-1] < adam["reference_losses"][0]


def test_suite_checks_is_every_equivalence_suite_and_all_adds_timing(capsys, tmp_path):
    status, records = run_json(capsys, "--suite", "checks", "--backend", "numpy", "--steps", "3", "--out", str(tmp_path))
    assert status == 0
    in_run_order = list(dict.fromkeys(record["suite"] for record in records))
    assert in_run_order == [suite.name for suite in REGISTRY.check_suites()]
    built_in = {"params", "shapes", "gradients", "training"}
    assert [suite for suite in in_run_order if suite in built_in] == ["params", "shapes", "gradients", "training"]
    status, records = run_json(capsys, "--suite", "all", "--backend", "numpy", "--steps", "3", "--quick", "--hidden", "8",
                               "--max-time", "0.2", "--min-time", "0.1", "--out", str(tmp_path))
    assert status == 0
    assert {record["suite"] for record in records} == set(REGISTRY.suites)
    assert {"train", "infer"} <= {suite.name for suite in REGISTRY.timing_suites()}


@pytest.mark.parametrize(
    "backend, suite, expected",
    [
        ("fake-gate-swap", "gradients", "fake-gate-swap: lstm_output rel error"),
        ("fake-gate-swap", "training", "sgd(lr=0.5) parts at step 1 in loss"),
        ("fake-transposed-kernel", "gradients", "fake-transposed-kernel: lstm_output rel error"),
        ("fake-gradient-off", "gradients", "fake-gradient-off: grad lstm.recurrent_kernel rel error 1.0e-03 > rtol 0.0001"),
        ("fake-dense-bias-dropped", "gradients", "fake-dense-bias-dropped: grad dense.bias rel error 1.0e+00"),
        ("fake-dense-bias-dropped", "training", "sgd(lr=0.5) parts at step 1 in dense.bias rel error 1.0e+00 > norm rtol 0.001"),
    ],
)
def test_planted_faults_fail_naming_the_tensor(capsys, tmp_path, fake_backends, backend, suite, expected):
    status, records = run_json(capsys, "--suite", suite, "--backend", backend, "--out", str(tmp_path), *SMALL)
    (record,) = records
    assert status == 1 and record["status"] == "fail"
    assert record["message"].startswith(expected) or expected in record["message"], record["message"]


def test_gradient_off_by_a_tenth_of_a_percent_fails_only_that_tensor(capsys, tmp_path, fake_backends):
    _, (record,) = run_json(capsys, "--suite", "gradients", "--backend", "fake-gradient-off", "--out", str(tmp_path), *SMALL)
    failed = [name for name, error in record["errors"].items() if not error["passed"]]
    assert failed == ["grad lstm.recurrent_kernel"]


def test_pytorch_epsilon_placement_parts_adam_but_not_sgd(capsys, tmp_path, fake_backends):
    pytest.importorskip("torch")
    status, (record,) = run_json(capsys, "--suite", "training", "--backend", "fake-torch-native-eps", "--out", str(tmp_path), *SMALL)
    assert status == 1
    runs = record["optimizers"]
    assert runs["sgd(lr=0.5)"]["parted_at"] is None
    parted = runs["adam(lr=0.01, b1=0.9, b2=0.999, eps=1e-07)"]["parted_at"]
    assert parted["step"] == 1 and parted["tensor"] == "embedding" and parted["criterion"] == "norm"


def test_a_backend_without_training_is_unsupported_not_failed(capsys, tmp_path, fake_backends):
    status, records = run_json(capsys, "--suite", "gradients,training", "--backend", "fake-inference-only", "--out", str(tmp_path), *SMALL)
    assert status == 0
    assert [(record["suite"], record["status"]) for record in records] == [("gradients", "unsupported"), ("training", "unsupported")]
    assert records[0]["message"] == "fake-inference-only: InferenceOnlyClassifier does not implement loss_and_gradients"
    assert records[0]["errors"]["lstm_output"]["passed"]  # the forward pass was still compared


def test_error_tables_name_tensors_and_backends(capsys, tmp_path, fake_backends):
    status = main(["run", "--suite", "gradients", "--backend", "numpy,fake-gradient-off", "--out", str(tmp_path), *SMALL])
    out = capsys.readouterr().out
    assert status == 1
    assert "| grad lstm.recurrent_kernel" in out.replace("│", "|")
    assert "1.0e-03 FAIL" in out
    assert "fail: fake-gradient-off: grad lstm.recurrent_kernel" in out
