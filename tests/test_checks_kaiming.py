"""Tests for the checkers of lesson 02_initialization/03_kaiming, with PyTorch as the reference."""

from __future__ import annotations

import math

import torch
from torch import nn

from utils.checks.initialization import check_gain_estimate, check_kaiming_depth_std, check_kaiming_uniform
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


def _kaiming_uniform(shape, a=0.0, mode="fan_in"):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    bound = math.sqrt(2.0 / (1 + a**2)) * math.sqrt(3.0 / fan)
    return (2 * torch.rand(shape) - 1) * bound


def test_kaiming_uniform_accepts_a_correct_version(capsys):
    torch.manual_seed(0)
    assert check_kaiming_uniform(_kaiming_uniform) is True
    assert capsys.readouterr().out.startswith("Correct: Kaiming uniform")


def test_kaiming_uniform_accepts_nn_init_itself():
    torch.manual_seed(0)
    assert check_kaiming_uniform(lambda shape, a, mode: nn.init.kaiming_uniform_(torch.empty(shape), a, mode))


def test_kaiming_uniform_rejects_common_mistakes(capsys):
    torch.manual_seed(0)

    def no_sqrt3(shape, a=0.0, mode="fan_in"):  # bound = gain / sqrt(fan): a third of the variance
        return _kaiming_uniform(shape, a, mode) / math.sqrt(3.0)

    def normal(shape, a=0.0, mode="fan_in"):  # right std, wrong distribution
        return torch.randn(shape) * _kaiming_uniform(shape, a, mode).std()

    def ignores_mode(shape, a=0.0, mode="fan_in"):
        return _kaiming_uniform(shape, a, "fan_in")

    assert check_kaiming_uniform(no_sqrt3) is False
    assert "b^2 / 3" in capsys.readouterr().out
    assert check_kaiming_uniform(normal) is False
    assert "exceed" in capsys.readouterr().out
    assert check_kaiming_uniform(ignores_mode) is False
    assert "fan_out" in capsys.readouterr().out
    assert check_kaiming_uniform(lambda shape, a, mode: torch.rand(3)) is False


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
