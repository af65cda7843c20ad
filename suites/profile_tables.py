"""Profiles of timed cells (``bench run --profile``): taking them in the worker, and the table "where the
time goes" (`harness.profiling`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from harness.contract import ClassifierModel
from harness.errors import one_line
from harness.measurement.statistics import ratio_of_cells
from harness.model_spec import ModelSpec, varying_fields
from harness.profiling.categories import CATEGORIES
from harness.profiling.step_profile import StepProfile
from harness.rendering import Table
from harness.results.record import MEASURED_STATUSES, PASS, Record, round_medians

PROFILE_CALLS = 5
"""Steps run under the profiler per cell, after its first round's samples."""
NOT_PROFILED = {"not_profiled": True}
"""A record's ``profile`` when the run asked for one and the backend has no `ClassifierModel.profile_steps`."""


def profile_cell(model: ClassifierModel, step: Callable[[], object]) -> StepProfile | dict[str, Any]:
    """``model``'s profile of ``PROFILE_CALLS`` calls of ``step``; `NOT_PROFILED` where the backend has no
    profiler hook; ``{"error": ...}`` where profiling failed (the cell's timing stands)."""
    try:
        profile = model.profile_steps(step, PROFILE_CALLS)
    except Exception as error:  # noqa: BLE001 - a profiler failure must not cost the cell its timing
        return {"error": f"profiling failed: {one_line(error)}"}
    return NOT_PROFILED if profile is None else profile


def profile_table(title: str, records: list[Record]) -> Table | None:
    """Where each profiled cell's step goes, per category, in ms and share of the profiled step; the
    profiler's overhead against the timed median, the share the categories place (coverage), the kernel
    read from the trace and the trace file. None when no record of ``records`` carries a profile."""
    rows = []
    for record in records:
        profile = record.details.get("profile")
        if record.status not in MEASURED_STATUSES or not profile:
            continue
        head = (record.backend, record.spec["seq_len"], record.spec["batch_size"], record.spec["hidden"])
        if "categories" not in profile:
            why = profile.get("error") or "not profiled (the backend has no profile_steps)"
            rows.append((*head, why, *[""] * (len(CATEGORIES) + 4)))
            continue
        step = profile["step_seconds"]
        overhead = step / record.details["median_seconds"] if record.details.get("median_seconds") else None
        rows.append((
            *head,
            f"{step * 1e3:.3f}",
            f"{overhead:.2f}x" if overhead else "-",
            *(f"{profile['categories'].get(name, 0.0) * 1e3:.3f} ({profile['categories'].get(name, 0.0) / step:.0%})"
              for name in CATEGORIES),
            f"{profile['coverage']:.0%}",
            profile.get("kernel_path") or ("unknown: " + profile["note"] if profile.get("note") else "unknown"),
            profile.get("trace_file") or "-",
        ))
    if not rows:
        return None
    return Table(f"{title}: where the time goes (ms per profiled step, share of it; {PROFILE_CALLS} steps under "
                 "each framework's profiler after the samples; vs timed = profiled step / timed median; host = outside "
                 "every op)",
                 ("backend", "T", "B", "hidden", "profiled ms", "vs timed", *CATEGORIES, "coverage", "kernel (trace)",
                  "trace"),
                 tuple(rows), key_columns=4,
                 compact=("profiled ms", *CATEGORIES, "coverage", "kernel (trace)"))


GAP_CATEGORIES_SHOWN = 3
"""How many categories the gap table names per backend, the largest first."""


def _profiled(records: list[Record]) -> list[Record]:
    return [record for record in records if record.status in MEASURED_STATUSES
            and "categories" in (record.details.get("profile") or {})]


def _cells(records: list[Record]) -> dict[tuple, list[Record]]:
    """Profiled records grouped by cell: the device and the whole spec."""
    groups: dict[tuple, list[Record]] = {}
    for record in _profiled(records):
        key = tuple(sorted((name, value) for name, value in record.spec.items()))
        groups.setdefault((record.details.get("device", "cpu"), key), []).append(record)
    return groups


def where_the_gap_is(record: Record, other: Record) -> tuple[float, str]:
    """``record``'s profiled step minus ``other``'s, and the categories that account for it: those that take
    more (ms, share of all the extra time), the largest first, then the two that take the most less."""
    profile, base = record.details["profile"], other.details["profile"]
    gap = profile["step_seconds"] - base["step_seconds"]
    differences = sorted(((name, profile["categories"].get(name, 0.0) - base["categories"].get(name, 0.0))
                          for name in CATEGORIES), key=lambda item: -item[1])
    more = sum(difference for _, difference in differences if difference > 0)
    named = [f"{name} {difference * 1e3:+.2f} ms ({difference / more:.0%})" for name, difference
             in differences[:GAP_CATEGORIES_SHOWN] if difference > 0]
    offsets = [f"{name} {difference * 1e3:+.2f} ms" for name, difference in differences[::-1][:2] if difference < 0]
    where = "; ".join(named) or "-"
    if offsets:
        where += "; less: " + ", ".join(offsets)
    return gap, where


def gap_table(title: str, records: list[Record]) -> Table | None:
    """Why each profiled backend is slower than the fastest profiled one at the same size: its profiled
    step minus the fastest's, and the categories that account for most of the difference (ms and share of
    it). None when no size has two profiled backends."""
    rows = []
    for members in _cells(records).values():
        if len(members) < 2:
            continue
        fastest = min(members, key=lambda record: record.details["median_seconds"])
        for record in sorted(members, key=lambda record: record.details["median_seconds"]):
            if record is fastest:
                continue
            gap, where = where_the_gap_is(record, fastest)
            if gap <= 0:
                where = "its profiled step is not slower (the profile and the timing disagree here); " + where
            rows.append((record.spec["hidden"], record.backend, fastest.backend,
                         f"{record.details['median_seconds'] / fastest.details['median_seconds']:.2f}x",
                         f"{gap * 1e3:+.2f}", where))
    if not rows:
        return None
    return Table(f"{title}: why each backend is slower than the fastest profiled one (profiled step minus its; the "
                 "categories that take more, with their share of all the extra time, and those that take less; timed "
                 "ratio = ratio of the timed medians)",
                 ("hidden", "backend", "fastest profiled", "timed ratio", "gap ms", "where the gap is"),
                 tuple(sorted(rows, key=lambda row: (row[0], row[1]))), key_columns=2)


PROFILER_OVERHEAD_NOTED = 1.5
"""A profiled step this many times its timed median (or more) makes the gap table say its shares are
indicative only: the profiler slowed that backend's step, and the profiled gap is not the timed one."""


def _ratio_text(ratio: float, estimate) -> str:
    if estimate is None:
        return f"{ratio:.2f}x"
    return f"{estimate.ratio:.2f}x [{estimate.low:.2f}-{estimate.high:.2f}]"


def _verdict(slower: Record, faster: Record, ratio: float, estimate) -> str:
    """Which is slower, only where the timing says so: an interval over rounds that excludes 1, and both
    cells stable; else no claim, and why."""
    if ratio == 1.0:
        return "equal medians"
    if slower.status != PASS or faster.status != PASS:
        return f"{slower.backend} slower? (unstable cells: no claim)"
    if estimate is None:
        return f"{slower.backend} slower? (fewer than 2 rounds: no interval)"
    if estimate.low <= 1.0 <= estimate.high:
        return "no significant difference"
    return f"{slower.backend} slower"


def _caveats(slower: Record, faster: Record, gap: float) -> str:
    """What to keep in mind reading the categories: a profiler that slowed a step well beyond its timed
    median, or profiled steps that do not show the timed gap."""
    notes = []
    for record in (slower, faster):
        overhead = record.details["profile"]["step_seconds"] / record.details["median_seconds"]
        if overhead >= PROFILER_OVERHEAD_NOTED:
            notes.append(f"{record.backend}'s profiled step ran {overhead:.1f}x its timed median")
    if gap <= 0:
        notes.append("the profiled steps do not show the timed gap")
    return ("indicative only: " + "; ".join(notes) + ". ") if notes else ""


def pair_gap_table(title: str, records: list[Record], first: str, second: str) -> Table | None:
    """Per cell where both ``first`` and ``second`` were profiled: the timed ratio first/second, the
    profiled gap and the categories that account for it, from the slower one's side (``bench report
    --explain-gap``). None when no cell has both."""
    rows = []
    cells = _cells(records)
    shown = ["hidden", "seq_len", "batch_size"]
    shown += [name for name in varying_fields([dict(key) for _, key in cells], ModelSpec.field_names())
              if name not in shown]
    for (_, key), members in cells.items():
        by_backend = {record.backend: record for record in members}
        if first not in by_backend or second not in by_backend:
            continue
        a, b = by_backend[first], by_backend[second]
        steps = [record.details["profile"]["step_seconds"] for record in (a, b)]
        if not all(math.isfinite(step) and step > 0 for step in steps):
            continue  # a damaged profile: nothing to explain with
        estimate = ratio_of_cells(round_medians(b.details), round_medians(a.details), paired=True)  # first / second
        ratio = a.details["median_seconds"] / b.details["median_seconds"]
        slower, faster = (a, b) if ratio >= 1 else (b, a)
        gap, where = where_the_gap_is(slower, faster)
        spec = dict(key)
        cell = " ".join(f"{ModelSpec.short_name(name)}={spec[name]}" for name in shown)
        rows.append((cell, _ratio_text(ratio, estimate), _verdict(slower, faster, ratio, estimate), f"{gap * 1e3:+.2f}",
                     _caveats(slower, faster, gap) + where))
    if not rows:
        return None
    return Table(f"{title}: {first} against {second}, cell by cell (timed ratio = {first} / {second}: of the "
                 "medians, or with 2+ rounds of the round medians' geometric means with a 95% interval, paired by round; gap = the slower one's profiled step minus the faster one's; the "
                 "categories that take more, with their share of all the extra time, and those that take less)",
                 ("cell", "timed ratio", "verdict", "gap ms", "where the gap is"), tuple(rows), key_columns=1)
