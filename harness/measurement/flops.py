"""Analytic FLOPs of one step of the classifier: matrix products only, 2 FLOPs per multiply-add.

Forward, for batch B, steps T, embedding E, units H, head width F:

- LSTM input projection ``x @ kernel``: ``2*B*T*E*4H``
- LSTM recurrence ``h @ recurrent_kernel``: ``2*B*T*H*4H``
- dense head: ``2*B*F``

The embedding lookup and the elementwise gate math (about ``30*B*T*H``) are memory-bound and left out,
as is usual for GEMM-normalised figures. A training step costs three forward passes: the backward pass
needs one product for the gradient with respect to the inputs and one for the weights, per forward
product. Optimizer updates are elementwise and left out.
"""

from __future__ import annotations

from harness.model_spec import ModelSpec


def forward_flops(spec: ModelSpec) -> int:
    """Matrix-product FLOPs of one forward pass over a batch."""
    b, t, e, h = spec.batch_size, spec.seq_len, spec.embed_dim, spec.hidden
    return 2 * b * t * e * 4 * h + 2 * b * t * h * 4 * h + 2 * b * spec.dense_features


def training_step_flops(spec: ModelSpec) -> int:
    """Matrix-product FLOPs of forward + backward (3x forward)."""
    return 3 * forward_flops(spec)
