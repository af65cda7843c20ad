"""Where a failing model's fault lives: for the gradients suite's messages.

Two questions a framework author asks when a stacked, bidirectional or padded model fails: *which option*
(`isolate_fault`: the same model, one option simplified, conforms?) and *where in the output*
(`where_outputs_differ`: which direction's half, padded or real steps, or one of the two classic mistakes
by name). Both only describe; the verdict is the tolerances'.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.contract import DIRECTIONS
from harness.model_spec import ModelSpec

LOCATED_SHARE = 0.1
"""A part (a direction's half, the padded or the real steps) is named where a forward output differs when
its worst difference is at least this share of the whole tensor's."""
SAME_WITHIN = 1e-3
"""Relative to the output's largest value: an output this close to a rearrangement of the reference *is*
that rearrangement (float32 agrees within about 1e-6; the mistakes it names are off by 100%)."""


def isolate_fault(conforms: Callable[[ModelSpec], bool], spec: ModelSpec) -> str:
    """For a stacked, bidirectional or padded spec that fails: which of its options the fault lives in,
    found by checking the same model with one option simplified (``conforms(simpler_spec)``), e.g.
    ``isolated: with 1 layer it conforms, with 2 it fails (the fault is in layer 2, lstm_1, or in how it
    reads layer 1); unidirectional conforms (...)``; empty when no simplification conforms or there is none
    to try. A simplification that cannot even be checked (it raises) counts as not conforming."""
    def safely(simpler: ModelSpec) -> bool:
        try:
            return conforms(simpler)
        except Exception:  # noqa: BLE001 - a description must not turn a failure into an error
            return False

    found = []
    if spec.layers > 1:
        failing_from = next((layers for layers in range(1, spec.layers) if not safely(spec.replace(layers=layers))),
                            spec.layers)
        if failing_from > 1:
            found.append(f"with {failing_from - 1} layer{'s' if failing_from > 2 else ''} it conforms, with "
                         f"{failing_from} it fails (the fault is in layer {failing_from}, lstm_{failing_from - 1}, or in "
                         f"how it reads layer {failing_from - 1})")
    if spec.bidirectional and safely(spec.replace(bidirectional=False)):
        found.append("unidirectional conforms (the fault is in the backward direction, or in how the two "
                     "directions are combined)")
    if spec.padded and safely(spec.replace(padding="none", min_length=1)):
        found.append("without padding it conforms (the fault is in how padded steps are handled)")
    return "isolated: " + "; ".join(found) if found else ""


def where_outputs_differ(actual, expected, spec: ModelSpec, token_ids: np.ndarray) -> str:
    """Where an LSTM output differs from the reference, for a failure message: the two classic mistakes
    by name (directions concatenated in the other order; padded steps repeating the last real output),
    else which direction's half (bidirectional) and, for the output sequence of a padded spec, at padded
    or real steps, e.g. ``at padded steps only, in the backward half``; empty when the shapes differ or
    nothing stands out."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape or actual.size == 0:
        return ""
    difference = np.abs(actual - expected)
    worst = float(difference.max())
    if not worst > 0:
        return ""
    tolerance = SAME_WITHIN * max(float(np.abs(expected).max()), 1e-30)
    if spec.bidirectional:
        forward, backward = np.split(expected, 2, axis=-1)
        if np.abs(actual - np.concatenate([backward, forward], axis=-1)).max() <= tolerance:
            return "its halves are the reference's in the other order: [backward | forward] instead of [forward | backward]"
    sequence = difference.ndim == 3 and spec.padded
    parts = []
    if sequence:
        real = token_ids != 0
        last_real = spec.seq_len - 1 - real[:, ::-1].argmax(axis=1)
        after_last = np.arange(spec.seq_len)[None, :] > last_real[:, None]
        repeated = np.broadcast_to(np.take_along_axis(expected, last_real[:, None, None], axis=1), actual.shape)
        if after_last.any() and difference[~after_last].max() <= tolerance \
                and np.abs(actual[after_last] - repeated[after_last]).max() <= tolerance:
            return "the steps after each example's last real token repeat its last real output (expected 0 at padded steps)"
        at = [where for where, mask in (("padded", ~real), ("real", real))
              if mask.any() and difference[mask].max() >= LOCATED_SHARE * worst]
        parts.append(f"at {' and '.join(at)} steps" + (" only" if len(at) == 1 else ""))
    if spec.bidirectional:
        halves = np.split(difference, 2, axis=-1)
        found = [direction for direction, half in zip(DIRECTIONS, halves) if half.max() >= LOCATED_SHARE * worst]
        parts.append(f"in the {found[0]} half" if len(found) == 1 else "in both directions' halves")
    return ", ".join(parts)
