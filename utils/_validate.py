"""Argument checks that raise errors naming the argument and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable


def choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError``."""
    options = sorted(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}={value!r} is not valid; choose one of: {', '.join(options)}")
    return value


def positive_int(name: str, value: int, minimum: int = 1) -> int:
    """Return ``value`` if it is an int of at least ``minimum``, else raise a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def fraction(name: str, value: float, *, allow_zero: bool = True) -> float:
    """Return ``value`` if it lies in [0, 1) (or (0, 1)), else raise a ``ValueError``."""
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        bound = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must lie in {bound}, got {value!r}")
    return float(value)


def positive_number(name: str, value: float) -> float:
    """Return ``value`` if it is a real number > 0, else raise a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)
