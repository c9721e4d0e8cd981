"""Tests for the Chapter 4 checkers (utils.checks.losses), with PyTorch as the reference."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from utils.checks.losses import (
    check_bce_with_logits,
    check_constant_fit,
    check_cross_entropy_grad,
    check_double_softmax_floor,
    check_laplace_nll,
    check_logsumexp,
    check_pinball_loss,
    check_prior_loss,
    check_sigmoid_focal_loss,
    check_smooth_l1,
    check_smoothing_gap,
    check_temperature,
)


def _last_line(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


# -- lesson 01_likelihoods --------------------------------------------------------------


def test_prior_loss_is_the_entropy_of_the_labels(capsys):
    counts = [50, 30, 15, 5]
    p = torch.tensor(counts, dtype=torch.float64) / 100
    entropy = -(p * p.log()).sum().item()
    assert check_prior_loss(entropy, counts) is True
    assert _last_line(capsys).startswith("Correct: initial loss with the prior as bias")
    # measured on a real model: zero weights, bias log(frequency)
    model = torch.nn.Linear(3, 4).double()
    torch.nn.init.zeros_(model.weight)
    with torch.no_grad():
        model.bias.copy_(p.log())
    y = torch.repeat_interleave(torch.arange(4), torch.tensor(counts))
    measured = F.cross_entropy(model(torch.randn(100, 3, dtype=torch.float64)), y).item()
    assert check_prior_loss(measured, counts) is True


def test_prior_loss_hints_at_the_usual_mistakes(capsys):
    counts = [50, 30, 15, 5]
    assert check_prior_loss(math.log(4), counts) is False
    assert "uniform guess" in _last_line(capsys)
    assert check_prior_loss(-math.log(0.5), counts) is False
    assert "most frequent class" in _last_line(capsys)
    assert check_prior_loss(None, counts) is False
    assert "expected a number" in _last_line(capsys)


def test_prior_loss_handles_an_empty_class_and_rejects_bad_counts(capsys):
    assert check_prior_loss(math.log(2), [10, 10, 0]) is True  # an empty class contributes nothing
    capsys.readouterr()
    with pytest.raises(ValueError, match="counts must list at least two non-negative integers"):
        check_prior_loss(1.0, [10])
    with pytest.raises(ValueError, match="counts must list"):
        check_prior_loss(1.0, [10, -1])
    with pytest.raises(ValueError, match="must not all be zero"):
        check_prior_loss(1.0, [0, 0])


def _stable_bce(logits, target, pos_weight=None):
    weight = 1.0 if pos_weight is None else pos_weight
    softplus_neg = torch.clamp(-logits, min=0) + torch.log1p(torch.exp(-logits.abs()))  # -log sigmoid(z)
    return (1 - target) * logits + (weight * target + 1 - target) * softplus_neg


def test_bce_accepts_a_stable_version_and_pytorch_itself(capsys):
    assert check_bce_with_logits(_stable_bce) is True
    assert _last_line(capsys).startswith("Correct: BCE with logits")

    def torch_version(z, y, pos_weight=None):
        return F.binary_cross_entropy_with_logits(z, y, pos_weight=pos_weight, reduction="none")

    assert check_bce_with_logits(torch_version) is True


def test_bce_rejects_the_naive_formula_and_a_misplaced_pos_weight(capsys):
    def naive(z, y, pos_weight=None):
        p = torch.sigmoid(z)
        w = 1.0 if pos_weight is None else pos_weight
        return -(w * y * torch.log(p) + (1 - y) * torch.log(1 - p))

    assert check_bce_with_logits(naive) is False  # fine on random logits, inf at +-1000
    assert "inf or nan" in _last_line(capsys)

    def both_terms(z, y, pos_weight=None):
        w = 1.0 if pos_weight is None else pos_weight
        return w * _stable_bce(z, y)  # weights the negative term too

    assert check_bce_with_logits(both_terms) is False
    assert "multiplies only the positive term" in _last_line(capsys)
    assert check_bce_with_logits(lambda z, y, pos_weight=None: _stable_bce(z, y).mean()) is False
    assert "output shape" in _last_line(capsys)
    assert check_bce_with_logits(lambda z, y: _stable_bce(z, y)) is False  # no pos_weight argument
    assert "raised TypeError" in _last_line(capsys)


def test_laplace_nll_checker(capsys):
    def laplace_nll(mean, target, scale):
        return (target - mean).abs() / scale + torch.log(2 * scale)

    assert check_laplace_nll(laplace_nll) is True
    assert check_laplace_nll(lambda m, t, b: -torch.distributions.Laplace(m, b).log_prob(t)) is True
    capsys.readouterr()
    assert check_laplace_nll(lambda m, t, b: (t - m).abs() / b + torch.log(b)) is False
    assert "off by log 2" in _last_line(capsys)
    assert check_laplace_nll(lambda m, t, b: (t - m).abs()) is False
    assert _last_line(capsys).startswith("Not yet: Laplace NLL. scale 0.3")


# -- lesson 02_regression_outliers -------------------------------------------------------


def test_constant_fit_accepts_mean_median_and_the_huber_solution(capsys):
    targets = [0.0, 0.0, 0.0, 0.0, 10.0]
    assert check_constant_fit(2.0, targets, loss="mse") is True
    assert check_constant_fit(0.0, targets, loss="mae") is True
    # Huber, delta=1: four inliers pull with -c each, the outlier with +1: c = 1/4
    assert check_constant_fit(0.25, targets, loss="huber", delta=1.0) is True
    c = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    F.huber_loss(c.expand(5), torch.tensor(targets, dtype=torch.float64)).backward()
    assert abs(c.grad.item()) < 1e-12  # PyTorch agrees it is a stationary point
    capsys.readouterr()


def test_constant_fit_hints_and_bad_arguments(capsys):
    targets = [0.0, 0.0, 0.0, 0.0, 10.0]
    assert check_constant_fit(2.0, targets, loss="huber") is False
    assert "that is the mean" in _last_line(capsys)
    assert check_constant_fit(0.0, targets, loss="huber") is False
    assert "that is the median" in _last_line(capsys)
    assert check_constant_fit("zero", targets) is False
    capsys.readouterr()
    with pytest.raises(ValueError, match="loss='l2' is not valid; choose one of: huber, mae, mse"):
        check_constant_fit(1.0, targets, loss="l2")
    with pytest.raises(ValueError, match="at least two numbers"):
        check_constant_fit(1.0, [3.0])


def test_smooth_l1_checker(capsys):
    def smooth_l1(pred, target, beta):
        r = (pred - target).abs()
        if beta == 0:
            return r
        return torch.where(r < beta, 0.5 * r**2 / beta, r - 0.5 * beta)

    assert check_smooth_l1(smooth_l1) is True
    assert _last_line(capsys).startswith("Correct: smooth L1")
    assert (
        check_smooth_l1(lambda p, t, beta: F.huber_loss(p, t, delta=max(beta, 1e-12), reduction="none"))
        is False
    )
    assert "that is Huber with delta=beta" in _last_line(capsys)

    def no_edge_case(pred, target, beta):
        r = (pred - target).abs()
        return torch.where(r < beta, 0.5 * r**2 / beta, r - 0.5 * beta)

    assert (
        check_smooth_l1(no_edge_case) is True
    )  # torch.where picks r - 0 at beta = 0: no special case needed


def test_pinball_checker(capsys):
    def pinball(pred, target, tau):
        r = target - pred
        return torch.maximum(tau * r, (tau - 1) * r)

    assert check_pinball_loss(pinball) is True
    assert _last_line(capsys).startswith("Correct: pinball loss")
    assert check_pinball_loss(lambda p, t, tau: torch.maximum(tau * (p - t), (tau - 1) * (p - t))) is False
    assert "quantile" in _last_line(capsys)  # the sides swapped: its best constant is the (1 - tau)-quantile
    assert check_pinball_loss(lambda p, t, tau: (t - p).abs()) is False  # the median for every tau
    assert (
        check_pinball_loss(lambda p, t, tau: 2 * pinball(p, t, tau)) is False
    )  # right minimiser, wrong scale
    assert "costs" in _last_line(capsys)
    assert check_pinball_loss(lambda p, t, tau: pinball(p, t, tau).sum()) is False
    assert "output shape" in _last_line(capsys)


# -- lesson 03_classification_numerics ---------------------------------------------------


def test_double_softmax_floor(capsys):
    for num_classes in (2, 10, 100):
        floor = math.log(1 + (num_classes - 1) / math.e)
        assert check_double_softmax_floor(floor, num_classes) is True
        # measured: no input in the simplex gets below it
        probs = torch.distributions.Dirichlet(torch.full((num_classes,), 0.05)).sample((2000,))
        measured = F.cross_entropy(probs.double(), probs.argmax(dim=1), reduction="none").min().item()
        assert measured >= floor - 1e-9
    capsys.readouterr()
    assert check_double_softmax_floor(0.0, 10) is False
    assert "applies softmax again" in _last_line(capsys)
    assert check_double_softmax_floor(math.log(10), 10) is False
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        check_double_softmax_floor(1.0, 1)


def _stable_logsumexp(x, dim):
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    return (m + (x - m).exp().sum(dim=dim, keepdim=True).log()).squeeze(dim)


def test_logsumexp_accepts_a_stable_version_and_torch(capsys):
    assert check_logsumexp(_stable_logsumexp) is True
    assert check_logsumexp(torch.logsumexp) is True
    assert "Correct: log-sum-exp" in capsys.readouterr().out


def test_logsumexp_rejects_naive_and_unguarded_versions(capsys):
    assert check_logsumexp(lambda x, dim: x.exp().sum(dim).log()) is False
    assert "subtract the maximum" in _last_line(capsys)

    def unguarded(x, dim):
        m = x.amax(dim=dim, keepdim=True)
        return (m + (x - m).exp().sum(dim=dim, keepdim=True).log()).squeeze(dim)

    assert check_logsumexp(unguarded) is False  # nan on a fully masked row
    assert "fully masked row" in _last_line(capsys)
    assert check_logsumexp(lambda x, dim: x.amax(dim)) is False  # max is not enough at 1000, 1000, 999


def _ce_grad(logits, y, ignore_index=-100):
    kept = y != ignore_index
    grad = logits.softmax(dim=1)
    grad[kept, y[kept]] -= 1
    grad[~kept] = 0
    return grad / kept.sum()


def test_cross_entropy_grad_checker(capsys):
    assert check_cross_entropy_grad(_ce_grad) is True
    assert _last_line(capsys).startswith("Correct: cross-entropy gradient")

    def over_batch(logits, y, ignore_index=-100):
        return _ce_grad(logits, y, ignore_index) * (y != ignore_index).sum() / len(y)

    assert check_cross_entropy_grad(over_batch) is False
    assert "not by the batch size" in _last_line(capsys)
    assert check_cross_entropy_grad(lambda z, y, ignore_index=-100: z.softmax(dim=1)) is False


# -- lesson 04_imbalance_calibration ------------------------------------------------------


def test_smoothing_gap(capsys):
    for epsilon, num_classes in ((0.1, 10), (0.2, 3), (0.05, 100)):
        q_true = 1 - epsilon + epsilon / num_classes
        assert check_smoothing_gap(math.log(q_true / (epsilon / num_classes)), epsilon, num_classes) is True
    capsys.readouterr()
    assert check_smoothing_gap(math.log(0.9 / (0.1 / 9)), 0.1, 10) is False
    assert "all C classes" in _last_line(capsys)
    assert check_smoothing_gap(float("inf")) is False
    with pytest.raises(ValueError, match="epsilon must lie in"):
        check_smoothing_gap(1.0, epsilon=0.0)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        check_smoothing_gap(1.0, num_classes=1)


def _focal(logits, target, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = target * p + (1 - target) * (1 - p)
    loss = (1 - p_t) ** gamma * bce
    if alpha >= 0:
        loss = loss * (target * alpha + (1 - target) * (1 - alpha))
    return loss


def test_sigmoid_focal_loss_checker(capsys):
    assert check_sigmoid_focal_loss(_focal) is True
    assert _last_line(capsys).startswith("Correct: sigmoid focal loss")
    assert (
        check_sigmoid_focal_loss(
            lambda z, t, alpha, gamma: _focal(z, t, 1 - alpha if alpha >= 0 else alpha, gamma)
        )
        is False
    )
    assert "not the reverse" in _last_line(capsys)

    def naive_log(z, t, alpha=0.25, gamma=2.0):
        p = torch.sigmoid(z)
        p_t = t * p + (1 - t) * (1 - p)
        a = 1.0 if alpha < 0 else t * alpha + (1 - t) * (1 - alpha)
        return -a * (1 - p_t) ** gamma * torch.log(p_t)

    assert check_sigmoid_focal_loss(naive_log) is False  # log(0) at logits of +-100 in float32
    assert "inf or nan" in _last_line(capsys)
    assert check_sigmoid_focal_loss(lambda z, t, alpha, gamma: _focal(z, t, alpha, 0.0)) is False


def _fit_temperature(logits, y):
    log_t = torch.zeros((), dtype=logits.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return log_t.exp().item()


def test_temperature_checker(capsys):
    assert check_temperature(_fit_temperature) is True
    assert _last_line(capsys).startswith("Correct: temperature scaling")
    assert check_temperature(lambda z, y: 1 / _fit_temperature(z, y)) is False
    assert "1 / T" in _last_line(capsys)
    assert check_temperature(lambda z, y: 1.0) is False
    assert check_temperature(lambda z, y: None) is False
    assert "raised TypeError" in _last_line(capsys)
