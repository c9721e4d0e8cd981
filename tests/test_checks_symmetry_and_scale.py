"""Tests for the checkers of lesson 01_weights/03_symmetry_and_scale, with PyTorch as the reference."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from utils.checks.weights import check_symmetry_broken
from utils.models import make_mlp


def _closest_units(layer: nn.Linear) -> float:
    """Reference: the smallest L-infinity distance between two units' (weights, bias), via torch.cdist."""
    rows = torch.cat([layer.weight.detach(), layer.bias.detach()[:, None]], dim=1)
    dist = torch.cdist(rows[None], rows[None], p=math.inf)[0]
    dist.fill_diagonal_(math.inf)
    return dist.min().item()


def test_symmetry_broken_accepts_random_init(capsys):
    torch.manual_seed(0)
    model = make_mlp([2, 8, 8, 2], "tanh", init="normal", std=0.3)
    assert all(_closest_units(model.get_submodule(n)) > 1e-6 for n in ("linear1", "linear2"))
    assert check_symmetry_broken(model) is True
    assert capsys.readouterr().out.startswith("Correct: symmetry broken")


def test_symmetry_broken_rejects_constant_init(capsys):
    model = make_mlp([2, 8, 8, 2], "tanh", init="constant", value=0.3)
    assert _closest_units(model.linear1) == 0.0
    assert check_symmetry_broken(model) is False
    assert capsys.readouterr().out.startswith("Not yet: symmetry broken")


def test_symmetry_broken_rejects_a_single_duplicated_unit():
    torch.manual_seed(1)
    model = make_mlp([3, 6, 6, 2], "relu", init="normal", std=0.5)
    with torch.no_grad():
        model.linear2.weight[4].copy_(model.linear2.weight[1])
        model.linear2.bias[4] = model.linear2.bias[1]
    assert _closest_units(model.linear2) == 0.0
    assert check_symmetry_broken(model) is False


def test_symmetry_broken_counts_the_bias_and_ignores_the_output_layer():
    model = make_mlp([2, 4, 2], "tanh", init="constant", value=0.3)
    with torch.no_grad():
        model.linear1.bias.copy_(torch.tensor([0.0, 0.1, 0.2, 0.3]))  # same rows, different biases
    assert _closest_units(model.linear1) == pytest.approx(0.1)
    assert check_symmetry_broken(model) is True  # the constant output layer is not checked


def test_symmetry_broken_needs_a_hidden_layer():
    with pytest.raises(ValueError, match="at least two Linear layers"):
        check_symmetry_broken(nn.Linear(2, 2))
