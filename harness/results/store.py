"""A run on disk: ``<out>/<run-id>/metadata.json``, ``records.jsonl`` and ``rounds.jsonl``.

Each record is appended as one JSON line, flushed and fsynced the moment it is judged, so an
interrupted or crashed run keeps everything it finished. ``rounds.jsonl`` holds each round of a timing
cell as it is measured (one JSON line: the cell's key, the round, the round's measurement), so that
``--resume`` continues at the round it was on; the cell's record, once judged, holds every round itself. ``metadata.json`` is written at the start (environment, command line) and rewritten at
the end with the outcome.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import BenchUsageError
from harness.results.record import Record

METADATA_FILE = "metadata.json"
RECORDS_FILE = "records.jsonl"
ROUNDS_FILE = "rounds.jsonl"


def new_run_id() -> str:
    """A sortable, unique id: UTC time plus random hex, e.g. ``20261128T071502-3fa9``."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)


class RunStore:
    """Writes one run's files; create it before running anything so a bad ``--out`` fails fast."""

    def __init__(self, out_dir: Path, metadata: dict[str, Any], run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.directory = Path(out_dir) / self.run_id
        self.metadata = {"run_id": self.run_id, **metadata}
        try:
            self.directory.mkdir(parents=True, exist_ok=False)
            self._write_metadata()
            (self.directory / RECORDS_FILE).touch()
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise BenchUsageError(f"--out: cannot write to {str(out_dir)!r} ({reason}); expected a writable directory") from None

    @classmethod
    def reopen(cls, out_dir: Path, run_id: str) -> RunStore:
        """An existing run, to append the cells it is missing (``bench run --resume``)."""
        directory = Path(out_dir) / run_id
        try:
            metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise BenchUsageError(
                f"--resume: no run {run_id!r} under {str(out_dir)!r} (expected a run id from a previous bench run; "
                "give --out if it was saved elsewhere)"
            ) from None
        store = cls.__new__(cls)
        store.run_id, store.directory, store.metadata = run_id, directory, metadata
        return store

    def append(self, record: Record) -> None:
        """Add one record durably (append, flush, fsync)."""
        self._append_line(RECORDS_FILE, record.to_json())

    def append_round(self, key: tuple, round_number: int, measurement: dict[str, Any]) -> None:
        """Keep one measured round of the cell ``key`` (`harness.cell.cell_key`) durably, as it arrives."""
        self._append_line(ROUNDS_FILE, {"cell": list(key), "round": round_number, "measurement": measurement})

    def _append_line(self, name: str, document: dict[str, Any]) -> None:
        with open(self.directory / name, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(document, sort_keys=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def finish(self, **outcome: Any) -> None:
        """Record how the run ended (exit status, counts, finish time) in ``metadata.json``."""
        self.metadata.update(outcome, finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._write_metadata()

    def _write_metadata(self) -> None:
        temporary = self.directory / (METADATA_FILE + ".tmp")
        temporary.write_text(json.dumps(self.metadata, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.directory / METADATA_FILE)


def load_records(run_directory: Path) -> list[Record]:
    """Every record saved in a run directory, in the order they were written."""
    lines = (Path(run_directory) / RECORDS_FILE).read_text(encoding="utf-8").splitlines()
    return [Record.from_json(json.loads(line)) for line in lines if line.strip()]


def load_rounds(run_directory: Path) -> dict[tuple, dict[int, dict[str, Any]]]:
    """The saved rounds of a run by cell key, then round number; a line that cannot be read (the last one
    of a run killed while writing it) is left out, and its round is measured again."""
    try:
        lines = (Path(run_directory) / ROUNDS_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    rounds: dict[tuple, dict[int, dict[str, Any]]] = {}
    for line in lines:
        try:
            saved = json.loads(line)
            key, number, measurement = tuple(saved["cell"]), int(saved["round"]), saved["measurement"]
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(measurement, dict):
            rounds.setdefault(key, {})[number] = measurement
    return rounds
