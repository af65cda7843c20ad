"""Argument types with one-line messages that name the bad value and say what is accepted."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path


def integer_at_least(minimum: int) -> Callable[[str], int]:
    """An argument type for one int >= ``minimum``."""
    noun = _integer_noun(minimum)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun} (accepted: an integer >= {minimum})")
        return value

    parse.__name__ = noun
    return parse


def integer_list_at_least(minimum: int) -> Callable[[str], list[int]]:
    """An argument type for comma-separated ints >= ``minimum``, e.g. ``3,32,64``."""
    noun, one = _integer_noun(minimum), integer_at_least(minimum)

    def parse(text: str) -> list[int]:
        values = []
        for part in text.split(","):
            try:
                value = one(part.strip())
            except argparse.ArgumentTypeError:
                raise argparse.ArgumentTypeError(
                    f"{part.strip()!r} is not {noun} (accepted: comma-separated integers >= {minimum}, e.g. 3,32,64)"
                ) from None
            if value in values:
                raise argparse.ArgumentTypeError(f"{value} is given twice in {text!r} (accepted: distinct values, "
                                                 "e.g. 3,32,64; each is one cell)")
            values.append(value)
        return values

    parse.__name__ = f"list of integers >= {minimum}"
    return parse


def _integer_noun(minimum: int) -> str:
    return {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")


positive_int = integer_at_least(1)
non_negative_int = integer_at_least(0)


def positive_seconds(text: str) -> float:
    """A number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds (accepted: a finite number "
                                         "above 0, e.g. 60 or 0.5)")
    return value


def percentage(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05; must be >= 0."""
    stripped = text.strip()
    try:
        value = float(stripped[:-1]) / 100 if stripped.endswith("%") else float(stripped)
    except ValueError:
        value = -1.0
    if not (0 <= value < math.inf):
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (accepted: a finite number >= 0, e.g. 5% "
                                         "or 0.05)")
    return value


def directory(text: str) -> Path:
    """A directory path; the empty string (which would mean the current directory by accident) is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("'' is not a directory (accepted: a path, e.g. results or /tmp/runs)")
    return Path(text)


def name_list(text: str) -> list[str]:
    """Comma-separated names, e.g. ``numpy,torch``; empty names are refused."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty name (accepted: comma-separated names, e.g. numpy,torch)")
    return names


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``bench: error: ...``) and exit status 2; a negative
    number, with or without ``%``, is an option's value (``--min-effect -5%`` is refused by its type with
    what is accepted, not mistaken for an unknown option)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\d+%?$|^-\d*\.\d+%?$|^-inf$|^-nan$", re.IGNORECASE)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"bench: error: {message}\n")
