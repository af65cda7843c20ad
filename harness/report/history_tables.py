"""``bench history`` as tables and JSON: per suite and device a row per cell and a column per run, the
significant changes marked, then the changes with their intervals (`harness.report.history` follows the
cells and judges the steps)."""

from __future__ import annotations

from harness.model_spec import ModelSpec, varying_fields
from harness.rendering import Table, percent_text
from harness.report.history import OTHER_MACHINE, by_suite_and_device, run_order

MARKS = {"slower": "▲", "faster": "▼"}
"""How a significant change is marked in a history table."""


def history_tables(histories, by: str, min_effect: float):
    """Per suite and device: a row per backend and spec, a column per run (named ``by``), each cell the
    median with ▲/▼ and the ratio where it changed significantly; then the changes with their intervals."""
    tables = []
    extra = [name for name in varying_fields([history.spec for history in histories], ModelSpec.field_names())
             if name != "hidden"]
    for (suite, device), members in by_suite_and_device(histories).items():
        run_ids = run_order(members)
        names = _column_names(members, run_ids, by)
        rows = []
        for history in sorted(members, key=lambda item: (item.backend, item.spec["hidden"])):
            cells = {point.run_id: (point, step) for point, step in zip(history.points, history.steps)}
            row = [history.backend, history.spec["hidden"], *(history.spec[name] for name in extra)]
            for run_id in run_ids:
                if run_id not in cells:
                    row.append("-")
                    continue
                point, step = cells[run_id]
                text = f"{point.median_seconds * 1e3:.3f}" + (" !" if point.row.get("status") == "unstable" else "")
                if step.verdict in MARKS:
                    text += f" {MARKS[step.verdict]}{step.estimate.ratio:.2f}x"
                elif step.verdict == OTHER_MACHINE:
                    text += " (other machine)"
                row.append(text)
            rows.append(tuple(row))
        headers = ("backend", "hidden", *(ModelSpec.short_name(name) for name in extra), *names)
        tables.append(Table(f"history: {suite} on {device}, median ms per run (runs by {by}, oldest first); "
                            f"▲ slower / ▼ faster than the run before: significant and beyond {percent_text(min_effect)}; ! = unstable; "
                            "(other machine): not judged, the run before ran elsewhere",
                            headers, tuple(rows), align=("left", *["right"] * (len(headers) - 1)), key_columns=2 + len(extra)))
    change_rows = tuple(
        (history.title, before.name(by), after.name(by), f"{step.estimate.ratio:.3f}",
         f"{step.estimate.low:.3f}-{step.estimate.high:.3f}", f"{step.p_adjusted:.2g}", step.verdict)
        for history in histories
        for before, after, step in zip(history.points, history.points[1:], history.steps[1:])
        if step.verdict in MARKS
    )
    if change_rows:
        tables.append(Table("significant changes: after/before over round medians (95% CI), Holm-adjusted p",
                            ("cell", "from", "to", "ratio", "95% CI", "p (Holm)", "verdict"), change_rows, key_columns=1))
    return tables


def _column_names(histories, run_ids: list[str], by: str) -> list[str]:
    """Each run's column header: its name ``by`` commit, date or version, made unique (``#2``)."""
    points = {point.run_id: point for history in histories for point in history.points}
    names, seen = [], {}
    for run_id in run_ids:
        name = (_versions(histories, run_id) or "?") if by == "version" else points[run_id].name(by)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return names


def _versions(histories, run_id: str) -> str:
    """The framework versions of the backends measured in ``run_id``: ``torch 2.13.0`` or ``a 1.0, b 2.0``."""
    found = {}
    for history in histories:
        for point in history.points:
            if point.run_id == run_id and point.version:
                found[history.backend] = point.version
    distinct = set(found.values())
    if len(distinct) == 1:
        return distinct.pop()
    return ", ".join(f"{backend} {version}" for backend, version in found.items())


def history_json(histories, by: str) -> list[dict]:
    """Every followed cell with its points: run, name, median, ratio to the previous run, interval, verdict."""
    return [{
        "suite": history.suite, "backend": history.backend, "device": history.device, "spec": history.spec,
        "points": [{
            "run_id": point.run_id, "label": point.label, "name": point.name(by), "started_at": point.started_at,
            "git_commit": point.commit, "framework_version": point.version, "median_seconds": point.median_seconds,
            "status": point.row.get("status"), "ratio_to_previous": step.estimate.ratio if step.estimate else None,
            "ci95": [step.estimate.low, step.estimate.high] if step.estimate else None, "p_adjusted": step.p_adjusted,
            "verdict": step.verdict,
        } for point, step in zip(history.points, history.steps)],
    } for history in histories]
