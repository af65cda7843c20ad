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
        sweep: a comma-separated list runs one spec per value (``--hidden 3,32,64``).
        abbreviation: the letter `ModelSpec.label` shows it under (``H=3``); a field without one is shown
            as ``name=value`` when it differs from its default.
        flag: for a bool, the label's text when True and when False (``("seq", "last")``).
    """

    help: str
    minimum: int | None = None
    sweep: bool = False
    abbreviation: str | None = None
    flag: tuple[str, str] | None = None


def _option(default: Any, help: str, *, minimum: int | None = None, sweep: bool = False,
            abbreviation: str | None = None, flag: tuple[str, str] | None = None) -> Any:
    """A `ModelSpec` field: an int (give ``minimum``) or a bool; other types are refused here, at import."""
    if isinstance(default, bool) != (minimum is None) or not isinstance(default, int):
        raise TypeError(f"ModelSpec fields are ints with a minimum or bools without one, got {default!r}")
    return field(default=default, metadata={"option": ModelOption(help, minimum, sweep, abbreviation, flag)})


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
    seed: int = _option(0, "seed for weights and inputs (default: 0)", minimum=0)
    large_states: bool = _option(False, "initial weights with cell states far beyond 1 and gradient norms above 1 "
                                        "(the kit's stress spec)", flag=("+large-c", ""))

    def __post_init__(self) -> None:
        for spec_field in dataclasses.fields(self):
            value, option = getattr(self, spec_field.name), spec_field.metadata["option"]
            if option.minimum is None:
                if not isinstance(value, bool):
                    raise BenchUsageError(f"{spec_field.name}: {value!r} is not a bool (expected True or False)")
            elif isinstance(value, bool) or not isinstance(value, int) or value < option.minimum:
                kind = {0: "a non-negative integer", 1: "a positive integer"}.get(option.minimum, "an integer")
                raise BenchUsageError(f"{spec_field.name}: {value!r} is not {kind} (expected an int >= {option.minimum})")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every field, in declaration order (the columns of a results row, the parts of a cell key)."""
        return tuple(spec_field.name for spec_field in dataclasses.fields(cls))

    @classmethod
    def options(cls) -> dict[str, ModelOption]:
        """Each field's `ModelOption`, in declaration order."""
        return {spec_field.name: spec_field.metadata["option"] for spec_field in dataclasses.fields(cls)}

    @property
    def dense_features(self) -> int:
        """F, the width of the dense head's input: ``seq_len * hidden`` with return_sequences, else ``hidden``."""
        return self.seq_len * self.hidden if self.return_sequences else self.hidden

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
