"""How two arrays are compared: errors normalised by the reference's scale, and the documented tolerances.

For an actual array ``a`` and a reference ``r`` (the NumPy float64 reference), both are reported:

- max-based: ``max_abs_error = max |a - r|``, ``reference_scale = max |r|``,
  ``max_rel_error = max_abs_error / reference_scale`` (relative to the tensor's largest value, because
  elementwise ratios explode where r ~ 0). Passes when ``max_abs_error <= atol + rtol * reference_scale``.
- normwise: ``norm_rel_error = ||a - r||_2 / ||r||_2``. Passes when
  ``||a - r||_2 <= atol * sqrt(size) + rtol * ||r||_2``.

Why these tolerances (float32 backends against a float64 reference):

- `OUTPUT_TOLERANCE` and `GRADIENT_TOLERANCE`, rtol 1e-4: float32 carries ~7 digits (eps 1.2e-7); a
  forward and backward pass through T steps loses one or two, and the three built-ins measure 1e-7 to
  5e-7 here. 1e-4 leaves a 100x margin yet catches a gradient that is off by 0.1%. atol 1e-7 only
  matters for tensors that are exactly zero in the reference.
- `TRAINING_TOLERANCE`, **normwise** rtol 1e-3 on each weight's *change* since the start (``w_t - w_0``),
  after every step. Normwise because Adam divides every element by ``sqrt(v) + epsilon``: an element whose
  gradient is within float32 noise of zero (an early token of a long sequence, where the gradient has
  vanished through backpropagation to ~1e-9) gets an update dominated by that noise, up to the learning
  rate per step, and differently in every framework. Measured here at hidden 64, seq_len 20: Keras on
  TensorFlow computes such an element as -1.4e-8 where float64 says -4.4e-9, and after 5 Adam steps the
  max-based error of its embedding change is 1.1e-3 (PyTorch 2e-5), while the normwise error stays
  ~1e-5. A max-based criterion would fail float32 itself; the norm is carried by the elements that
  matter. 1e-3 still catches Adam's epsilon placed the PyTorch way (most embedding rows move 10-30% too
  far) and a wrong learning rate. atol 1e-6 (per element, RMS) absorbs tensors whose reference change is
  exactly zero (e.g. the recurrent kernel when seq_len is 1).
- `LOSS_TOLERANCE`: the loss is a scalar near 0.7; rtol 1e-4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """Max-based: pass when ``max_abs_error <= atol + rtol * reference_scale``; with ``normwise``, pass when
    ``error_norm <= atol * sqrt(size) + rtol * reference_norm``."""

    rtol: float
    atol: float
    normwise: bool = False

    def allows(self, error: TensorError) -> bool:
        if self.normwise:
            return error.error_norm <= self.atol * math.sqrt(error.size) + self.rtol * error.reference_norm
        return error.max_abs_error <= self.atol + self.rtol * error.reference_scale

    def relative_error(self, error: TensorError) -> float:
        """The relative error this tolerance judges: normwise or max-based."""
        return error.norm_rel_error if self.normwise else error.max_rel_error

    def describe(self) -> str:
        return f"{'norm ' if self.normwise else ''}rtol {self.rtol:g}"


OUTPUT_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-7)
GRADIENT_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-7)
LOSS_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-7)
TRAINING_TOLERANCE = Tolerance(rtol=1e-3, atol=1e-6, normwise=True)


@dataclass(frozen=True)
class TensorError:
    """How far one tensor is from its reference, max-based and normwise."""

    max_abs_error: float
    reference_scale: float
    error_norm: float
    reference_norm: float
    size: int

    @property
    def max_rel_error(self) -> float:
        return _ratio(self.max_abs_error, self.reference_scale)

    @property
    def norm_rel_error(self) -> float:
        return _ratio(self.error_norm, self.reference_norm)

    def to_json(self, tolerance: Tolerance) -> dict[str, float | bool | str]:
        return {
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "norm_rel_error": self.norm_rel_error,
            "reference_scale": self.reference_scale,
            "criterion": "norm" if tolerance.normwise else "max",
            "rtol": tolerance.rtol,
            "atol": tolerance.atol,
            "passed": tolerance.allows(self),
        }


def margin(rel_error: float, rtol: float) -> float | None:
    """How many times smaller than its tolerance a relative error is (``rtol / rel_error``); None for an
    exact match. What ``bench check`` and the records call the *margin*."""
    return rtol / rel_error if rel_error > 0 else None


def _ratio(error: float, scale: float) -> float:
    if scale > 0:
        return error / scale
    return 0.0 if error == 0 else float("inf")


def tensor_error(actual, reference) -> TensorError:
    """Compare two arrays of the same shape in float64; a shape mismatch or a non-finite value is an
    infinite error."""
    reference_array = np.asarray(reference, dtype=np.float64)
    scale = float(np.max(np.abs(reference_array))) if reference_array.size else 0.0
    reference_norm = float(np.linalg.norm(reference_array))
    if actual is None:
        return TensorError(float("inf"), scale, float("inf"), reference_norm, reference_array.size)
    actual_array = np.asarray(actual, dtype=np.float64)
    if actual_array.shape != reference_array.shape or not np.all(np.isfinite(actual_array)):
        return TensorError(float("inf"), scale, float("inf"), reference_norm, reference_array.size)
    difference = np.abs(actual_array - reference_array)
    max_abs_error = float(np.max(difference)) if difference.size else 0.0
    return TensorError(max_abs_error, scale, float(np.linalg.norm(difference)), reference_norm, reference_array.size)
