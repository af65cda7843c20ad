"""`Table`, what suites and reports produce, and how it becomes text: terminal tables, GitHub markdown, JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from harness.table_layout import FittedTable, Layout, fit, header_wrap_width, select_columns, wrap_cell, wrap_title

FORMATS = ("table", "json", "markdown")
TABLEFMT = {"table": "simple_outline", "markdown": "github"}


@dataclass(frozen=True)
class Table:
    """A titled table, rendered with tabulate as text, markdown, or embedded in JSON."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    align: tuple[str, ...] | None = None
    """Per-column ``left``/``right``/``center``; default: numbers right, text left (`table_layout.alignment`)."""
    compact: tuple[str, ...] | None = None
    """The headers shown by default on a terminal, besides the key columns (None: every column); ``--wide``
    shows all, ``--columns`` picks."""
    key_columns: int = 1
    """How many leading columns name a row: always shown, and repeated when a table is split to fit."""


MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\n": " ", "\r": " "})
"""What a markdown cell must not carry raw: HTML (a record's message or a plugin's name rendered as markup in
a README or a pull-request comment), a column separator, a line break."""


def percent_text(fraction: float) -> str:
    """``0.15`` -> ``15%``, ``0.9999`` -> ``99.99%``: as many digits as the value has (up to 4 significant),
    never rounded into another threshold (``99.99%`` printed as ``100%``)."""
    return f"{fraction * 100:.4g}%"


def markdown_text(value: Any) -> str:
    """``value`` as literal text inside GitHub markdown (see `MARKDOWN_ESCAPES`)."""
    return str(value).translate(MARKDOWN_ESCAPES)


def render_tables(tables: list[Table], output_format: str, layout: Layout | None = None) -> str:
    """``table`` or ``markdown`` text for ``tables``, each under its title. ``layout`` picks the columns and,
    for ``table``, the width the text must fit (default: every column, no limit)."""
    layout = layout or Layout(wide=True)
    parts = []
    for table in tables:
        fitted = [FittedTable(select_columns(table, layout), ())] if output_format == "markdown" else fit(table, layout)
        for part in fitted:
            parts.append(_render_one(part, output_format, layout.width))
    return "\n".join(parts)


def _render_one(fitted: FittedTable, output_format: str, width: int | None) -> str:
    table = fitted.table
    rows, headers, title = table.rows, table.headers, table.title
    if output_format == "markdown":
        rows = tuple(tuple(markdown_text(cell) for cell in row) for row in rows)
        headers, title = tuple(markdown_text(header) for header in headers), markdown_text(title)
        body = tabulate(rows, headers=headers, tablefmt=TABLEFMT[output_format], disable_numparse=True,
                        colalign=table.align)
        return f"### {title}\n\n{body}\n"
    wraps = fitted.wrap_widths
    if any(wraps):
        rows = tuple(tuple(wrap_cell(cell, limit) for cell, limit in zip(row, wraps)) for row in rows)
        headers = tuple(wrap_cell(header, header_wrap_width(limit)) for header, limit in zip(headers, wraps))
    body = tabulate(rows, headers=headers, tablefmt=TABLEFMT[output_format], disable_numparse=True, colalign=table.align)
    return f"{wrap_title(title, width)}\n{body}\n"


def render_json(document: dict[str, Any]) -> str:
    """One indented JSON document."""
    return json.dumps(document, indent=2)
