"""Argument types with one-line messages that name the bad value and say what is accepted."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An int >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer (accepted: an integer >= 1)")
    return value


def non_negative_int(text: str) -> int:
    """An int >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer (accepted: an integer >= 0)")
    return value


def positive_seconds(text: str) -> float:
    """A number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds (accepted: e.g. 60 or 0.5)")
    return value


def positive_int_list(text: str) -> list[int]:
    """Comma-separated ints >= 1, e.g. ``3,32,64``."""
    values = []
    for part in text.split(","):
        try:
            values.append(positive_int(part.strip()))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not a positive integer (accepted: comma-separated integers >= 1, e.g. 3,32,64)"
            ) from None
    return values


def percentage(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05; must be >= 0."""
    stripped = text.strip()
    try:
        value = float(stripped[:-1]) / 100 if stripped.endswith("%") else float(stripped)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (accepted: e.g. 5% or 0.05)")
    return value


def name_list(text: str) -> list[str]:
    """Comma-separated names, e.g. ``numpy,torch``; empty names are refused."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty name (accepted: comma-separated names, e.g. numpy,torch)")
    return names


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``bench: error: ...``) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"bench: error: {message}\n")
