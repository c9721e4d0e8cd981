"""Checkers for Chapter 3, activation functions (lessons ``03_activations/*``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from utils.checks.core import number_or_report, report
from utils.diagnostics import LayerMonitor
from utils.models import make_mlp

Mistake = tuple[Callable[[float], bool], str]  # a test for a likely wrong answer, and its hint


def _check_number(
    answer: object, name: str, expected: float, tol: float, mistakes: Sequence[Mistake] = (), hint: str = "",
    note: str = "",
) -> bool:  # fmt: skip
    """Report a numeric answer against ``expected`` (within ``tol``), with a hint for each known mistake."""
    value = number_or_report(answer, name)
    if value is None:
        return False
    detail = f"got {value:.4g}, expected {expected:.4g}."
    if abs(value - expected) <= tol:
        return report(True, name, f"{detail} {note}".rstrip())
    hints = [why for test, why in mistakes if test(value)]
    return report(False, name, detail, hints[0] if hints else hint)


_FAILED = object()  # what _call returns when the reader's function raised


def _call(fn: Callable, name: str, case: str, *args) -> object:
    """Call a reader's function; report and return ``_FAILED`` if it raises."""
    try:
        return fn(*args)
    except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
        report(False, name, f"{case}: it raised {type(exc).__name__}: {exc}")
        return _FAILED


# -- lesson 01_why_nonlinearity ---------------------------------------------------------------


def _xor_points() -> tuple[Tensor, Tensor]:
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    return X, torch.tensor([0, 1, 1, 0])


def _best_linear_xor_accuracy(num_lines: int = 20_000, seed: int = 0) -> float:
    """Best accuracy of a line ``w.x + b > 0`` on the four XOR points, by random search."""
    X, y = _xor_points()
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(num_lines, 2, generator=gen, dtype=torch.float64)
    b = torch.randn(num_lines, 1, generator=gen, dtype=torch.float64)
    pred = (w @ X.T + b > 0).long()  # (num_lines, 4)
    return (pred == y).double().mean(dim=1).max().item()


def check_xor_linear_accuracy(answer: float) -> bool:
    """Check the best accuracy any linear classifier reaches on XOR (lesson 03/01_why_nonlinearity)."""
    midpoint = (
        "a side of a line that holds (0,1) and (1,0) also holds their midpoint (0.5, 0.5), "
        "which is the midpoint of (0,0) and (1,1) too: both of those cannot be on the other side."
    )
    constant = "0.5 is what a constant prediction gets; a line can do better: try one that cuts off a corner."
    mistakes = [
        (lambda v: v > 1, "an accuracy is a fraction between 0 and 1."),
        (lambda v: v == 1.0, midpoint),
        (lambda v: v == 0.5, constant),
    ]
    note = "A line can put three of the four points on their correct side, never all four."
    hint = "there are only four points, so the accuracy is a multiple of 1/4."
    return _check_number(answer, "best linear accuracy on XOR", 0.75, 1e-9, mistakes, hint, note)


def _hat(x: Tensor) -> Tensor:
    return (1 - x.abs()).clamp(min=0)


def check_hat_network(model: nn.Module) -> bool:
    """Check a hand-built ReLU network computes ``max(0, 1 - |x|)`` (lesson 03/01_why_nonlinearity)."""
    name = "hat network"
    x = torch.linspace(-3, 3, 601, dtype=torch.float64).reshape(-1, 1)  # (601, 1)
    if not isinstance(model, nn.Module):
        return report(False, name, f"expected an nn.Module, got {type(model).__name__}.")
    try:
        with torch.no_grad():
            out = model.to(torch.float64)(x)
    except Exception as exc:  # the reader's model may fail in any way
        return report(False, name, f"calling it on a (601, 1) input raised {type(exc).__name__}: {exc}")
    if not isinstance(out, Tensor) or out.shape != (601, 1):
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        return report(False, name, f"expected an output of shape (601, 1), got {shape}.")
    error = (out - _hat(x)).abs()
    worst = error.max().item()
    if worst < 1e-6:
        return report(True, name, "it equals max(0, 1 - |x|) on [-3, 3] (largest error below 1e-6).")
    where = x[error.argmax(), 0].item()
    detail = (
        f"largest error {worst:.3g} at x = {where:.2f} (your output {out[error.argmax(), 0].item():.3g})."
    )
    if abs(where) > 1:
        hint = "outside [-1, 1] the hat is 0: the slopes of your units must cancel there."
    else:
        hint = "the hat has kinks at -1, 0 and 1: three units, with slope changes +1, -2, +1."
    return report(False, name, detail, hint)


def _count_pieces_on_grid(
    fn: Callable[[Tensor], Tensor], lo: float, hi: float, num_points: int = 200_001
) -> int:
    """Number of linear pieces of a piecewise-linear 1-D function on [lo, hi], from a fine grid.

    A kink between grid points changes the slope of one or two neighbouring
    grid intervals; each run of slope changes is counted as one kink.
    """
    x = torch.linspace(lo, hi, num_points, dtype=torch.float64).reshape(-1, 1)
    with torch.no_grad():
        f = fn(x).reshape(-1)
    slope = torch.diff(f) / torch.diff(x.reshape(-1))
    scale = slope.abs().max().clamp(min=1.0)
    change = torch.diff(slope).abs() > 1e-7 * scale  # (num_points - 2,)
    starts = change[1:] & ~change[:-1]  # a run of changes begins here
    kinks = int(starts.sum()) + int(change[0])
    return kinks + 1


def check_count_pieces(fn: Callable[[nn.Module, float, float], int]) -> bool:
    """Check ``fn(model, lo, hi)`` counts the pieces of 1-D ReLU MLPs (lesson 03/01_why_nonlinearity)."""

    name = "count_pieces"
    cases = [([1, 6, 1], 0), ([1, 16, 1], 1), ([1, 8, 8, 1], 2), ([1, 6, 6, 6, 1], 3)]
    results = []
    for sizes, seed in cases:
        torch.manual_seed(seed)
        model = make_mlp(sizes, "relu", "kaiming_normal", bias=True).double()
        with torch.no_grad():
            for layer in model:
                if isinstance(layer, nn.Linear):
                    layer.bias.uniform_(-1.0, 1.0)  # kinks spread over [-3, 3]
        expected = _count_pieces_on_grid(model, -3.0, 3.0)
        case = f"make_mlp({sizes}) with seed {seed}"
        got = _call(fn, name, case, model, -3.0, 3.0)
        if got is _FAILED:
            return False
        if isinstance(got, bool) or not isinstance(got, (int, float)) or got != expected:
            hint = "a function with k kinks has k + 1 pieces; count where the slope changes on a fine grid."
            return report(False, name, f"{case}: got {got!r}, expected {expected}.", hint)
        results.append(f"{sizes}: {expected}")
    return report(True, name, "pieces on [-3, 3]: " + "; ".join(results) + ".")


# -- lesson 02_sigmoid_tanh ----------------------------------------------------------------------


def _gaussian_expectation(fn: Callable[[Tensor], Tensor]) -> float:
    """E[fn(z)] for z ~ N(0, 1), by the trapezoid rule on a fine grid (float64)."""
    z = torch.linspace(-14.0, 14.0, 280_001, dtype=torch.float64)
    density = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return torch.trapezoid(fn(z) * density, z).item()


def check_sigmoid_condition(answer: float, n: int = 64) -> bool:
    """Check the condition number of E[h h^T] for n sigmoid outputs (lesson 03/02_sigmoid_tanh)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    v = _gaussian_expectation(lambda z: torch.sigmoid(z) ** 2) - 0.25  # Var[sigma(z)], mean 1/2
    expected = 1 + n * 0.25 / v
    tol = 0.02 * expected
    no_one = "the largest eigenvalue is v + n m^2 and the smallest v: the ratio is 1 + n m^2 / v."
    with_std = 1 + n * 0.25 / math.sqrt(v)
    mistakes = [
        (lambda a: abs(a - (expected - 1)) <= tol, no_one),
        (lambda a: abs(a - with_std) <= tol, "v is the variance of sigma(z), not its standard deviation."),
    ]
    hint = "E[h h^T] = v I + m^2 11^T: along the all-ones vector, 11^T has eigenvalue n; across it, 0."
    note = f"Var[sigma(z)] = {v:.4f}."
    return _check_number(
        answer, f"condition number for {n} sigmoid inputs", expected, tol, mistakes, hint, note
    )


def check_tanh_from_sigmoid(fn: Callable[[Tensor], Tensor], slope_fn: Callable[[Tensor], Tensor]) -> bool:
    """Check tanh written with the sigmoid, and its derivative, against torch (lesson 03/02_sigmoid_tanh)."""
    name = "tanh from the sigmoid"
    z = torch.linspace(-8.0, 8.0, 1601, dtype=torch.float64, requires_grad=True)
    (reference_slope,) = torch.autograd.grad(torch.tanh(z).sum(), z)
    z = z.detach()
    for label, f, reference in [
        ("tanh_from_sigmoid", fn, torch.tanh(z)),
        ("tanh_slope", slope_fn, reference_slope),
    ]:
        got = _call(f, name, label, z)
        if got is _FAILED:
            return False
        if not isinstance(got, Tensor) or got.shape != z.shape:
            kind = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
            return report(False, name, f"{label}: expected a tensor of shape {tuple(z.shape)}, got {kind}.")
        error = (got.double() - reference).abs().max().item()
        if not error < 1e-6:
            at = z[(got.double() - reference).abs().argmax()].item()
            hint = (
                "tanh(z) = 2 sigmoid(2z) - 1."
                if label == "tanh_from_sigmoid"
                else "differentiate 2 sigmoid(2z) - 1 by the chain rule: the inner 2z gives a factor 2."
            )
            return report(False, name, f"{label}: largest error {error:.3g} at z = {at:.2f}.", hint)
    return report(True, name, "both match torch.tanh and its autograd derivative on [-8, 8].")


def check_gru_cell(fn: Callable[[Tensor, Tensor, nn.GRUCell], Tensor]) -> bool:
    """Check ``fn(x, h, cell)`` against ``nn.GRUCell`` (lesson 03/02_sigmoid_tanh)."""
    name = "GRU step"
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        cell = nn.GRUCell(input_size=6, hidden_size=4).double()
    x = torch.randn(5, 6, generator=gen, dtype=torch.float64)
    h = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        expected = cell(x, h)
        got = _call(fn, name, "a cell with 6 inputs and 4 hidden units", x, h, cell)
    if got is _FAILED:
        return False
    if not isinstance(got, Tensor) or got.shape != expected.shape:
        kind = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
        return report(False, name, f"expected a tensor of shape {tuple(expected.shape)}, got {kind}.")
    error = (got - expected).abs().max().item()
    if error < 1e-10:
        return report(True, name, "it matches nn.GRUCell (largest difference below 1e-10).")
    hint = "h' = (1 - u) n + u h, and the reset gate multiplies W_hn h + b_hn, its bias included."
    return report(False, name, f"largest difference from nn.GRUCell {error:.3g}.", hint)


# -- lesson 03_relu_family -----------------------------------------------------------------------


def check_leaky_mean(answer: float, negative_slope: float = 0.1) -> bool:
    """Check E[leaky_relu(z)] for z ~ N(0, 1) (lesson 03/03_relu_family)."""
    expected = _gaussian_expectation(lambda z: torch.nn.functional.leaky_relu(z, negative_slope))
    relu_mean = 1 / math.sqrt(2 * math.pi)
    sign = "the negative half contributes a * E[z; z < 0] = -a / sqrt(2 pi): it lowers the mean."
    relu = "that is the ReLU's mean; the negative side adds a times the mean of the negative half."
    mistakes = [
        (lambda v: abs(v - (1 + negative_slope) * relu_mean) <= 1e-3, sign),
        (lambda v: abs(v - relu_mean) <= 1e-3, relu),
    ]
    hint = "leaky(z) = relu(z) - a relu(-z), and relu(-z) has the same mean as relu(z)."
    return _check_number(
        answer, f"mean of leaky_relu with slope {negative_slope}", expected, 1e-3, mistakes, hint
    )


def check_channel_prelu(cls: type) -> bool:
    """Check a per-unit PReLU module against ``nn.PReLU(num_parameters=...)`` (lesson 03/03_relu_family)."""
    name = "ChannelPReLU"
    num_units, init = 6, 0.2
    ours = _call(cls, name, f"{cls.__name__}({num_units}, init={init})", num_units, init)
    if ours is _FAILED:
        return False
    params = list(ours.parameters()) if isinstance(ours, nn.Module) else []
    if len(params) != 1 or params[0].numel() != num_units:
        shapes = [tuple(p.shape) for p in params]
        return report(False, name, f"expected one parameter with {num_units} slopes, got shapes {shapes}.")
    reference = nn.PReLU(num_parameters=num_units, init=init).double()
    ours = ours.double()
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(16, num_units, generator=gen, dtype=torch.float64)
    upstream = torch.randn(16, num_units, generator=gen, dtype=torch.float64)
    out = _call(ours, name, "forward on a (16, 6) input", z)
    if out is _FAILED:
        return False
    if not isinstance(out, Tensor) or out.shape != z.shape:
        kind = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        return report(False, name, f"expected an output of shape {tuple(z.shape)}, got {kind}.")
    expected = reference(z)
    if not torch.allclose(out, expected, atol=1e-10):
        hint = "every slope starts at init; the output is z where z > 0 and slope * z elsewhere."
        return report(
            False, name, f"outputs differ by up to {(out - expected).abs().max().item():.3g}.", hint
        )
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    grad, reference_grad = params[0].grad, reference.weight.grad
    if grad is None or not torch.allclose(grad.reshape(-1), reference_grad, atol=1e-10):
        hint = "make the slopes an nn.Parameter so autograd trains them, one per unit (not one shared)."
        return report(False, name, "the gradients of the slopes differ from nn.PReLU's.", hint)
    return report(True, name, f"outputs and slope gradients match nn.PReLU(num_parameters={num_units}).")


def check_dead_units(fn: Callable[[nn.Sequential, Tensor], list]) -> bool:
    """Check ``fn(model, X)`` gives each hidden layer's dead fraction (lesson 03/03_relu_family)."""
    name = "dead_units"
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(200, 10, generator=gen, dtype=torch.float64)
    for activation, shift in [("relu", 2.0), ("leaky_relu", 3.0), ("elu", 2.5)]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            model = make_mlp([10, 32, 32, 3], activation, "kaiming_normal").double()
        with torch.no_grad():
            model.linear1.bias[:12] -= 10.0  # switch off 12 of the 32 units of layer 1
            model.linear2.bias -= shift  # and some of layer 2
        with torch.no_grad(), LayerMonitor(model) as monitor:
            model(X)
        expected = monitor.series("dead")
        case = f"a {activation} network with some units switched off"
        got = _call(fn, name, case, model, X)
        if got is _FAILED:
            return False
        try:
            values = [float(v) for v in got]
        except (TypeError, ValueError):
            return report(False, name, f"{case}: expected a list of numbers, got {got!r}.")
        if len(values) != len(expected) or any(abs(a - b) > 1e-12 for a, b in zip(values, expected)):
            shown = ", ".join(f"{v:.4g}" for v in expected)
            hint = "one number per hidden layer: the fraction of units with pre-activation <= 0 on all rows."
            return report(False, name, f"{case}: got {got!r}, expected [{shown}].", hint)
    return report(True, name, "matches LayerMonitor's dead fraction on ReLU, leaky-ReLU and ELU networks.")


# -- lesson 04_smooth_and_choosing ---------------------------------------------------------------


def check_gelu_mean(answer: float) -> bool:
    """Check E[gelu(z)] for z ~ N(0, 1) (lesson 03/04_smooth_and_choosing)."""
    expected = _gaussian_expectation(torch.nn.functional.gelu)
    relu = "that is the ReLU's mean; E[phi(z)] integrates the density against itself."
    mistakes = [(lambda v: abs(v - 1 / math.sqrt(2 * math.pi)) <= 1e-3, relu)]
    hint = "E[z Phi(z)] = E[phi(z)], the integral of phi(z)^2 over the line."
    return _check_number(answer, "mean of GELU", expected, 1e-3, mistakes, hint, "That is 1 / (2 sqrt(pi)).")


def check_gelu_sigmoid_error(answer: float) -> bool:
    """Check the largest error of x * sigmoid(1.702 x) against GELU on [-8, 8] (lesson 03/04)."""
    x = torch.linspace(-8.0, 8.0, 160_001, dtype=torch.float64)
    expected = (x * torch.sigmoid(1.702 * x) - torch.nn.functional.gelu(x)).abs().max().item()
    tanh_size = "that is the size of the tanh form's error; compare x * sigmoid(1.702 x) with the exact GELU."
    mistakes = [
        (lambda v: v < 0, "take the absolute value of the difference before the maximum."),
        (lambda v: v < 1e-3, tanh_size),
    ]
    hint = "compare with the exact GELU, x Phi(x) (F.gelu), over the whole grid of [-8, 8]."
    name = "largest error of the sigmoid approximation"
    return _check_number(answer, name, expected, 0.02 * expected, mistakes, hint)


def check_selu_variance_slope(answer: float) -> bool:
    """Check g'(1) for g(nu) = Var[selu(sqrt(nu) z)], z ~ N(0, 1) (lesson 03/04_smooth_and_choosing)."""
    z = torch.linspace(-14.0, 14.0, 280_001, dtype=torch.float64)
    density = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    slope = torch.where(z > 0, 1.0507009873554805, 1.7580993408473766 * torch.exp(z.clamp(max=0)))
    out = torch.nn.functional.selu(z)
    expected = torch.trapezoid(out * slope * z * density, z).item()  # d/dnu of Var at nu = 1 (mean 0 there)
    mistakes = [
        (
            lambda v: abs(v - 1.0) < 0.01,
            "g(1) = 1 is the value; the question asks for the derivative at nu = 1.",
        )
    ]
    hint = "g(nu) is the output's variance: second moment minus squared mean, for inputs sqrt(nu) z."
    note = "Below 1: the variance is pulled back towards 1."
    return _check_number(answer, "slope of SELU's variance map at 1", expected, 0.01, mistakes, hint, note)
