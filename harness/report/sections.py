"""A saved run as a report: its summary first, then the backend comparison, then one section per suite,
rendered by the suite itself. The terminal report and the HTML page are both made of this.

Every suite renders its own section (`harness.suite.Suite.report_tables`, by default the tables ``bench
run`` prints), so a plugin's suite reports like a built-in one; a suite whose plugin is not installed
where the report is made gets a generic table of its records (backend, spec, device, status, message),
and one whose tables raise gets that table too, with a warning.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.model_spec import ModelSpec
from harness.rendering import Table
from harness.report import tables
from harness.report.summary import summary_lines
from harness.results.catalog import unfinished
from harness.results.frame import flat_row, frame_of, load_metadata, timing_suites
from harness.results.reader import load_records
from harness.results.record import Record, labelled_by_host


@dataclass
class SuiteSection:
    """One suite's part of the report.

    Attributes:
        name, description: the suite's, as the run declared it.
        measures_time: a timing suite.
        tables: what the suite renders for its records.
        records: the suite's records in the run.
    """

    name: str
    description: str
    measures_time: bool
    tables: list[Table]
    records: list[Record] = field(default_factory=list)


@dataclass
class RunReport:
    """Everything a report shows about one run."""

    run_dir: Path
    metadata: dict[str, Any]
    records: list[Record]
    frame: Any
    baseline: str | None
    summary: list[str]
    environment: Table
    comparisons: list[Table]
    checks: Table | None
    sections: list[SuiteSection]
    export_frame: Any = None
    """The records as saved (``backend`` and ``target`` apart, not ``torch@alpha``): what CSV exports."""

    @property
    def title(self) -> str:
        label = self.metadata.get("label")
        return f"lstm-bench run {self.run_dir.name}" + (f" ({label})" if isinstance(label, str) and label else "")

    def tables(self) -> list[Table]:
        """Every table, in the order a terminal shows them."""
        ordered = [self.environment, *self.comparisons]
        if self.checks is not None:
            ordered.append(self.checks)
        return ordered + [table for section in self.sections for table in section.tables]


def build_report(run_dir: Path, baseline: str | None = None) -> RunReport:
    """Read ``run_dir`` once and make its report; ``baseline``: the backend speed-ups are relative to
    (default: `harness.report.tables.choose_baseline`)."""
    metadata = load_metadata(run_dir)
    suites = timing_suites(metadata)
    saved = [replace(record, spec=ModelSpec.from_saved(record.spec).to_dict())  # this version's spec fields
             for record in load_records(run_dir, frozenset(suites))]
    records = labelled_by_host(saved)
    rows = [{"run_id": run_dir.name, **flat_row(record)} for record in records]
    frame = frame_of(rows, suites)
    chosen = tables.choose_baseline(frame, baseline)
    note = unfinished(run_dir, metadata)
    return RunReport(
        run_dir=run_dir, metadata=metadata, records=records, frame=frame, baseline=chosen,
        summary=([f"this run {note}; what follows is only what finished"] if note else []) + summary_lines(rows, suites),
        environment=tables.environment_table(metadata, frame),
        comparisons=tables.comparison_tables(frame, chosen),
        checks=tables.checks_table(records, suites),
        sections=suite_sections(records, metadata, suites),
        export_frame=frame_of([{"run_id": run_dir.name, **flat_row(record)} for record in saved], suites)
        if any(record.target for record in saved) else frame,
    )


def suite_sections(records: list[Record], metadata: dict[str, Any], timed: set[str]) -> list[SuiteSection]:
    """One section per suite of the run, in the run's order (the suites' ``run_order``, then name)."""
    declared = metadata.get("suites") if isinstance(metadata.get("suites"), dict) else {}
    names = list(dict.fromkeys([*declared, *(record.suite for record in records)]))
    installed = _installed_suites()

    def order(name: str) -> tuple:
        declaration = declared.get(name) if isinstance(declared.get(name), dict) else {}
        run_order = declaration.get("run_order", getattr(installed.get(name), "run_order", 100))
        return (run_order if isinstance(run_order, (int, float)) else 100, name)

    sections = []
    for name in sorted(names, key=order):
        own = [record for record in records if record.suite == name]
        if not own:
            continue
        declaration = declared.get(name) if isinstance(declared.get(name), dict) else {}
        suite = installed.get(name)
        description = declaration.get("description") or getattr(suite, "description", "") or ""
        sections.append(SuiteSection(name, str(description), name in timed, _section_tables(suite, name, own), own))
    return sections


def _section_tables(suite, name: str, records: list[Record]) -> list[Table]:
    if suite is not None:
        try:
            made = suite.report_tables(records)
            if isinstance(made, list) and all(isinstance(table, Table) for table in made):
                return made
            problem = "report_tables did not return a list of Table"
        except Exception as error:  # noqa: BLE001 - a plugin's bug must not lose the report
            problem = f"{type(error).__name__}: {error}"
        print(f"bench: warning: suite {name}: its report tables failed ({problem}); showing its records plainly",
              file=sys.stderr)
    return [records_table(name, records)]


def records_table(name: str, records: list[Record]) -> Table:
    """A suite's records as a plain table: backend, spec, device, status and message."""
    return Table(f"{name}: records", ("backend", "spec", "device", "status", "message"),
                 tuple((record.backend, ModelSpec(**record.spec).label(), record.device, record.status, record.message)
                       for record in records), key_columns=2)


def _installed_suites() -> dict[str, Any]:
    from harness.plugins.discovery import discover

    try:
        return dict(discover().suites)
    except Exception:  # noqa: BLE001 - a report of saved data needs no plugin
        return {}
