"""`Table`, what suites and reports produce, and how it becomes text: terminal tables, GitHub markdown, JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

FORMATS = ("table", "json", "markdown")
TABLEFMT = {"table": "simple_outline", "markdown": "github"}


@dataclass(frozen=True)
class Table:
    """A titled table, rendered with tabulate as text, markdown, or embedded in JSON."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    align: tuple[str, ...] | None = None
    """Per-column ``left``/``right``/``center``; default: everything left-aligned."""


def render_tables(tables: list[Table], output_format: str) -> str:
    """``table`` or ``markdown`` text for ``tables``, each under its title."""
    parts = []
    for table in tables:
        title = f"### {table.title}" if output_format == "markdown" else table.title
        body = tabulate(table.rows, headers=table.headers, tablefmt=TABLEFMT[output_format],
                        disable_numparse=True, colalign=table.align)
        parts.append(f"{title}\n\n{body}\n" if output_format == "markdown" else f"{title}\n{body}\n")
    return "\n".join(parts)


def render_json(document: dict[str, Any]) -> str:
    """One indented JSON document."""
    return json.dumps(document, indent=2)
