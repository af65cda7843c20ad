"""When does packing pay in PyTorch? Packed vs padded ``nn.LSTM`` training steps, side by side.

The torch backend packs padded batches (``pack_padded_sequence``), the only way its fused kernel skips the
padding and gives the contract's answer for left padding, the backward direction and the final state. The
alternative a user might write, running ``nn.LSTM`` over the whole padded tensor and masking the outputs,
computes every padded step, and gives the contract's answer only for right-padded, unidirectional outputs
(docs/equivalence.md). This script times both, forward and backward of the LSTM alone, on right-padded
batches whose lengths are drawn from [1, T] (about half the steps are padding), with
``torch.utils.benchmark`` (`REPEATS` alternating measurements of each, the median of their medians):
``python benchmarks/torch_packing_cost.py``.
The numbers quoted in docs/methodology.md come from it; on a GPU the same script runs with ``--device cuda``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils import benchmark

SIZES = {"T": (20, 100), "B": (16, 64), "H": (64, 256)}
"""The grid: sequence length, batch size, hidden units (embedding width 32 throughout)."""
REPEATS = 3
"""Each step is measured this many times, alternating with the other, so drift hits both alike."""


def steps(T: int, B: int, H: int, bidirectional: bool, device: str):
    """The two training steps (packed, padded-and-masked) on one right-padded batch."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(32, H, batch_first=True, bidirectional=bidirectional).to(device)
    inputs = torch.randn(B, T, 32, device=device)
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T
    real = (torch.arange(T)[None, :] < lengths[:, None]).to(device)

    def packed() -> None:
        packed_inputs = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        output, _ = lstm(packed_inputs)
        pad_packed_sequence(output, batch_first=True, total_length=T)[0].sum().backward()

    def padded() -> None:
        output, _ = lstm(inputs)
        (output * real[:, :, None]).sum().backward()

    return packed, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per measurement (default 0.5)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}; LSTM forward+backward, "
          "right-padded, lengths from [1, T]")
    print(f"{'T':>4} {'B':>4} {'H':>4} {'dirs':>4} {'packed ms':>10} {'padded ms':>10} {'packed/padded':>14}")
    for T, B, H, bidirectional in itertools.product(*SIZES.values(), (False, True)):
        packed, padded = steps(T, B, H, bidirectional, args.device)
        measured: dict[str, list[float]] = {"packed": [], "padded": []}
        for step in (packed, padded):
            step()  # warm-up
        for _ in range(REPEATS):
            for name, step in (("packed", packed), ("padded", padded)):
                timer = benchmark.Timer(stmt="step()", globals={"step": step})
                measured[name].append(timer.blocked_autorange(min_run_time=args.min_run_time / REPEATS).median)
        medians = {name: statistics.median(values) for name, values in measured.items()}
        print(f"{T:>4} {B:>4} {H:>4} {2 if bidirectional else 1:>4} {medians['packed'] * 1e3:>10.3f} "
              f"{medians['padded'] * 1e3:>10.3f} {medians['packed'] / medians['padded']:>13.2f}x")


if __name__ == "__main__":
    main()
