"""Exercise checkers: call one on your answer; it prints what is right or wrong and why.

Each checker returns ``True`` when the answer is right, so a solution cell can
``assert`` it and CI runs the check too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F


def _report(ok: bool, name: str, detail: str, hint: str = "") -> bool:
    if ok:
        print(f"Correct: {name}. {detail}")
    else:
        print(f"Not yet: {name}. {detail}" + (f" Hint: {hint}" if hint else ""))
    return ok


def check_true(condition: bool, name: str, detail: str = "", hint: str = "") -> bool:
    """Report a yes/no check with an explanation."""
    return _report(bool(condition), name, detail, hint)


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
        return _report(False, name, f"expected a number, got {answer!r}.", hint)
    tol = atol + rtol * abs(expected)
    if not math.isfinite(value):
        return _report(False, name, f"got {value}, which is not a finite number.", hint)
    ok = abs(value - expected) <= tol
    detail = f"got {value:.4g}, expected {expected:.4g} (tolerance ±{tol:.2g})."
    return _report(ok, name, detail, hint)


def _count_linear(sizes: Sequence[int], bias: bool) -> list[int]:
    return [fan_in * fan_out + (fan_out if bias else 0) for fan_in, fan_out in itertools.pairwise(sizes)]


def check_param_count(answer: int, sizes: Sequence[int], bias: bool = True) -> bool:
    """Check a parameter count for an MLP with layer ``sizes`` (see ``make_mlp``)."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least two layer sizes, got {sizes!r}")
    per_layer = _count_linear(sizes, bias)
    expected = sum(per_layer)
    parts = " + ".join(f"{i}*{o}" + (f"+{o}" if bias else "") for i, o in itertools.pairwise(sizes))
    if answer == expected:
        return _report(True, "parameter count", f"{parts} = {expected}.")
    if answer == sum(_count_linear(sizes, not bias)):
        hint = "count one bias per output unit." if bias else "these layers have no bias."
        return _report(False, "parameter count", f"got {answer}, expected {expected}.", hint)
    return _report(
        False,
        "parameter count",
        f"got {answer}, expected {expected}.",
        "each Linear layer has fan_in * fan_out weights plus fan_out biases.",
    )


def check_linear_layer(
    fn: Callable[[Tensor, Tensor, Tensor], Tensor], in_features: int = 3, out_features: int = 2
) -> bool:
    """Check ``fn(X, W, b)`` against ``F.linear`` for ``W`` of shape (out, in) and X of shape (batch, in)."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(5, in_features, generator=gen)
    W = torch.randn(out_features, in_features, generator=gen)
    b = torch.randn(out_features, generator=gen)
    expected = F.linear(X, W, b)
    try:
        got = fn(X, W, b)
    except RuntimeError as exc:
        return _report(
            False,
            "linear layer",
            f"it raised: {exc}",
            "W has shape (out_features, in_features); use X @ W.T.",
        )
    if not isinstance(got, Tensor):
        return _report(False, "linear layer", f"expected a tensor, got {type(got).__name__}.")
    if got.shape != expected.shape:
        return _report(
            False,
            "linear layer",
            f"output shape {tuple(got.shape)}, expected {tuple(expected.shape)} = (batch, out_features).",
            "one row per example, one column per output unit.",
        )
    if torch.allclose(got, expected - b, atol=1e-5):
        return _report(False, "linear layer", "the output is off by exactly the bias.", "add b.")
    ok = torch.allclose(got, expected, atol=1e-5)
    detail = "matches F.linear on a random batch." if ok else "values differ from F.linear."
    return _report(ok, "linear layer", detail, "" if ok else "compute X @ W.T + b.")
