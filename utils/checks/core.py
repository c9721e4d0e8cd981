"""Shared reporting for the exercise checkers, and the two generic checks.

A checker prints one line that says what is right or wrong and why, and
returns ``True`` when the answer is right, so a solution cell can ``assert``
it and CI runs the check too.
"""

from __future__ import annotations

import math


def report(ok: bool, name: str, detail: str, hint: str = "") -> bool:
    """Print "Correct: ..." or "Not yet: ... Hint: ..." and return ``ok``; every checker reports this way."""
    if ok:
        print(f"Correct: {name}. {detail}")
    else:
        print(f"Not yet: {name}. {detail}" + (f" Hint: {hint}" if hint else ""))
    return ok


def finite_number(answer: object) -> float | None:
    """``float(answer)`` when that is a finite number, else ``None`` (checkers call it on answers)."""
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def number_or_report(answer: object, name: str) -> float | None:
    """``answer`` as a finite float, or ``None`` after reporting why it is not one."""
    value = finite_number(answer)
    if value is None:
        try:
            got = f"got {float(answer)}, which is not a finite number."
        except (TypeError, ValueError):
            got = f"expected a number, got {answer!r}."
        report(False, name, got)
    return value


def check_true(condition: bool, name: str, detail: str = "", hint: str = "") -> bool:
    """Report a yes/no check with an explanation."""
    return report(bool(condition), name, detail, hint)


def check_close(
    answer: float,
    expected: float,
    name: str = "answer",
    rtol: float = 0.05,
    atol: float = 0.0,
    hint: str = "",
) -> bool:
    """Check a number against the expected value within ``atol + rtol * |expected|``."""
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return report(False, name, f"expected a number, got {answer!r}.", hint)
    tol = atol + rtol * abs(expected)
    if not math.isfinite(value):
        return report(False, name, f"got {value}, which is not a finite number.", hint)
    ok = abs(value - expected) <= tol
    detail = f"got {value:.4g}, expected {expected:.4g} (tolerance ±{tol:.2g})."
    return report(ok, name, detail, hint)
