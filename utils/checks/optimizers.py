"""Checkers for Chapter 5, optimizers and learning-rate schedules (lessons ``05_optimizers/*``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from utils._validate import choice
from utils.checks.core import finite_number, report
from utils.optim import OptimizerFactory, UpdateRule, compare_with_torch


def check_optimizer(
    rule: UpdateRule,
    make_reference: OptimizerFactory,
    steps: int = 100,
    name: str = "update rule",
    grad_scale: float = 1.0,
    rtol: float = 1e-7,
) -> bool:
    """Run ``rule(w, grad, state)`` beside a ``torch.optim`` optimizer; report the first step that differs.

    Both start from the same float64 weights and see the same mini-batches
    (:func:`utils.optim.compare_with_torch`); they agree when every parameter
    matches to ``rtol`` after every one of ``steps`` steps (lessons ``05_optimizers/02``-``04``).
    """
    comparison = compare_with_torch(rule, make_reference, steps, grad_scale=grad_scale)
    first = comparison.first_difference(rtol=rtol)
    if first is None:
        detail = f"it matches torch.optim at every one of {steps} steps (to a relative {rtol:g})."
        return report(True, name, detail)  # the differences are rounding noise: not printed
    if comparison.error is not None and first == len(comparison.max_diff) + 1:
        return report(False, name, f"at step {first}, {comparison.error}.",
                      "return the new value of w, a tensor of w's shape.")  # fmt: skip
    diff = comparison.max_diff[first - 1]
    detail = f"the runs first differ at step {first} of {steps} (largest difference {diff:.3g})."
    if first == 1:
        hint = (
            "the very first step differs: check the formula, and what the state holds before the "
            "first step (PyTorch's momentum buffer starts as the first gradient itself)."
        )
    else:
        hint = (
            "the first step agrees and a later one does not: check how the state is carried from "
            "step to step (the moving averages, the step count t in any bias correction)."
        )
    return report(False, name, detail, hint)


def check_stability_limit(answer: float, A: Tensor) -> bool:
    """Check the largest stable learning rate of gradient descent on ``0.5 w^T A w`` (lesson 05/01)."""
    name = "stability limit"
    eigenvalues = torch.linalg.eigvalsh(A.double())
    lam_max, lam_min = eigenvalues.max().item(), eigenvalues.min().item()
    expected = 2.0 / lam_max
    value = finite_number(answer)
    if value is None:
        return report(False, name, f"expected a finite number, got {answer!r}.")
    detail = f"got {value:.4g}, expected 2 / lambda_max = {expected:.4g}."
    if abs(value - expected) <= 1e-3 * expected:
        return report(True, name, f"{detail} Above it the top eigen-direction grows by |1 - lr lambda| > 1.")
    if math.isclose(value, 2.0 / lam_min, rel_tol=1e-3):
        hint = "the limit is set by the LARGEST eigenvalue: that direction is the first to overshoot."
    elif math.isclose(value, 1.0 / lam_max, rel_tol=1e-3):
        hint = (
            "1 / lambda_max is the fastest step for that direction; it still converges up to 2 / lambda_max."
        )
    elif any(math.isclose(value, 2.0 / d, rel_tol=1e-3) for d in A.diagonal().tolist() if d > 0):
        hint = "A is not diagonal: use its eigenvalues (torch.linalg.eigvalsh), not its diagonal."
    else:
        hint = "along an eigenvector, a step multiplies the error by (1 - lr lambda): keep it in (-1, 1)."
    return report(False, name, detail, hint)


def _test_matrices() -> list[Tensor]:
    """Three symmetric positive definite matrices with known, well-separated extreme eigenvalues."""
    gen = torch.Generator().manual_seed(0)
    mats = []
    for dim, top in [(5, 3.0), (20, 40.0), (50, 0.5)]:
        Q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
        eigenvalues = torch.linspace(0.3 * top, 0.6 * top, dim, dtype=torch.float64)
        eigenvalues[0], eigenvalues[-1] = 0.05 * top, top  # clear gaps at both ends
        mats.append(Q @ torch.diag(eigenvalues) @ Q.T)
    return mats


def check_extreme_eigenvalue(
    fn: Callable[[Callable[[Tensor], Tensor], int], float], which: str = "largest"
) -> bool:
    """Check ``fn(matvec, dim)``, the largest or smallest eigenvalue from matrix-vector products (05/01)."""
    choice("which", which, ("largest", "smallest"))
    name = f"{which} eigenvalue"
    results = []
    for A in _test_matrices():
        eigenvalues = torch.linalg.eigvalsh(A)
        expected = (eigenvalues.max() if which == "largest" else eigenvalues.min()).item()
        size = f"{A.shape[0]}x{A.shape[0]} matrix"
        try:
            got = finite_number(fn(lambda v, A=A: A @ v, A.shape[0]))
        except Exception as exc:  # a reader's function may fail in any way: report it
            return report(False, name, f"{size}: it raised {type(exc).__name__}: {exc}")
        if got is None or abs(got - expected) > 0.01 * abs(expected):
            detail = f"{size}: got {got!r}, expected {expected:.4g}."
            if which == "largest":
                hint = "repeat v <- A v / ||A v|| from a random v; the estimate is v . (A v) with ||v|| = 1."
            else:
                hint = "power iteration on (c I - A), with c >= the largest eigenvalue, finds c - smallest."
            return report(False, name, detail, hint)
        results.append(f"{got:.4g} (true {expected:.4g})")
    return report(True, name, "; ".join(results) + ", each within 1%.")


def check_batch_variance(answer: float, var_one: float, batch_size: int, n: int) -> bool:
    """Check a predicted variance of a mini-batch mean drawn without replacement (lesson 05/02)."""
    name = f"variance at batch size {batch_size}"
    expected = var_one / batch_size * (n - batch_size) / (n - 1)
    value = finite_number(answer)
    if value is None:
        return report(False, name, f"expected a finite number, got {answer!r}.")
    detail = f"got {value:.4g}, expected {expected:.4g}."
    if abs(value - expected) <= 1e-3 * expected:
        return report(True, name, f"{detail} 1/B, times (N - B)/(N - 1) for sampling without replacement.")
    if math.isclose(value, var_one / batch_size, rel_tol=1e-3):
        hint = "a batch drawn without replacement from N examples varies less: multiply by (N - B) / (N - 1)."
    elif math.isclose(value, var_one / math.sqrt(batch_size), rel_tol=1e-3):
        hint = "the STD falls as 1 / sqrt(B); the variance falls as 1 / B."
    else:
        hint = "the mean of B independent draws has variance Var / B."
    return report(False, name, detail, hint)


def check_heavy_ball(lr: float, momentum: float, lam_min: float, lam_max: float) -> bool:
    """Check Polyak's optimal heavy-ball lr and momentum for eigenvalues in [lam_min, lam_max] (05/03)."""
    name = "heavy-ball parameters"
    best_lr = 4.0 / (math.sqrt(lam_max) + math.sqrt(lam_min)) ** 2
    root = math.sqrt(lam_max / lam_min)
    best_momentum = ((root - 1) / (root + 1)) ** 2
    got_lr, got_momentum = finite_number(lr), finite_number(momentum)
    if got_lr is None or got_momentum is None:
        return report(False, name, f"expected two numbers, got lr={lr!r}, momentum={momentum!r}.")
    detail = (
        f"got lr {got_lr:.4g}, momentum {got_momentum:.4g}; "
        f"expected lr {best_lr:.4g}, momentum {best_momentum:.4g}."
    )
    if abs(got_lr / best_lr - 1) <= 1e-3 and abs(got_momentum - best_momentum) <= 1e-3:
        rate = (root - 1) / (root + 1)
        return report(True, name, f"{detail} The error then shrinks by {rate:.4f} per step.")
    if math.isclose(got_momentum, (root - 1) / (root + 1), rel_tol=1e-3):
        hint = "the momentum is the SQUARE of (sqrt(kappa) - 1) / (sqrt(kappa) + 1)."
    else:
        hint = "lr = 4 / (sqrt(L) + sqrt(m))^2, momentum = ((sqrt(k) - 1) / (sqrt(k) + 1))^2 with k = L / m."
    return report(False, name, detail, hint)


def check_schedule(
    fn: Callable[[int], float],
    make_reference: Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler],
    steps: int = 100,
    base_lr: float = 0.1,
    name: str = "schedule",
) -> bool:
    """Check ``fn(t)``, the lr of step ``t = 0, 1, ...``, against an ``lr_scheduler`` (lesson 05/05)."""
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=base_lr)
    scheduler = make_reference(optimizer)
    for t in range(steps):
        expected = optimizer.param_groups[0]["lr"]
        try:
            got = finite_number(fn(t))
        except Exception as exc:  # a reader's function may fail in any way: report it
            return report(False, name, f"at t={t} it raised {type(exc).__name__}: {exc}")
        if got is None or abs(got - expected) > 1e-9 + 1e-6 * abs(expected):
            detail = f"first differs at step t={t}: got {got!r}, torch gives {expected:.6g}."
            hint = (
                "t counts scheduler steps from 0, and the lr at t=0 is the first one used."
                if t == 0
                else "compare your formula with the scheduler's documentation at this step."
            )
            return report(False, name, detail, hint)
        optimizer.step()
        scheduler.step()
    return report(True, name, f"it matches torch.optim.lr_scheduler over {steps} steps.")
