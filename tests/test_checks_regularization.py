"""Tests for the Chapter 6 checkers (lessons 06_regularization/*), with PyTorch as the reference."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils.augment import random_shift
from utils.checks.regularization import (
    MNIST1D_TRANSFORMS,
    SELU_SATURATION,
    check_alpha_dropout,
    check_batch_independent,
    check_bn_folding,
    check_bounded_stream,
    check_cutout,
    check_decay_groups,
    check_early_stopping,
    check_elastic_net_prox,
    check_eval_deterministic,
    check_identity_init,
    check_label_preserving,
    check_restored_best,
    check_shrinkage,
    check_stop_rule,
    check_train_only,
)
from utils.data import TensorLoader, make_moons
from utils.models import make_mlp
from utils.regularization import weight_decay_groups
from utils.train import train

CURVE = [0.9, 0.7, 0.62, 0.64, 0.6, 0.61, 0.63, 0.62, 0.65, 0.66, 0.7]


def _out(capsys) -> str:
    return capsys.readouterr().out


# -- lesson 01: early stopping ------------------------------------------------------


def test_early_stopping_prediction(capsys):
    assert check_early_stopping(8, 5, CURVE, patience=3) is True
    assert _out(capsys).startswith("Correct")
    assert check_early_stopping(7, 5, CURVE, patience=3) is False  # off by one
    assert "best + patience" in _out(capsys)
    assert check_early_stopping(8, 3, CURVE, patience=3) is False
    assert "best value" in _out(capsys)
    assert check_early_stopping(None, None, CURVE, patience=3) is False
    assert "two epoch numbers" in _out(capsys)
    assert check_early_stopping(5, 1, [0.5, 0.6, 0.7, 0.8, 0.9], patience=4) is True  # never improves


def test_early_stopping_on_accuracy_curves():
    acc = [0.5, 0.7, 0.69, 0.71, 0.7, 0.7]
    assert check_early_stopping(6, 4, acc, patience=2, higher_is_better=True) is True


@pytest.mark.parametrize(
    ("curve", "patience", "message"), [([], 2, "curve is empty"), ([1.0], 0, "patience")]
)
def test_early_stopping_rejects_bad_arguments(curve, patience, message):
    with pytest.raises(ValueError, match=message):
        check_early_stopping(1, 1, curve, patience)


def _moons_run(**options):
    torch.manual_seed(0)
    X, y = make_moons(n=60, noise=0.4, seed=0)
    val = make_moons(n=200, noise=0.4, seed=1)
    model = make_mlp([2, 64, 64, 2])
    history = train(model, (X, y), num_epochs=80, lr=0.5, val_data=val, **options)
    return model, history, val


def test_restored_best_follows_utils_train(capsys):
    model, history, val = _moons_run(patience=10, metric="val_acc")
    assert check_restored_best(model, history, val, metric="val_acc") is True
    model, history, val = _moons_run(patience=10, metric="val_loss")
    assert check_restored_best(model, history, val, metric="val_loss") is True
    if history.val_acc.index(max(history.val_acc)) + 1 != history.best_epoch:
        assert check_restored_best(model, history, val, metric="val_acc") is False
        assert 'metric="val_acc"' in _out(capsys)


def test_restored_best_detects_missing_patience_and_restore(capsys):
    model, history, val = _moons_run()
    assert check_restored_best(model, history, val) is False
    assert "did not use early stopping" in _out(capsys)
    model, history, val = _moons_run(patience=10, metric="val_loss", restore_best=False)
    assert check_restored_best(model, history, val, metric="val_loss") is False
    assert "restore_best=True" in _out(capsys)
    with pytest.raises(ValueError, match="metric='acc' is not valid"):
        check_restored_best(model, history, val, metric="acc")


# (best_epoch, stop_epoch) for the checker's cases, worked out by hand
EXPECTED_STOPS = {
    (tuple(CURVE), 3, 0.0): (5, 8),
    ((1.0, 0.9, 0.8, 0.7, 0.6), 2, 0.0): (5, 5),  # never stops early
    ((1.0, 0.99999, 0.99998, 0.99997, 0.99996), 2, 1e-3): (1, 3),  # tiny gains do not count
    ((0.5, 0.5, 0.5, 0.4), 2, 0.0): (1, 3),  # a tie is not an improvement
    ((0.5, 0.45, 0.44, 0.3), 2, 0.02): (4, 4),
    ((0.7,), 1, 0.0): (1, 1),
}


def _by_hand(curve, patience, min_delta):
    return EXPECTED_STOPS[tuple(curve), patience, min_delta]


def test_stop_rule_checker(capsys):
    assert check_stop_rule(_by_hand) is True

    def best_of_all(curve, patience, min_delta):  # ignores the patience
        return curve.index(min(curve)) + 1, len(curve)

    assert check_stop_rule(best_of_all) is False
    assert "more than min_delta" in _out(capsys)
    assert check_stop_rule(lambda c, p, d: None) is False
    assert "expected a pair" in _out(capsys)

    def broken(curve, patience, min_delta):
        raise IndexError("oops")

    assert check_stop_rule(broken) is False
    assert "IndexError: oops" in _out(capsys)


# -- lesson 02: weight decay --------------------------------------------------------


def test_shrinkage(capsys):
    assert check_shrinkage(1.6, 1.75, w_ols=2.0, lam=0.25) is True
    assert check_shrinkage(1.75, 1.75) is False
    assert "ridge does not subtract" in _out(capsys)
    assert check_shrinkage(1.6, 1.6) is False
    assert "the lasso does not divide" in _out(capsys)
    assert check_shrinkage(-0.4 / 1.5, 0.0, w_ols=-0.4, lam=0.5) is True  # the threshold reaches 0
    assert check_shrinkage("a", 1.0) is False
    with pytest.raises(ValueError, match="lam must be a number > 0"):
        check_shrinkage(1.0, 1.0, lam=0.0)


def test_decay_groups(capsys):
    model = make_mlp([4, 8, 8, 3], norm="layer")
    good = torch.optim.AdamW(weight_decay_groups(model, 0.01), lr=1e-3)
    assert check_decay_groups(good, model) is True
    everything = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    assert check_decay_groups(everything, model) is False
    assert "bias or normalization parameters decay" in _out(capsys)
    nothing = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    assert check_decay_groups(nothing, model) is False
    assert "without decay" in _out(capsys)
    partial = torch.optim.SGD(model.linear1.parameters(), lr=0.1)
    assert check_decay_groups(partial, model) is False
    assert "does not train" in _out(capsys)


def _soft(z, t):
    return torch.sign(z) * torch.clamp(z.abs() - t, min=0.0)


def test_elastic_net_prox_against_a_numerical_minimum(capsys):
    def prox(z, t, alpha, beta):
        return _soft(z, t * alpha) / (1 + t * beta)

    # the formula is the minimizer: compare with a brute-force search on a grid
    z, t, alpha, beta = torch.tensor([1.3, -0.2, -2.0]), 0.5, 0.4, 2.0
    grid = torch.linspace(-3, 3, 600_001, dtype=torch.float64)
    for zi, wi in zip(z, prox(z, t, alpha, beta)):
        objective = (grid - zi) ** 2 / (2 * t) + alpha * grid.abs() + beta / 2 * grid**2
        assert abs(grid[objective.argmin()] - wi) < 1e-4
    assert check_elastic_net_prox(prox) is True
    assert check_elastic_net_prox(lambda z, t, a, b: _soft(z, t * a)) is False
    assert "divide by 1 + t * beta" in _out(capsys)
    assert check_elastic_net_prox(lambda z, t, a, b: z / (1 + t * b)) is False
    assert "threshold at t * alpha" in _out(capsys)
    assert check_elastic_net_prox(lambda z, t, a, b: None) is False


# -- lesson 03: dropout -------------------------------------------------------------


def _dropout_model():
    torch.manual_seed(0)
    return make_mlp([4, 32, 3], dropout=0.5)


def test_eval_deterministic(capsys):
    model = _dropout_model()
    X, y = torch.randn(100, 4), torch.randint(0, 3, (100,))

    def good(model, X, y):
        was = model.training
        model.eval()
        with torch.no_grad():
            acc = (model(X).argmax(dim=1) == y).double().mean().item()
        model.train(was)
        return acc

    def in_train_mode(model, X, y):
        with torch.no_grad():
            return (model(X).argmax(dim=1) == y).double().mean().item()

    def leaves_eval(model, X, y):
        model.eval()
        with torch.no_grad():
            return (model(X).argmax(dim=1) == y).double().mean().item()

    assert check_eval_deterministic(good, model, X, y) is True
    assert check_eval_deterministic(in_train_mode, model, X, y) is False
    assert "dropout is still on" in _out(capsys)
    assert check_eval_deterministic(leaves_eval, model, X, y) is False
    assert "left in eval mode" in _out(capsys)


def test_alpha_dropout_matches_torch(capsys):
    assert check_alpha_dropout(lambda x, p: nn.AlphaDropout(p)(x)) is True  # PyTorch passes
    assert check_alpha_dropout(lambda x, p: F.dropout(x, p)) is False  # zeros, not alpha'
    assert "expected" in _out(capsys)

    def no_affine(x, p):
        keep = torch.empty_like(x).bernoulli_(1 - p)
        return x * keep + SELU_SATURATION * (1 - keep)

    assert check_alpha_dropout(no_affine) is False
    assert check_alpha_dropout(lambda x, p: x[:10]) is False
    assert "expected a tensor of shape" in _out(capsys)


# -- lesson 04: normalization ---------------------------------------------------------


def test_batch_independent(capsys):
    torch.manual_seed(0)
    assert check_batch_independent(make_mlp([6, 8, 8, 2], norm="layer")) is True
    assert _out(capsys).startswith("Correct")
    assert check_batch_independent(make_mlp([6, 8, 8, 2], norm="batch")) is False
    assert 'norm="layer"' in _out(capsys)
    assert check_batch_independent(make_mlp([6, 8, 2])) is False
    assert "no normalization layer" in _out(capsys)
    with pytest.raises(ValueError, match="no Linear layer"):
        check_batch_independent(nn.LayerNorm(4))


def test_bn_folding(capsys):
    def fold(linear, bn):
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        folded = nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():
            folded.weight.copy_(linear.weight * scale[:, None])
            folded.bias.copy_(scale * (linear.bias - bn.running_mean) + bn.bias)
        return folded

    def forgets_the_mean(linear, bn):
        folded = fold(linear, bn)
        with torch.no_grad():
            folded.bias.add_(bn.weight / torch.sqrt(bn.running_var + bn.eps) * bn.running_mean)
        return folded

    assert check_bn_folding(fold) is True
    assert check_bn_folding(forgets_the_mean) is False
    assert "running_mean" in _out(capsys)
    assert check_bn_folding(lambda linear, bn: nn.Sequential(linear, bn)) is False
    assert "expected an nn.Linear" in _out(capsys)


# -- lesson 05: augmentation ---------------------------------------------------------


def test_label_preserving(capsys):
    assert check_label_preserving({"shift", "scale"}) is True
    assert check_label_preserving(["scale", "shift"]) is True
    assert check_label_preserving({"shift", "scale", "reverse"}) is False
    assert "never applies ['reverse']" in _out(capsys)
    assert check_label_preserving({"shift"}) is False
    assert "itself applies ['scale']" in _out(capsys)
    assert check_label_preserving({"rotate"}) is False
    assert "unknown names" in _out(capsys)
    assert check_label_preserving(None) is False
    assert set(MNIST1D_TRANSFORMS) == {"shift", "scale", "reverse", "negate"}


def test_train_only(capsys):
    X, y = torch.randn(10, 5), torch.arange(10)
    augmented = TensorLoader(X, y, transform=random_shift(1))
    plain = TensorLoader(X, y, shuffle=False)
    assert check_train_only(augmented, plain) is True
    assert check_train_only(augmented, TensorLoader(X, y, shuffle=False, transform=random_shift(1))) is False
    assert "validation loader transforms" in _out(capsys)
    assert check_train_only(plain, plain) is False
    assert "no transform" in _out(capsys)
    assert check_train_only(augmented, TensorLoader(X, y)) is False
    assert "shuffles" in _out(capsys)


def test_cutout(capsys):
    def cutout(X, y, length, generator=None):
        start = torch.randint(0, X.shape[1] - length + 1, (len(X), 1), generator=generator)
        positions = torch.arange(X.shape[1])[None, :]
        return X.masked_fill((positions >= start) & (positions < start + length), 0.0), y

    def in_place(X, y, length, generator=None):
        X[:, :length] = 0
        return X, y

    def same_place(X, y, length, generator=None):
        out = X.clone()
        out[:, :length] = 0
        return out, y

    def scattered(X, y, length, generator=None):
        out = X.clone()
        out[:, ::2][:, :length] = 0
        return out, y

    assert check_cutout(cutout) is True
    assert check_cutout(same_place) is False
    assert "drawn per signal" in _out(capsys)
    assert check_cutout(scattered) is False
    assert "consecutive" in _out(capsys)
    assert check_cutout(in_place) is False
    assert "in place" in _out(capsys)


# -- lesson 06: residual connections ----------------------------------------------------


class _Block(nn.Module):
    def __init__(self, width, gain=None):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(width, width), nn.Linear(width, width)
        for layer in (self.linear1, self.linear2):
            nn.init.kaiming_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.gain = gain

    def forward(self, h):
        f = self.linear2(F.relu(self.linear1(F.relu(h))))
        return h + (f if self.gain is None else self.gain * f)


def test_identity_init(capsys):
    def fixup(width):
        block = _Block(width)
        nn.init.zeros_(block.linear2.weight)
        nn.init.zeros_(block.linear2.bias)
        return block

    def all_zero(width):
        block = fixup(width)
        nn.init.zeros_(block.linear1.weight)
        return block

    assert check_identity_init(fixup) is True
    assert check_identity_init(_Block) is False
    assert "differs from x" in _out(capsys)
    assert check_identity_init(all_zero) is True or "never learn" in _out(capsys)
    assert check_identity_init(lambda width: _Block(width, gain=nn.Parameter(torch.tensor(0.0)))) is False
    assert "no gain" in _out(capsys)


def test_identity_init_flags_a_branch_that_cannot_learn(capsys):
    class Dead(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.linear = nn.Linear(width, width)
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)
            self.linear.requires_grad_(False)
            self.scale = nn.Parameter(torch.zeros(()))  # multiplies a zero branch: no gradient

        def forward(self, h):
            return h + self.scale * self.linear(h)

    assert check_identity_init(Dead) is False
    assert "never learn" in _out(capsys)


def _stack(num_blocks, scale):
    blocks = [_Block(16, gain=scale(num_blocks)) for _ in range(num_blocks)]
    return nn.Sequential(nn.Linear(8, 16), *blocks, nn.ReLU(), nn.Linear(16, 2))


def test_bounded_stream(capsys):
    assert check_bounded_stream(lambda n: _stack(n, lambda n: n**-0.5)) is True
    assert check_bounded_stream(lambda n: _stack(n, lambda n: None)) is False
    assert "(1 + c^2)^L" in _out(capsys)
    assert check_bounded_stream(lambda n: _stack(n, lambda n: 0.5)) is False  # fixed c: grows with depth
    assert math.isclose(SELU_SATURATION, -1.0507009873554805 * 1.6732632423543772, rel_tol=1e-12)
