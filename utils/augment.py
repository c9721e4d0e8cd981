"""Data augmentation for 1-D signals such as MNIST-1D, as per-batch loader transforms.

Lesson ``06_regularization/05_augmentation`` writes these from scratch and
measures when they help. Each factory returns a function
``transform(X, y, generator=None) -> (X, y)`` for
``TensorLoader(X, y, transform=...)``, which calls it on every training batch
with the loader's own generator, so the random draws are reproducible.
``X`` has shape (batch, length).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from utils._validate import positive_int

#: The signature of a loader transform: ``(X, y, generator=None) -> (X, y)``.
Transform = Callable[..., tuple[Tensor, Tensor]]


def _check_signals(X: Tensor) -> None:
    if X.ndim != 2:
        raise ValueError(f"X must have shape (batch, length), got {tuple(X.shape)}")


def _non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def random_shift(max_shift: int) -> Transform:
    """Shift each signal circularly by a whole number of steps drawn from [-max_shift, max_shift].

    A shift by ``s`` moves every value ``s`` places to the right, wrapping around,
    as ``torch.roll(x, s)`` does; labels are unchanged.
    """
    positive_int("max_shift", max_shift, minimum=0)

    def transform(X: Tensor, y: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        _check_signals(X)
        batch, length = X.shape
        shifts = torch.randint(-max_shift, max_shift + 1, (batch,), generator=generator)
        source = (torch.arange(length)[None, :] - shifts[:, None]) % length  # (batch, length)
        return X.gather(1, source), y

    return transform


def random_scale(low: float, high: float) -> Transform:
    """Multiply each signal by one factor drawn uniformly from [low, high]; labels are unchanged."""
    low, high = _non_negative("low", low), _non_negative("high", high)
    if not low <= high:
        raise ValueError(f"low must not exceed high, got low={low!r}, high={high!r}")

    def transform(X: Tensor, y: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        _check_signals(X)
        u = torch.rand(len(X), 1, generator=generator, dtype=X.dtype)  # (batch, 1)
        return X * (low + (high - low) * u), y

    return transform


def gaussian_noise(std: float) -> Transform:
    """Add independent N(0, std^2) noise to every value; labels are unchanged."""
    std = _non_negative("std", std)

    def transform(X: Tensor, y: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        _check_signals(X)
        return X + std * torch.randn(X.shape, generator=generator, dtype=X.dtype), y

    return transform


def compose(*transforms: Transform) -> Transform:
    """Apply ``transforms`` in order, each with the same generator."""
    if not transforms:
        raise ValueError("compose needs at least one transform")
    for i, fn in enumerate(transforms):
        if not callable(fn):
            raise TypeError(f"transforms[{i}] must be a function (X, y, generator=...) -> (X, y), got {fn!r}")

    def transform(X: Tensor, y: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        for fn in transforms:
            X, y = fn(X, y, generator=generator)
        return X, y

    return transform
