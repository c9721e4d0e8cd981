"""Calibration: does a classifier's confidence match how often it is right?

Lesson ``04_losses/04_imbalance_calibration`` writes the expected calibration
error (ECE) from scratch and then uses these helpers, as do later chapters.
A prediction's *confidence* is its largest class probability. Confidences are
grouped into ``num_bins`` equal-width bins ``((m - 1) / M, m / M]``, as in
Guo et al. (2017); ECE is the share-weighted gap between each bin's accuracy
and its mean confidence. :func:`utils.plotting.plot_reliability` draws the bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from utils._validate import positive_int


@dataclass(frozen=True)
class CalibrationBins:
    """Per-bin statistics of a classifier's confidence, from :func:`calibration_bins`.

    ``edges`` has ``num_bins + 1`` entries; ``confidence`` and ``accuracy`` are
    ``nan`` for an empty bin; ``count`` is the number of predictions per bin.
    """

    edges: Tensor
    confidence: Tensor
    accuracy: Tensor
    count: Tensor

    @property
    def ece(self) -> float:
        """Expected calibration error: sum over bins of (share of predictions) * |accuracy - confidence|."""
        used = self.count > 0
        share = self.count[used] / self.count.sum()
        return (share * (self.accuracy[used] - self.confidence[used]).abs()).sum().item()


def _check_probs(probs: Tensor, y: Tensor) -> None:
    if not isinstance(probs, Tensor) or probs.ndim != 2 or probs.shape[1] < 2:
        shape = tuple(probs.shape) if isinstance(probs, Tensor) else type(probs).__name__
        raise ValueError(f"probs must be a (n, num_classes) tensor with num_classes >= 2, got {shape}")
    if not isinstance(y, Tensor) or y.ndim != 1 or len(y) != len(probs):
        shape = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(
            f"y must be a 1-D tensor of {len(probs)} class labels (one per row of probs), got {shape}"
        )
    if len(probs) == 0:
        raise ValueError("probs is empty: calibration needs at least one prediction")
    if y.is_floating_point() or y.min() < 0 or y.max() >= probs.shape[1]:
        raise ValueError(f"y must hold integer class labels in [0, {probs.shape[1] - 1}]")
    row_sums = probs.sum(dim=1)
    if probs.min() < 0 or not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-4):
        raise ValueError(
            "probs must be probabilities (rows >= 0 summing to 1); apply softmax to logits first"
        )


def calibration_bins(probs: Tensor, y: Tensor, num_bins: int = 15) -> CalibrationBins:
    """Group predictions by confidence into ``num_bins`` equal bins ``(lo, hi]``.

    Args:
        probs: (n, num_classes) class probabilities, e.g. ``logits.softmax(dim=1)``.
        y: (n,) true class labels.
        num_bins: number of equal-width confidence bins on [0, 1].
    """
    positive_int("num_bins", num_bins)
    _check_probs(probs, y)
    probs = probs.detach().double()
    confidence, predicted = probs.max(dim=1)  # (n,), (n,)
    correct = (predicted == y).double()
    edges = torch.linspace(0.0, 1.0, num_bins + 1, dtype=torch.float64)
    # bin m holds confidences in (edges[m], edges[m + 1]]; a confidence of exactly 0 joins bin 0
    index = (torch.searchsorted(edges, confidence, right=False) - 1).clamp(0, num_bins - 1)
    count = torch.bincount(index, minlength=num_bins).double()
    conf_sum = torch.bincount(index, weights=confidence, minlength=num_bins)
    correct_sum = torch.bincount(index, weights=correct, minlength=num_bins)
    empty = count == 0
    mean_conf = (conf_sum / count.clamp_min(1)).masked_fill(empty, float("nan"))
    accuracy = (correct_sum / count.clamp_min(1)).masked_fill(empty, float("nan"))
    return CalibrationBins(edges, mean_conf, accuracy, count.long())


def expected_calibration_error(probs: Tensor, y: Tensor, num_bins: int = 15) -> float:
    """Expected calibration error of class probabilities ``probs`` (n, C) against labels ``y`` (n,)."""
    return calibration_bins(probs, y, num_bins).ece
