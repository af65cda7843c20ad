"""`ModelSpec`: the one description of the LSTM text classifier that every backend builds.

Each field declares, in its metadata, what the command line needs to offer it (`ModelOption`): its help
text, its smallest value, and whether a comma-separated list sweeps it. ``bench run``'s model options,
the results' columns and a cell's identity are all derived from `dataclasses.fields(ModelSpec)`, so a new
field appears everywhere by being added here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import BenchUsageError


@dataclass(frozen=True)
class ModelOption:
    """How a `ModelSpec` field is offered on the command line and validated.

    Attributes:
        help: one line for ``bench run --help``.
        minimum: the smallest value an int field accepts (bool fields: None).
        sweep: a comma-separated list runs one spec per value (``--hidden 3,32,64``; a bool: ``--bidirectional
            off,on``).
        abbreviation: the letter `ModelSpec.label` shows it under (``H=3``); a field without one is shown
            as ``name=value`` when it differs from its default.
        flag: for a bool, the label's text when True and when False (``("seq", "last")``).
        choices: for a str field, the values it takes.
        maximum: the largest value an int field accepts, where a larger one is a mistake (None: no limit
            but the command line's).
    """

    help: str
    minimum: int | None = None
    sweep: bool = False
    abbreviation: str | None = None
    flag: tuple[str, str] | None = None
    choices: tuple[str, ...] | None = None
    maximum: int | None = None


def _option(default: Any, help: str, *, minimum: int | None = None, sweep: bool = False,
            abbreviation: str | None = None, flag: tuple[str, str] | None = None,
            choices: tuple[str, ...] | None = None, maximum: int | None = None) -> Any:
    """A `ModelSpec` field: an int (give ``minimum``), a bool, or a str among ``choices``; other types are
    refused here, at import."""
    if choices is not None:
        if default not in choices or minimum is not None:
            raise TypeError(f"a choice field's default must be one of its choices, got {default!r}")
    elif isinstance(default, bool) != (minimum is None) or not isinstance(default, int):
        raise TypeError(f"ModelSpec fields are ints with a minimum, bools, or choices, got {default!r}")
    option = ModelOption(help, minimum, sweep, abbreviation, flag, choices, maximum)
    return field(default=default, metadata={"option": option})


MAX_LAYERS = 32
"""The most stacked layers a spec takes: deeper LSTM stacks are not trained in practice (GNMT has 8), and
a mistyped ``--layers 1000000`` would only run until the cell's timeout."""

PADDING_SIDES = ("none", "right", "left")
"""`ModelSpec.padding`: no padding (every example has ``seq_len`` tokens, id 0 is an ordinary token), or
each example's tokens first and padding (id 0) after them, or padding first and the tokens after it."""


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
        layers: stacked LSTM layers (>= 1); layer k > 0 reads layer k-1's whole output sequence.
        bidirectional: every layer also reads each example backwards, from its last real token to its
            first; the two directions' outputs are concatenated per step, forward first (width 2H).
        padding: ``none``; ``right`` (each example's real tokens first, then token id 0 up to ``seq_len``)
            or ``left`` (id 0 first, then the real tokens). With padding, id 0 is padding only: a padded
            step changes no state, its outputs are exactly 0, and it takes no gradient (docs/contract.md).
        min_length: with padding, each example's real length is drawn from ``[min_length, seq_len]``
            (reproducibly from the seed; the first example of a batch has ``min_length``, the second
            ``seq_len``); without padding it is unused and always 1, so that identical models are one cell.
        seed: seed for weights and inputs, so that every backend sees the same numbers.
        large_states: canonical weights that drive the cell state well beyond 1 (``|c| ~ 3``, where
            ``tanh(c)`` and ``c`` differ by far more than any tolerance) and the gradient's global norm
            above 1 (where clipping or a scaled loss shows): the conformance kit's stress spec
            (`harness.canonical.keras_default_weights`).
    """

    vocab_size: int = _option(50000, "vocabulary size", minimum=1, abbreviation="V")
    embed_dim: int = _option(5, "embedding width", minimum=1, abbreviation="E")
    hidden: int = _option(3, "LSTM units; a comma list sweeps it, e.g. 3,32,64", minimum=1, sweep=True,
                          abbreviation="H")
    seq_len: int = _option(2, "tokens per example; a comma list sweeps it", minimum=1, sweep=True, abbreviation="T")
    batch_size: int = _option(4, "examples per batch; a comma list sweeps it", minimum=1, sweep=True,
                              abbreviation="B")
    return_sequences: bool = _option(True, "LSTM returns every step, flattened for the head", flag=("seq", "last"))
    return_state: bool = _option(False, "LSTM also returns its final (h, c)", flag=("+state", ""))
    layers: int = _option(1, "stacked LSTM layers, up to 32; a comma list sweeps it (default: 1)", minimum=1,
                          sweep=True, maximum=MAX_LAYERS)
    bidirectional: bool = _option(False, "each LSTM layer also reads every example backwards, outputs [forward | "
                                         "backward] per step; --bidirectional off,on sweeps both", flag=("+bi", ""),
                                  sweep=True)
    padding: str = _option("none", "token id 0 pads each example to seq_len: none, right or left; a comma list "
                                   "sweeps it (default: none)", sweep=True, choices=PADDING_SIDES)
    min_length: int = _option(1, "with --padding, the shortest example's real length; lengths are drawn "
                                 "from [min-length, seq-len] (default: 1)", minimum=1)
    seed: int = _option(0, "seed for weights and inputs (default: 0)", minimum=0)
    large_states: bool = _option(False, "initial weights with cell states far beyond 1 and gradient norms above 1 "
                                        "(the kit's stress spec)", flag=("+large-c", ""))

    def __post_init__(self) -> None:
        for spec_field in dataclasses.fields(self):
            value, option = getattr(self, spec_field.name), spec_field.metadata["option"]
            if option.choices is not None:
                if value not in option.choices:
                    raise BenchUsageError(f"{spec_field.name}: {value!r} is not one of {', '.join(option.choices)}")
            elif option.minimum is None:
                if not isinstance(value, bool):
                    raise BenchUsageError(f"{spec_field.name}: {value!r} is not a bool (expected True or False)")
            elif isinstance(value, bool) or not isinstance(value, int) or value < option.minimum:
                kind = {0: "a non-negative integer", 1: "a positive integer"}.get(option.minimum, "an integer")
                raise BenchUsageError(f"{spec_field.name}: {value!r} is not {kind} (expected an int >= {option.minimum})")
            elif option.maximum is not None and value > option.maximum:
                raise BenchUsageError(f"{spec_field.name}: {value} is above {option.maximum} (expected an int from "
                                      f"{option.minimum} to {option.maximum})")
        if not self.padded and self.min_length != 1:
            object.__setattr__(self, "min_length", 1)  # unused without padding: one identity, one label
        if self.padding != "none" and self.vocab_size < 2:
            raise BenchUsageError(f"padding {self.padding}: vocab_size {self.vocab_size} leaves no real token "
                                  "(id 0 is padding; expected vocab_size >= 2)")
        if self.min_length > self.seq_len:
            raise BenchUsageError(f"min_length: {self.min_length} is above seq_len {self.seq_len} "
                                  "(expected 1 <= min_length <= seq_len)")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every field, in declaration order (the columns of a results row, the parts of a cell key)."""
        return tuple(spec_field.name for spec_field in dataclasses.fields(cls))

    @classmethod
    def options(cls) -> dict[str, ModelOption]:
        """Each field's `ModelOption`, in declaration order."""
        return {spec_field.name: spec_field.metadata["option"] for spec_field in dataclasses.fields(cls)}

    @property
    def directions(self) -> int:
        """D: 2 for a bidirectional LSTM, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def lstm_width(self) -> int:
        """The width of every LSTM layer's output per step, and of the final states: ``D * hidden``."""
        return self.directions * self.hidden

    @property
    def dense_features(self) -> int:
        """F, the width of the dense head's input: ``seq_len * D * hidden`` with return_sequences, else
        ``D * hidden`` (D = 2 when bidirectional)."""
        return self.seq_len * self.lstm_width if self.return_sequences else self.lstm_width

    @property
    def padded(self) -> bool:
        """True when token id 0 is padding (`padding` is right or left)."""
        return self.padding != "none"

    @classmethod
    def from_saved(cls, spec: Mapping[str, Any]) -> ModelSpec:
        """The spec of a saved record: this version's fields (an unknown one, from a newer version or a
        damaged line the reader let through, is left out; a missing one takes its default)."""
        return cls(**{name: value for name, value in spec.items() if name in cls.field_names()})

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated like a new spec)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, for records and JSON."""
        return dataclasses.asdict(self)

    def label(self) -> str:
        """A short human label that tells any two specs apart, e.g. ``V=50000 E=5 H=3 T=2 B=4 seq``: the
        abbreviated fields, the flags, then ``name=value`` for every other field not at its default."""
        parts, flags = [], ""
        for name, option in self.options().items():
            value = getattr(self, name)
            if option.abbreviation:
                parts.append(f"{option.abbreviation}={value}")
            elif option.flag:
                flags += option.flag[0] if value else option.flag[1]
        return " ".join([*parts, flags, *self.differences_from_default(exclude=self.labelled_fields())]).strip()

    @classmethod
    def short_name(cls, name: str) -> str:
        """How labels and titles name field ``name``: its abbreviation (``H``), else the field name."""
        return cls.options()[name].abbreviation or name

    @classmethod
    def series_fields(cls) -> tuple[str, ...]:
        """Every field but ``hidden``: the cells of one hidden-size sweep share all of these, so tables and
        plots that put hidden on an axis group by them."""
        return tuple(name for name in cls.field_names() if name != "hidden")

    @classmethod
    def labelled_fields(cls) -> tuple[str, ...]:
        """The fields `label` always shows (by abbreviation or flag)."""
        return tuple(name for name, option in cls.options().items() if option.abbreviation or option.flag)

    def differences_from_default(self, exclude: tuple[str, ...] = ()) -> list[str]:
        """``name=value`` for each field (not in ``exclude``) whose value is not its default."""
        defaults = ModelSpec().to_dict()
        return [f"{name}={value}" for name, value in self.to_dict().items()
                if name not in exclude and value != defaults[name]]


def varying_fields(specs: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> list[str]:
    """The fields among ``fields`` whose value is not the same in all of ``specs`` (a spec, or a results
    row that holds the fields): what a title must show to tell groups of cells apart."""
    return [name for name in fields if len({spec.get(name) for spec in specs}) > 1]
