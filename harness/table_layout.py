"""Fitting a table to a terminal: which columns are shown, how text wraps, where a table splits.

A `Table` declares the columns it shows by default (``compact``) and how many leading columns name a row
(``key_columns``). A `Layout` says what the reader asked for: a width (None: no limit), ``--columns``, or
``--wide`` for every column. `fit` turns one table into one or more tables whose rendered text never
exceeds the width:

1. the columns: every one with ``--wide``; with ``--columns``, the key columns plus those named that the
   table has (a table that has none of them keeps its default); else the compact set;
2. too wide: the widest *text* columns (left-aligned) wrap, never below `MIN_WRAP` characters, and every
   header wraps at its spaces down to its column's widest value;
3. still too wide: the columns are split into consecutive groups, each repeating the key columns and
   titled "<the title up to its first colon> (continued)", so nothing is cut off.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.rendering import Table

MIN_WRAP = 12
"""The narrowest a wrapped text column gets (a word longer than this breaks)."""

HEADER_PADDING = 2
"""tabulate makes every column at least 2 characters wider than its header (its ``MIN_PADDING``)."""

NUMBER = re.compile(r"^[*~]?\s*[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?\s*(%|x|ms|s|MiB|GiB|KiB)?"
                    r"(\s*\[[^\]]*\])?(\s*!)?$|^-$|^$", re.IGNORECASE)
"""A cell that reads as a number (units, a trailing ``!``, an interval in brackets allowed), or an empty one."""


@dataclass(frozen=True)
class Layout:
    """What the reader asked of the tables.

    Attributes:
        width: the most characters a line may have; None: no limit (output to a file or a pipe).
        columns: headers named with ``--columns`` (compared case-insensitively); empty: the default set.
        wide: every column (``--wide``).
    """

    width: int | None = None
    columns: tuple[str, ...] = ()
    wide: bool = False

    @classmethod
    def for_output(cls, *, columns: tuple[str, ...] = (), wide: bool = False, to_terminal: bool = True) -> Layout:
        """The layout for text printed on standard output: the terminal's width when it is a terminal (or
        ``COLUMNS`` is set), no limit when the output goes to a file or a pipe."""
        width = None
        if to_terminal and (os.environ.get("COLUMNS") or sys.stdout.isatty()):
            width = max(shutil.get_terminal_size().columns, 20)
        return cls(width=width, columns=tuple(columns), wide=wide)


def alignment(table: Table) -> tuple[str, ...]:
    """Each column's alignment: the table's own (a column it leaves out: left), else right for columns whose
    every cell reads as a number."""
    if table.align is not None:
        given = tuple(table.align)[: len(table.headers)]
        return given + ("left",) * (len(table.headers) - len(given))
    return tuple(
        "right" if table.rows and all(NUMBER.match(str(row[index]).strip()) for row in table.rows)
        and any(str(row[index]).strip() not in ("", "-") for row in table.rows) else "left"
        for index in range(len(table.headers))
    )


def select_columns(table: Table, layout: Layout) -> Table:
    """``table`` with the columns ``layout`` asks for (see the module's step 1), alignment made explicit; a
    row shorter than the headers (a plugin's slip) is padded with empty cells, a longer one cut."""
    width = len(table.headers)
    table = replace(table, rows=tuple((*row[:width], *([""] * (width - len(row)))) for row in table.rows))
    align = alignment(table)
    keys = set(range(min(table.key_columns, len(table.headers))))
    wanted = {name.casefold() for name in layout.columns}
    named = [index for index, header in enumerate(table.headers) if header.casefold() in wanted and index not in keys]
    if layout.wide:
        chosen = list(range(len(table.headers)))
    elif named:
        chosen = sorted(keys | set(named))
    elif table.compact is not None:
        compact = set(table.compact)
        chosen = [index for index, header in enumerate(table.headers) if index in keys or header in compact]
    else:
        chosen = list(range(len(table.headers)))
    return _columns(replace(table, align=align), chosen, key_columns=sum(1 for i in chosen if i in keys), compact=None)


def _columns(table: Table, chosen: list[int], **changes: Any) -> Table:
    """``table`` with only the ``chosen`` columns (headers, cells and alignment), and ``changes``."""
    return replace(table, headers=tuple(table.headers[i] for i in chosen),
                   rows=tuple(tuple(row[i] for i in chosen) for row in table.rows),
                   align=tuple(table.align[i] for i in chosen), **changes)


def known_columns(tables: list[Table]) -> list[str]:
    """Every header of ``tables``, once each (what ``--columns`` accepts)."""
    return list(dict.fromkeys(header for table in tables for header in table.headers))


def rendered_width(widths: list[int]) -> int:
    """The width of a ``simple_outline`` table with these column widths: a border, then per column a space,
    the text, a space and a border."""
    return sum(widths) + 3 * len(widths) + 1


@dataclass(frozen=True)
class FittedTable:
    """A table ready for tabulate: its columns chosen, and the width each column's text wraps at (None: never)."""

    table: Table
    wrap_widths: tuple[int | None, ...]


def fit(table: Table, layout: Layout) -> list[FittedTable]:
    """``table`` as one or more tables that fit ``layout.width`` (see the module docstring)."""
    table = select_columns(table, layout)
    if layout.width is None or not table.headers:
        return [FittedTable(table, (None,) * len(table.headers))]
    whole, rendered = _wrapped(table, layout.width)
    if rendered <= layout.width:
        return [whole]
    return [_wrapped(part, layout.width)[0] for part in _split(table, layout.width)]


def wrap_title(title: str, width: int | None) -> str:
    """The title wrapped to ``width`` (unchanged without a limit)."""
    return textwrap.fill(title, width=width, break_on_hyphens=False) if width else title


def wrap_cell(value: Any, width: int | None) -> Any:
    """``value``'s text wrapped at ``width`` (its spaces first, a longer word broken); unchanged for None."""
    if width is None:
        return value
    return "\n".join(wrapped for line in str(value).split("\n")
                     for wrapped in (textwrap.wrap(line, width=width, break_on_hyphens=False) or [""]))


def _cell_width(value: Any) -> int:
    return max((len(line) for line in str(value).split("\n")), default=0)


def _longest_word(value: Any) -> int:
    return max((len(word) for word in str(value).split()), default=0)


def _natural_widths(table: Table) -> list[int]:
    """Each column's width unwrapped: its widest cell or its header, whichever is wider."""
    return [max([_cell_width(header) + HEADER_PADDING, *(_cell_width(row[index]) for row in table.rows)])
            for index, header in enumerate(table.headers)]


def _data_widths(table: Table) -> list[int]:
    """Each column's width with its header wrapped at spaces: its widest cell, or its header's longest word."""
    return [max([_longest_word(header) + HEADER_PADDING, *(_cell_width(row[index]) for row in table.rows)])
            for index, header in enumerate(table.headers)]


def _floors(table: Table) -> list[int]:
    """How narrow each column may wrap: text columns down to `MIN_WRAP`; number columns to their widest value."""
    return [min(width, MIN_WRAP) if align == "left" else width for width, align in zip(_data_widths(table), table.align)]


def _wrapped_widths(table: Table, natural: list[int], width: int) -> list[int]:
    """Narrow the widest column, one character at a time, until the table fits: first the headers wrap (down
    to each column's widest value), then the text columns (down to their floors)."""
    widths = list(natural)
    for floors in (_data_widths(table), _floors(table)):
        excess = rendered_width(widths) - width
        while excess > 0:
            candidates = [index for index in range(len(widths)) if widths[index] > floors[index]]
            if not candidates:
                break
            widest = max(candidates, key=lambda index: widths[index])
            widths[widest] -= 1
            excess -= 1
    return widths


def _wrapped(table: Table, width: int) -> tuple[FittedTable, int]:
    """``table`` with the wrap width of each column that must narrow to fit ``width`` (see `_wrapped_widths`),
    and the width it renders at then (more than ``width`` when wrapping alone cannot make it fit)."""
    natural = _natural_widths(table)
    widths = _wrapped_widths(table, natural, width)
    fitted = FittedTable(table, tuple(narrow if narrow < full else None for narrow, full in zip(widths, natural)))
    return fitted, rendered_width(widths)


def header_wrap_width(width: int | None) -> int | None:
    """The width a header wraps at in a column wrapped at ``width`` (see `HEADER_PADDING`)."""
    return None if width is None else max(width - HEADER_PADDING, 1)


def _split(table: Table, width: int) -> list[Table]:
    """The columns in consecutive groups that fit with their headers wrapped (but not their values), each group
    with the key columns first; what still does not fit wraps its text afterwards."""
    floors = _data_widths(table)
    keys = list(range(table.key_columns))
    groups: list[list[int]] = []
    current: list[int] = []
    for index in range(table.key_columns, len(table.headers)):
        candidate = keys + current + [index]
        if current and rendered_width([floors[i] for i in candidate]) > width:
            groups.append(current)
            current = []
        current.append(index)
    if current or not groups:
        groups.append(current)
    parts = []
    for number, group in enumerate(groups):
        chosen = keys + group
        title = table.title if number == 0 else f"{table.title.split(':', 1)[0]} (continued)"
        parts.append(_columns(table, chosen, title=title))
    return parts
