"""Saved runs as data: find a run, load its records into a pandas DataFrame (for notebooks too).

    >>> from harness import results
    >>> frame = results.load("latest")            # or "previous", a run id, a label, a run directory
    >>> frame[frame.suite == "train"][["backend", "hidden", "median_seconds"]]

One row per record. Columns: ``run_id``, ``suite``, ``backend``, ``status``, ``message``, ``device``
(``cpu`` for suites without a device), every `ModelSpec` field (``vocab_size``, ``embed_dim``,
``hidden``, ``seq_len``, ``batch_size``, ``return_sequences``, ``return_state``, ``seed``: all of
`harness.model_spec.ModelSpec.field_names`), ``measures_time`` (the record's suite is a timing suite, as
the run's metadata says), and every
suite field the record carries (timing: ``median_seconds``, ``iqr_seconds``, ``ci95_low_seconds``,
``samples_seconds`` (a list)...; params: ``total_params``, ``layers``; gradients: ``errors``; training:
``optimizers``). pandas is imported only when a run is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cell import CELL_FIELDS
from harness.model_spec import ModelSpec
from harness.results.catalog import resolve_run
from harness.results.reader import load_records, read_metadata

if TYPE_CHECKING:
    import pandas as pd

    from harness.results.record import Record

RECORD_COLUMNS = ("run_id", *CELL_FIELDS, "status", "message")
"""Columns every frame has, even one of a run without records: the run, the cell's identity, the verdict."""


def load_metadata(run_dir: Path) -> dict[str, Any]:
    """The run's ``metadata.json`` (`harness.results.reader.read_metadata`: one line when it cannot be read)."""
    return read_metadata(run_dir)


def host_metadata(metadata: dict[str, Any], host: str | None) -> dict[str, Any]:
    """The machine facts of a host of a cluster run (``metadata["hosts"]``, measured there): by its ``--hosts``
    name, or by machine name (a cell's ``host``); else the run's own (the machine ``bench run`` ran on)."""
    hosts = metadata.get("hosts") if isinstance(metadata.get("hosts"), dict) else {}
    facts = hosts.get(host) if host is not None else None
    if not isinstance(facts, dict) and host is not None:
        facts = next((value for value in hosts.values() if isinstance(value, dict) and value.get("node") == host), None)
    return facts if isinstance(facts, dict) else metadata


def rows(run_dir: Path, suites: set[str] | None = None) -> list[dict[str, Any]]:
    """The run's readable records as flat dicts (spec fields lifted to the top level, ``device`` always set);
    damaged lines are skipped with a warning (`harness.results.reader`).

    :param suites: the run's timing suites (`timing_suites`), when the caller has them already.
    """
    run_id = Path(run_dir).name
    suites = frozenset(timing_suites(load_metadata(run_dir)) if suites is None else suites)
    return [{"run_id": run_id, **flat_row(record)} for record in load_records(run_dir, suites)]


def flat_row(record: Record) -> dict[str, Any]:
    """One record as a flat dict: its fields and details, the spec's fields lifted to the top, ``device`` set.
    A detail named like a spec field (the params suite's per-layer ``layers`` and the spec's ``layers``) is
    kept as ``details.<name>``, so neither hides the other."""
    fields = {key: value for key, value in record.to_json().items() if key != "spec"}
    fields = {(f"details.{key}" if key in record.spec else key): value for key, value in fields.items()}
    return {**fields, **record.spec, "device": record.device}


def load(run: str | Path = "latest", out_dir: str | Path = "results") -> pd.DataFrame:
    """All records of a run as a DataFrame, one row per record (see the module docstring)."""
    run_dir = resolve_run(run, out_dir)
    suites = timing_suites(load_metadata(run_dir))
    return frame_of(rows(run_dir, suites), suites)


def frame_of(flat_rows: list[dict[str, Any]], suites: set[str]) -> pd.DataFrame:
    """The DataFrame of a run's flat rows (`flat_row`), ``suites`` being its timing suites."""
    import pandas as pd

    frame = pd.DataFrame(flat_rows)
    for column in RECORD_COLUMNS:
        if column not in frame:
            frame[column] = None
    for name, default in ModelSpec().to_dict().items():  # a record saved before a field existed has its default
        frame[name] = frame[name].where(frame[name].notna(), default) if len(frame) else frame[name]
    frame["measures_time"] = frame.suite.isin(suites)
    return frame


def timing_suites(metadata: dict[str, Any]) -> set[str]:
    """The suites of a run that measure time, as they declared it when the run was made (metadata
    ``suites``); for a run saved before suites were declared there, as the installed suites declare it."""
    declared = metadata.get("suites")
    if isinstance(declared, dict):
        return {name for name, declaration in declared.items()
                if isinstance(declaration, dict) and declaration.get("measures_time")}
    from harness.plugins.discovery import discover

    return {suite.name for suite in discover().timing_suites()}
