"""The equivalence checks of a run as matrices: per check suite and spec, one row per tensor or check with
its tolerance, one column per backend (and device), each cell the worst
relative error there and whether it is within the tolerance. Built from whatever a suite's records judged
(`harness.conformance.judged_errors`), so a plugin's check suite gets its matrix too."""

from __future__ import annotations

from harness.model_spec import ModelSpec
from harness.rendering import Table
from harness.results.record import Record

WITHIN, BEYOND = "ok", "beyond"
"""The last word of a matrix cell: the error is within its tolerance, or beyond it."""


def equivalence_matrices(records: list[Record], timing_suites: set[str] = frozenset()) -> list[Table]:
    """One matrix per check suite and spec whose records judged errors against tolerances (none for exact
    checks, none for ``timing_suites``)."""
    from harness.conformance import judged_errors

    groups: dict[tuple[str, str], list[tuple[Record, list]]] = {}
    for record in records:
        if record.suite in timing_suites:
            continue
        judged = judged_errors(record)
        if judged:
            groups.setdefault((record.suite, ModelSpec(**record.spec).label()), []).append((record, judged))
    matrices = []
    for (suite, spec), entries in groups.items():
        rows_of: dict[str, float] = {}
        for _, judged in entries:
            for error in judged:
                rows_of.setdefault(error.where, error.rtol)
        columns = [f"{record.backend} ({record.device})" for record, _ in entries]
        found = [{error.where: error for error in judged} for _, judged in entries]
        rows = [("status", "", *(record.status for record, _ in entries))]
        for where, rtol in rows_of.items():
            cells = []
            for errors in found:
                error = errors.get(where)
                cells.append("-" if error is None else
                             f"{error.rel_error:.1e} {WITHIN if error.rel_error <= error.rtol else BEYOND}")
            rows.append((where, f"{rtol:g}", *cells))
        matrices.append(Table(f"{suite} ({spec}): worst relative error of each tensor or check, per backend, against "
                              "its tolerance",
                              ("tensor or check", "rtol", *columns), tuple(rows),
                              align=("left", "right", *["right"] * len(columns)), key_columns=2))
    return matrices
