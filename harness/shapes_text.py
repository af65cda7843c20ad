"""Shapes and counts written the way Keras' ``model.summary()`` writes them."""

from __future__ import annotations

from collections.abc import Sequence


def shape_text(shape: Sequence) -> str:
    """``(None, 2, 3)``; a 1-tuple keeps its comma, like Python: ``(None,)``."""
    return str(tuple(shape))


def shapes_text(shapes: Sequence[Sequence]) -> str:
    """One shape as ``(None, 2, 3)``, several as ``[(None, 2, 3), (None, 3), (None, 3)]``."""
    if len(shapes) == 1:
        return shape_text(shapes[0])
    return "[" + ", ".join(shape_text(shape) for shape in shapes) + "]"


def count_text(count: int) -> str:
    """``250,115``."""
    return f"{count:,}"
