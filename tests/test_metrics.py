"""Tests for utils.metrics (calibration); references: scikit-learn's calibration_curve, hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.calibration import calibration_curve

from utils.metrics import CalibrationBins, calibration_bins, expected_calibration_error


def _probs_with_confidence(
    confidence: torch.Tensor, predicted: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Rows whose largest entry is ``confidence`` at ``predicted``; the rest shared equally."""
    rest = (1 - confidence) / (num_classes - 1)
    probs = rest[:, None].repeat(1, num_classes)
    probs[torch.arange(len(confidence)), predicted] = confidence
    return probs


def test_perfectly_calibrated_predictions_have_ece_near_zero():
    gen = torch.Generator().manual_seed(0)
    n, num_classes = 200_000, 4
    confidence = 0.25 + 0.75 * torch.rand(n, generator=gen, dtype=torch.float64)
    predicted = torch.randint(num_classes, (n,), generator=gen)
    correct = (
        torch.rand(n, generator=gen, dtype=torch.float64) < confidence
    )  # right with probability = confidence
    other = (predicted + 1 + torch.randint(num_classes - 1, (n,), generator=gen)) % num_classes
    y = torch.where(correct, predicted, other)
    probs = _probs_with_confidence(confidence, predicted, num_classes)
    assert expected_calibration_error(probs, y) < 0.01


def test_a_known_miscalibration_gives_the_hand_computed_ece():
    # 10 predictions at confidence 0.9 of which 6 are right: one bin, gap |0.6 - 0.9| = 0.3
    predicted = torch.zeros(10, dtype=torch.long)
    probs = _probs_with_confidence(torch.full((10,), 0.9, dtype=torch.float64), predicted, 3)
    y = torch.tensor([0] * 6 + [1] * 4)
    assert expected_calibration_error(probs, y) == pytest.approx(0.3, abs=1e-12)
    # add 10 at confidence 0.55, all right: ECE = 0.5 * 0.3 + 0.5 * 0.45
    probs2 = _probs_with_confidence(torch.full((10,), 0.55, dtype=torch.float64), predicted, 3)
    both = torch.cat([probs, probs2]), torch.cat([y, torch.zeros(10, dtype=torch.long)])
    assert expected_calibration_error(*both) == pytest.approx(0.5 * 0.3 + 0.5 * 0.45, abs=1e-12)


def test_bins_match_scikit_learn_calibration_curve():
    gen = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(5000, 10, generator=gen, dtype=torch.float64)
    y = torch.randint(10, (5000,), generator=gen)
    y[:2500] = logits[:2500].argmax(dim=1)  # half right for sure: a mix of calibrated and not
    probs = logits.softmax(dim=1)
    bins = calibration_bins(probs, y, num_bins=10)
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y).numpy()
    prob_true, prob_pred = calibration_curve(correct, confidence.numpy(), n_bins=10, strategy="uniform")
    used = bins.count > 0
    np.testing.assert_allclose(bins.accuracy[used].numpy(), prob_true, rtol=1e-12)
    np.testing.assert_allclose(bins.confidence[used].numpy(), prob_pred, rtol=1e-12)
    assert bins.count.sum().item() == 5000
    reference = np.histogram(confidence.numpy(), bins=np.linspace(0, 1, 11))[0]
    assert abs(bins.count.numpy() - reference).sum() <= 2  # numpy's bins are [lo, hi), ours (lo, hi]
    assert bins.ece == pytest.approx(expected_calibration_error(probs, y, num_bins=10))


def test_confidence_on_an_edge_goes_to_the_lower_bin_and_one_to_the_last():
    predicted = torch.zeros(3, dtype=torch.long)
    probs = _probs_with_confidence(torch.tensor([0.5, 1.0, 0.75], dtype=torch.float64), predicted, 2)
    bins = calibration_bins(probs, torch.zeros(3, dtype=torch.long), num_bins=4)
    assert bins.count.tolist() == [0, 1, 1, 1]  # 0.5 in (0.25, 0.5], 0.75 in (0.5, 0.75], 1.0 in (0.75, 1]
    assert isinstance(bins, CalibrationBins) and bins.edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert math.isnan(bins.confidence[0].item()) and math.isnan(bins.accuracy[0].item())  # empty bin
    assert bins.ece == pytest.approx((0.5 + 0.25 + 0.0) / 3)


def test_one_bin_compares_overall_accuracy_and_mean_confidence():
    gen = torch.Generator().manual_seed(2)
    probs = torch.randn(300, 5, generator=gen, dtype=torch.float64).softmax(dim=1)
    y = torch.randint(5, (300,), generator=gen)
    confidence, predicted = probs.max(dim=1)
    gap = abs((predicted == y).double().mean() - confidence.mean()).item()
    assert expected_calibration_error(probs, y, num_bins=1) == pytest.approx(gap, abs=1e-12)


def test_float32_input_and_a_single_prediction():
    probs = torch.tensor([[0.2, 0.8]])
    assert expected_calibration_error(probs, torch.tensor([1])) == pytest.approx(0.2, abs=1e-6)
    assert expected_calibration_error(probs, torch.tensor([0])) == pytest.approx(0.8, abs=1e-6)


@pytest.mark.parametrize(
    ("probs", "y", "pattern"),
    [
        (torch.tensor([0.2, 0.8]), torch.tensor([1]), "probs must be a \\(n, num_classes\\)"),
        (torch.tensor([[1.0], [1.0]]), torch.tensor([0, 0]), "num_classes >= 2"),
        (torch.tensor([[0.2, 0.8]]), torch.tensor([1, 0]), "y must be a 1-D tensor of 1 class labels"),
        (torch.tensor([[0.2, 0.8]]), torch.tensor([2]), "integer class labels in \\[0, 1\\]"),
        (torch.tensor([[0.2, 0.8]]), torch.tensor([1.0]), "integer class labels"),
        (torch.tensor([[2.0, 3.0]]), torch.tensor([1]), "apply softmax to logits first"),
        (torch.tensor([[-0.5, 1.5]]), torch.tensor([1]), "rows >= 0 summing to 1"),
        (torch.empty(0, 3), torch.empty(0, dtype=torch.long), "probs is empty"),
    ],
)
def test_bad_input_raises_a_clear_error(probs, y, pattern):
    with pytest.raises(ValueError, match=pattern):
        expected_calibration_error(probs, y)


@pytest.mark.parametrize("num_bins", [0, -3, 2.5])
def test_bad_num_bins_raises(num_bins):
    with pytest.raises(ValueError, match="num_bins must be an integer >= 1"):
        calibration_bins(torch.tensor([[0.2, 0.8]]), torch.tensor([1]), num_bins=num_bins)
