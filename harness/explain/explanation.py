"""`Explanation`: everything ``bench explain`` shows, computed once and rendered as a table, JSON or HTML.

- the words and their token ids (`tokenize`: a stable hash into the vocabulary, documented there);
- the weights used (the canonical initial weights for the seed, or a file);
- the parameter arithmetic, per layer from the same formulas the ``params`` suite uses;
- the reference's trace (`harness.explain.gate_trace`): for each layer, direction, step and unit, x_t, the
  four gates, c_t and h_t;
- what the LSTM layer hands back under the four combinations of ``return_sequences`` x ``return_state``,
  with shapes and values;
- per backend: where its values came from (its own gates or recomputed), the largest difference per
  quantity, and the first step, gate and unit where it leaves the output tolerance.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.contract import expected_layer_params, layer_param_formulas
from harness.errors import BenchUsageError
from harness.explain.gate_trace import (
    QUANTITIES,
    Divergence,
    GateTrace,
    first_divergence,
    largest_differences,
    real_mask,
)
from harness.model_spec import ModelSpec

TOKENIZER = ("each word (a run of letters or digits, apostrophes inside it kept as in don't, lower-cased) becomes "
             "1 + (the first 8 bytes of its UTF-8 BLAKE2b hash, as an unsigned integer) mod (V - 1); id 0 is padding "
             "and never drawn")
"""How `tokenize` turns words into ids, as the output says it."""
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
"""A word: letters or digits (any script), joined by single apostrophes (``don't``); underscores,
punctuation and quotes around it are not part of it."""


def tokenize(text: str, vocab_size: int) -> tuple[list[str], list[int]]:
    """The words of ``text`` and their token ids (`TOKENIZER`): the same word always gets the same id, on
    every machine and Python version (no ``hash()`` randomisation)."""
    words = [word.lower() for word in WORD.findall(text)]
    if not words:
        raise BenchUsageError(f"text: {text!r} has no words (expected letters or digits, e.g. 'Good Day')")
    words = [word.encode("utf-8", errors="backslashreplace").decode("utf-8") for word in words]  # undecodable bytes
    if vocab_size < 2:
        raise BenchUsageError(f"--vocab-size: {vocab_size} leaves no id for a word (id 0 is padding; expected >= 2)")
    ids = [1 + int.from_bytes(hashlib.blake2b(word.encode("utf-8")).digest()[:8], "big") % (vocab_size - 1)
           for word in words]
    return words, ids


@dataclass
class BackendExplanation:
    """One backend's values against the reference.

    Attributes:
        name: the backend.
        status: ``pass`` (within the tolerance everywhere), ``fail`` (leaves it: see ``divergence``),
            ``unsupported``, ``skipped`` or ``error`` (see ``reason``).
        source: where its values came from (`GateTrace.source`).
        trace: its trace, for the side-by-side values.
        largest: per layer and direction, per quantity, the largest absolute difference.
        divergence: the first place it leaves the tolerance, None if it never does.
        reason: why there is no trace.
    """

    name: str
    status: str
    source: str = ""
    trace: GateTrace | None = None
    largest: dict[str, dict[str, float]] = field(default_factory=dict)
    divergence: Divergence | None = None
    reason: str = ""


@dataclass
class Explanation:
    """What ``bench explain`` shows (see the module docstring)."""

    spec: ModelSpec
    text: str
    words: list[str]
    token_ids: list[int]
    weights_source: str
    reference: GateTrace
    backends: list[BackendExplanation]
    units_shown: int

    @property
    def parameters(self) -> list[tuple[str, str, int]]:
        """``(layer, formula, count)`` for each layer with parameters, from the params suite's formulas."""
        counts = expected_layer_params(self.spec)
        return [(layer, formula, counts[layer]) for layer, formula in layer_param_formulas(self.spec).items()]

    @property
    def parameter_sum(self) -> str:
        """``250,000 + 108 + 7 = 250,115``."""
        counts = [count for _, _, count in self.parameters]
        return " + ".join(f"{count:,}" for count in counts) + f" = {sum(counts):,}"

    def returns(self) -> list[dict[str, Any]]:
        """What the (last) LSTM layer hands back for each ``return_sequences`` x ``return_state``, from the
        reference: the outputs' names, shapes and values (the first `units_shown` units)."""
        prefixes = [prefix for prefix in self.reference.layers if prefix.split(".")[0] == self._last_layer]
        sequence = np.concatenate([self._natural_order(prefix, "h") for prefix in prefixes], axis=-1)[0]
        final_h = np.concatenate([self._final(prefix, "h") for prefix in prefixes])
        final_c = np.concatenate([self._final(prefix, "c") for prefix in prefixes])
        width, steps = sequence.shape[-1], sequence.shape[0]
        combinations = []
        for return_sequences in (False, True):
            for return_state in (False, True):
                main = ("output: every step's h_t", f"(1, {steps}, {width})", sequence) if return_sequences else \
                    ("output: the last step's h_T", f"(1, {width})", final_h)
                outputs = [main]
                if return_state:
                    outputs += [("state_h = h_T", f"(1, {width})", final_h), ("state_c = c_T", f"(1, {width})", final_c)]
                combinations.append({"return_sequences": return_sequences, "return_state": return_state,
                                     "outputs": outputs,
                                     "chosen": (return_sequences, return_state) == (self.spec.return_sequences,
                                                                                    self.spec.return_state)})
        return combinations

    def reference_last_layer(self) -> str:
        """The last LSTM layer's name (``lstm``, ``lstm_1``...), the one whose outputs the head reads."""
        return self._last_layer

    @property
    def _last_layer(self) -> str:
        return list(self.reference.layers)[-1].split(".")[0]

    def _natural_order(self, prefix: str, quantity: str) -> np.ndarray:
        """A quantity ``(1, T, H)`` in the sentence's order (the backward direction's steps turned back)."""
        values = self.reference.layers[prefix][quantity]
        return values[:, ::-1] if prefix.endswith(".backward") else values

    def _final(self, prefix: str, quantity: str) -> np.ndarray:
        return self.reference.layers[prefix][quantity][0, -1]


def explain_backend(name: str, trace: GateTrace, reference: GateTrace, spec: ModelSpec,
                    token_ids: np.ndarray) -> BackendExplanation:
    """Compare ``trace`` with ``reference`` (see `BackendExplanation`)."""
    real = real_mask(spec, token_ids)
    divergence = first_divergence(trace, reference, real)
    return BackendExplanation(name, "pass" if divergence is None else "fail", trace.source, trace,
                              largest_differences(trace, reference, real), divergence)


def quantities_of(trace: GateTrace, prefix: str, step: int, units: int) -> dict[str, list[float]]:
    """Each quantity's first ``units`` values at ``step`` of ``prefix`` in ``trace`` (example 0)."""
    return {quantity: [float(value) for value in np.asarray(trace.layers[prefix][quantity])[0, step, :units]]
            for quantity in QUANTITIES if quantity in trace.layers.get(prefix, {})}
