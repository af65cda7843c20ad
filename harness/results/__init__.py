"""Saved runs: one `Record` per cell (`record`), written durably to a run directory (`store`), read back
as data (`frame`).

For notebooks, the reading side is here too::

    >>> from harness import results
    >>> frame = results.load("latest")            # or a run id, or a path to a run directory
"""

from harness.results.frame import load, load_metadata, resolve_run, rows

__all__ = ["load", "load_metadata", "resolve_run", "rows"]
