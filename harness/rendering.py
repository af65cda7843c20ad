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


MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\n": " ", "\r": " "})
"""What a markdown cell must not carry raw: HTML (a record's message or a plugin's name rendered as markup in
a README or a pull-request comment), a column separator, a line break."""


def markdown_text(value: Any) -> str:
    """``value`` as literal text inside GitHub markdown (see `MARKDOWN_ESCAPES`)."""
    return str(value).translate(MARKDOWN_ESCAPES)


def render_tables(tables: list[Table], output_format: str) -> str:
    """``table`` or ``markdown`` text for ``tables``, each under its title."""
    parts = []
    for table in tables:
        rows, headers, title = table.rows, table.headers, table.title
        if output_format == "markdown":
            rows = tuple(tuple(markdown_text(cell) for cell in row) for row in rows)
            headers, title = tuple(markdown_text(header) for header in headers), markdown_text(title)
        title = f"### {title}" if output_format == "markdown" else title
        body = tabulate(rows, headers=headers, tablefmt=TABLEFMT[output_format],
                        disable_numparse=True, colalign=table.align)
        parts.append(f"{title}\n\n{body}\n" if output_format == "markdown" else f"{title}\n{body}\n")
    return "\n".join(parts)


def render_json(document: dict[str, Any]) -> str:
    """One indented JSON document."""
    return json.dumps(document, indent=2)
