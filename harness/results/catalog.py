"""Runs you can find again: every saved run under a results directory, and what names a run.

A run is named by its directory, its id (``20261204T141148-6d4e``, sortable by time), its label
(``bench run --label NAME``: the newest run with that label), ``latest`` (the newest run) or ``previous``
(the one before it). `list_runs` summarises each run from its ``metadata.json`` (through the one reader,
`harness.results.reader`); a run whose metadata cannot be read is listed as damaged, never skipped
silently and never an error for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import BenchUsageError
from harness.results.reader import read_metadata
from harness.results.store import METADATA_FILE, path_exists

RELATIVE_NAMES = {"latest": 0, "previous": 1}
"""Names for the newest runs: ``latest`` is the newest, ``previous`` the one before it."""
MAX_LABEL_LENGTH = 64


def check_label(text: str) -> str:
    """A run label: 1-64 printable characters, no ``/``, and not a name that already means a run
    (`RELATIVE_NAMES`); `BenchUsageError` otherwise."""
    label = text.strip()
    if (not label or len(label) > MAX_LABEL_LENGTH or "/" in label or not label.isprintable() or label in RELATIVE_NAMES
            or label in (".", "..")):
        raise BenchUsageError(f"--label: {text!r} is not a label (accepted: 1-{MAX_LABEL_LENGTH} printable characters "
                              f"without '/', not {' or '.join(RELATIVE_NAMES)}, . or .., e.g. before-upgrade)")
    return label


@dataclass(frozen=True)
class RunSummary:
    """One saved run as ``bench runs`` lists it."""

    directory: Path
    metadata: dict[str, Any] = field(default_factory=dict)
    damaged: str | None = None
    """Why the run's metadata cannot be read, or None."""

    @property
    def run_id(self) -> str:
        return self.directory.name

    @property
    def label(self) -> str | None:
        label = self.metadata.get("label")
        return label if isinstance(label, str) else None

    def to_json(self) -> dict[str, Any]:
        """The fields ``bench runs --format json`` prints."""
        metadata = self.metadata
        suites = metadata.get("suites")
        backends = metadata.get("backends")
        return {
            "run_id": self.run_id, "label": self.label, "directory": str(self.directory),
            "started_at": metadata.get("started_at"), "git_commit": metadata.get("git_commit"),
            "suites": sorted(suites) if isinstance(suites, dict) else [],
            "backends": sorted(backends) if isinstance(backends, dict) else [],
            "status": metadata.get("status"), "exit_status": metadata.get("exit_status"),
            "counts": {status: count for status, count in (metadata.get("counts") or {}).items() if count},
            "damaged": self.damaged,
        }


def list_runs(out_dir: Path) -> list[RunSummary]:
    """A summary of every directory under ``out_dir`` holding a ``metadata.json``, oldest first: by the time
    the run started (``started_at``; for a damaged run, the time its id begins with), then by id, so a run
    copied under another name keeps its place; damaged ones say why. Each metadata file is read once."""
    out = Path(out_dir)
    try:
        directories = [path for path in out.iterdir() if path.is_dir() and path_exists(path / METADATA_FILE)]
    except OSError:
        return []
    summaries = []
    for directory in directories:
        try:
            summaries.append(RunSummary(directory, read_metadata(directory, warn=lambda message: None)))
        except BenchUsageError as error:
            summaries.append(RunSummary(directory, damaged=str(error)))
    return sorted(summaries, key=lambda summary: (_started_at(summary), summary.run_id))


def unfinished(run_dir: Path, metadata: dict[str, Any]) -> str | None:
    """``was interrupted with 7 cell(s) part-measured: finish it with bench run --resume RUN --out DIR`` for a
    run that did not finish, else None (a run saved before runs recorded their end, with no rounds file,
    counts as finished): its unfinished cells have rounds but no record, so no report or compare shows them."""
    from harness.results.store import load_rounds

    status = metadata.get("status")
    if status == "finished":
        return None  # its rounds file (every raw sample) is not read for nothing
    cells = len(load_rounds(run_dir))
    if status is None and not cells:
        return None
    state = "was interrupted" if status == "interrupted" else "has not finished (still running, or killed)"
    part = f" with {cells} cell(s) part-measured" if cells else ""
    return f"{state}{part}: finish it with bench run --resume {run_dir.name} --out {run_dir.parent}"


def run_directories(out_dir: Path) -> list[Path]:
    """The directories of `list_runs`, oldest first."""
    return [summary.directory for summary in list_runs(out_dir)]


def _started_at(summary: RunSummary) -> str:
    """When the run started (ISO, UTC): its metadata's ``started_at``, else the time its id begins with."""
    started = summary.metadata.get("started_at")
    if isinstance(started, str):
        return started
    try:
        return datetime.strptime(summary.run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc).isoformat()
    except ValueError:
        return ""


def resolve_run(run: str | Path = "latest", out_dir: str | Path = "results") -> Path:
    """The directory of ``run``: a run directory, a run id, a label (its newest run), ``latest`` or
    ``previous``; `BenchUsageError` with what is accepted when nothing matches."""
    out, name = Path(out_dir), str(run)
    if name in RELATIVE_NAMES:
        runs = run_directories(out)
        back = RELATIVE_NAMES[name]
        if len(runs) <= back:
            raise BenchUsageError(f"run: {name!r} needs {back + 1} saved run(s) under {str(out)!r}, found {len(runs)} "
                                  "(run 'bench run' first, or give --results-dir)")
        return runs[-1 - back]
    if "/" not in name and name not in ("", ".", "..") and path_exists(out / name / METADATA_FILE):
        return out / name
    if path_exists(Path(run) / METADATA_FILE):
        return Path(run)
    if "/" not in name and path_exists(out / name) or path_exists(Path(run)):
        where = out / name if "/" not in name and path_exists(out / name) else Path(run)
        raise BenchUsageError(f"run: {str(where)!r} is not a saved run: it has no {METADATA_FILE} (expected a directory "
                              "written by bench run)")
    labelled = [summary.directory for summary in list_runs(out) if summary.label == name]
    if labelled:
        return labelled[-1]
    raise BenchUsageError(f"run: no run {name!r} under {str(out)!r} (expected 'latest', 'previous', a run id, a label "
                          "or a run directory; 'bench runs' lists them)")
