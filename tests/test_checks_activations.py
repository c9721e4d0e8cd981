"""Tests for the Chapter 3 checkers (utils.checks.activations), with PyTorch as the reference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.checks.activations import (
    _best_linear_xor_accuracy,
    _count_pieces_on_grid,
    _gaussian_expectation,
    check_channel_prelu,
    check_count_pieces,
    check_dead_units,
    check_gelu_mean,
    check_gelu_sigmoid_error,
    check_gru_cell,
    check_hat_network,
    check_leaky_mean,
    check_selu_variance_slope,
    check_sigmoid_condition,
    check_tanh_from_sigmoid,
    check_xor_linear_accuracy,
)
from utils.diagnostics import LayerMonitor
from utils.models import make_mlp

# -- lesson 01_why_nonlinearity -----------------------------------------------------------


def test_xor_accuracy_reference_is_three_quarters(capsys):
    assert _best_linear_xor_accuracy() == 0.75  # a random search over lines never beats 3 of 4
    assert check_xor_linear_accuracy(0.75) is True
    assert capsys.readouterr().out.startswith("Correct")


def test_xor_accuracy_rejects_wrong_answers_with_hints(capsys):
    for wrong, hint in [(1.0, "midpoint"), (0.5, "constant"), (0.6, "multiple of 1/4"), (75, "fraction")]:
        assert check_xor_linear_accuracy(wrong) is False
        assert hint in capsys.readouterr().out
    assert check_xor_linear_accuracy(None) is False
    assert check_xor_linear_accuracy(float("nan")) is False


def _hat_net(out_weights: list[float]) -> nn.Module:
    hidden, out = nn.Linear(1, 3), nn.Linear(3, 1)
    with torch.no_grad():
        hidden.weight.fill_(1.0)
        hidden.bias.copy_(torch.tensor([1.0, 0.0, -1.0]))
        out.weight.copy_(torch.tensor([out_weights]))
        out.bias.zero_()
    return nn.Sequential(hidden, nn.ReLU(), out)


def test_hat_network_accepts_the_three_unit_construction(capsys):
    assert check_hat_network(_hat_net([1.0, -2.0, 1.0])) is True
    assert capsys.readouterr().out.startswith("Correct")


def test_hat_network_rejects_wrong_networks(capsys):
    assert check_hat_network(_hat_net([1.0, -2.0, 0.0])) is False  # no last kink: slope -1 forever
    assert "outside [-1, 1]" in capsys.readouterr().out
    assert check_hat_network(_hat_net([1.0, -1.0, 1.0])) is False
    assert check_hat_network(nn.Linear(2, 1)) is False  # wrong input size: reported, not raised
    assert "raised" in capsys.readouterr().out
    assert check_hat_network(None) is False
    assert check_hat_network(nn.Sequential(nn.Linear(1, 2))) is False  # wrong output shape


def test_piece_count_reference_matches_the_kinks_of_a_known_function():
    def fn(x):  # kinks at -1, 0.5 and 2: four pieces on [-3, 3], one on [2.5, 3]
        return torch.relu(x + 1) - 3 * torch.relu(x - 0.5) + 2 * torch.relu(x - 2)

    assert _count_pieces_on_grid(fn, -3.0, 3.0) == 4
    assert _count_pieces_on_grid(fn, 2.5, 3.0) == 1
    assert _count_pieces_on_grid(lambda x: 2 * x + 1, -3.0, 3.0) == 1


def test_piece_count_reference_matches_a_network_built_from_its_weights():
    torch.manual_seed(0)
    model = make_mlp([1, 10, 1], "relu").double()
    kinks = -model.linear1.bias / model.linear1.weight.flatten()
    inside = int(((kinks > -3) & (kinks < 3) & (model.linear2.weight.flatten() != 0)).sum())
    assert _count_pieces_on_grid(model, -3.0, 3.0) == inside + 1


def _grid_pieces(model, lo, hi):
    return _count_pieces_on_grid(model, lo, hi, num_points=100_001)


def test_count_pieces_accepts_a_correct_counter(capsys):
    assert check_count_pieces(_grid_pieces) is True
    assert capsys.readouterr().out.startswith("Correct: count_pieces")


def test_count_pieces_rejects_wrong_counters(capsys):
    assert check_count_pieces(lambda model, lo, hi: _grid_pieces(model, lo, hi) - 1) is False  # kinks
    assert "k + 1 pieces" in capsys.readouterr().out

    def first_layer_only(model, lo, hi):  # right for one hidden layer, wrong for deeper networks
        kinks = -model.linear1.bias / model.linear1.weight.flatten()
        return int(((kinks > lo) & (kinks < hi)).sum()) + 1

    assert check_count_pieces(first_layer_only) is False
    assert "[1, 8, 8, 1]" in capsys.readouterr().out
    assert check_count_pieces(lambda model, lo, hi: None) is False
    assert "got None" in capsys.readouterr().out  # a placeholder is reported, not silently rejected
    assert check_count_pieces(lambda model, lo, hi: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


# -- lesson 02_sigmoid_tanh ----------------------------------------------------------------


def test_gaussian_expectation_matches_known_moments():
    assert abs(_gaussian_expectation(lambda z: z**2) - 1) < 1e-10
    assert abs(_gaussian_expectation(torch.sigmoid) - 0.5) < 1e-10
    samples = torch.sigmoid(torch.randn(2_000_000, generator=torch.Generator().manual_seed(0)))
    assert abs(_gaussian_expectation(lambda z: torch.sigmoid(z) ** 2) - samples.pow(2).mean().item()) < 1e-3


def _sampled_condition(n: int) -> float:
    h = torch.sigmoid(
        torch.randn(400_000, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    )
    eigenvalues = torch.linalg.eigvalsh(h.T @ h / len(h))
    return (eigenvalues[-1] / eigenvalues[0]).item()


def test_sigmoid_condition_agrees_with_a_sampled_matrix(capsys):
    for n in (2, 16):
        sampled = _sampled_condition(n)
        assert check_sigmoid_condition(sampled, n=n) is True, sampled  # within the 2% tolerance
    assert capsys.readouterr().out.startswith("Correct")


def test_sigmoid_condition_rejects_common_mistakes(capsys):
    v = _gaussian_expectation(lambda z: torch.sigmoid(z) ** 2) - 0.25
    assert check_sigmoid_condition(2 * 0.25 / v, n=2) is False  # forgot the + 1 (negligible at n = 64)
    assert "1 + n m^2 / v" in capsys.readouterr().out
    assert check_sigmoid_condition(1 + 64 * 0.25 / v**0.5, n=64) is False  # std instead of variance
    assert "not its standard deviation" in capsys.readouterr().out
    assert check_sigmoid_condition(12.5, n=64) is False  # the two-input number
    assert check_sigmoid_condition("large", n=64) is False
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        check_sigmoid_condition(1.0, n=0)


def test_tanh_from_sigmoid_accepts_the_identity_and_rejects_mistakes(capsys):
    def good(z):
        return 2 * torch.sigmoid(2 * z) - 1

    def good_slope(z):
        s = torch.sigmoid(2 * z)
        return 4 * s * (1 - s)

    assert check_tanh_from_sigmoid(good, good_slope) is True
    assert capsys.readouterr().out.startswith("Correct")
    assert (
        check_tanh_from_sigmoid(good, lambda z: 2 * torch.sigmoid(2 * z) * (1 - torch.sigmoid(2 * z)))
        is False
    )
    assert "chain rule" in capsys.readouterr().out  # forgot the inner factor 2
    assert check_tanh_from_sigmoid(lambda z: 2 * torch.sigmoid(z) - 1, good_slope) is False
    assert check_tanh_from_sigmoid(lambda z: None, good_slope) is False
    assert "NoneType" in capsys.readouterr().out


def _gru_step(x, h, cell):
    gi = x @ cell.weight_ih.T + cell.bias_ih
    gh = h @ cell.weight_hh.T + cell.bias_hh
    i_r, i_u, i_n = gi.chunk(3, dim=1)
    h_r, h_u, h_n = gh.chunk(3, dim=1)
    r, u = torch.sigmoid(i_r + h_r), torch.sigmoid(i_u + h_u)
    return (1 - u) * torch.tanh(i_n + r * h_n) + u * h


def test_gru_cell_accepts_the_documented_equations(capsys):
    assert check_gru_cell(_gru_step) is True
    assert capsys.readouterr().out.startswith("Correct")


def test_gru_cell_rejects_swapped_update_and_misplaced_reset(capsys):
    def swapped(x, h, cell):  # h' = u n + (1 - u) h
        n_and_h = _gru_step(x, h, cell)
        gi, gh = x @ cell.weight_ih.T + cell.bias_ih, h @ cell.weight_hh.T + cell.bias_hh
        u = torch.sigmoid(gi.chunk(3, dim=1)[1] + gh.chunk(3, dim=1)[1])
        n = (n_and_h - u * h) / (1 - u)
        return u * n + (1 - u) * h

    def reset_outside_bias(x, h, cell):  # r (W_hn h) + b_hn instead of r (W_hn h + b_hn)
        hidden = cell.hidden_size
        b_hn = cell.bias_hh[2 * hidden :]
        gi, gh = x @ cell.weight_ih.T + cell.bias_ih, h @ cell.weight_hh.T
        r = torch.sigmoid(gi[:, :hidden] + gh[:, :hidden] + cell.bias_hh[:hidden])
        u = torch.sigmoid(
            gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden] + cell.bias_hh[hidden : 2 * hidden]
        )
        n = torch.tanh(gi[:, 2 * hidden :] + r * gh[:, 2 * hidden :] + b_hn)
        return (1 - u) * n + u * h

    for wrong in (swapped, reset_outside_bias):
        assert check_gru_cell(wrong) is False
        assert "reset gate" in capsys.readouterr().out
    assert check_gru_cell(lambda x, h, cell: h) is False


# -- lesson 03_relu_family -----------------------------------------------------------------


def test_leaky_mean_formula_matches_sampling_and_rejects_mistakes(capsys):
    samples = torch.randn(4_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for a in (0.01, 0.1, 0.3):
        sampled = torch.nn.functional.leaky_relu(samples, a).mean().item()
        assert abs(sampled - (1 - a) / (2 * torch.pi) ** 0.5) < 1e-3
        assert check_leaky_mean((1 - a) / (2 * torch.pi) ** 0.5, negative_slope=a) is True
    capsys.readouterr()
    assert (
        check_leaky_mean(1.1 / (2 * torch.pi) ** 0.5, negative_slope=0.1) is False
    )  # sign of the negative part
    assert "lowers the mean" in capsys.readouterr().out
    assert check_leaky_mean(1 / (2 * torch.pi) ** 0.5, negative_slope=0.1) is False  # the ReLU's mean
    assert "ReLU's mean" in capsys.readouterr().out
    assert check_leaky_mean(None) is False


class _ChannelPReLU(nn.Module):
    def __init__(self, num_units: int, init: float = 0.25):
        super().__init__()
        self.slope = nn.Parameter(torch.full((num_units,), init))

    def forward(self, z):
        return torch.where(z > 0, z, self.slope * z)


class _SharedSlope(_ChannelPReLU):  # one slope for all units: right outputs, wrong parameter
    def __init__(self, num_units: int, init: float = 0.25):
        super().__init__(1, init)


class _FixedSlope(nn.Module):  # the slope is a plain tensor: not trained
    def __init__(self, num_units: int, init: float = 0.25):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_units))  # a parameter, but not the slope
        self.slope = torch.full((num_units,), init)

    def forward(self, z):
        return torch.where(z > 0, z, self.slope.to(z.dtype) * z) + self.bias


def test_channel_prelu_accepts_a_per_unit_parameter(capsys):
    assert check_channel_prelu(_ChannelPReLU) is True
    assert capsys.readouterr().out.startswith("Correct")


def test_channel_prelu_rejects_shared_or_untrained_slopes(capsys):
    assert check_channel_prelu(_SharedSlope) is False
    assert "6 slopes" in capsys.readouterr().out
    assert check_channel_prelu(_FixedSlope) is False
    assert "gradients" in capsys.readouterr().out
    assert check_channel_prelu(lambda n, init: None) is False


def _dead_units(model, X):
    fractions, h = [], X
    layers = list(model)
    with torch.no_grad():
        for i, layer in enumerate(layers):
            h = layer(h)
            if isinstance(layer, nn.Linear) and i + 1 < len(layers):
                fractions.append((h.amax(dim=0) <= 0).double().mean().item())
    return fractions


def test_dead_units_reference_is_layer_monitor_and_a_correct_counter_passes(capsys):
    torch.manual_seed(0)
    model = make_mlp([5, 8, 8, 2], "relu").double()
    with torch.no_grad():
        model.linear1.bias[:3] -= 50.0
    X = torch.randn(30, 5, dtype=torch.float64)
    with torch.no_grad(), LayerMonitor(model) as monitor:
        model(X)
    assert monitor.series("dead")[0] == 3 / 8 == _dead_units(model, X)[0]
    assert check_dead_units(_dead_units) is True
    assert capsys.readouterr().out.startswith("Correct")


def test_dead_units_rejects_counting_outputs_or_the_wrong_layers(capsys):
    def off_on_some_example(model, X):  # amin instead of amax: off for one row, not for all
        fractions, h = [], X
        with torch.no_grad():
            for layer in list(model)[:-1]:
                h = layer(h)
                if isinstance(layer, nn.Linear):
                    fractions.append((h.amin(dim=0) <= 0).double().mean().item())
        return fractions

    def with_output_layer(model, X):
        return [*_dead_units(model, X), 0.0]

    assert check_dead_units(off_on_some_example) is False
    assert "relu network" in capsys.readouterr().out
    assert check_dead_units(with_output_layer) is False
    assert "one number per hidden layer" in capsys.readouterr().out
    assert check_dead_units(lambda model, X: None) is False


# -- lesson 04_smooth_and_choosing ---------------------------------------------------------


def test_gelu_mean_is_stein_value_and_matches_sampling(capsys):
    samples = torch.randn(4_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(torch.nn.functional.gelu(samples).mean().item() - 1 / (2 * torch.pi**0.5)) < 1e-3
    assert check_gelu_mean(1 / (2 * torch.pi**0.5)) is True
    assert capsys.readouterr().out.startswith("Correct")
    assert check_gelu_mean(1 / (2 * torch.pi) ** 0.5) is False  # the ReLU's mean
    assert "ReLU's mean" in capsys.readouterr().out
    assert check_gelu_mean(0.5) is False and check_gelu_mean("x") is False


def test_gelu_sigmoid_error_matches_the_measured_error(capsys):
    x = torch.linspace(-8, 8, 160_001, dtype=torch.float64)
    exact = 0.5 * x * (1 + torch.erf(x / 2**0.5))
    measured = (x * torch.sigmoid(1.702 * x) - exact).abs().max().item()
    assert 0.02 < measured < 0.021
    assert check_gelu_sigmoid_error(measured) is True
    tanh_form = 0.5 * x * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (x + 0.044715 * x**3)))
    assert check_gelu_sigmoid_error((tanh_form - exact).abs().max().item()) is False
    assert "tanh form" in capsys.readouterr().out
    assert check_gelu_sigmoid_error(-measured) is False
    assert "absolute value" in capsys.readouterr().out


def test_selu_variance_slope_agrees_with_a_finite_difference_of_sampled_variances(capsys):
    z = torch.randn(4_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    h = 0.05  # common random numbers keep the difference quotient accurate
    slope = (
        torch.nn.functional.selu((1 + h) ** 0.5 * z).var()
        - torch.nn.functional.selu((1 - h) ** 0.5 * z).var()
    ).item() / (2 * h)
    assert check_selu_variance_slope(slope) is True, slope
    assert capsys.readouterr().out.startswith("Correct")
    assert check_selu_variance_slope(1.0) is False  # g(1), not g'(1)
    assert "derivative" in capsys.readouterr().out
    assert check_selu_variance_slope(1.2) is False and check_selu_variance_slope(None) is False
