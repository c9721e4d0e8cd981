"""Tests for the Chapter 5 checkers (utils.checks.optimizers), with torch.optim as the reference."""

from __future__ import annotations

import math

import pytest
import torch

from utils.checks.optimizers import (
    check_batch_variance,
    check_extreme_eigenvalue,
    check_heavy_ball,
    check_optimizer,
    check_schedule,
    check_stability_limit,
)


def _adam(w, grad, state, lr=0.01, betas=(0.9, 0.999), eps=1e-8):
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = betas[0] * state.get("m", torch.zeros_like(w)) + (1 - betas[0]) * grad
    v = state["v"] = betas[1] * state.get("v", torch.zeros_like(w)) + (1 - betas[1]) * grad**2
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return w - lr * m_hat / (v_hat.sqrt() + eps)


def test_check_optimizer_accepts_adam_written_from_scratch(capsys):
    assert check_optimizer(_adam, lambda p: torch.optim.Adam(p, lr=0.01), steps=200) is True
    assert capsys.readouterr().out.startswith(
        "Correct: update rule. it matches torch.optim at every one of 200"
    )


def test_check_optimizer_reports_the_first_step_of_a_late_difference(capsys):
    def no_bias_correction_of_v(w, grad, state, lr=0.01):
        t = state["t"] = state.get("t", 0) + 1
        m = state["m"] = 0.9 * state.get("m", torch.zeros_like(w)) + 0.1 * grad
        v = state["v"] = 0.999 * state.get("v", torch.zeros_like(w)) + 0.001 * grad**2
        return w - lr * (m / (1 - 0.9**t)) / (v.sqrt() + 1e-8)

    assert check_optimizer(no_bias_correction_of_v, lambda p: torch.optim.Adam(p, lr=0.01)) is False
    out = capsys.readouterr().out
    assert "first differ at step 1 of 100" in out and "very first step" in out


def test_check_optimizer_hints_at_the_state_when_a_later_step_differs(capsys):
    def forgets_velocity(w, grad, state, lr=0.1, mu=0.9):
        state["t"] = state.get("t", 0) + 1
        v = grad.clone() if state["t"] % 3 == 1 else mu * state["v"] + grad  # resets every 3 steps
        state["v"] = v
        return w - lr * v

    reference = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)  # noqa: E731
    assert check_optimizer(forgets_velocity, reference) is False
    out = capsys.readouterr().out
    assert "first differ at step 4 of 100" in out and "carried from step to step" in out


def test_check_optimizer_eps_placement_shows_with_tiny_gradients(capsys):
    def eps_inside(w, grad, state, lr=0.01):
        t = state["t"] = state.get("t", 0) + 1
        m = state["m"] = 0.9 * state.get("m", torch.zeros_like(w)) + 0.1 * grad
        v = state["v"] = 0.999 * state.get("v", torch.zeros_like(w)) + 0.001 * grad**2
        return w - lr * (m / (1 - 0.9**t)) / (v / (1 - 0.999**t) + 1e-8).sqrt()

    reference = lambda p: torch.optim.Adam(p, lr=0.01)  # noqa: E731
    assert check_optimizer(_adam, reference, grad_scale=1e-6) is True
    assert check_optimizer(eps_inside, reference, grad_scale=1e-6) is False
    capsys.readouterr()


def test_check_optimizer_reports_a_rule_that_returns_nothing(capsys):
    assert check_optimizer(lambda w, g, s: None, lambda p: torch.optim.SGD(p, lr=0.1)) is False
    out = capsys.readouterr().out
    assert "at step 1, the rule must return a tensor" in out and "Hint: return the new value" in out


def test_check_stability_limit(capsys):
    A = torch.tensor([[3.0, 1.0], [1.0, 3.0]])  # eigenvalues 2 and 4
    assert check_stability_limit(0.5, A) is True
    assert check_stability_limit(2 / 3, A) is False  # from the diagonal
    assert "not diagonal" in capsys.readouterr().out
    assert check_stability_limit(1.0, A) is False  # 2 / lambda_min
    assert "LARGEST" in capsys.readouterr().out
    assert check_stability_limit(0.25, A) is False  # 1 / lambda_max
    assert "still converges" in capsys.readouterr().out
    assert check_stability_limit(None, A) is False


def _power_iteration(matvec, dim):
    v = torch.ones(dim, dtype=torch.float64) / math.sqrt(dim)
    for _ in range(500):
        v = matvec(v)
        v = v / v.norm()
    return (v @ matvec(v)).item()


def test_check_extreme_eigenvalue(capsys):
    assert check_extreme_eigenvalue(_power_iteration) is True
    assert "each within 1%" in capsys.readouterr().out

    def diagonal_sum(matvec, dim):  # the trace: the sum of all eigenvalues, not the largest
        columns = [matvec(torch.eye(dim, dtype=torch.float64)[i])[i] for i in range(dim)]
        return float(sum(columns))

    assert check_extreme_eigenvalue(diagonal_sum) is False
    assert "Hint: repeat v" in capsys.readouterr().out
    assert check_extreme_eigenvalue(lambda matvec, dim: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_check_extreme_eigenvalue_smallest_by_a_shift(capsys):
    def smallest(matvec, dim):
        top = _power_iteration(matvec, dim)
        return top - _power_iteration(lambda v: top * v - matvec(v), dim)

    assert check_extreme_eigenvalue(smallest, which="smallest") is True
    assert check_extreme_eigenvalue(_power_iteration, which="smallest") is False
    assert "c I - A" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"which='middle' is not valid; choose one of: largest, smallest"):
        check_extreme_eigenvalue(_power_iteration, which="middle")


def test_check_batch_variance(capsys):
    n, B = 1000, 50
    population = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    var_one = population.var(unbiased=False).item()
    gen = torch.Generator().manual_seed(1)
    means = torch.stack([population[torch.randperm(n, generator=gen)[:B]].mean() for _ in range(20000)])
    measured = means.var().item()  # sampling without replacement, measured
    expected = var_one / B * (n - B) / (n - 1)
    assert abs(measured / expected - 1) < 0.05
    assert check_batch_variance(expected, var_one, B, n) is True
    assert check_batch_variance(var_one / B, var_one, B, n) is False
    assert "without replacement" in capsys.readouterr().out
    assert check_batch_variance(var_one / math.sqrt(B), var_one, B, n) is False
    assert "STD falls" in capsys.readouterr().out


def test_check_heavy_ball_against_the_measured_rate(capsys):
    lam = torch.tensor([1.0, 100.0], dtype=torch.float64)
    lr, mu = 4 / (10 + 1) ** 2, (9 / 11) ** 2
    norms = []
    w, w_prev = torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    for _ in range(200):  # Polyak's heavy ball on 0.5 * sum(lam * w^2)
        w, w_prev = w - lr * lam * w + mu * (w - w_prev), w
        norms.append(w.norm().item())
    rate = (norms[199] / norms[99]) ** (1 / 100)
    assert abs(rate / (9 / 11) - 1) < 0.02  # the optimal rate (sqrt(k) - 1) / (sqrt(k) + 1)
    assert check_heavy_ball(lr, mu, 1.0, 100.0) is True
    assert check_heavy_ball(lr, 9 / 11, 1.0, 100.0) is False
    assert "SQUARE" in capsys.readouterr().out
    assert check_heavy_ball("a", mu, 1.0, 100.0) is False


def test_check_schedule(capsys):
    reference = lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=50)  # noqa: E731
    cosine = lambda t: 0.05 * (1 + math.cos(math.pi * t / 50))  # noqa: E731
    assert check_schedule(cosine, reference, steps=50) is True
    shifted = lambda t: 0.05 * (1 + math.cos(math.pi * (t + 1) / 50))  # noqa: E731
    assert check_schedule(shifted, reference, steps=50) is False
    assert "t=0" in capsys.readouterr().out
    assert check_schedule(lambda t: [0.1], reference) is False
    with pytest.raises(AssertionError):
        assert check_schedule(lambda t: 0.1 if t < 10 else 0.0, reference)
