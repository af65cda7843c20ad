"""Analytic FLOPs of one step of the classifier: matrix products only, 2 FLOPs per multiply-add.

Forward, for batch B, steps T, embedding E, units H, head width F:

- LSTM input projection ``x @ kernel``: ``2*B*T*E*4H``
- LSTM recurrence ``h @ recurrent_kernel``: ``2*B*T*H*4H``
- dense head: ``2*B*F``

per LSTM layer and direction, where a layer above the first reads ``D*H`` features instead of E (D = 2
when bidirectional). Padded steps are counted as if computed: the figure is the padded batch's, what a
kernel that cannot skip padding does (a packed kernel does less, and its "% of peak" reads low).

The embedding lookup and the elementwise gate math (about ``30*B*T*H``) are memory-bound and left out,
as is usual for GEMM-normalised figures. A training step costs three forward passes: the backward pass
needs one product for the gradient with respect to the inputs and one for the weights, per forward
product. Optimizer updates are elementwise and left out.
"""

from __future__ import annotations

from harness.contract import lstm_input_width
from harness.model_spec import ModelSpec


def forward_flops(spec: ModelSpec) -> int:
    """Matrix-product FLOPs of one forward pass over a batch."""
    b, t, h = spec.batch_size, spec.seq_len, spec.hidden
    lstm = sum(spec.directions * (2 * b * t * lstm_input_width(spec, layer) * 4 * h + 2 * b * t * h * 4 * h)
               for layer in range(spec.layers))
    return lstm + 2 * b * spec.dense_features


def training_step_flops(spec: ModelSpec) -> int:
    """Matrix-product FLOPs of forward + backward (3x forward)."""
    return 3 * forward_flops(spec)
