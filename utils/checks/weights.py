"""Checkers for Chapter 1, weights and biases (lessons ``01_weights/*``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from utils.checks.core import report


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
        return report(True, "parameter count", f"{parts} = {expected}.")
    if answer == sum(_count_linear(sizes, not bias)):
        hint = "count one bias per output unit." if bias else "these layers have no bias."
        return report(False, "parameter count", f"got {answer}, expected {expected}.", hint)
    return report(
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
        return report(
            False,
            "linear layer",
            f"it raised: {exc}",
            "W has shape (out_features, in_features); use X @ W.T.",
        )
    if not isinstance(got, Tensor):
        return report(False, "linear layer", f"expected a tensor, got {type(got).__name__}.")
    if got.shape != expected.shape:
        return report(
            False,
            "linear layer",
            f"output shape {tuple(got.shape)}, expected {tuple(expected.shape)} = (batch, out_features).",
            "one row per example, one column per output unit.",
        )
    if torch.allclose(got, expected - b, atol=1e-5):
        return report(False, "linear layer", "the output is off by exactly the bias.", "add b.")
    ok = torch.allclose(got, expected, atol=1e-5)
    detail = "matches F.linear on a random batch." if ok else "values differ from F.linear."
    return report(ok, "linear layer", detail, "" if ok else "compute X @ W.T + b.")


def check_symmetry_broken(model: torch.nn.Module, atol: float = 1e-6) -> bool:
    """Check that no two hidden units of any hidden Linear layer are identical (lesson 01_weights/03)."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if len(layers) < 2:
        raise ValueError(f"model must have at least two Linear layers (one hidden), got {len(layers)}")
    details, ok = [], True
    for name, layer in layers[:-1]:  # the last layer's units are the outputs, tied to different targets
        rows = layer.weight.detach()  # (units, fan_in): one row of incoming weights per unit
        if layer.bias is not None:
            rows = torch.cat([rows, layer.bias.detach()[:, None]], dim=1)  # a unit is its row and its bias
        gaps = (rows[:, None, :] - rows[None, :, :]).abs().amax(dim=2)  # (units, units)
        gaps.fill_diagonal_(math.inf)
        closest = gaps.min().item() if len(rows) > 1 else math.inf
        ok &= closest > atol
        details.append(f"{name}: closest pair of units differs by {closest:.2g}")
    hint = "units with equal incoming weights and bias get equal gradients; start them from different values."
    return report(ok, "symmetry broken", "; ".join(details) + f" (needs > {atol:.0e}).", "" if ok else hint)
