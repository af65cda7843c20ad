"""The one reader of saved runs: every command (`report`, `compare`, `run --resume`) and `harness.results.load`
read a run directory through here, so a damaged file never locks a run.

- ``metadata.json`` must be a readable JSON object, or the run cannot be identified: one line
  (`BenchUsageError`, exit 2) saying what is wrong with which file. A known field of the wrong type (a
  list where an object belongs) is dropped with a warning, so the reports never trip on it.
- ``records.jsonl`` is read line by line. A line that is not UTF-8, not JSON, not an object, or not a
  record (`record_problem`: a missing or mistyped ``suite``, ``backend``, ``status`` or ``spec``, a figure
  that is not a number) is skipped with one warning naming ``file:line`` and why; every other record still
  reports, compares and resumes, and ``--resume`` runs the skipped cells again. A missing or unreadable
  ``records.jsonl`` reads as a run without records, with a warning.
- Only regular files are read (`read_regular_file`: a FIFO would hang the reader, a link to /dev/zero
  exhaust memory), and JSON that no printer or parser downstream survives (nested too deep, a lone
  surrogate) counts as damaged (`parse_json`); numbers beyond float range are not finite numbers.

Nothing here writes: a damaged run is reported as it is, never repaired in place.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import BenchUsageError
from harness.model_spec import ModelSpec
from harness.results.record import MEASURED_STATUSES, STATUSES, Record
from harness.results.store import METADATA_FILE, RECORDS_FILE

Warn = Callable[[str], None]
MAX_WARNINGS_PER_FILE = 10
"""Damaged lines named one by one per file; beyond this, one line counts the rest."""


_warned: set[str] = set()


def warn_on_stderr(message: str) -> None:
    """The default `Warn`: one ``bench: warning:`` line on standard error, once per process (a run read by
    two parts of one command is warned about once)."""
    if message not in _warned:
        _warned.add(message)
        print(f"bench: warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class DamagedLine:
    """One line of a run's file that could not be read as what it should hold, and why."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}; skipped"


@dataclass
class RecordsRead:
    """The records of a run that could be read, and the lines that could not."""

    records: list[Record] = field(default_factory=list)
    damaged: list[DamagedLine] = field(default_factory=list)
    missing: str | None = None
    """Why ``records.jsonl`` could not be read at all (missing, unreadable), or None."""


NUMBER_FIELDS = frozenset({
    "median_seconds", "iqr_seconds", "min_seconds", "mean_seconds", "first_step_seconds", "ci95_low_seconds",
    "ci95_high_seconds", "between_round_spread", "samples", "rounds", "samples_per_second", "tokens_per_second",
    "flops_per_step", "achieved_gflops", "fraction_of_peak", "device_peak_gflops", "peak_memory_bytes",
    "cell_memory_bytes", "peak_device_bytes", "task_seconds", "total_params", "trainable_params",
})
"""Record fields that, when present and not null, must be finite numbers (the reports compute with them)."""
NUMBER_LIST_FIELDS = frozenset({"samples_seconds", "round_medians_seconds", "round_sample_counts"})
"""Record fields that, when present and not null, must be lists of finite numbers."""
POSITIVE_FIELDS = frozenset({"median_seconds", "round_medians_seconds"})
"""Of those, the ones a ratio divides by: they must be above 0."""
TEXT_FIELDS = frozenset({"suite", "backend", "status", "message", "device", "device_peak_calibrated_at"})


TIMING_REQUIRED_FIELDS = ("median_seconds",)
"""What a measured (``pass`` or ``unstable``) record of a timing suite must hold."""


def record_problem(data: Any, timing_suites: frozenset[str] = frozenset()) -> str | None:
    """Why ``data`` (one parsed line of ``records.jsonl``) is not a record the reports can use, or None.

    :param timing_suites: the run's suites that measure time, whose measured records need `TIMING_REQUIRED_FIELDS`.
    """
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not a record object"
    for name in ("suite", "backend", "status"):
        if not isinstance(data.get(name), str) or not data[name]:
            return f"no {name!r} (expected a non-empty string)" if name not in data else f"{name!r} is not a non-empty string"
    if data["status"] not in STATUSES:
        return f"unknown status {data['status']!r} (expected one of {', '.join(STATUSES)})"
    for name in TEXT_FIELDS:
        if data.get(name) is not None and not isinstance(data[name], str):
            return f"{name!r} is {type(data[name]).__name__} (expected a string)"
    problem = spec_problem(data.get("spec"))
    if problem:
        return problem
    if data["suite"] in timing_suites and data["status"] in MEASURED_STATUSES:
        missing = [name for name in TIMING_REQUIRED_FIELDS if data.get(name) is None]
        if missing:
            return f"a measured {data['suite']} cell without {missing[0]!r}"
    for name in NUMBER_FIELDS & data.keys():
        if data[name] is not None and not is_finite_number(data[name], positive=name in POSITIVE_FIELDS):
            return (f"{name!r} is {_brief(data[name])} (expected a finite number"
                    f"{' above 0' if name in POSITIVE_FIELDS else ''})")
    for name in NUMBER_LIST_FIELDS & data.keys():
        values = data[name]
        if values is not None and (not isinstance(values, list)
                                   or not all(is_finite_number(value, positive=name in POSITIVE_FIELDS) for value in values)):
            return f"{name!r} is not a list of finite numbers"
    return nested_problem(data)


def _brief(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (a 400-digit number is named, not printed)."""
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 128 else f"an integer of {len(str(value))} digits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def spec_problem(spec: Any) -> str | None:
    """Why a record's ``spec`` is not a model spec this version can key a cell by, or None."""
    if not isinstance(spec, dict):
        return "no 'spec' object" if spec is None else f"'spec' is a {type(spec).__name__}, not an object"
    known = {name: value for name, value in spec.items() if name in ModelSpec.field_names()}
    try:
        ModelSpec(**known)
    except BenchUsageError as error:
        return f"spec: {error}"
    odd = [name for name, value in spec.items() if name not in known and not _scalar(value)]
    return f"spec field {odd[0]!r} is not a plain value" if odd else None


def nested_problem(data: Mapping[str, Any]) -> str | None:
    """The nested figures the check tables read: ``errors`` (gradients: per tensor, ``max_rel_error``) and
    ``optimizers`` (training: per optimizer, ``final_errors`` per tensor, ``norm_rel_error``)."""
    errors, optimizers = data.get("errors"), data.get("optimizers")
    if errors is not None and not (isinstance(errors, dict) and all(
            isinstance(error, dict) and is_finite_number(error.get("max_rel_error")) for error in errors.values())):
        return "'errors' is not an object of tensors with a numeric max_rel_error"
    if optimizers is not None and not (isinstance(optimizers, dict) and all(
            isinstance(run, dict) and isinstance(run.get("final_errors"), dict)
            and all(isinstance(error, dict) and is_finite_number(error.get("norm_rel_error")) for error in run["final_errors"].values())
            for run in optimizers.values())):
        return "'optimizers' is not an object of runs with numeric final_errors"
    return None


def is_finite_number(value: Any, positive: bool = False) -> bool:
    """A JSON number a report can compute with: finite, within float range (a 400-digit integer is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        if not math.isfinite(float(value)):
            return False
    except OverflowError:
        return False
    return value > 0 if positive else True


MAX_FILE_BYTES = 2**30
"""A run file larger than this (1 GiB; a default sweep's records are a few MiB) is not read whole."""


class NotReadable(OSError):
    """A run file that is not a regular file (a FIFO, a device, a directory), or too large to read."""


def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most `MAX_FILE_BYTES` (a FIFO would hang
    the reader, a link to /dev/zero exhaust memory); `FileNotFoundError` or `NotReadable` otherwise."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotReadable(errno.EINVAL, "not a regular file")
        if status.st_size > MAX_FILE_BYTES:
            raise NotReadable(errno.EFBIG, f"larger than {MAX_FILE_BYTES // 2**20} MiB")
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(descriptor)


def parse_json(raw: bytes) -> Any:
    """One JSON document from UTF-8 bytes; `UnicodeDecodeError` for bytes that are not UTF-8, `ValueError`
    for text that is not JSON, nested too deep to parse, or holding strings that are not Unicode (a lone
    surrogate such as ``"\\ud800"`` cannot be printed or written)."""
    text = raw.decode("utf-8")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deep") from None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string that is not valid Unicode (a lone surrogate)") from None
    except RecursionError:
        raise ValueError("nested too deep") from None
    return data


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def read_records(run_dir: Path, timing_suites: frozenset[str] = frozenset()) -> RecordsRead:
    """Every readable record of a run, in the order written, and the damaged lines (see the module docstring)."""
    path = Path(run_dir) / RECORDS_FILE
    read = RecordsRead()
    try:
        content = read_regular_file(path)
    except FileNotFoundError:
        read.missing = f"{path}: missing; the run has no records"
        return read
    except OSError as error:
        read.missing = f"{path}: cannot be read ({error.strerror or type(error).__name__}); the run has no records"
        return read
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            data = parse_json(raw)
        except UnicodeDecodeError:
            read.damaged.append(DamagedLine(path, number, "not UTF-8 text"))
            continue
        except ValueError as error:
            read.damaged.append(DamagedLine(path, number, f"not JSON ({_short(error)})"))
            continue
        problem = record_problem(data, timing_suites)
        if problem:
            read.damaged.append(DamagedLine(path, number, f"not a record: {problem}"))
            continue
        read.records.append(Record.from_json(data))
    return read


def _short(error: ValueError) -> str:
    return str(error).split(": line ")[0] if isinstance(error, json.JSONDecodeError) else str(error)


METADATA_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "label": str, "lstm_bench_version": str, "command_line": list, "started_at": str,
    "finished_at": str, "python": str, "python_executable": str, "os": str, "machine": str, "cpu_model": str,
    "cpu_count": int, "packages": dict, "git_commit": str, "run_arguments": list, "threads": int, "devices": list,
    "rounds": int, "machine_state": dict, "suites": dict, "status": str, "exit_status": int, "counts": dict,
    "backends": dict, "cpu_gemm_peak_gflops": (int, float), "hosts": dict,
}
"""The metadata fields the commands read, and their JSON types; a field of another type is dropped."""
TEXT_LIST_FIELDS = ("command_line", "run_arguments", "devices")
EXPECTED = {str: "a string", int: "an integer", list: "a list", dict: "an object", (int, float): "a number"}


def metadata_field_problem(name: str, value: Any) -> str | None:
    """Why metadata field ``name`` cannot be used as bench wrote it (what it should be), or None."""
    kind = METADATA_FIELD_TYPES[name]
    if value is None:
        return None if kind not in (list, dict) else f"null (expected {EXPECTED[kind]})"
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        return f"{_json_type(value)} (expected {EXPECTED[kind]})"
    if kind in (int, (int, float)) and not is_finite_number(value, positive=name != "exit_status"):
        return "not a finite number above 0"
    if name in TEXT_LIST_FIELDS and not all(isinstance(item, str) for item in value):
        return "a list with an item that is not a string (expected a list of strings)"
    if name == "packages" and not all(isinstance(version, (str, type(None))) for version in value.values()):
        return "an object with a version that is not a string (expected name: version)"
    if name == "suites" and (not value or not all(isinstance(declaration, dict) for declaration in value.values())):
        return "not an object of suite declarations (expected name: {measures_time: ...})"
    if name in ("counts", "machine_state") and not all(value_ is None or is_finite_number(value_) or isinstance(value_, (str, list))
                                                       for value_ in value.values()):
        return "an object with a value that is not a finite number"
    return None


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def read_metadata(run_dir: Path, warn: Warn = warn_on_stderr) -> dict[str, Any]:
    """A run's ``metadata.json`` as an object; fields of the wrong type dropped with a warning.

    :raises BenchUsageError: one line, when the file is missing, unreadable, not JSON or not an object.
    """
    path = Path(run_dir) / METADATA_FILE
    try:
        data = parse_json(read_regular_file(path))
    except FileNotFoundError:
        raise BenchUsageError(f"{path}: missing; {Path(run_dir).name!r} is not a saved run (expected a directory "
                              "written by bench run)") from None
    except OSError as error:
        raise BenchUsageError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError:
        raise BenchUsageError(f"{path}: damaged (not UTF-8 text); the run cannot be identified") from None
    except ValueError as error:
        raise BenchUsageError(f"{path}: damaged (not JSON: {_short(error)}); the run cannot be identified") from None
    if not isinstance(data, dict):
        raise BenchUsageError(f"{path}: damaged (a JSON {type(data).__name__}, expected an object); the run cannot be "
                              "identified")
    for name in [name for name in METADATA_FIELD_TYPES if name in data]:
        problem = metadata_field_problem(name, data[name])
        if problem:
            warn(f"{path}: field {name!r} is {problem}; ignored")
            del data[name]
    return data


def keep_last_per_cell(records: list[Record]) -> list[Record]:
    """One record per cell, the last one written (a cell run again by ``--resume --retry-errors`` is
    recorded twice), in the order the kept records were written."""
    last = {record.cell_key(): index for index, record in enumerate(records)}
    return [record for index, record in enumerate(records) if last[record.cell_key()] == index]


def load_records(run_dir: Path, timing_suites: frozenset[str] = frozenset(),
                 warn: Warn = warn_on_stderr) -> list[Record]:
    """The readable records of a run, one per cell (`keep_last_per_cell`), each damaged line (up to
    `MAX_WARNINGS_PER_FILE`) warned about."""
    read = read_records(run_dir, timing_suites)
    if read.missing:
        warn(read.missing)
    for damaged in read.damaged[:MAX_WARNINGS_PER_FILE]:
        warn(str(damaged))
    if len(read.damaged) > MAX_WARNINGS_PER_FILE:
        warn(f"{read.damaged[0].path}: {len(read.damaged) - MAX_WARNINGS_PER_FILE} more damaged line(s) skipped")
    return keep_last_per_cell(read.records)
