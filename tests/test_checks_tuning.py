"""Tests for the Chapter 7 checkers (utils.checks.tuning), with PyTorch or a simulation as the reference."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
import torch
from sklearn.decomposition import PCA

from utils.checks.regularization import _stop_rule
from utils.checks.tuning import (
    _halving_epochs,
    _tune_lr,
    check_accuracy_noise,
    check_distinct_trials,
    check_gain_verdict,
    check_gd_steps,
    check_halving_epochs,
    check_interior_best,
    check_linear_scaling,
    check_no_overfitting,
    check_seeds_needed,
    check_stopping_epoch,
    check_summed_initial_loss,
    check_tpe_startup,
    check_train_statistics,
    check_training_loop,
    check_tune_lr,
    check_whitening,
)
from utils.data import TensorLoader, make_blobs
from utils.doctor import predict, train_step
from utils.experiments import run_seeds
from utils.models import make_mlp
from utils.search import suggest_config
from utils.train import History, train

optuna.logging.set_verbosity(optuna.logging.WARNING)


# --------------------------------------------------------------------------- lesson 07/03
def test_tpe_startup_is_measured(capsys):
    assert check_tpe_startup(10) is True
    assert "the first 10 are identical" in capsys.readouterr().out
    assert check_tpe_startup(0) is False
    assert "n_startup_trials" in capsys.readouterr().out
    assert check_tpe_startup("ten") is False and check_tpe_startup(3, n_trials=3) is True
    with pytest.raises(ValueError, match="n_trials must be an integer >= 1"):
        check_tpe_startup(1, n_trials=0)


def _workers(seeds: list[int], n_trials: int = 8) -> optuna.Study:
    storage = optuna.storages.InMemoryStorage()
    for seed in seeds:
        study = optuna.create_study(
            storage=storage,
            study_name="shared",
            sampler=optuna.samplers.RandomSampler(seed=seed),
            load_if_exists=True,
        )
        study.optimize(lambda trial: suggest_config(trial)["lr"], n_trials=n_trials)
    return study


def test_distinct_trials_catches_workers_that_share_a_seed(capsys):
    assert check_distinct_trials(_workers([0, 0, 0, 0]), n_trials=32) is False
    out = capsys.readouterr().out
    assert "8 distinct configurations" in out and "each configuration ran 4 times" in out
    assert check_distinct_trials(_workers([0, 1, 2, 3]), n_trials=32) is True
    assert check_distinct_trials(_workers([0, 1]), n_trials=32) is False
    assert "16 trials (expected 32)" in capsys.readouterr().out
    assert check_distinct_trials("study", n_trials=32) is False


def _simulated_halving(n: int, eta: int, min_epochs: int, max_epochs: int) -> int:
    """Train each configuration epoch by epoch and cut the rungs: count every epoch run."""
    epochs = [0] * n  # epochs trained so far, per configuration
    alive, budget = list(range(n)), min_epochs
    while alive:
        budget = min(budget, max_epochs)
        for c in alive:
            while epochs[c] < budget:
                epochs[c] += 1
        if budget == max_epochs:
            break
        alive, budget = alive[: len(alive) // eta], budget * eta
    return sum(epochs)


@pytest.mark.parametrize("case", [(27, 3, 1, 9), (32, 3, 1, 6), (32, 2, 1, 6), (5, 3, 1, 100), (10, 4, 2, 8)])
def test_halving_reference_matches_a_simulation(case):
    assert _halving_epochs(*case) == _simulated_halving(*case)


def test_halving_checker_accepts_a_correct_rule_and_names_the_restart_slip(capsys):
    assert check_halving_epochs(_simulated_halving) is True
    assert "63 epochs instead of 243" in capsys.readouterr().out
    assert check_halving_epochs(lambda *case: _halving_epochs(*case, restart=True)) is False
    assert "continue from the epochs they already trained" in capsys.readouterr().out
    assert check_halving_epochs(lambda n, eta, low, high: n * high) is False
    assert check_halving_epochs(lambda *case: None) is False
    assert check_halving_epochs(lambda *case: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


# --------------------------------------------------------------------------- lesson 07/01
def test_gd_steps_against_gradient_descent_on_a_quadratic(capsys):
    curvature = torch.tensor([1.0, 100.0], dtype=torch.float64)  # kappa = 100
    x, steps = torch.ones(2, dtype=torch.float64), 0
    while x[0] > 1e-3:
        x = x - curvature * x / curvature.max()
        steps += 1
    assert check_gd_steps(steps, kappa=100, reduction=1e-3) is True
    assert check_gd_steps(100, kappa=100, reduction=1e-3) is False
    assert "ln(1/reduction) * kappa" in capsys.readouterr().out
    assert check_gd_steps(None) is False and check_gd_steps(2 * steps) is False
    with pytest.raises(ValueError, match="kappa must be a number > 1"):
        check_gd_steps(1, kappa=1.0)
    with pytest.raises(ValueError, match=r"reduction must lie in \(0, 1\)"):
        check_gd_steps(1, reduction=2.0)


def _by_train(X_train, X_test, correction=1):
    m, s = X_train.mean(0), X_train.std(0, correction=correction)
    return (X_train - m) / s, (X_test - m) / s


def test_train_statistics_accepts_training_statistics(capsys):
    assert check_train_statistics(_by_train) is True
    assert "stays visible" in capsys.readouterr().out
    assert check_train_statistics(lambda a, b: _by_train(a, b, correction=0)) is True


def test_train_statistics_names_each_leak(capsys):
    def together(X_train, X_test):
        both = torch.cat([X_train, X_test])
        m, s = both.mean(0), both.std(0)
        return (X_train - m) / s, (X_test - m) / s

    def own(X_train, X_test):
        return tuple((Z - Z.mean(0)) / Z.std(0) for Z in (X_train, X_test))

    assert check_train_statistics(together) is False
    assert "train and test together" in capsys.readouterr().out
    assert check_train_statistics(own) is False
    assert "each set's own statistics" in capsys.readouterr().out
    assert check_train_statistics(lambda a, b: (a, b)) is False
    assert check_train_statistics(lambda a, b: None) is False
    assert check_train_statistics(lambda a, b: [a]) is False


def _pca_whitening(train_rows, *others, eps=0.0):
    mu = train_rows.mean(0)
    eigenvalues, V = torch.linalg.eigh(torch.cov((train_rows - mu).T))
    scale = V / (eigenvalues + eps).sqrt()
    return [(Z - mu) @ scale for Z in (train_rows, *others)]


def test_whitening_accepts_pca_zca_and_sklearn(capsys):
    def zca(train_rows, *others, eps=0.0):
        mu = train_rows.mean(0)
        eigenvalues, V = torch.linalg.eigh(torch.cov((train_rows - mu).T))
        M = V / (eigenvalues + eps).sqrt() @ V.T
        return [(Z - mu) @ M for Z in (train_rows, *others)]

    def sklearn_pca(train_rows, *others, eps=0.0):
        if eps:
            return _pca_whitening(train_rows, *others, eps=eps)
        pca = PCA(whiten=True).fit(train_rows.numpy())
        return [torch.as_tensor(pca.transform(Z.numpy())) for Z in (train_rows, *others)]

    assert check_whitening(_pca_whitening) is True
    assert check_whitening(zca) is True and check_whitening(sklearn_pca) is True


def test_whitening_catches_leaks_and_a_missing_eps(capsys):
    def own_statistics(train_rows, *others, eps=0.0):
        return [_pca_whitening(Z, eps=eps)[0] for Z in (train_rows, *others)]

    def ignores_eps(train_rows, *others, eps=0.0):
        return _pca_whitening(train_rows, *others)

    def standardizes_only(train_rows, *others, eps=0.0):
        m, s = train_rows.mean(0), train_rows.std(0)
        return [(Z - m) / s for Z in (train_rows, *others)]

    assert check_whitening(own_statistics) is False
    assert "not transformed like the training set" in capsys.readouterr().out
    assert check_whitening(ignores_eps) is False
    assert "eps=0.5: covariance eigenvalues" in capsys.readouterr().out
    assert check_whitening(standardizes_only) is False
    assert check_whitening(lambda *a, eps=0.0: None) is False


# --------------------------------------------------------------------------- lesson 07/04
def test_accuracy_noise_against_a_binomial_simulation(capsys):
    draws = torch.rand(20_000, 200, generator=torch.Generator().manual_seed(0)) < 0.7
    simulated = draws.double().mean(dim=1).std().item()
    assert check_accuracy_noise(simulated, p=0.7, n=200) is True
    assert check_accuracy_noise(0.7 * 0.3 / 200, p=0.7, n=200) is False
    assert "that is the variance" in capsys.readouterr().out
    assert check_accuracy_noise(math.sqrt(0.21), p=0.7, n=200) is False
    assert "divides it by sqrt(n)" in capsys.readouterr().out
    assert check_accuracy_noise(None) is False and check_accuracy_noise(0.1) is False
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\)"):
        check_accuracy_noise(0.1, p=1.0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        check_accuracy_noise(0.1, n=0)


def test_no_overfitting_reads_the_end_of_the_validation_curve(capsys):
    assert check_no_overfitting(History(val_loss=[2.0, 1.5, 1.4, 1.41])) is True
    assert check_no_overfitting(History(val_loss=[2.0, 1.5, 1.7, 2.5])) is False
    assert "climbs after its minimum" in capsys.readouterr().out
    assert check_no_overfitting(History(val_loss=[2.2, 2.1, 2.0])) is False  # above max_val_loss
    assert "learned too little" in capsys.readouterr().out
    assert check_no_overfitting(History(val_loss=[2.0, 1.5], best_epoch=2)) is False
    assert "early stopping" in capsys.readouterr().out
    assert check_no_overfitting(History()) is False
    assert check_no_overfitting(History(val_loss=[1.0, math.nan])) is False


def test_stopping_reference_is_the_rule_of_utils_train():
    X, y = make_blobs(n=200, centers=3, std=2.5, seed=0)
    for patience in (1, 2, 4):
        torch.manual_seed(patience)
        model = make_mlp([2, 64, 64, 3])
        loader = TensorLoader(X[:40], y[:40], batch_size=8, seed=0)  # few rows: it overfits
        history = train(model, loader, num_epochs=40, lr=0.3, val_data=(X[100:], y[100:]), patience=patience)
        assert (history.best_epoch, history.stopped_epoch) == _stop_rule(history.val_loss, patience)
        assert history.stopped_epoch < 40  # it did stop early


def test_stopping_checker(capsys):
    def by_hand(val_losses, patience):  # vectorized: the epoch of the last improvement, then the first wait
        v = np.asarray(val_losses, dtype=float)
        improved = np.r_[True, v[1:] < np.minimum.accumulate(v)[:-1]]
        last = np.maximum.accumulate(np.where(improved, np.arange(len(v)), 0))
        stops = np.flatnonzero(np.arange(len(v)) - last >= patience)
        end = int(stops[0]) if len(stops) else len(v) - 1
        return int(last[end]) + 1, end + 1

    def lenient(val_losses, patience):  # counts an equal loss as an improvement
        best_epoch, stopped = by_hand([v - 1e-9 * i for i, v in enumerate(val_losses)], patience)
        return best_epoch, stopped

    assert check_stopping_epoch(by_hand) is True
    assert check_stopping_epoch(lenient) is False
    assert "an equal loss is not an improvement" in capsys.readouterr().out
    assert check_stopping_epoch(lambda v, p: (int(np.argmin(v)) + 1, len(v))) is False
    assert check_stopping_epoch(lambda v, p: None) is False
    assert check_stopping_epoch(lambda v, p: v[100]) is False
    assert "IndexError" in capsys.readouterr().out


# --------------------------------------------------------------------------- lesson 07/02
def _sgd_weights(batches: list[torch.Tensor], lr: float) -> torch.Tensor:
    """Weights of a linear least-squares model after one torch.optim.SGD step per batch of rows."""
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(4, dtype=torch.float64, generator=gen)
    w = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    for X in batches:
        optimizer.zero_grad()
        ((X @ w - X @ target) ** 2).mean().backward()
        optimizer.step()
    return w.detach()


def test_linear_scaling_is_what_makes_one_large_step_match_many_small_ones(capsys):
    X = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lr, k = 1e-3, 8  # a small rate: the gradient barely changes over k steps
    small = _sgd_weights(list(X.split(len(X) // k)), lr)  # k steps of batch 8
    large_lr = 8 * lr  # the answer the checker must accept
    assert torch.allclose(_sgd_weights([X], large_lr), small, rtol=0.02)
    assert not torch.allclose(_sgd_weights([X], lr * math.sqrt(k)), small, rtol=0.2)
    assert check_linear_scaling(large_lr, lr=lr, batch_size=8, new_batch_size=64) is True
    assert "expected 0.001 x 64/8 = 0.008" in capsys.readouterr().out
    assert check_linear_scaling(lr * math.sqrt(k), lr=lr, batch_size=8, new_batch_size=64) is False
    assert "square-root rule" in capsys.readouterr().out
    assert check_linear_scaling(lr / k, lr=lr, batch_size=8, new_batch_size=64) is False
    assert "not a smaller one" in capsys.readouterr().out
    assert check_linear_scaling(2.56, lr=0.08) is True  # defaults: batch 32 -> 1024
    assert check_linear_scaling(2.5, lr=0.08) is False  # within 1%, not 3%
    assert check_linear_scaling(0.08, lr=0.08) is False
    assert "multiply the learning rate by new_batch_size / batch_size" in capsys.readouterr().out
    assert check_linear_scaling(None) is False and check_linear_scaling(math.nan) is False


def test_linear_scaling_rejects_bad_settings():
    with pytest.raises(ValueError, match="lr must be a number > 0, got 0"):
        check_linear_scaling(1.0, lr=0)
    with pytest.raises(ValueError, match="lr must be a number > 0, got 'fast'"):
        check_linear_scaling(1.0, lr="fast")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        check_linear_scaling(1.0, batch_size=0)
    with pytest.raises(ValueError, match=r"new_batch_size must be an integer >= 1, got 1\.5"):
        check_linear_scaling(1.0, new_batch_size=1.5)


def _gd_steps(lr: float, curvature: float = 4.0, max_steps: int = 500) -> float:
    """torch.optim.SGD steps to shrink w on the loss curvature * w**2 / 2 by 1e-6; inf if it does not."""
    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    for step in range(1, max_steps + 1):
        optimizer.zero_grad()
        (curvature * w**2 / 2).sum().backward()
        optimizer.step()
        if abs(w.item()) < 1e-6:
            return step
    return math.inf


def test_interior_best_on_gradient_descent_of_a_quadratic(capsys):
    # the best rate for curvature 4 is 1/4 (one step); above 1/2 gradient descent diverges
    around = {lr: _gd_steps(lr) for lr in (0.0625, 0.125, 0.25, 0.5, 1.0)}
    assert min(around, key=around.get) == 0.25 and math.isinf(around[1.0])
    assert check_interior_best(around) is True
    assert "is 0.25 (score 1): no better on either side" in capsys.readouterr().out
    below = {lr: _gd_steps(lr) for lr in (0.01, 0.02, 0.04, 0.08)}
    assert check_interior_best(below) is False
    assert "the largest tried. Hint: add larger" in capsys.readouterr().out
    above = {lr: _gd_steps(lr) for lr in (0.3, 0.4, 0.45)}
    assert check_interior_best(above) is False
    assert "the smallest tried. Hint: add smaller" in capsys.readouterr().out
    assert check_interior_best({lr: _gd_steps(lr) for lr in (1.0, 2.0, 4.0)}) is False
    assert "every run failed" in capsys.readouterr().out
    assert check_interior_best({0.1: 5.0, 0.2: math.nan, 0.4: 9.0}) is False  # NaN is a failed run


def test_interior_best_reports_bad_input(capsys):
    assert check_interior_best([1.0, 2.0, 3.0]) is False
    assert "expected a dict of at least 3 learning rates -> scores, got list" in capsys.readouterr().out
    assert check_interior_best({0.1: 1.0, 0.2: 2.0}) is False
    assert "got 2" in capsys.readouterr().out
    assert check_interior_best({0.1: 3.0, 0.2: "fast", 0.4: 5.0}) is False
    assert "expected numbers" in capsys.readouterr().out


def test_tune_lr_reference_finds_the_best_rate_of_gradient_descent():
    # the optimum 1/4 lies above the grid: extend to 0.32 (0.64 diverges), then refine to 0.32 / sqrt(2)
    best, scores = _tune_lr(_gd_steps, [0.01, 0.02, 0.04])
    assert sorted(scores) == pytest.approx(
        [0.01, 0.02, 0.04, 0.08, 0.16, 0.32 / 2**0.5, 0.32, 0.32 * 2**0.5, 0.64]
    )
    assert math.isclose(best, 0.32 / math.sqrt(2)) and abs(best - 0.25) < 0.03
    assert scores[best] == min(scores.values()) and math.isinf(scores[0.64])
    assert _tune_lr(lambda lr: math.inf, [0.1, 0.2]) == (None, {0.1: math.inf, 0.2: math.inf})


def _tune_lr_solution(score, lrs, factor=2.0):
    scores = {lr: score(lr) for lr in sorted(lrs)}
    while any(math.isfinite(v) for v in scores.values()):
        grid = sorted(scores)
        best = min(grid, key=lambda lr: (scores[lr], lr))
        if best not in (grid[0], grid[-1]):
            for lr in (best / math.sqrt(factor), best * math.sqrt(factor)):
                scores[lr] = score(lr)
            return min(scores, key=lambda lr: (scores[lr], lr)), scores
        new = best * factor if best == grid[-1] else best / factor
        scores[new] = score(new)
    return None, scores


def test_tune_lr_checker_accepts_a_solution_and_names_each_slip(capsys):
    assert check_tune_lr(_tune_lr_solution) is True
    assert "all 5 cases" in capsys.readouterr().out

    def grid_only(score, lrs, factor=2.0):
        scores = {lr: score(lr) for lr in lrs}
        return min(scores, key=scores.get), scores

    def scores_twice(score, lrs, factor=2.0):
        for lr in lrs:
            score(lr)
        return _tune_lr_solution(score, lrs, factor=factor)

    def never_stops(score, lrs, factor=2.0):
        lr = lrs[0]
        while True:
            score(lr)
            lr *= factor

    assert check_tune_lr(grid_only) is False
    assert "optimum above the grid: best 0.08, expected" in capsys.readouterr().out
    assert check_tune_lr(scores_twice) is False
    assert "evaluations, expected" in capsys.readouterr().out
    assert check_tune_lr(never_stops) is False
    assert "more than 200 evaluations" in capsys.readouterr().out
    assert check_tune_lr(lambda score, lrs: None) is False
    assert "expected a pair (best_lr, scores), got None" in capsys.readouterr().out
    assert check_tune_lr(lambda score, lrs: (1 / 0, {})) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert check_tune_lr("tune_lr") is False


# --------------------------------------------------------------------------- lesson 07/06
def test_gain_verdict_applies_the_rule_with_sample_stds(capsys):
    current, noisy = [0.60, 0.62, 0.61], [0.63, 0.60, 0.66]  # gain 0.02, noise about 0.033
    clear = [0.70, 0.71, 0.72]
    noise = math.hypot(np.std(current, ddof=1), np.std(noisy, ddof=1))
    assert 0.02 < 2 * noise  # the reference: numpy's sample standard deviations
    assert check_gain_verdict(False, current, noisy) is True
    assert check_gain_verdict(True, current, noisy) is False
    assert "compare the gain with 2 times the noise" in capsys.readouterr().out
    assert check_gain_verdict(True, current, clear) is True
    assert check_gain_verdict(False, current, clear) is False
    assert "the change is real" in capsys.readouterr().out
    assert check_gain_verdict(True, clear, current) is False  # a loss
    assert "not even higher" in capsys.readouterr().out
    assert check_gain_verdict(True, current, noisy, k=0.5) is True  # k moves the threshold
    assert check_gain_verdict(None, current, clear) is False
    stats = run_seeds(lambda seed: clear[seed], seeds=3)  # a SeedStats works like its values
    assert check_gain_verdict(True, current, stats) is True
    with pytest.raises(ValueError, match="at least 2 finite per-seed scores"):
        check_gain_verdict(True, [0.6], clear)
    with pytest.raises(ValueError, match="candidate must be a SeedStats or a list"):
        check_gain_verdict(True, current, "good")
    with pytest.raises(ValueError, match="k must be a number > 0"):
        check_gain_verdict(True, current, clear, k=0)


def test_seeds_needed_is_the_smallest_n_that_resolves_the_gain(capsys):
    current, candidate = [0.63, 0.64, 0.66], [0.64, 0.66, 0.652]
    gain = np.mean(candidate) - np.mean(current)
    variance = np.var(current, ddof=1) + np.var(candidate, ddof=1)

    def resolved(n):  # the reference: the rule itself, tried n by n
        return gain > 2 * math.sqrt(variance / n)

    n = next(n for n in range(1, 10_000) if resolved(n))
    assert check_seeds_needed(n, current, candidate) is True
    assert check_seeds_needed(float(n), current, candidate) is True
    assert check_seeds_needed(n - 1, current, candidate) is False
    assert "round k^2 variance / gain^2 up" in capsys.readouterr().out
    assert check_seeds_needed(3, current, candidate) is False
    assert "the standard error is still" in capsys.readouterr().out
    assert check_seeds_needed(10 * n, current, candidate) is False
    assert "fewer suffice" in capsys.readouterr().out
    n3 = next(n for n in range(1, 10_000) if gain > 3 * math.sqrt(variance / n))
    assert check_seeds_needed(n3, current, candidate, k=3) is True
    for bad in (None, "many", 2.5, 0):
        assert check_seeds_needed(bad, current, candidate) is False
    with pytest.raises(ValueError, match="candidate must have the higher mean"):
        check_seeds_needed(5, candidate, current)
    with pytest.raises(ValueError, match="k must be a number > 0"):
        check_seeds_needed(5, current, candidate, k=-1)


# --------------------------------------------------------------------------- lesson 07/05
def test_check_summed_initial_loss_against_pytorch(capsys):
    torch.manual_seed(0)
    logits = 0.01 * torch.randn(64, 10, dtype=torch.float64)  # near-uniform, as at initialization
    labels = torch.randint(0, 10, (64,))
    measured = torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
    assert check_summed_initial_loss(measured, batch_size=64, num_classes=10)
    assert not check_summed_initial_loss(math.log(10), batch_size=64, num_classes=10)  # the mean
    assert not check_summed_initial_loss(None)
    assert "ln C" in capsys.readouterr().out
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        check_summed_initial_loss(1.0, num_classes=1)


def _step_without_zero_grad(model, optimizer, loss_fn, X, y):
    model.train()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def _evaluate_in_train_mode(model, X):
    return model(X)


def test_check_training_loop(capsys):
    state = torch.get_rng_state()
    assert check_training_loop(train_step, predict)
    assert torch.equal(torch.get_rng_state(), state)
    assert not check_training_loop(_step_without_zero_grad, predict)
    assert "zero_grad_missing" in capsys.readouterr().out
    assert not check_training_loop(train_step, _evaluate_in_train_mode)
    assert "eval_mode_missing" in capsys.readouterr().out
    assert not check_training_loop(None, predict)
    assert "expected two functions" in capsys.readouterr().out
    assert not check_training_loop(lambda *args: 1 / 0, predict)
    assert "could not run it: ZeroDivisionError" in capsys.readouterr().out
