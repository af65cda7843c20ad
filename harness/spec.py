"""`ModelSpec`: the one description of the LSTM text classifier that every backend builds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from harness.errors import BenchUsageError

POSITIVE_INT_FIELDS = ("vocab_size", "embed_dim", "hidden", "seq_len", "batch_size")


@dataclass(frozen=True)
class ModelSpec:
    """The classifier ``Embedding(vocab, embed) -> LSTM(hidden) -> [Flatten] -> Dense(1, sigmoid)``.

    Defaults are the article's example: the sentence "Good Day" (seq_len 2) over a 50,000-word vocabulary,
    embedded in 5 dimensions, read by an LSTM of 3 units that returns its whole sequence.

    Attributes:
        vocab_size: number of token ids; inputs are ints in ``[0, vocab_size)``.
        embed_dim: width of each embedding vector (E).
        hidden: LSTM units (H).
        seq_len: tokens per example (T).
        batch_size: examples per batch (B) used by suites that run the model.
        return_sequences: the LSTM returns every step ``(B, T, H)``, flattened to ``T*H`` features for the
            dense head; otherwise only the last step ``(B, H)`` feeds the head.
        return_state: the LSTM also returns its final ``(h, c)``, each ``(B, H)``.
        seed: seed for weights and inputs, so that every backend sees the same numbers.
    """

    vocab_size: int = 50000
    embed_dim: int = 5
    hidden: int = 3
    seq_len: int = 2
    batch_size: int = 4
    return_sequences: bool = True
    return_state: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in POSITIVE_INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BenchUsageError(f"{name}: {value!r} is not a positive integer (expected an int >= 1)")
        for name in ("return_sequences", "return_state"):
            if not isinstance(getattr(self, name), bool):
                raise BenchUsageError(f"{name}: {getattr(self, name)!r} is not a bool (expected True or False)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise BenchUsageError(f"seed: {self.seed!r} is not a non-negative integer")

    @property
    def dense_features(self) -> int:
        """F, the width of the dense head's input: ``seq_len * hidden`` with return_sequences, else ``hidden``."""
        return self.seq_len * self.hidden if self.return_sequences else self.hidden

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated like a new spec)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, for records and JSON."""
        return dataclasses.asdict(self)

    def label(self) -> str:
        """A short human label, e.g. ``V=50000 E=5 H=3 T=2 B=4 seq``."""
        flags = ("seq" if self.return_sequences else "last") + ("+state" if self.return_state else "")
        return (
            f"V={self.vocab_size} E={self.embed_dim} H={self.hidden} T={self.seq_len} "
            f"B={self.batch_size} {flags}"
        )
