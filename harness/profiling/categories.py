"""The categories every backend's profile uses, and the rule matching that maps op names onto them."""

from __future__ import annotations

import re
from collections.abc import Sequence

CATEGORIES = ("embedding", "lstm", "head", "loss", "optimizer", "transfer", "other", "host")
"""Where a step's time goes, the same for every backend:

- ``embedding``: the lookup and its gradient (scattered into the table's rows);
- ``lstm``: the recurrence, forward and backward, every layer and direction;
- ``head``: flatten, dense and sigmoid, forward and backward;
- ``loss``: binary cross-entropy and its gradient;
- ``optimizer``: gradient bookkeeping (zeroing, accumulating) and the update;
- ``transfer``: copies between host and device;
- ``other``: ops the backend's rules do not place (the profile says how much, as its coverage);
- ``host``: the step's wall time not inside any op: dispatch, Python, the framework's own bookkeeping.
"""

Rule = tuple[str, str]
"""A regular expression over an op's name and the category of an op that matches it."""


def category_of(name: str, rules: Sequence[Rule]) -> str | None:
    """The category of the first rule whose pattern is found in ``name``; None when none matches."""
    for pattern, category in rules:
        if re.search(pattern, name):
            return category
    return None
