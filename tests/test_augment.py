"""Tests for utils.augment: per-batch transforms for 1-D signals, with torch.roll as the reference."""

from __future__ import annotations

import pytest
import torch

from utils.augment import compose, gaussian_noise, random_scale, random_shift
from utils.data import TensorLoader


def _signals(batch: int = 64, length: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.randn(batch, length, generator=torch.Generator().manual_seed(0))
    return X, torch.arange(batch) % 10


def test_random_shift_rolls_each_signal_like_torch_roll():
    X, y = _signals()
    X_aug, y_aug = random_shift(5)(X, y, generator=torch.Generator().manual_seed(1))
    shifts = torch.randint(-5, 6, (len(X),), generator=torch.Generator().manual_seed(1))
    expected = torch.stack([torch.roll(x, int(s)) for x, s in zip(X, shifts)])
    torch.testing.assert_close(X_aug, expected, rtol=0, atol=0)
    assert torch.equal(y_aug, y)
    assert shifts.abs().max() == 5 and len(set(shifts.tolist())) > 5  # the whole range is used


def test_random_shift_zero_is_the_identity():
    X, y = _signals()
    torch.testing.assert_close(random_shift(0)(X, y)[0], X, rtol=0, atol=0)


def test_random_scale_multiplies_each_signal_by_one_factor_in_range():
    X, y = _signals()
    X_aug, y_aug = random_scale(0.5, 2.0)(X, y, generator=torch.Generator().manual_seed(2))
    factors = X_aug[:, 0] / X[:, 0]
    torch.testing.assert_close(X_aug, X * factors[:, None])
    assert factors.min() >= 0.5 and factors.max() <= 2.0 and factors.std() > 0.2
    assert torch.equal(y_aug, y)


def test_gaussian_noise_has_the_requested_std():
    X, y = _signals(batch=500, length=200)
    X_aug, _ = gaussian_noise(0.3)(X, y, generator=torch.Generator().manual_seed(3))
    noise = X_aug - X
    assert abs(noise.std().item() - 0.3) < 0.01 and abs(noise.mean().item()) < 0.01


def test_compose_applies_in_order_with_one_generator():
    X, y = _signals()
    both = compose(random_shift(3), gaussian_noise(0.1))
    got, _ = both(X, y, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    shifted, _ = random_shift(3)(X, y, generator=gen)
    expected, _ = gaussian_noise(0.1)(shifted, y, generator=gen)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_transforms_are_reproducible_through_the_loader_and_differ_between_epochs():
    X, y = _signals()
    loader = TensorLoader(X, y, batch_size=16, seed=5, transform=random_shift(4))
    first, second = torch.cat([b[0] for b in loader]), torch.cat([b[0] for b in loader])
    again = torch.cat([b[0] for b in TensorLoader(X, y, batch_size=16, seed=5, transform=random_shift(4))])
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, second)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: random_shift(-1), r"max_shift must be an integer >= 0, got -1"),
        (lambda: random_shift(2.5), r"max_shift must be an integer >= 0, got 2.5"),
        (lambda: random_scale(-1.0, 1.0), r"low must be a number >= 0, got -1.0"),
        (lambda: random_scale(2.0, 1.0), r"low must not exceed high, got low=2.0, high=1.0"),
        (lambda: gaussian_noise(-0.1), r"std must be a number >= 0, got -0.1"),
        (lambda: compose(), r"compose needs at least one transform"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_compose_rejects_a_non_function_and_transforms_reject_images():
    with pytest.raises(TypeError, match=r"transforms\[1\] must be a function"):
        compose(random_shift(1), "noise")
    with pytest.raises(ValueError, match=r"X must have shape \(batch, length\), got \(2, 8, 8\)"):
        gaussian_noise(0.1)(torch.zeros(2, 8, 8), torch.zeros(2))
