"""`Cell`: one unit of work for one backend, and the one definition of what identifies a result.

A suite turns each requested spec into cells (`harness.suite.Suite.cells`: one per device for a
per-device suite). A cell is what one `Record` reports, what ``bench run --resume`` looks for before
running it again, and what ``bench compare`` matches across two runs. All of them identify it by
`cell_key`. A timing cell is measured in several *rounds*, each in a fresh worker process: a worker is
sent the cell with its `Cell.round` set, and the round is not part of the cell's identity.

A run on a cluster with ``--hosts a,b`` runs every cell once per named host: the host a cell is sent to
(`Cell.target`) is part of its identity, so the same cell on two machines is two results, compared cell by
cell (``bench compare RUN@a RUN@b``); a cell of any other run has no target (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from harness.model_spec import ModelSpec

if TYPE_CHECKING:
    from harness.suite import SuiteOptions

CELL_FIELDS = ("suite", "backend", "device", *ModelSpec.field_names(), "target")
"""The fields that identify a cell: suite, backend, device, every `ModelSpec` field, and the host it was
sent to by ``--hosts`` (``target``; None otherwise)."""


def cell_key(suite: str, backend: str, device: str, spec: Mapping[str, Any], target: str | None = None) -> tuple:
    """The identity of a cell, in `CELL_FIELDS` order.

    :param spec: the spec's fields (a `ModelSpec.to_dict`, or a flat results row that holds them); a
        field an older record lacks counts as its default, so old runs still match new ones.
    :param target: the ``--hosts`` name the cell was sent to; None for a cell of an untargeted run.
    """
    defaults = ModelSpec().to_dict()
    return (suite, backend, device, *(spec.get(name, defaults[name]) for name in ModelSpec.field_names()), target)


def padded_key(saved: list | tuple) -> tuple:
    """A cell key read back from a file (``rounds.jsonl``), with the ``target`` that keys saved before it
    existed lack."""
    return tuple(saved) + (None,) * (len(CELL_FIELDS) - len(saved))


@dataclass(frozen=True)
class Cell:
    """One suite's work for one spec on one device, sent to a backend's worker as it is (it pickles).

    Attributes:
        suite: the suite's name; the worker finds the suite in its own registry.
        spec: the model this cell builds.
        options: the run's shared options, with ``device`` set to this cell's device.
        target: the ``--hosts`` name of the host the cell is sent to; None: wherever the executor runs it.
    """

    suite: str
    spec: ModelSpec
    options: SuiteOptions
    target: str | None = None

    @property
    def device(self) -> str:
        return self.options.device

    @property
    def round(self) -> int:
        """Which round of the cell a worker is asked to measure (0 for suites measured once): the
        options' ``round``, which the suite's `measure` sees."""
        return self.options.round

    def key(self, backend: str) -> tuple:
        """This cell's identity for ``backend`` (see `cell_key`)."""
        return cell_key(self.suite, backend, self.device, self.spec.to_dict(), self.target)

    def in_round(self, number: int) -> Cell:
        """The same cell, to be measured as round ``number``."""
        return replace(self, options=self.options.replace(round=number))

    def on_host(self, target: str) -> Cell:
        """The same cell, sent to the ``--hosts`` host ``target``."""
        return replace(self, target=target)
