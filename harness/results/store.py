"""A run on disk: ``<out>/<run-id>/metadata.json``, ``records.jsonl`` and ``rounds.jsonl``.

Each record is appended as one JSON line, flushed and fsynced the moment it is judged, so an
interrupted or crashed run keeps everything it finished. ``rounds.jsonl`` holds each round of a timing
cell as it is measured (one JSON line: the cell's key, the round, the round's measurement), so that
``--resume`` continues at the round it was on; the cell's record, once judged, holds every round itself. ``metadata.json`` is written at the start (environment, command line) and rewritten at
the end with the outcome.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.cell import padded_key
from harness.errors import BenchUsageError
from harness.results.record import Record

METADATA_FILE = "metadata.json"
RECORDS_FILE = "records.jsonl"
ROUNDS_FILE = "rounds.jsonl"
LOCK_FILE = ".lock"
NEW_ID_ATTEMPTS = 5


def portable(document: Any) -> Any:
    """``document`` with every string made valid Unicode: a path or argument in a foreign encoding (Python's
    surrogate escapes, as in ``--out $'bad\\xff'``) is kept as its backslash escape, so the saved JSON reads
    back everywhere (a lone surrogate is not UTF-8)."""
    if isinstance(document, str):
        try:
            document.encode("utf-8")
        except UnicodeEncodeError:
            return document.encode("utf-8", "surrogateescape" if _escapes_only(document) else "surrogatepass").decode(
                "utf-8", "backslashreplace")
        return document
    if isinstance(document, dict):
        return {portable(key): portable(value) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [portable(value) for value in document]
    return document


def _escapes_only(text: str) -> bool:
    return all(not 0xD800 <= ord(character) <= 0xDFFF or 0xDC80 <= ord(character) <= 0xDCFF for character in text)


class StoreWriteError(OSError):
    """A run's file could not be written (a full disk, a symlink in the way); what was written before is
    intact and nothing partial was left behind. The message is one line naming the file."""


def new_run_id() -> str:
    """A sortable, unique id: UTC time plus random hex, e.g. ``20261128T071502-3fa9``."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)


def _open_in_run(path: Path, flags: int) -> int:
    """``os.open`` of a regular file in a run directory that never follows a symlink, never blocks on a FIFO,
    and refuses a file with other hard links (each would redirect a write outside the run)."""
    extra = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags | extra, 0o644)
    except OSError as error:
        if path.is_symlink():
            raise StoreWriteError(error.errno, f"{path} is a symbolic link; refusing to write through it") from None
        raise StoreWriteError(error.errno, f"cannot write {path} ({error.strerror or type(error).__name__})") from None
    problem = _not_a_private_file(os.fstat(descriptor))
    if problem:
        os.close(descriptor)
        raise StoreWriteError(errno.EPERM, f"{path} {problem}; refusing to write to it")
    return descriptor


def _not_a_private_file(status: os.stat_result) -> str | None:
    """Why a file in a run directory must not be written (not a regular file, or linked from elsewhere)."""
    if not stat.S_ISREG(status.st_mode):
        return "is not a regular file"
    if status.st_nlink > 1:
        return f"has {status.st_nlink - 1} other hard link(s)"
    return None


def check_run_files(directory: Path) -> None:
    """Before resuming: `BenchUsageError` (one line) when a file the run will write is a symlink, not a
    regular file, or hard-linked from elsewhere, so nothing is measured that could not be saved."""
    for name in (RECORDS_FILE, ROUNDS_FILE, LOCK_FILE, METADATA_FILE):
        path = directory / name
        try:
            status = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as error:
            raise BenchUsageError(f"--resume: cannot read {path} ({error.strerror or type(error).__name__})") from None
        problem = "is a symbolic link" if stat.S_ISLNK(status.st_mode) else _not_a_private_file(status)
        if problem and not (name == METADATA_FILE and stat.S_ISLNK(status.st_mode)):
            raise BenchUsageError(f"--resume: {path} {problem}; a run's files must be its own regular files "
                                  "(replace it with a copy, or start a new run)")


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a new temporary file beside it (never an existing one, never
    through a link), flushed to disk, then renamed over ``path`` (a symlink at ``path`` is replaced, not
    followed)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = _open_in_run(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except OSError as error:  # the message names the file asked for, not the temporary one
        raise StoreWriteError(error.errno, f"cannot write {path} ({os.strerror(error.errno) if error.errno else error})") from None
    try:
        try:
            _write_all(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, StoreWriteError):
            raise
        raise StoreWriteError(error.errno, f"cannot write {path} ({error.strerror or type(error).__name__})") from None


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


class RunStore:
    """Writes one run's files; create it before running anything so a bad ``--out`` fails fast.

    The store holds an advisory lock on the run directory (`LOCK_FILE`, ``flock``) for as long as it is
    open, so a second ``bench run --resume`` of the same run, or a resume of a run still going, stops with
    one line instead of writing duplicates. Every write stays inside the directory and never follows a
    symlink; a failed write leaves no partial line (`StoreWriteError`).
    """

    def __init__(self, out_dir: Path, metadata: dict[str, Any], run_id: str | None = None) -> None:
        out_dir = Path(out_dir)
        if path_exists(out_dir) and not out_dir.is_dir():
            raise BenchUsageError(f"--out: {str(out_dir)!r} is not a directory (expected a directory to save runs in)")
        for attempt in range(NEW_ID_ATTEMPTS if run_id is None else 1):
            self.run_id = run_id or new_run_id()
            self.directory = out_dir / self.run_id
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
                self.directory.mkdir(exist_ok=False)
                break
            except FileExistsError:
                if run_id is not None or attempt == NEW_ID_ATTEMPTS - 1 or not out_dir.is_dir():
                    raise BenchUsageError(f"--out: {str(self.directory)!r} already exists (expected a directory "
                                          "bench run can create a new run in)") from None
            except OSError as error:
                reason = error.strerror or type(error).__name__
                raise BenchUsageError(f"--out: cannot write to {str(out_dir)!r} ({reason}); expected a writable directory") from None
        self.metadata = {"run_id": self.run_id, **metadata}
        self._lock = None
        self.metadata_warnings: list[str] = []
        try:
            self._lock = _lock_run(self.directory)
            self._write_metadata()
            os.close(_open_in_run(self.directory / RECORDS_FILE, os.O_WRONLY | os.O_CREAT))
        except StoreWriteError as error:
            raise BenchUsageError(f"--out: {error.strerror}; expected a writable directory") from None

    @classmethod
    def reopen(cls, out_dir: Path, run_id: str) -> RunStore:
        """An existing run, locked, to append the cells it is missing (``bench run --resume``); what reading
        its metadata warned about is in ``metadata_warnings`` for the caller to show.

        :raises BenchUsageError: no such run, its metadata cannot be read, or another process holds it.
        """
        from harness.results.reader import read_metadata

        directory = Path(out_dir) / run_id
        if not run_id or "/" in run_id or run_id in (".", "..") or not path_exists(directory / METADATA_FILE):
            raise BenchUsageError(
                f"--resume: no run {run_id!r} under {str(out_dir)!r} (expected a run id from a previous bench run; "
                "give --out if it was saved elsewhere)"
            )
        warnings: list[str] = []
        try:
            metadata = read_metadata(directory, warn=warnings.append)
        except BenchUsageError as error:
            raise BenchUsageError(f"--resume: {error}") from None
        check_run_files(directory)
        store = cls.__new__(cls)
        store.run_id, store.directory, store.metadata = run_id, directory, metadata
        store.metadata_warnings = warnings
        store._lock = _lock_run(directory)
        return store

    def close(self) -> None:
        """Release the run directory's lock (also released when the process ends, however it ends)."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock)
            self._lock = None

    def __enter__(self) -> RunStore:  # noqa: PYI034 - Python 3.10 has no typing.Self
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def append(self, record: Record) -> None:
        """Add one record durably (append, flush, fsync); `StoreWriteError` leaves the file as it was."""
        self._append_line(RECORDS_FILE, record.to_json())

    def append_round(self, key: tuple, round_number: int, measurement: dict[str, Any]) -> None:
        """Keep one measured round of the cell ``key`` (`harness.cell.cell_key`) durably, as it arrives."""
        self._append_line(ROUNDS_FILE, {"cell": list(key), "round": round_number, "measurement": measurement})

    def save_artifact(self, folder: str, stem: str, data: bytes, suffix: str) -> str:
        """Keep a file a cell produced (a profile's trace) as ``folder/<stem><suffix>`` in the run directory,
        ``stem`` made safe for a file name and unique; returns its path relative to the run directory."""
        directory = self.directory / folder
        directory.mkdir(exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9.+=-]+", "_", stem).strip("_") or "artifact"
        name, number = f"{safe}{suffix}", 1
        while (directory / name).exists():
            number += 1
            name = f"{safe}-{number}{suffix}"
        descriptor = _open_in_run(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            _write_all(descriptor, data)
        finally:
            os.close(descriptor)
        return f"{folder}/{name}"

    def _append_line(self, name: str, document: dict[str, Any]) -> None:
        """One whole line or nothing: on a failed write the file is cut back to its length before it; a
        file whose last line was cut short (a crash in an older version) gets its newline first, so the
        damaged line stays one damaged line."""
        path = self.directory / name
        line = (json.dumps(portable(document), sort_keys=False) + "\n").encode("utf-8")
        descriptor = _open_in_run(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                line = b"\n" + line
            try:
                _write_all(descriptor, line)
                os.fsync(descriptor)
            except OSError as error:
                with contextlib.suppress(OSError):
                    os.ftruncate(descriptor, size)
                raise StoreWriteError(error.errno, f"cannot write {path} ({error.strerror or type(error).__name__})") from None
        finally:
            os.close(descriptor)

    def finish(self, **outcome: Any) -> None:
        """Record how the run ended (exit status, counts, finish time) in ``metadata.json``."""
        self.metadata.update(outcome, finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._write_metadata()

    def _write_metadata(self) -> None:
        write_file_atomically(self.directory / METADATA_FILE,
                              (json.dumps(portable(self.metadata), indent=2) + "\n").encode("utf-8"))


def path_exists(path: Path) -> bool:
    """``path.exists()``, False for a name the OS refuses (too long, invalid)."""
    try:
        return path.exists()
    except OSError:
        return False


def _lock_run(directory: Path) -> int | None:
    """Take the run directory's advisory lock, or `BenchUsageError` naming the process that holds it.
    Where ``fcntl`` is missing (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:
        return None
    path = directory / LOCK_FILE
    try:
        descriptor = _open_in_run(path, os.O_RDWR | os.O_CREAT)
    except StoreWriteError as error:
        raise BenchUsageError(f"run {directory.name}: {error.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(descriptor)
        raise BenchUsageError(f"run {directory.name} is being written by another bench process (pid {holder}); "
                              "wait for it to end, then resume it") from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, str(os.getpid()).encode(), 0)
    return descriptor


def load_rounds(run_directory: Path) -> dict[tuple, dict[int, dict[str, Any]]]:
    """The saved rounds of a run by cell key, then round number; a line that cannot be read (the last one
    of a run killed while writing it, or a damaged one) is left out, and its round is measured again."""
    from harness.results.reader import parse_json, read_regular_file

    try:
        lines = read_regular_file(Path(run_directory) / ROUNDS_FILE).split(b"\n")
    except OSError:
        return {}
    rounds: dict[tuple, dict[int, dict[str, Any]]] = {}
    for line in lines:
        try:
            saved = parse_json(line)
            key, number, measurement = padded_key(saved["cell"]), saved["round"], saved["measurement"]
            if isinstance(number, bool) or not isinstance(number, int) or number < 0 or not isinstance(measurement, dict):
                continue
            hash(key)
            rounds.setdefault(key, {})[number] = measurement
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            continue
    return rounds
