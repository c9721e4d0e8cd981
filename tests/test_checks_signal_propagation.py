"""Tests for the checkers of lesson 02_initialization/01_signal_propagation, with PyTorch as the reference."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from utils.checks.initialization import check_signal_preserved


def _stack(sizes: list[int], std_of) -> nn.Sequential:
    layers = [nn.Linear(i, o, bias=False) for i, o in itertools.pairwise(sizes)]
    for layer in layers:
        nn.init.normal_(layer.weight, 0.0, std_of(layer.in_features))
    return nn.Sequential(*layers)


def _reference_stds(model: nn.Sequential, in_features: int) -> list[float]:
    X = torch.randn(1024, in_features, generator=torch.Generator().manual_seed(0))
    X = (X - X.mean(dim=0)) / X.std(dim=0)
    stds = []
    with torch.no_grad():
        for layer in model:
            X = layer(X)
            stds.append(X.std().item())
    return stds


def test_signal_preserved_accepts_one_over_sqrt_fan_in(capsys):
    torch.manual_seed(0)
    sizes = [64, 512, 64, 512, 64, 512, 64]
    model = _stack(sizes, lambda fan_in: fan_in**-0.5)
    assert all(0.7 <= s <= 1.4 for s in _reference_stds(model, 64))
    assert check_signal_preserved(model) is True
    assert capsys.readouterr().out.startswith("Correct: signal preserved")


def test_signal_preserved_rejects_a_fixed_scale(capsys):
    torch.manual_seed(0)
    model = _stack([64, 512, 64, 512, 64, 512, 64], lambda fan_in: 0.05)
    stds = _reference_stds(model, 64)
    assert stds[-1] < 0.7  # the reference sees the signal fade
    assert check_signal_preserved(model) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: signal preserved") and "first 0 " in out


def test_signal_preserved_flags_explosion():
    torch.manual_seed(0)
    model = _stack([32] * 6, lambda fan_in: 1.0)
    assert _reference_stds(model, 32)[-1] > 1.4
    assert check_signal_preserved(model) is False


def test_signal_preserved_validates_arguments():
    with pytest.raises(ValueError, match="low and high"):
        check_signal_preserved(nn.Linear(2, 2), low=2.0, high=1.0)
    with pytest.raises(ValueError, match="no Linear layer"):
        check_signal_preserved(nn.ReLU())
