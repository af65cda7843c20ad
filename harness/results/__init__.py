"""Saved runs: one `Record` per cell (`record`), written durably to a run directory (`store`), read back
as data (`frame`).

For notebooks, the reading side is here too::

    >>> from harness import results
    >>> frame = results.load("latest")            # or "previous", a run id, a label, a run directory
"""

from harness.results.catalog import list_runs
from harness.results.frame import load, load_metadata, resolve_run, rows

__all__ = ["list_runs", "load", "load_metadata", "resolve_run", "rows"]
