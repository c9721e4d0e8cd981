"""Plot helpers: each takes ``ax=None``, draws on it (or a new one) and returns it.

They share the book's style and palette from :mod:`utils.style`, so a
condition has the same colour in every figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from torch import Tensor, nn

from utils.experiments import SeedStats
from utils.metrics import calibration_bins
from utils.style import CONDITION_COLORS, color_for


def _ax(ax: Axes | None) -> Axes:
    return plt.subplots()[1] if ax is None else ax


def plot_function(
    fn: Callable[[Tensor], Tensor],
    x_range: tuple[float, float] = (-4.0, 4.0),
    ax: Axes | None = None,
    label: str = "f",
    derivative: bool = True,
    color: str | None = None,
) -> Axes:
    """Plot ``fn`` and (dashed) its derivative, computed with autograd."""
    ax = _ax(ax)
    x = torch.linspace(*x_range, 401, requires_grad=True)
    y = fn(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    color = color or color_for(label)
    ax.plot(x.detach(), y.detach(), color=color, label=label)
    if derivative:
        ax.plot(x.detach(), grad, color=color, linestyle="--", label=f"{label}'")
    ax.set_xlabel("input x")
    ax.set_ylabel("output")
    ax.legend()
    return ax


def plot_curves(
    curves: SeedStats | np.ndarray | Sequence[Sequence[float]],
    ax: Axes | None = None,
    label: str | None = None,
    color: str | None = None,
    xlabel: str = "step",
    ylabel: str = "loss",
    logy: bool = False,
) -> Axes:
    """Plot the mean curve over seeds with a shaded ±1 std band.

    ``curves`` is a :class:`SeedStats` of curves or an array of shape (seeds, T).
    """
    ax = _ax(ax)
    values = curves.values if isinstance(curves, SeedStats) else np.asarray(curves, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(f"curves must have shape (seeds, T) with T >= 1, got {values.shape}")
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
    steps = np.arange(1, values.shape[1] + 1)
    color = color or (color_for(label) if label else None)
    n = len(values)
    full_label = f"{label} (mean ± std, {n} seeds)" if label and n > 1 else label
    (line,) = ax.plot(steps, mean, color=color, label=full_label)
    ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if label:
        ax.legend()
    return ax


def plot_layer_stats(
    stats: Sequence[float] | Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    ylabel: str = "activation std",
    logy: bool = False,
    xlabel: str = "layer (depth)",
) -> Axes:
    """Plot one statistic against depth; a mapping draws one line per condition."""
    ax = _ax(ax)
    series = stats if isinstance(stats, Mapping) else {"": stats}
    for i, (name, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=float)
        color = color_for(name) if name in CONDITION_COLORS else color_for(i)
        ax.plot(
            np.arange(1, len(values) + 1), values, marker="o", markersize=3, color=color, label=name or None
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if isinstance(stats, Mapping):
        ax.legend()
    return ax


def plot_layer_histograms(
    values: Mapping[str, Tensor],
    axes: Sequence[Axes] | None = None,
    bins: int = 50,
    value_range: tuple[float, float] | None = None,
    color: str | None = None,
    xlabel: str = "value",
) -> Sequence[Axes]:
    """One histogram per layer (e.g. ``LayerMonitor.values``), side by side."""
    if not values:
        raise ValueError("values is empty: record a forward pass with LayerMonitor first")
    if axes is None:
        _, axes = plt.subplots(1, len(values), figsize=(2.0 * len(values), 2.2), sharey=True)
        axes = np.atleast_1d(axes)
    if len(axes) != len(values):
        raise ValueError(f"axes has {len(axes)} axes but values has {len(values)} layers")
    for ax, (name, v) in zip(axes, values.items()):
        ax.hist(np.asarray(v, dtype=float), bins=bins, range=value_range, color=color or color_for(0))
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("count")
    return axes


@torch.no_grad()
def plot_decision_boundary(
    model: nn.Module, X: Tensor, y: Tensor, ax: Axes | None = None, resolution: int = 200
) -> Axes:
    """Shade the class the model predicts over the plane and scatter the data."""
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) for a decision boundary, got {tuple(X.shape)}")
    ax = _ax(ax)
    pad = 0.5
    x0 = torch.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    x1 = torch.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    g0, g1 = torch.meshgrid(x0, x1, indexing="xy")
    grid = torch.stack([g0.flatten(), g1.flatten()], dim=1)  # (resolution**2, 2)
    was_training = model.training
    model.eval()
    logits = model(grid)
    model.train(was_training)
    pred = (
        logits.argmax(dim=1) if logits.dim() == 2 and logits.shape[1] > 1 else (logits.flatten() > 0).long()
    )
    colors = [color_for(i) for i in range(int(max(y.max().item(), pred.max().item())) + 1)]
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(colors)
    ax.contourf(
        g0, g1, pred.reshape(g0.shape), alpha=0.25, cmap=cmap, levels=np.arange(len(colors) + 1) - 0.5
    )
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, s=10, edgecolors="white", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def plot_loss_contours(
    loss_fn: Callable[[Tensor], Tensor],
    trajectories: Mapping[str, Tensor | np.ndarray | Sequence[Sequence[float]]] | None = None,
    ax: Axes | None = None,
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-2.0, 2.0),
    levels: int = 12,
    resolution: int = 160,
    markers: bool = True,
) -> Axes:
    """Contours of a loss over a 2-D parameter plane, with optimizer paths drawn on top.

    ``loss_fn`` maps a ``(n, 2)`` tensor of points to ``(n,)`` losses (at least 0,
    e.g. a quadratic with its minimum at 0); the contour levels are spaced on a log
    scale. ``trajectories`` maps a name (an optimizer: its colour comes from
    :func:`utils.style.color_for`) to a ``(T, 2)`` path; each starts with a square
    marker. Taught in lesson ``05_optimizers/01_gradient_descent``.
    """
    ax = _ax(ax)
    if resolution < 2 or levels < 2:
        raise ValueError(f"resolution and levels must be >= 2, got {resolution} and {levels}")
    g0, g1 = torch.meshgrid(
        torch.linspace(*xlim, resolution), torch.linspace(*ylim, resolution), indexing="xy"
    )
    grid = torch.stack([g0.flatten(), g1.flatten()], dim=1)  # (resolution**2, 2)
    with torch.no_grad():
        values = np.asarray(loss_fn(grid), dtype=float).reshape(g0.shape)
    if values.min() < 0:
        raise ValueError(f"loss_fn must be >= 0 on the grid for log-spaced contours, got {values.min():.3g}")
    low = max(values.min(), 1e-6 * values.max())
    ax.contour(
        g0.numpy(), g1.numpy(), values, levels=np.geomspace(low, values.max(), levels),
        colors="grey", linewidths=0.6, alpha=0.7,
    )  # fmt: skip
    for i, (name, path) in enumerate((trajectories or {}).items()):
        path = np.asarray(path, dtype=float)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"trajectory {name!r} must have shape (T, 2), got {path.shape}")
        color = color_for(name) if name in CONDITION_COLORS else color_for(i)
        ax.plot(path[:, 0], path[:, 1], color=color, label=name, linewidth=1.2,
                marker="o" if markers else None, markersize=2.5)  # fmt: skip
        ax.plot(path[0, 0], path[0, 1], marker="s", color=color, markersize=5)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    if trajectories:
        ax.legend(loc="upper right")
    return ax


def plot_reliability(
    probs: Tensor,
    y: Tensor,
    num_bins: int = 15,
    ax: Axes | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Reliability diagram: accuracy against mean confidence per confidence bin.

    Points on the dashed diagonal are calibrated; below it the model is
    overconfident. A point's area grows with its bin's share of the predictions.
    The legend entry gives the expected calibration error (see :mod:`utils.metrics`,
    taught in lesson ``04_losses/04_imbalance_calibration``).
    """
    bins = calibration_bins(probs, y, num_bins)
    ax = _ax(ax)
    used = bins.count > 0
    name = f"{label}, ECE {bins.ece:.3f}" if label else f"ECE {bins.ece:.3f}"
    color = color or (color_for(label) if label else color_for(0))
    share = bins.count[used] / bins.count.sum()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.plot(bins.confidence[used], bins.accuracy[used], color=color, linewidth=1.2, label=name)
    ax.scatter(bins.confidence[used], bins.accuracy[used], s=8 + 150 * share, color=color, zorder=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (mean of bin)")
    ax.set_ylabel("accuracy in bin")
    ax.legend()
    return ax
