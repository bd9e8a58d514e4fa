"""argparse ``type=`` checkers shared by every command line of the package.

``hear-byols embed``, ``hear-byols pretrain`` and ``torchrun -m hear_byols.pretraining`` read
numbers through these, so a value out of range is a usage error (exit 2) reported before any
work, not a traceback from deep inside torch. Nothing heavy and nothing of ``hear_byols.cli``
is imported here: the pretraining options use it without a circular import.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable


def count(minimum: int) -> Callable[[str], int]:
    """An integer ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= {minimum}")
        return value

    return parse


def positive(unit: str = "") -> Callable[[str], float]:
    """A finite number ``> 0`` (NaN and infinity refused), in ``unit`` if given."""
    expected = f"a positive number of {unit}" if unit else "a positive finite number"

    def parse(text: str) -> float:
        value = _float(text, expected)
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


def between(low: float, high: float = math.inf) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high`` (both included)."""
    expected = f"a finite number >= {low:g}" if high == math.inf else f"a number from {low:g} to {high:g}"

    def parse(text: str) -> float:
        value = _float(text, expected)
        if not (low <= value <= high and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


def _float(text: str, expected: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}") from None
