"""Tests for the checkers of lesson 02_initialization/04_orthogonal_lsuv_selu (PyTorch as the reference)."""

from __future__ import annotations

import torch
from torch import nn

from utils.checks.initialization import check_jacobian_singular_values, check_lsuv

LAYERS = (nn.Linear, nn.Conv2d)


def _output_std(model: nn.Module, layer: nn.Module, X: torch.Tensor) -> float:
    seen = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.update(std=out.std().item()))
    with torch.no_grad():
        model(X)
    handle.remove()
    return seen["std"]


def _lsuv(model: nn.Module, X: torch.Tensor, kinds=LAYERS, divide_by_variance: bool = False) -> nn.Module:
    """Reference LSUV: orthogonal_, then rescale each layer in order until its output std is 1."""
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, kinds):
                nn.init.orthogonal_(layer.weight)
                for _ in range(10):
                    std = _output_std(model, layer, X)
                    if abs(std**2 - 1) < 0.01:
                        break
                    layer.weight /= std**2 if divide_by_variance else std
    return model


def test_lsuv_accepts_a_correct_version(capsys):
    assert check_lsuv(_lsuv) is True
    assert capsys.readouterr().out.startswith("Correct: LSUV")


def test_lsuv_reference_really_gives_unit_std_and_orthogonal_rows():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))
    X = torch.randn(32, 3, 8, 8)
    _lsuv(model, X)
    for layer in (model[0], model[3]):
        assert abs(_output_std(model, layer, X) - 1) < 0.01
        W = layer.weight.detach().flatten(1)
        gram = W @ W.T
        torch.testing.assert_close(gram / gram.diagonal().mean(), torch.eye(len(gram)), atol=1e-5, rtol=0)


def test_lsuv_rejects_linear_only_variance_and_missing_orthogonal(capsys):
    assert check_lsuv(lambda model, X: _lsuv(model, X, kinds=(nn.Linear,))) is False
    assert "Conv2d" in capsys.readouterr().out
    assert check_lsuv(lambda model, X: _lsuv(model, X, divide_by_variance=True)) is False
    assert "output std" in capsys.readouterr().out

    def rescale_only(model, X):  # keeps PyTorch's default weights: right scale, not orthogonal
        with torch.no_grad():
            for layer in model.modules():
                if isinstance(layer, LAYERS):
                    for _ in range(10):
                        layer.weight /= _output_std(model, layer, X)
        return model

    assert check_lsuv(rescale_only) is False
    assert "orthogonal" in capsys.readouterr().out
    assert check_lsuv(lambda model, X: 1 / 0) is False


def _svals(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(torch.autograd.functional.jacobian(model, x))


def test_jacobian_accepts_autograd_and_a_finite_difference_version(capsys):
    assert check_jacobian_singular_values(_svals) is True
    assert capsys.readouterr().out.startswith("Correct: Jacobian singular values")

    def finite_differences(model, x, eps=1e-6):  # independent of autograd: central differences, float64
        basis = torch.eye(len(x), dtype=x.dtype)
        columns = [(model(x + eps * e) - model(x - eps * e)) / (2 * eps) for e in basis]
        return torch.linalg.svdvals(torch.stack(columns, dim=1).detach())

    assert check_jacobian_singular_values(finite_differences) is True


def test_jacobian_rejects_wrong_answers(capsys):
    assert check_jacobian_singular_values(lambda model, x: _svals(model, x)[:1]) is False
    assert "values" in capsys.readouterr().out
    last_weight = lambda model, x: torch.linalg.svdvals(model[-1].weight.detach())  # noqa: E731
    assert check_jacobian_singular_values(last_weight) is False
    assert check_jacobian_singular_values(lambda model, x: _svals(model, x) ** 2) is False
    assert "differ" in capsys.readouterr().out
