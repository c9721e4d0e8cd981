"""Tests for utils.plotting (Agg backend): helpers draw on and return their Axes, bad input raises."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_hex

from utils.data import make_blobs, make_moons
from utils.experiments import SeedStats
from utils.models import make_mlp
from utils.plotting import (
    plot_curves,
    plot_decision_boundary,
    plot_function,
    plot_layer_histograms,
    plot_layer_stats,
    plot_reliability,
)
from utils.style import CONDITION_COLORS, PALETTE, STYLE, color_for


def _ax() -> Axes:
    return plt.subplots()[1]


# -- colours and style -----------------------------------------------------------


def test_color_for_named_conditions_and_indices():
    assert color_for("xavier_normal") == CONDITION_COLORS["xavier_normal"]
    assert color_for("train") != color_for("validation")
    assert color_for(0) == PALETTE[0]
    assert color_for(len(PALETTE) + 2) == PALETTE[2]  # wraps around


def test_losses_have_distinct_colors():
    losses = ["mse", "mae", "huber", "cross_entropy", "focal"]
    assert len({color_for(name) for name in losses}) == len(losses)


def test_color_for_unknown_name_is_stable_and_in_palette():
    assert color_for("my condition") == color_for("my condition")
    assert color_for("my condition") in PALETTE


def test_style_keys_are_valid_rcparams():
    with plt.rc_context(STYLE):
        assert plt.rcParams["axes.grid"] is True


# -- plot_function ---------------------------------------------------------------


def test_plot_function_returns_its_axes_with_function_and_autograd_derivative():
    ax = _ax()
    out = plot_function(torch.tanh, x_range=(-3.0, 3.0), ax=ax, label="tanh")
    assert out is ax
    f_line, d_line = ax.get_lines()
    x = torch.tensor(f_line.get_xdata(), dtype=torch.float32)
    np.testing.assert_allclose(f_line.get_ydata(), torch.tanh(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(d_line.get_ydata(), (1 - torch.tanh(x) ** 2).numpy(), atol=1e-5)
    assert d_line.get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tanh", "tanh'"]
    assert ax.get_xlabel() and ax.get_ylabel()


def test_plot_function_without_derivative_and_new_axes():
    ax = plot_function(torch.relu, derivative=False, color="#123456")
    assert isinstance(ax, Axes)
    assert len(ax.get_lines()) == 1
    assert to_hex(ax.get_lines()[0].get_color()) == "#123456"


# -- plot_curves -----------------------------------------------------------------


def test_plot_curves_draws_mean_and_band_over_seeds():
    values = np.array([[3.0, 2.0, 1.0], [5.0, 2.0, 0.0]])
    ax = _ax()
    assert plot_curves(values, ax=ax, label="default", logy=False) is ax
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), values.mean(axis=0))
    assert to_hex(line.get_color()) == to_hex(CONDITION_COLORS["default"])
    assert ax.get_legend().get_texts()[0].get_text() == "default (mean ± std, 2 seeds)"
    band = ax.collections[0].get_paths()[0].vertices
    std = values.std(axis=0, ddof=1)
    assert band[:, 1].max() == pytest.approx((values.mean(axis=0) + std).max())
    assert band[:, 1].min() == pytest.approx((values.mean(axis=0) - std).min())


def test_plot_curves_accepts_seed_stats_and_single_curve():
    stats = SeedStats(seeds=(0, 1, 2), values=np.array([[1.0, 0.5], [1.2, 0.4], [0.8, 0.3]]))
    ax = plot_curves(stats, xlabel="epoch", ylabel="val loss", logy=True)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), stats.mean)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch"
    single = plot_curves([1.0, 0.5, 0.25], label="one run")
    assert single.get_legend().get_texts()[0].get_text() == "one run"
    assert plot_curves([[1.0, 2.0]]).get_legend() is None  # no label, no legend


@pytest.mark.parametrize("bad", [np.zeros((3, 0)), np.zeros((2, 2, 2)), []])
def test_plot_curves_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match=r"curves must have shape \(seeds, T\) with T >= 1"):
        plot_curves(bad)


# -- plot_layer_stats --------------------------------------------------------------


def test_plot_layer_stats_sequence_and_mapping():
    ax = _ax()
    assert plot_layer_stats([1.0, 0.5, 0.25], ax=ax, logy=True) is ax
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log" and ax.get_legend() is None
    ax = plot_layer_stats({"xavier_normal": [1.0, 1.0], "my run": [1.0, 0.1]}, ylabel="grad norm")
    xavier, mine = ax.get_lines()
    assert to_hex(xavier.get_color()) == to_hex(CONDITION_COLORS["xavier_normal"])
    assert to_hex(mine.get_color()) == to_hex(PALETTE[1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["xavier_normal", "my run"]
    assert ax.get_ylabel() == "grad norm"


# -- plot_layer_histograms ---------------------------------------------------------


def test_plot_layer_histograms_one_axes_per_layer():
    values = {"act1": torch.randn(500), "act2": torch.rand(500)}
    axes = plot_layer_histograms(values, bins=20, value_range=(-3.0, 3.0))
    assert len(axes) == 2
    assert [ax.get_title() for ax in axes] == ["act1", "act2"]
    assert sum(p.get_height() for p in axes[1].patches) == 500
    assert axes[0].get_ylabel() == "count"


def test_plot_layer_histograms_uses_given_axes_and_single_layer():
    _, given = plt.subplots(1, 2)
    out = plot_layer_histograms({"a": torch.zeros(3), "b": torch.ones(3)}, axes=given)
    assert out is given
    (single,) = plot_layer_histograms({"only": torch.arange(10.0)})
    assert isinstance(single, Axes) and single.get_title() == "only"


def test_plot_layer_histograms_rejects_bad_input():
    with pytest.raises(ValueError, match=r"values is empty"):
        plot_layer_histograms({})
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match=r"axes has 3 axes but values has 2 layers"):
        plot_layer_histograms({"a": torch.zeros(2), "b": torch.zeros(2)}, axes=axes)


# -- plot_decision_boundary --------------------------------------------------------


def test_plot_decision_boundary_returns_axes_and_restores_mode():
    X, y = make_blobs(n=60, centers=3, seed=0)
    model = make_mlp([2, 8, 3], norm="batch")
    model.train()
    ax = _ax()
    assert plot_decision_boundary(model, X, y, ax=ax, resolution=30) is ax
    assert model.training
    assert len(ax.collections) >= 2  # filled contours and the scatter
    scatter = ax.collections[-1]
    np.testing.assert_allclose(scatter.get_offsets(), X.numpy())


def test_plot_decision_boundary_with_one_logit():
    X, y = make_moons(n=40, seed=0)
    ax = plot_decision_boundary(make_mlp([2, 4, 1]), X, y, resolution=20)
    assert isinstance(ax, Axes)


@pytest.mark.parametrize("X", [torch.zeros(10, 3), torch.zeros(10)])
def test_plot_decision_boundary_rejects_non_2d_inputs(X):
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        plot_decision_boundary(make_mlp([2, 2]), X, torch.zeros(10, dtype=torch.long))


# -- plot_loss_contours ----------------------------------------------------------


def test_plot_loss_contours_draws_paths_in_the_optimizer_colours():
    from utils.plotting import plot_loss_contours

    quadratic = lambda w: 0.5 * (4 * w[:, 0] ** 2 + w[:, 1] ** 2)  # noqa: E731
    path = torch.tensor([[1.0, 1.0], [0.5, 0.8], [0.1, 0.5]])
    ax = plot_loss_contours(quadratic, {"sgd": path, "adam": path.numpy() / 2}, ax=_ax())
    assert isinstance(ax, Axes)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert to_hex(lines["sgd"].get_color()) == CONDITION_COLORS["sgd"].lower()
    np.testing.assert_allclose(lines["adam"].get_xydata(), path.numpy() / 2)
    assert ax.get_xlim() == (-2.0, 2.0) and len(ax.collections) >= 1
    plt.close("all")


def test_plot_loss_contours_rejects_bad_paths_and_negative_losses():
    from utils.plotting import plot_loss_contours

    quadratic = lambda w: (w**2).sum(dim=1)  # noqa: E731
    with pytest.raises(ValueError, match=r"trajectory 'sgd' must have shape \(T, 2\)"):
        plot_loss_contours(quadratic, {"sgd": np.zeros((5, 3))}, ax=_ax())
    with pytest.raises(ValueError, match=r"must be >= 0"):
        plot_loss_contours(lambda w: w[:, 0], ax=_ax())
    with pytest.raises(ValueError, match=r"resolution and levels must be >= 2"):
        plot_loss_contours(quadratic, levels=1, ax=_ax())


def test_plot_reliability_draws_one_point_per_used_bin_and_the_diagonal():
    from utils.metrics import calibration_bins

    gen = torch.Generator().manual_seed(0)
    probs = (2 * torch.randn(500, 4, generator=gen)).softmax(dim=1)
    y = torch.randint(4, (500,), generator=gen)
    ax = _ax()
    assert plot_reliability(probs, y, num_bins=10, ax=ax, label="cross_entropy") is ax
    diagonal, curve = ax.get_lines()
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    bins = calibration_bins(probs, y, num_bins=10)
    used = bins.count > 0
    np.testing.assert_allclose(curve.get_xdata(), bins.confidence[used].numpy())
    np.testing.assert_allclose(curve.get_ydata(), bins.accuracy[used].numpy())
    assert to_hex(curve.get_color()) == to_hex(color_for("cross_entropy"))
    (points,) = ax.collections  # one marker per used bin, its area growing with the bin's share
    np.testing.assert_allclose(points.get_offsets()[:, 0], bins.confidence[used].numpy())
    share = (bins.count[used] / bins.count.sum()).numpy()
    np.testing.assert_allclose(points.get_sizes(), 8 + 150 * share)  # the fuller the bin, the larger
    assert ax.get_legend().get_texts()[0].get_text() == f"cross_entropy, ECE {bins.ece:.3f}"
    plt.close("all")


def test_plot_reliability_makes_axes_and_rejects_logits():
    probs = torch.tensor([[0.9, 0.1], [0.3, 0.7]])
    ax = plot_reliability(probs, torch.tensor([0, 0]))
    assert isinstance(ax, Axes) and ax.get_legend().get_texts()[0].get_text() == "ECE 0.400"
    with pytest.raises(ValueError, match="apply softmax"):
        plot_reliability(torch.tensor([[3.0, -1.0]]), torch.tensor([0]))
    plt.close("all")
