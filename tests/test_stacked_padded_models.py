"""Stacked, bidirectional and padded models: the contract, the reference, every built-in backend, and the
planted faults the checks must catch (docs/contract.md, "Padding, stacking and directions")."""

import itertools
import json
import math

import numpy as np
import pytest

from backends.numpy_reference import classifier_loss_and_gradients, reversed_within_lengths
from harness.canonical import example_lengths, keras_default_weights, sample_batch, sample_token_ids
from harness.cli import main
from harness.conformance import check_backend
from harness.contract import (
    expected_layer_params,
    expected_total_params,
    layer_param_formulas,
    weight_names,
    weight_shapes,
)
from harness.model_spec import ModelSpec

from conftest import DEFAULT_BACKENDS, backend_params, use_test_plugins

STRUCTURES = list(itertools.product((1, 2, 3), (False, True), ("none", "right", "left")))
"""layers x bidirectional x padding: every combination the issue asks for."""
SMALL = ModelSpec(vocab_size=11, embed_dim=3, hidden=4, seq_len=5, batch_size=4, seed=2)


def small(layers, bidirectional, padding, **changes) -> ModelSpec:
    return SMALL.replace(layers=layers, bidirectional=bidirectional, padding=padding, **changes)


def test_the_article_keeps_its_names_and_count():
    assert weight_names(ModelSpec()) == ("embedding", "lstm.kernel", "lstm.recurrent_kernel", "lstm.bias",
                                         "dense.kernel", "dense.bias")
    assert expected_total_params(ModelSpec()) == 250_115


def test_layer_k_direction_d_names_shapes_and_formula():
    spec = ModelSpec(embed_dim=5, hidden=3, seq_len=2, layers=2, bidirectional=True)
    shapes = weight_shapes(spec)
    assert list(shapes) == ["embedding",
                            "lstm.kernel", "lstm.recurrent_kernel", "lstm.bias",
                            "lstm.backward.kernel", "lstm.backward.recurrent_kernel", "lstm.backward.bias",
                            "lstm_1.kernel", "lstm_1.recurrent_kernel", "lstm_1.bias",
                            "lstm_1.backward.kernel", "lstm_1.backward.recurrent_kernel", "lstm_1.backward.bias",
                            "dense.kernel", "dense.bias"]
    assert shapes["lstm.kernel"] == (5, 12) and shapes["lstm_1.kernel"] == (6, 12) and shapes["dense.kernel"] == (12, 1)
    assert layer_param_formulas(spec)["lstm_1"] == "2*4*(2*H*H + H*H + H)"
    # 2 directions x 4 x (E*H + H*H + H), then 2 x 4 x (2H*H + H*H + H), then T*2H + 1
    assert expected_layer_params(spec) == {"embedding": 250_000, "lstm": 2 * 4 * (15 + 9 + 3),
                                           "lstm_1": 2 * 4 * (18 + 9 + 3), "dense": 13}
    assert sum(np.size(value) for value in keras_default_weights(spec).values()) == expected_total_params(spec)


@pytest.mark.parametrize("padding", ["right", "left"])
def test_padded_batches_are_reproducible_with_their_lengths_on_their_side(padding):
    spec = ModelSpec(vocab_size=20, seq_len=6, batch_size=5, padding=padding, min_length=2)
    token_ids = sample_token_ids(spec)
    lengths = example_lengths(spec)
    assert lengths[0] == 2 and lengths[1] == 6 and lengths.min() >= 2
    assert np.array_equal((token_ids != 0).sum(axis=1), lengths), "id 0 is padding only"
    real = token_ids != 0
    ordered = real if padding == "right" else real[:, ::-1]
    assert all(np.all(np.diff(row.astype(int)) <= 0) for row in ordered), f"every 0 is on the {padding}"
    assert np.array_equal(token_ids, sample_token_ids(spec)) and not np.array_equal(token_ids, sample_token_ids(spec, step=1))


def test_reversal_within_lengths_leaves_the_padding_in_place():
    real = np.array([[1, 1, 1, 0], [0, 1, 1, 1], [1, 1, 1, 1]], bool)
    assert reversed_within_lengths(real).tolist() == [[2, 1, 0, 3], [0, 3, 2, 1], [3, 2, 1, 0]]


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("layers,bidirectional,padding", [(layers, bi, padding) for layers, bi, padding in STRUCTURES
                                                           if layers < 3] + [(3, True, "left")])
def test_reference_backward_matches_central_differences(layers, bidirectional, padding, return_sequences):
    spec = ModelSpec(vocab_size=7, embed_dim=3, hidden=2, seq_len=4, batch_size=3, layers=layers,
                     bidirectional=bidirectional, padding=padding, return_sequences=return_sequences, seed=3)
    weights = keras_default_weights(spec, "float64")
    for name in weights:
        if name.endswith("bias"):
            weights[name] += np.linspace(-0.3, 0.3, weights[name].size)  # no special zeros
    token_ids, labels = sample_batch(spec)
    labels = labels.astype(np.float64)
    _, analytic = classifier_loss_and_gradients(weights, token_ids, labels, spec)
    for name, value in weights.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + 1e-5
            plus, _ = classifier_loss_and_gradients(weights, token_ids, labels, spec)
            value[index] = original - 1e-5
            minus, _ = classifier_loss_and_gradients(weights, token_ids, labels, spec)
            value[index] = original
            numeric[index] = (plus - minus) / 2e-5
        scale = np.linalg.norm(analytic[name]) + np.linalg.norm(numeric)
        assert np.linalg.norm(analytic[name] - numeric) <= 1e-6 * scale, name
    if padding != "none":
        assert not analytic["embedding"][0].any(), "padding takes no gradient"


def test_a_padded_step_changes_nothing_and_outputs_zero():
    """The same example alone and padded (either side) gives the same final state, its real outputs, and
    exact zeros at its padded steps; the prediction differs only through the head's zero features."""
    from backends.numpy_backend import NumpyBackend

    tokens = [5, 7, 9]
    for layers, bidirectional in itertools.product((1, 2), (False, True)):
        answers = {}
        for padding, row in (("none", tokens), ("right", [*tokens, 0, 0]), ("left", [0, 0, *tokens])):
            spec = SMALL.replace(layers=layers, bidirectional=bidirectional, padding=padding, seq_len=len(row),
                                 min_length=1, return_state=True, batch_size=1)
            model = NumpyBackend("float64").build(spec)
            answers[padding] = model.forward(np.array([row]))
        for padding, real in (("right", slice(0, 3)), ("left", slice(2, 5))):
            output = answers[padding].lstm_output[0]
            assert np.allclose(answers[padding].state_h, answers["none"].state_h, atol=1e-12)
            assert np.allclose(output[real], answers["none"].lstm_output[0], atol=1e-12)
            assert not np.delete(output, np.arange(5)[real], axis=0).any()


@pytest.fixture(scope="module", params=backend_params(DEFAULT_BACKENDS))
def equivalence(request, tmp_path_factory):
    """One check run per built-in backend over every structure (both heads in turn), gradients and params."""
    specs = [small(layers, bidirectional, padding, return_sequences=index % 2 == 0, min_length=2)
             for index, (layers, bidirectional, padding) in enumerate(STRUCTURES)]
    result = check_backend(request.param, specs=specs, suites=["params", "gradients"], steps=2)
    return request.param, {(record.suite, ModelSpec(**record.spec).replace(return_state=False)): record
                           for record in result.records}


@pytest.mark.parametrize("layers,bidirectional,padding", STRUCTURES)
def test_every_builtin_backend_computes_every_structure(equivalence, layers, bidirectional, padding):
    backend, records = equivalence
    index = STRUCTURES.index((layers, bidirectional, padding))
    spec = small(layers, bidirectional, padding, return_sequences=index % 2 == 0, min_length=2)
    for suite in ("params", "gradients"):
        record = records[suite, spec]
        assert record.status == "pass", f"{backend} {suite}: {record.message}"


@pytest.mark.parametrize("backend", backend_params(["keras-jax", "keras-torch"]))
def test_keras_on_the_jax_and_torch_engines_builds_them_too(backend):
    """The engines take other paths (no cuDNN under a mask, their own loops): the hardest structures."""
    specs = [small(3, True, "left", min_length=2), small(2, False, "right", return_sequences=False, min_length=2)]
    result = check_backend(backend, specs=specs, suites=["gradients"])
    assert result.conforms, [record.message for record in result.records]


PLANTED = {
    # backend: (spec options, what the message must name)
    "fake-masked-steps-repeat": ({"padding": "right"},
                                 ["the steps after each example's last real token repeat its last real output",
                                  "without padding it conforms"]),
    "fake-final-state-at-T": ({"padding": "right", "return_sequences": False},
                              ["state_h rel error", "without padding it conforms"]),
    "fake-backward-reads-padding": ({"padding": "right", "bidirectional": True},
                                    ["in the backward half", "unidirectional conforms", "without padding it conforms"]),
    "fake-directions-swapped": ({"bidirectional": True},
                                ["[backward | forward] instead of [forward | backward]", "unidirectional conforms"]),
    "fake-second-layer-wrong-direction": ({"bidirectional": True, "layers": 2},
                                          ["with 1 layer it conforms, with 2 it fails (the fault is in layer 2, lstm_1",
                                           "grad lstm_1.kernel rel error"]),
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The hand-built torch backends of `fake_padded_backends`, each checked on a spec that has its fault."""
    pytest.importorskip("torch")
    found = {}
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "fake_padded_backends")
        for backend, (options, _) in {"fake-manual": ({"layers": 2, "bidirectional": True, "padding": "left"}, []),
                                      **PLANTED}.items():
            spec = small(**{"layers": 1, "bidirectional": False, "padding": "none", "min_length": 2, **options})
            result = check_backend(backend, specs=[spec], suites=["gradients"])
            found[backend] = result
    return found


def test_the_hand_built_backend_conforms(planted):
    assert planted["fake-manual"].conforms, [record.message for record in planted["fake-manual"].records]


@pytest.mark.parametrize("backend", PLANTED)
def test_each_planted_fault_fails_naming_where(planted, backend):
    (record,) = planted[backend].records
    assert record.status == "fail"
    for phrase in PLANTED[backend][1]:
        assert phrase in record.message, record.message


def test_a_backend_that_refuses_an_option_is_unsupported_naming_it(fake_backends, capsys):
    status = main(["check", "fake-article-only", "--layers", "2", "--padding", "right", "--suite", "params,gradients"])
    err = capsys.readouterr().err
    assert status == 2
    assert "fake-article-only does not build --layers 2 (it builds: 1); --padding right (it builds: none)" in err


def test_a_run_records_the_refusal_as_unsupported(fake_backends, tmp_path, capsys):
    main(["run", "--suite", "params,shapes", "--backend", "fake-article-only,numpy", "--bidirectional",
          "--out", str(tmp_path), "--format", "json"])
    (run_dir,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    statuses = {(record["backend"], record["suite"]) for record in records if record["status"] == "unsupported"}
    assert statuses == {("fake-article-only", "params"), ("fake-article-only", "shapes")}
    assert all(record["status"] == "pass" for record in records if record["backend"] == "numpy")


@pytest.mark.parametrize("argv,message", [
    (["--padding", "middle"], "'middle' is not accepted (accepted: none, right, left"),
    (["--min-length", "3", "--padding", "right"], "min_length: 3 is above seq_len 2"),
    (["--bidirectional=maybe"], "'maybe' is not accepted (accepted: on, off, or off,on"),
    (["--layers", "0"], "--layers: '0' is not an integer from 1 to 32"),
    (["--layers", "33"], "--layers: '33' is not an integer from 1 to 32"),
    (["--bidirectional", "--no-bidirectional"], "--bidirectional and --no-bidirectional are both given"),
])
def test_bad_structure_options_are_one_line(argv, message, capsys):
    status = main(["run", "--suite", "params", "--backend", "numpy", *argv])
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err


def test_a_timing_sweep_over_padding_and_direction_says_what_each_costs(capsys, tmp_path):
    """One numpy sweep (padding none/right x directions off/on): every cell measured with its kernel, and
    the cost table compares each option with the same cell without it, with a paired interval."""
    from harness.results.reader import load_records
    from suites.structure_costs import option_cost_table

    status = main(["run", "--suite", "train", "--backend", "numpy", "--padding", "none,right", "--bidirectional",
                   "off,on", "--hidden", "8", "--vocab-size", "100", "--embed-dim", "8", "--seq-len", "6",
                   "--batch-size", "4", "--min-time", "0.05", "--max-time", "0.2", "--warmup", "1", "--rounds", "3",
                   "--out", str(tmp_path), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    kernels = {(record["spec"]["padding"], record["spec"]["bidirectional"]): record["kernel_path"]
               for record in document["records"]}
    assert kernels == {("none", False): "NumPy step loop", ("none", True): "NumPy step loop",
                       ("right", False): "NumPy step loop, masked", ("right", True): "NumPy step loop, masked"}
    (run_dir,) = tmp_path.iterdir()
    table = option_cost_table("train on cpu", load_records(run_dir))
    options = sorted((row[2], row[3]) for row in table.rows)
    assert options == [("bidirectional", "-"), ("bidirectional", "padding=right"), ("padding right", "-"),
                       ("padding right", "bidirectional=True")]
    for row in table.rows:
        ratio, interval = row[6].split("x [")
        low, high = (float(bound) for bound in interval.rstrip("]").split("-"))
        assert low <= float(ratio) <= high and row[7] in ("yes", "no")
        without, with_option = float(row[4]), float(row[5])
        assert math.isclose(float(ratio), with_option / without, rel_tol=0.02) or low <= with_option / without <= high


def test_where_outputs_differ_names_the_classic_mistakes_and_the_place():
    from suites.fault_location import where_outputs_differ

    spec = ModelSpec(vocab_size=9, hidden=2, seq_len=4, batch_size=2, bidirectional=True, padding="right")
    token_ids = np.array([[3, 4, 0, 0], [5, 6, 7, 8]])
    rng = np.random.default_rng(0)
    expected = rng.normal(size=(2, 4, 4)) * (token_ids != 0)[:, :, None]
    swapped = np.concatenate([expected[..., 2:], expected[..., :2]], axis=-1)
    assert "[backward | forward] instead of [forward | backward]" in where_outputs_differ(swapped, expected, spec, token_ids)
    repeated = expected.copy()
    repeated[0, 2:] = expected[0, 1]
    assert "repeat its last real output" in where_outputs_differ(repeated, expected, spec, token_ids)
    backward_off = expected.copy()
    backward_off[1, :, 2:] += 1.0
    assert where_outputs_differ(backward_off, expected, spec, token_ids) == "at real steps only, in the backward half"
    assert where_outputs_differ(expected, expected, spec, token_ids) == ""
    assert where_outputs_differ(expected[:, :2], expected, spec, token_ids) == ""  # a shape error says itself


def test_isolate_fault_names_the_first_failing_layer_and_survives_a_raising_check():
    from suites.fault_location import isolate_fault

    spec = ModelSpec(layers=3, bidirectional=True, padding="left", seq_len=4)

    def conforms(simpler):
        if not simpler.bidirectional:
            raise RuntimeError("cannot build")
        return simpler.layers < 2

    found = isolate_fault(conforms, spec)
    assert found == ("isolated: with 1 layer it conforms, with 2 it fails (the fault is in layer 2, lstm_1, or in how "
                     "it reads layer 1)")
    assert isolate_fault(lambda simpler: False, spec) == ""


def test_an_unstable_cell_makes_no_claim_in_the_cost_table():
    from harness.results.record import Record
    from suites.structure_costs import option_cost_table

    spec = ModelSpec(hidden=8)

    def record(status, padding, medians):
        return Record("train", "torch", status, spec.replace(padding=padding).to_dict(), "",
                      {"device": "cpu", "median_seconds": float(np.median(medians)), "round_medians_seconds": medians})

    stable = option_cost_table("t", [record("pass", "none", [1.0, 1.1, 0.9]), record("pass", "right", [2.0, 2.3, 1.9])])
    ((_, _, option, _, _, _, ratio, significant, _),) = stable.rows
    assert option == "padding right" and ratio.startswith("2.") and significant == "yes"
    unstable = option_cost_table("t", [record("unstable", "none", [0.33, 76.0, 80.0]),
                                       record("pass", "right", [0.43, 0.44, 0.45])])
    ((*_, ratio, significant, _),) = unstable.rows
    assert significant == "unstable !" and ratio == f"{0.44 / 76.0:.2f}x"


def test_a_csv_row_keeps_the_spec_layers_and_the_params_per_layer_list():
    from harness.results.frame import flat_row
    from harness.results.record import Record

    record = Record("params", "numpy", "pass", ModelSpec(layers=2).to_dict(), "",
                    {"layers": [{"name": "lstm", "params": 108}], "total_params": 1})
    row = flat_row(record)
    assert row["layers"] == 2 and row["details.layers"] == [{"name": "lstm", "params": 108}]


def test_a_bare_bidirectional_before_the_backend_keeps_the_backend(capsys):
    assert main(["check", "--bidirectional", "numpy", "--suite", "params"]) == 0
    assert "+bi" in capsys.readouterr().out


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_torch_masking_instead_of_packing_gives_the_contracts_gradients(layers, return_sequences):
    """Right-padded, one direction, no final c: the torch backend runs the whole batch and masks (faster
    than packing on the CPU); its loss and gradients are still the reference's (the gradients suite, which
    asks for the states, checks the packed path)."""
    pytest.importorskip("torch")
    from backends.numpy_backend import NumpyBackend
    from backends.torch_backend import TorchBackend
    from harness.tolerances import GRADIENT_TOLERANCE, tensor_error

    spec = small(layers, False, "right", return_sequences=return_sequences, min_length=1)
    token_ids, labels = sample_batch(spec)
    model = TorchBackend().build(spec)
    assert model.module.masks_padding and model.kernel_path().endswith("outputs masked")
    model.set_weights(keras_default_weights(spec))
    reference = NumpyBackend("float64").build(spec)
    reference.set_weights(keras_default_weights(spec, "float64"))
    loss, gradients = model.loss_and_gradients(token_ids, labels)
    expected_loss, expected = reference.loss_and_gradients(token_ids, labels)
    assert abs(loss - expected_loss) <= 1e-6 * abs(expected_loss)
    for name, gradient in expected.items():
        assert GRADIENT_TOLERANCE.allows(tensor_error(gradients[name], gradient)), name
    assert not gradients["embedding"][0].any()
    packed = TorchBackend(always_pack=True).build(spec)
    assert not packed.module.masks_padding and packed.kernel_path().endswith("packed")
