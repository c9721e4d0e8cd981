"""Tests for the checkers of lesson 02_initialization/03_kaiming, with PyTorch as the reference."""

from __future__ import annotations

import math

import torch
from torch import nn

from utils.checks.initialization import check_gain_estimate, check_kaiming_depth_std
from utils.models import make_mlp


def _measured_depth_std(num_layers: int, negative_slope: float, seeds: int = 3) -> float:
    """Reference: std of the last Linear output of a leaky-ReLU stack under nn.init.kaiming_normal_ (a=0)."""
    stds = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = make_mlp([512] * (num_layers + 1), "leaky_relu", bias=False, negative_slope=negative_slope)
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight)  # PyTorch's defaults: a=0, mode fan_in
        with torch.no_grad():
            stds.append(model(torch.randn(1024, 512)).std().item())
    return sum(stds) / len(stds)


def test_depth_std_formula_matches_a_measured_stack(capsys):
    measured = _measured_depth_std(16, 0.2)
    assert check_kaiming_depth_std(1.8979, num_layers=16) is True
    assert capsys.readouterr().out.splitlines()[-1].startswith("Correct: std after 16 layers")
    assert abs(measured / 1.8979 - 1) < 0.15  # the formula agrees with a real stack within sampling noise


def test_depth_std_rejects_wrong_answers_with_hints(capsys):
    assert check_kaiming_depth_std(math.sqrt(2.0), num_layers=16) is False  # ignores the slope entirely
    assert "leaky ReLU" in capsys.readouterr().out
    assert check_kaiming_depth_std(1.8979 * math.sqrt(1.04), num_layers=16) is False  # one factor too many
    assert "raw input" in capsys.readouterr().out
    assert check_kaiming_depth_std("two", num_layers=16) is False
    assert capsys.readouterr().out.startswith("Not yet")


def _monte_carlo_gain(activation: nn.Module) -> float:
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return 1.0 / activation(z).pow(2).mean().sqrt().item()


def test_gain_estimate_accepts_monte_carlo_and_matches_calculate_gain(capsys):
    assert abs(_monte_carlo_gain(nn.ReLU()) - nn.init.calculate_gain("relu")) < 0.01
    assert abs(_monte_carlo_gain(nn.LeakyReLU(0.3)) - nn.init.calculate_gain("leaky_relu", 0.3)) < 0.01
    assert check_gain_estimate(_monte_carlo_gain) is True
    assert capsys.readouterr().out.startswith("Correct: gain estimate")


def test_gain_estimate_rejects_wrong_answers(capsys):
    assert check_gain_estimate(lambda act: 1.0 / _monte_carlo_gain(act)) is False
    assert "reciprocal" in capsys.readouterr().out
    assert check_gain_estimate(lambda act: math.sqrt(2.0)) is False  # right for ReLU only
    assert "LeakyReLU" in capsys.readouterr().out
