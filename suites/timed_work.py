"""Timed work is verified work: what is checked of a backend's prepared closures, around their timing.

A timing cell times whatever `ClassifierModel.prepare_train_step` / `prepare_inference` return. Before
any sample is taken, and outside the timed region, the closures prove they do the work the check suites
verified (the contract: docs/contract.md, "What the timed closures must do"):

- **Train.** The model starts from the canonical weights (`harness.canonical.keras_default_weights`);
  `TRAIN_BATCHES` batches are prepared, one closure each, and the timing rotates through them. The first
  three calls (`VERIFIED_TRAIN_SEQUENCE`: batch 0, batch 1, batch 0 again; the first is the timed first
  step; the first only, in timing cells whose reference step is expensive: `verified_train_steps`) must
  each leave the weights where the NumPy float64 reference's Adam steps (`TIMING_OPTIMIZER`) put them, each weight's change within `harness.tolerances.TRAINING_TOLERANCE` (the training suite's):
  a step that skips backward or the update, reuses a gradient or the moments, restarts Adam's step count,
  skips calls, or updates only the rows of the batch's tokens lands elsewhere.
- **Infer.** `INFERENCE_BATCHES` distinct batches of the cell's shape are prepared on the device, one
  closure each, and the timing rotates through them (`Rotation`), so a backend that returns the last
  answer it computed is timed computing. Each closure's first answer must be the reference's predictions
  for its batch, within `harness.tolerances.OUTPUT_TOLERANCE`. After sampling, the weights are changed
  (``dense.bias`` + `PROBE_BIAS_SHIFT`) and the first closure must follow: its predictions must become
  ``sigmoid(logit(p) + shift)`` of its own first ones; then (first round) `perturbed_weights` change the
  embedding and the LSTM's kernel and bias, and the answer must be the reference's for them, so neither an answer
  nor the embedding lookup nor the LSTM's features can be kept from an earlier call.
- **Deferred work.** In the first round, reading the answer (`ClassifierModel.output_to_numpy`) must not
  take longer than the timed call itself (`DEFERRED_WORK_FACTOR`): a closure that returns a lazy handle,
  computed only when read, is timed doing nothing.
- **Speed.** A cell whose step runs faster than `suites.timing_suite.MAX_PLAUSIBLE_FRACTION_OF_PEAK` times
  the device's GEMM peak fails: it cannot be doing its FLOPs (a closure that returns before the work is
  done, or a cache keyed on something the probes above cannot see).

The reference is computed once per cell, in its first round (``expected=None`` skips it in the others,
whose closures are the same code, and which check only that the first call moved the weights and that
the inference follows ``dense.bias``). On an accelerator the
float32 tolerances are the first tier: work within `ACCELERATOR_TOLERANCE` passes with the record saying
it was verified at reduced precision (TF32 tensor cores, the GPU default of PyTorch and JAX); beyond it,
the cell fails. The check suite ``timed-work`` (`suites.timed_work_check`) runs the same verification
without timing anything, so ``bench check`` catches a backend whose timed work is not the verified work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.canonical import keras_default_weights, sample_batch
from harness.contract import ClassifierModel, lstm_layer_weights
from harness.measurement.flops import training_step_flops
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec
from harness.tolerances import OUTPUT_TOLERANCE, TRAINING_TOLERANCE, TensorError, Tolerance, margin, tensor_error
from suites.reference_checks import reference_model

TIMING_OPTIMIZER = OptimizerSpec("adam", learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
"""Keras' defaults, the article's ``optimizer='adam'``: the step the ``train`` suite times."""
TRAIN_BATCHES = 2
"""Distinct batches the ``train`` suite rotates through, one prepared closure each."""
VERIFIED_TRAIN_SEQUENCE = (0, 1, 0)
"""The closures called, in order, for the first three steps, each verified against the reference's step:
every closure is called twice or more before the samples."""
MAX_REFERENCE_FLOPS_FOR_THREE_STEPS = 2e10
"""A timing cell verifies all three steps when one reference step costs at most this many FLOPs (about
2 s in NumPy float64 on this project's machine: hidden 256 of the default timing spec); above it, the
first step only (one reference step at hidden 1024 takes 12 s)."""
INFERENCE_BATCHES = 4
"""Distinct batches the ``infer`` suite rotates through: a cached answer is the wrong answer 3 times in 4."""
PROBE_BIAS_SHIFT = 1.0
"""How much ``dense.bias`` moves for the caching probe: every prediction changes by ``p(1-p)`` or so."""
PROBE_EMBEDDING_SCALE = 1.5
PROBE_KERNEL_SCALE = 0.8
PROBE_LSTM_BIAS_SCALE = 0.5
"""The probe's changes: embedding, the LSTM's kernel and its bias (the bias moves the LSTM's features even
where the inputs barely do: on the kit's stress spec, a head over features computed at prepare time is off by
1.7e-2 with it, 7e-5 without)."""
ACCELERATOR_TOLERANCE = Tolerance(rtol=1e-2, atol=1e-6, normwise=True)
"""On an accelerator, timed work within 1% (normwise) is verified at reduced precision: TF32's error is
about 3e-4; a step that skips backward or the update, or an answer cached, is off by 100%."""
DEFERRED_WORK_PROBES = 5
"""Calls of the first inference closure, each followed by reading its answer, in the deferred-work probe."""
DEFERRED_WORK_FACTOR = 2.0
DEFERRED_WORK_FLOOR_SECONDS = 5e-5
"""Reading a prepared inference's answer (`ClassifierModel.output_to_numpy`: B floats, a device-to-host copy at
most, 2-30 us measured) that takes longer than `DEFERRED_WORK_FACTOR` times the timed call and more than this
is doing the model's work outside the timed region: the closure handed back a lazy handle."""
UNCHANGED = 1e-12
"""A weight whose change is below this fraction of the reference's was not updated at all."""


class TimedWorkMismatch(Exception):
    """The prepared closure did not do the verified work; the message names what differs."""


@dataclass(frozen=True)
class Verified:
    """What the verification of one cell's closures found.

    Attributes:
        worst: the tensor (``lstm.kernel``, ``predictions batch 2``) with the largest error relative to
            its float32 tolerance.
        rel_error: its relative error (normwise for weights, max-based for predictions).
        rtol: the float32 tolerance it was judged by.
        reduced_precision: True when it exceeded that tolerance but not `ACCELERATOR_TOLERANCE`.
    """

    worst: str
    rel_error: float
    rtol: float
    reduced_precision: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"worst": self.worst, "rel_error": self.rel_error, "rtol": self.rtol,
                "margin": margin(self.rel_error, self.rtol), "reduced_precision": self.reduced_precision}


class Rotation:
    """Calls its steps in turn, one per call: the timed function of an ``infer`` cell."""

    __slots__ = ("position", "steps")

    def __init__(self, steps: Sequence[Callable[[], object]]) -> None:
        self.steps, self.position = tuple(steps), 0

    def __call__(self) -> object:
        step = self.steps[self.position]
        self.position = (self.position + 1) % len(self.steps)
        return step()


def start_from_canonical_weights(model: ClassifierModel, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Load the canonical weights into ``model``; returns them (float32)."""
    weights = keras_default_weights(spec)
    model.set_weights(weights)
    return weights


def inference_batches(spec: ModelSpec) -> list[np.ndarray]:
    """`INFERENCE_BATCHES` distinct token-id batches of the cell's shape; the first is the canonical batch."""
    return [sample_batch(spec, step)[0] for step in range(INFERENCE_BATCHES)]


def train_batches(spec: ModelSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """`TRAIN_BATCHES` distinct (token ids, labels) batches of the cell's shape; the first is the canonical batch."""
    return [sample_batch(spec, step) for step in range(TRAIN_BATCHES)]


def verified_train_steps(spec: ModelSpec) -> int:
    """How many of `VERIFIED_TRAIN_SEQUENCE`'s steps a timing cell verifies: all three where the reference's
    steps are cheap (`MAX_REFERENCE_FLOPS_FOR_THREE_STEPS`), else the first (the kit's ``timed-work`` suite
    verifies all three on its small specs, with the same closures)."""
    return len(VERIFIED_TRAIN_SEQUENCE) if training_step_flops(spec) <= MAX_REFERENCE_FLOPS_FOR_THREE_STEPS else 1


def expected_train_changes(spec: ModelSpec, steps: int = len(VERIFIED_TRAIN_SEQUENCE)) -> list[dict[str, np.ndarray]]:
    """Each weight's change from the canonical weights after each of the float64 reference's first
    ``steps`` `TIMING_OPTIMIZER` steps on the batches of `VERIFIED_TRAIN_SEQUENCE`."""
    reference = reference_model(spec)
    initial = reference.get_weights()
    batches = train_batches(spec)
    changes = []
    for number in VERIFIED_TRAIN_SEQUENCE[:steps]:
        token_ids, labels = batches[number]
        reference.train_step(token_ids, labels, TIMING_OPTIMIZER)
        after = reference.get_weights()
        changes.append({name: after[name] - initial[name] for name in initial})
    return changes


@dataclass(frozen=True)
class ExpectedInference:
    """The float64 reference's predictions: for each batch from the canonical weights, and for batch 0
    from `perturbed_weights` (the probe that every part of the model is computed at every call)."""

    batches: list[np.ndarray]
    perturbed: np.ndarray


def perturbed_weights(weights: dict[str, np.ndarray], spec: ModelSpec) -> dict[str, np.ndarray]:
    """The canonical weights with the embedding scaled by `PROBE_EMBEDDING_SCALE`, every LSTM kernel (each
    layer and direction) by `PROBE_KERNEL_SCALE` and every LSTM bias by `PROBE_LSTM_BIAS_SCALE`: an answer
    that kept the embedding lookup or the LSTM's features from an earlier call, or from the weights when it
    was prepared, is off."""
    changed = {name: np.array(value, copy=True) for name, value in weights.items()}
    changed["embedding"] = changed["embedding"] * PROBE_EMBEDDING_SCALE
    lstm_weights = {name for names in lstm_layer_weights(spec).values() for name in names}
    for name in lstm_weights:
        if name.endswith(".kernel") and not name.endswith(".recurrent_kernel"):
            changed[name] = changed[name] * PROBE_KERNEL_SCALE
        elif name.endswith(".bias"):
            changed[name] = changed[name] * PROBE_LSTM_BIAS_SCALE
    return changed


def expected_predictions(spec: ModelSpec, batches: Sequence[np.ndarray]) -> ExpectedInference:
    """The float64 reference's answers for `InferenceWork`'s checks."""
    reference = reference_model(spec)
    answers = [np.asarray(reference.forward(batch).predictions, np.float64) for batch in batches]
    reference.set_weights(perturbed_weights(keras_default_weights(spec), spec))
    return ExpectedInference(answers, np.asarray(reference.forward(batches[0]).predictions, np.float64))


class TrainWork:
    """`TRAIN_BATCHES` prepared train steps, rotated, and their verification (see the module docstring)."""

    def __init__(self, model: ClassifierModel, spec: ModelSpec, device: str,
                 expected_changes: list[dict[str, np.ndarray]] | None) -> None:
        self.model, self.device, self.expected_changes = model, device, expected_changes
        self.initial = {name: np.asarray(value, np.float64) for name, value in start_from_canonical_weights(model, spec).items()}
        self.closures = [model.prepare_train_step(token_ids, labels, TIMING_OPTIMIZER) for token_ids, labels in train_batches(spec)]
        self.step = Rotation(self.closures)
        self.verified: Verified | None = None

    def after_first_step(self, _output: object) -> None:
        """After the first call the weights must have moved (every round). In the first round they must
        be where the reference's first Adam step puts them, and after one more call, on the second batch,
        where its second step does: a step that reuses a gradient or the optimizer's moments, restarts
        Adam's step count, skips every other update or updates only the rows of one batch lands elsewhere."""
        changes = self._changes()
        if not any(np.any(change) for change in changes.values()):
            raise TimedWorkMismatch("train: the timed step did not update any weight (is it only a forward pass?); "
                                    "it must run forward, loss, backward and the optimizer update")
        if self.expected_changes is None:
            return
        first = self.expected_changes[0]
        reference = {name: float(np.linalg.norm(first[name])) for name in self.initial}
        still = [name for name in self.initial
                 if reference[name] > 0 and np.linalg.norm(changes[name]) <= UNCHANGED * reference[name]]
        if still:
            raise TimedWorkMismatch(f"train: the timed step did not update {', '.join(still)}")
        errors = {name: tensor_error(changes[name], first[name]) for name in self.initial}
        found = [_judge(errors, TRAINING_TOLERANCE, self.device,
                        lambda name: f"train: the timed step's update of {name} is not the reference's one Adam step")]
        for call, (closure, expected) in enumerate(zip(VERIFIED_TRAIN_SEQUENCE[1:], self.expected_changes[1:]), start=2):
            before = {name: np.array(value, copy=True) for name, value in self.model.get_weights().items()}
            self.closures[closure]()
            after = self.model.get_weights()
            if all(np.array_equal(before[name], np.asarray(after[name])) for name in self.initial):
                raise TimedWorkMismatch(f"train: the timed step did not update the weights on call {call} "
                                        f"(batch {closure})")
            changes = self._changes(after)
            errors = {f"{name} after {call} steps": tensor_error(changes[name], expected[name]) for name in self.initial}
            found.append(_judge(errors, TRAINING_TOLERANCE, self.device, lambda name, call=call: (
                f"train: after {call} calls, {name.split(' after ')[0]} is not where the reference's {call} Adam steps "
                "put it (is a gradient or the optimizer state reused, Adam's step count restarted, an update skipped, "
                "or only the batch's embedding rows updated?)")))
        self.verified = max(found, key=lambda verified: verified.rel_error / verified.rtol)

    def after_sampling(self) -> None:
        """Nothing more for the train step: the first round proved two consecutive steps. (A check that
        later calls still move the weights would fail an honest backend whose thousands of steps on two
        batches have driven the loss to float32's floor.)"""

    def _changes(self, weights: dict | None = None) -> dict[str, np.ndarray]:
        weights = self.model.get_weights() if weights is None else weights
        return {name: np.asarray(weights[name], np.float64) - self.initial[name] for name in self.initial}


class InferenceWork:
    """`INFERENCE_BATCHES` prepared inferences, rotated, and their verification (see the module docstring)."""

    def __init__(self, model: ClassifierModel, spec: ModelSpec, device: str, batches: Sequence[np.ndarray],
                 expected: ExpectedInference | None) -> None:
        self.model, self.device, self.expected = model, device, expected
        self.weights = start_from_canonical_weights(model, spec)
        self.closures = [model.prepare_inference(batch) for batch in batches]
        self.step = Rotation(self.closures)
        self.first: np.ndarray | None = None
        self.verified: Verified | None = None

    def after_first_step(self, output: object) -> None:
        """Every closure's first answer against the reference's predictions for its batch (first round
        only; later rounds keep the first answer for the caching probe and call nothing more)."""
        self.first = self._predictions(output, 0)
        if self.expected is None:
            return
        answers = [self.first]
        answers += [self._predictions(closure(), number) for number, closure in enumerate(self.closures[1:], start=1)]
        errors = {f"predictions of batch {number}": tensor_error(answer, expected)
                  for number, (answer, expected) in enumerate(zip(answers, self.expected.batches))}
        for number in range(1, len(answers)):
            if np.array_equal(answers[number], answers[0]) and not np.allclose(self.expected.batches[number],
                                                                               self.expected.batches[0]):
                raise TimedWorkMismatch(f"infer: the timed inference of batch {number} returned batch 0's predictions: "
                                        "it does not compute from its own input (a cached answer?)")
        self.verified = _judge(errors, OUTPUT_TOLERANCE, self.device,
                               lambda name: f"infer: the timed inference's {name} differ from the reference's")

    def after_sampling(self) -> None:
        """Shift ``dense.bias``: the first closure's predictions must follow (nothing cached). In the first
        round, also load `perturbed_weights`: they must become the reference's for those weights (nothing
        of the embedding lookup or the LSTM kept from earlier)."""
        if self.first is None:
            raise TimedWorkMismatch("infer: the timed inference was never called before its caching probe")
        if self.expected is not None:
            self._check_work_is_timed()
        shifted = {name: np.array(value, copy=True) for name, value in self.weights.items()}
        shifted["dense.bias"] = shifted["dense.bias"] + PROBE_BIAS_SHIFT
        tolerance = OUTPUT_TOLERANCE if self.device == "cpu" else ACCELERATOR_TOLERANCE
        try:
            answer = self._answer_with(shifted)
            first = np.clip(self.first.astype(np.float64), 1e-12, 1 - 1e-12)
            expected = 1 / (1 + np.exp(-(np.log(first / (1 - first)) + PROBE_BIAS_SHIFT)))
            error = tensor_error(answer, expected)
            if not tolerance.allows(error):
                unchanged = np.allclose(answer, self.first)
                raise TimedWorkMismatch(
                    "infer: the timed inference did not follow a change of the weights (dense.bias + "
                    f"{PROBE_BIAS_SHIFT:g}): " + ("it returned its earlier predictions, a cached answer" if unchanged else
                                                  f"rel error {error.max_rel_error:.1e} > {tolerance.describe()}"))
            if self.expected is not None:
                error = tensor_error(self._answer_with(perturbed_weights(self.weights, self.model.spec)), self.expected.perturbed)
                if not tolerance.allows(error):
                    raise TimedWorkMismatch(
                        f"infer: with the embedding x{PROBE_EMBEDDING_SCALE:g}, every LSTM kernel x{PROBE_KERNEL_SCALE:g} "
                        f"and LSTM bias x{PROBE_LSTM_BIAS_SCALE:g}, "
                        f"the timed inference's predictions are not the reference's (rel error {error.max_rel_error:.1e} > "
                        f"{tolerance.describe()}): part of the model (the embedding lookup, the LSTM) is not computed "
                        "at every call from the current weights")
        finally:
            self.model.set_weights(self.weights)

    def _check_work_is_timed(self) -> None:
        """The answer must be computed inside the timed call, not when it is read: the fastest of
        `DEFERRED_WORK_PROBES` reads of the predictions against the median call (first round only)."""
        calls, reads = [], []
        for _ in range(DEFERRED_WORK_PROBES):
            started = time.perf_counter()
            output = self.closures[0]()
            calls.append(time.perf_counter() - started)
            started = time.perf_counter()
            self._predictions(output, 0)
            reads.append(time.perf_counter() - started)
        call, read = float(np.median(calls)), min(reads)
        if read > max(DEFERRED_WORK_FACTOR * call, DEFERRED_WORK_FLOOR_SECONDS):
            raise TimedWorkMismatch(
                f"infer: reading the predictions (output_to_numpy) took {read * 1e3:.3g} ms, {read / call:.0f}x the "
                f"timed inference's {call * 1e3:.3g} ms: the model's work happens outside the timed region; the "
                "closure must return only once its predictions are computed (docs/contract.md)")

    def _answer_with(self, weights: dict[str, np.ndarray]) -> np.ndarray:
        self.model.set_weights(weights)
        return self._predictions(self.closures[0](), 0)

    def _predictions(self, output: object, number: int) -> np.ndarray:
        if output is None:
            raise TimedWorkMismatch("infer: the timed inference returned nothing; it must return the batch's predictions "
                                    "(docs/contract.md, \"What the timed closures must do\")")
        try:
            predictions = np.asarray(self.model.output_to_numpy(output), np.float64)
        except Exception as error:  # noqa: BLE001 - the backend's conversion: any failure is the same verdict
            raise TimedWorkMismatch(f"infer: the predictions the timed inference returned for batch {number} cannot be "
                                    f"read as an array ({type(error).__name__}: {error})") from None
        if predictions.size != self.model.spec.batch_size:
            raise TimedWorkMismatch(f"infer: the timed inference returned shape {predictions.shape} for batch {number}; "
                                    f"expected the predictions, ({self.model.spec.batch_size}, 1)")
        return predictions.reshape(-1, 1)


def _judge(errors: dict[str, TensorError], tolerance: Tolerance, device: str, what: Callable[[str], str]) -> Verified:
    """The worst error; `TimedWorkMismatch` beyond the tolerance (on an accelerator, beyond the reduced tier)."""
    worst = max(errors, key=lambda name: tolerance.relative_error(errors[name]) / tolerance.rtol)
    reduced = False
    for name, error in errors.items():
        if tolerance.allows(error):
            continue
        if device != "cpu" and ACCELERATOR_TOLERANCE.allows(error):
            reduced = True
            continue
        limit = tolerance if device == "cpu" else ACCELERATOR_TOLERANCE
        raise TimedWorkMismatch(f"{what(name)} (rel error {limit.relative_error(error):.1e} > {limit.describe()})")
    return Verified(worst, tolerance.relative_error(errors[worst]), tolerance.rtol, reduced)
