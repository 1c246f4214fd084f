"""Value types for numeric and text flags: argparse converters that refuse what makes no sense.

Each returns a converter for ``add_argument(type=…)``; a refusal is an ``ArgumentTypeError``, which the
parser turns into one line (``error: polybot sim: argument --port: must be …``). Numbers must be finite
and within bounds, so that ``nan``, ``inf``, ``-1`` or a 5000-digit value never reach the code.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

from polybot.cli.failures import echo


def _bad(text: str, must: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"must be {must}, got {echo(text)}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e18 else f"{x:g}"


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {_num(low)} and {_num(high)}"
    if low is not None:
        return f"at least {_num(low)}"
    return f"at most {_num(high)}" if high is not None else ""


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An integer in ``[low, high]``."""
    must = f"a whole number {_bounds(low, high)}".rstrip()

    def convert(text: str) -> int:
        cleaned = text.strip()
        if not cleaned or len(cleaned) > 30:
            raise _bad(text, must)
        try:
            value = int(cleaned)
        except ValueError:
            raise _bad(text, must) from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise _bad(text, must)
        return value

    convert.__name__ = "integer"
    return convert


def real(low: float | None = None, high: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """A finite number ``>= low`` (``> low`` with ``above``) and ``<= high``."""
    must = (f"a number above {_num(low)}" if above and low is not None else f"a number {_bounds(low, high)}".rstrip())
    if above and high is not None:
        must += f" and at most {_num(high)}"

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise _bad(text, must) from None
        too_low = low is not None and (value <= low if above else value < low)
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            raise _bad(text, must)
        return value

    convert.__name__ = "number"
    return convert


def amount(low: Decimal = Decimal(0), high: Decimal = Decimal(10) ** 15) -> Callable[[str], Decimal]:
    """A finite decimal in ``[low, high]`` (money and share amounts: no binary float on the way)."""
    must = f"a number between {low} and {high:f}"

    def convert(text: str) -> Decimal:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise _bad(text, must) from None
        if not value.is_finite() or not low <= value <= high:
            raise _bad(text, must)
        return value

    convert.__name__ = "amount"
    return convert


def word(choices: Iterable[str] | None = None) -> Callable[[str], str]:
    """A non-empty word without spaces or control characters; one of ``choices`` (any case) if given."""
    allowed = tuple(choices) if choices is not None else None

    def convert(text: str) -> str:
        if allowed is not None:
            if text.strip().lower() not in allowed:
                raise _bad(text, f"one of {', '.join(allowed)}")
            return text.strip().lower()
        if not text or not text.isprintable() or any(c.isspace() for c in text):
            raise _bad(text, "a non-empty value without spaces")
        return text

    convert.__name__ = "word"
    return convert
