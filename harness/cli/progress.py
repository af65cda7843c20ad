"""A progress bar with ETA on the terminal (tqdm, on stderr); plain lines when stderr is not a terminal."""

from __future__ import annotations

import sys

from tqdm import tqdm


class ProgressBar:
    """Counts finished rounds of cells (a check cell is one round); `write` prints a message above the bar
    without breaking it."""

    def __init__(self, total: int) -> None:
        self.interactive = sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="round", file=sys.stderr, dynamic_ncols=True, disable=not self.interactive)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()

    def advance(self, backend: str, cell) -> None:
        """One round of ``cell`` ended for ``backend``."""
        self.bar.set_postfix_str(f"{cell.suite}/{backend} hidden {cell.spec.hidden} round {cell.round + 1}", refresh=False)
        self.bar.update(1)

    def write(self, message: str) -> None:
        text = f"bench: {message}"
        if self.interactive:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)
