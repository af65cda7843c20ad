"""The ONNX Runtime and Flax backends: a valid ONNX graph whose gate order and bias halves matter, inference
only for ONNX Runtime (its training checks unsupported, the rest passing), Flax's gradients and training
against the reference, and each option either built or refused by name."""

import json

import numpy as np
import pytest

from harness.cli import main

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

SMALL = ["--vocab-size", "40", "--embed-dim", "4", "--hidden", "5", "--seq-len", "6", "--batch-size", "3"]


def records_of(directory):
    (run_dir,) = [path for path in directory.iterdir() if path.is_dir()]
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def reference_predictions(spec, weights, token_ids):
    from backends.numpy_backend import NumpyClassifier

    return NumpyClassifier(spec, {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}).forward(
        token_ids)


def article_sized(**fields):
    from harness.model_spec import ModelSpec

    return ModelSpec(vocab_size=40, embed_dim=4, hidden=5, seq_len=6, batch_size=3, **fields)


def test_the_onnx_graph_is_valid_and_its_lstm_weights_are_reordered_with_the_bias_in_the_input_half():
    from backends.onnx_backend import classifier_graph, onnx_lstm_weights
    from harness.canonical import keras_default_weights

    spec = article_sized(layers=2, bidirectional=True, padding="right", return_state=True)
    weights = keras_default_weights(spec)
    model = classifier_graph(spec, weights)
    onnx.checker.check_model(model, full_check=True)
    assert [node.op_type for node in model.graph.node].count("LSTM") == 2
    w, r, b = onnx_lstm_weights(weights, spec, 0)
    hidden = spec.hidden
    assert w.shape == (2, 4 * hidden, spec.embed_dim) and r.shape == (2, 4 * hidden, hidden) and b.shape == (2, 8 * hidden)
    kernel, bias = weights["lstm.backward.kernel"], weights["lstm.backward.bias"]
    gate = {name: slice(index * hidden, (index + 1) * hidden) for index, name in enumerate("ifco")}
    for onnx_index, name in enumerate("iofc"):  # ONNX's order: i, o, f, c
        block = slice(onnx_index * hidden, (onnx_index + 1) * hidden)
        np.testing.assert_array_equal(w[1, block], kernel[:, gate[name]].T)
        np.testing.assert_array_equal(b[1, block], bias[gate[name]])
    assert not b[:, 4 * hidden:].any(), "the recurrent half of B holds zeros: the canonical model has one bias"


@pytest.mark.parametrize("order", [("i", "f", "c", "o"), ("i", "o", "f", "c")], ids=["keras-order", "onnx-order"])
def test_a_wrong_gate_order_is_caught_by_the_forward_pass(monkeypatch, order):
    """With the canonical order left as it is, the forward pass is wrong; with ONNX's it equals the reference."""
    from backends import onnx_backend
    from harness.canonical import keras_default_weights

    spec = article_sized(return_sequences=True)
    weights = keras_default_weights(spec)
    monkeypatch.setattr(onnx_backend, "ONNX_GATE_ORDER", order)
    model = onnx_backend.OnnxClassifier(spec, weights, "cpu", "all")
    token_ids = np.random.default_rng(1).integers(1, spec.vocab_size, size=(spec.batch_size, spec.seq_len))
    difference = np.abs(model.forward(token_ids).lstm_output - reference_predictions(spec, weights, token_ids).lstm_output).max()
    if order == ("i", "o", "f", "c"):
        assert difference < 1e-5
    else:
        assert difference > 1e-2


def test_set_weights_changes_what_a_prepared_inference_computes():
    from backends.onnx_backend import OnnxClassifier
    from harness.canonical import keras_default_weights

    spec = article_sized()
    model = OnnxClassifier(spec, keras_default_weights(spec), "cpu", "none")
    token_ids = np.ones((spec.batch_size, spec.seq_len), dtype=np.int64)
    step = model.prepare_inference(token_ids)
    before = model.output_to_numpy(step())
    model.set_weights({**model.get_weights(), "dense.bias": np.array([3.0], dtype=np.float32)})
    after = model.output_to_numpy(step())
    assert not np.allclose(before, after) and after.shape == (spec.batch_size, 1)


def test_bench_check_onnxruntime_passes_what_it_supports_and_lists_training_as_unsupported(capsys):
    assert main(["check", "onnxruntime"]) == 0
    captured = capsys.readouterr()
    assert "onnxruntime conforms:" in captured.err and "unsupported" in captured.err
    assert "does not implement loss_and_gradients" in captured.err and "does not implement train_step" in captured.err
    assert "│ fail " not in captured.out and "│ error " not in captured.out


def test_flax_matches_the_reference_in_params_gradients_and_training(tmp_path):
    """The article's model counts 250,115 parameters from Flax's own module; gradients and both optimizers'
    trajectories (stacked, bidirectional, right-padded too) agree with the reference."""
    assert main(["run", "--suite", "params", "--backend", "flax,onnxruntime", "--out", str(tmp_path / "params")]) == 0
    params = records_of(tmp_path / "params")
    assert {(r["backend"], r["status"], r["total_params"]) for r in params} == {("flax", "pass", 250_115),
                                                                                ("onnxruntime", "pass", 250_115)}
    assert main(["run", "--suite", "gradients,training", "--backend", "flax", *SMALL, "--layers", "2", "--bidirectional",
                 "--padding", "right", "--min-length", "2", "--steps", "5", "--out", str(tmp_path / "train")]) == 0
    records = records_of(tmp_path / "train")
    assert {r["suite"] for r in records} == {"gradients", "training"} and {r["status"] for r in records} == {"pass"}


def test_left_padding_is_refused_by_name_by_both(tmp_path):
    assert main(["run", "--suite", "shapes", "--backend", "flax,onnxruntime", *SMALL, "--padding", "left",
                 "--min-length", "2", "--out", str(tmp_path)]) == 0
    records = records_of(tmp_path)
    assert {r["status"] for r in records} == {"unsupported"} and {r["backend"] for r in records} == {"flax", "onnxruntime"}
    for record in records:
        assert f"{record['backend']} does not build --padding left (it builds: none, right)" in record["message"]
