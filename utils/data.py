"""Offline data sets, standardization, seeded splits and a light batch loader.

Nothing here downloads: the 2-D toy sets are generated, the digits ship with
scikit-learn, and MNIST-1D is generated locally with the ``mnist1d`` package.
Features come in torch's default float type (float32 unless a lesson calls
``setup(dtype="float64")``); class labels are ``long``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from utils._validate import fraction, positive_int

Dataset = tuple[Tensor, Tensor]


def _as_tensors(X: np.ndarray, y: np.ndarray, *, classification: bool = True) -> Dataset:
    """Features in torch's default float type (see ``setup(dtype=...)``); labels as long."""
    floats = torch.get_default_dtype()
    X_t = torch.as_tensor(np.asarray(X), dtype=floats)
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.long if classification else floats)
    return X_t, y_t


def make_moons(n: int = 400, noise: float = 0.15, seed: int = 0) -> Dataset:
    """Two interleaving half circles: ``X`` is (n, 2), ``y`` is (n,) long."""
    from sklearn.datasets import make_moons as sk_moons

    positive_int("n", n, minimum=2)
    X, y = sk_moons(n_samples=n, noise=noise, random_state=seed)
    return _as_tensors(X, y)


def make_circles(n: int = 400, noise: float = 0.08, factor: float = 0.5, seed: int = 0) -> Dataset:
    """A small circle inside a large one: ``X`` is (n, 2), ``y`` is (n,)."""
    from sklearn.datasets import make_circles as sk_circles

    positive_int("n", n, minimum=2)
    X, y = sk_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return _as_tensors(X, y)


def make_blobs(
    n: int = 400, centers: int = 3, std: float = 1.0, offset: float = 0.0, seed: int = 0
) -> Dataset:
    """Gaussian blobs in 2-D, shifted by ``offset`` in both coordinates."""
    from sklearn.datasets import make_blobs as sk_blobs

    positive_int("n", n, minimum=2)
    positive_int("centers", centers)
    X, y = sk_blobs(n_samples=n, centers=centers, cluster_std=std, random_state=seed)
    return _as_tensors(X + offset, y)


def make_spirals(n: int = 400, classes: int = 2, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Interleaved spiral arms, one per class: ``X`` is (n, 2), ``y`` is (n,)."""
    positive_int("n", n, minimum=2)
    positive_int("classes", classes, minimum=2)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    t = rng.uniform(0.25, 1.0, size=n)  # radius along the arm
    angle = 3.0 * math.pi * t + 2.0 * math.pi * y / classes
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    X += noise * 0.1 * rng.standard_normal(X.shape)
    order = rng.permutation(n)
    return _as_tensors(X[order], y[order])


def make_regression_1d(
    n: int = 200,
    noise: float = 0.1,
    outlier_fraction: float = 0.0,
    outlier_scale: float = 5.0,
    seed: int = 0,
) -> Dataset:
    """Noisy samples of ``sin(2x) + 0.5 x`` on [-3, 3]; ``X`` is (n, 1), ``y`` is (n, 1).

    A fraction ``outlier_fraction`` of targets gets an extra ±``outlier_scale``.
    """
    positive_int("n", n, minimum=2)
    fraction("outlier_fraction", outlier_fraction)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(n, 1))
    y = np.sin(2.0 * x) + 0.5 * x + noise * rng.standard_normal((n, 1))
    num_outliers = round(outlier_fraction * n)
    if num_outliers:
        idx = rng.choice(n, size=num_outliers, replace=False)
        y[idx] += outlier_scale * rng.choice([-1.0, 1.0], size=(num_outliers, 1))
    return _as_tensors(x, y, classification=False)


def load_digits() -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits: ``X`` is (1797, 64) in [0, 16]."""
    from sklearn.datasets import load_digits as sk_digits

    X, y = sk_digits(return_X_y=True)
    return _as_tensors(X, y)


@lru_cache(maxsize=4)
def _mnist1d_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = 10 * math.ceil(n / 10)  # mnist1d makes num_samples // 10 per class
    args.seed = seed
    args.train_split = 1.0  # we split ourselves with split()
    np_state, py_state = np.random.get_state(), random.getstate()  # make_dataset reseeds both
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return data["x"][:n].astype(np.float64), data["y"][:n].astype(np.int64)


def make_mnist1d(n: int = 4000, seed: int = 42) -> Dataset:
    """MNIST-1D generated locally (never downloaded): ``X`` is (n, 40), ``y`` is (n,).

    Uses the ``mnist1d`` package's own generator with its default settings
    (40 time steps, 10 classes in equal numbers, standardized over the set).
    """
    positive_int("n", n, minimum=10)
    X, y = _mnist1d_arrays(n, seed)
    return _as_tensors(X.copy(), y.copy())


def imbalanced_subset(
    X: Tensor, y: Tensor, fractions: Mapping[int, float] | Sequence[float], seed: int = 0
) -> Dataset:
    """Keep a fraction of each class's rows, drawn with ``seed``: an imbalanced copy of ``(X, y)``.

    ``fractions`` maps a class to the fraction of its rows to keep (classes not
    listed keep all their rows), or lists one fraction per class ``0, 1, ...``.
    A class keeps ``round(fraction * count)`` rows, and at least one when its
    fraction is above 0. Rows keep their original order. Lesson
    ``04_losses/04_imbalance_calibration`` uses it.
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if y.ndim != 1 or y.is_floating_point():
        raise ValueError(
            f"y must be a 1-D tensor of class labels, got dtype {y.dtype}, shape {tuple(y.shape)}"
        )
    present = sorted(set(y.tolist()))
    if not isinstance(fractions, Mapping):
        fractions = dict(enumerate(fractions))
    for label, value in fractions.items():
        if label not in present:
            raise ValueError(f"fractions names class {label!r}, which is not in y; classes in y: {present}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"fractions[{label}] must lie in [0, 1], got {value!r}")
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for label in present:
        rows = (y == label).nonzero().flatten()
        value = fractions.get(label, 1.0)
        count = 0 if value == 0 else max(1, round(value * len(rows)))
        order = torch.randperm(len(rows), generator=generator)
        keep.append(rows[order[:count]])
    kept = torch.cat(keep).sort().values
    return X[kept], y[kept]


def standardize(train: Tensor, *others: Tensor, eps: float = 1e-8) -> tuple[Tensor, ...]:
    """Scale features to mean 0, std 1 using statistics of ``train`` only.

    Returns the standardized ``train`` followed by each of ``others``. A feature
    that is constant in ``train`` (std at most ``eps``) is only centred: dividing
    by its tiny std would blow up any other split where it varies (a pixel that
    is blank in every training image but not in every test image).
    """
    if train.ndim != 2 or train.shape[0] < 2:
        raise ValueError(f"train must be a 2-D tensor with at least 2 rows, got shape {tuple(train.shape)}")
    mean = train.mean(dim=0, keepdim=True)
    std = train.std(dim=0, keepdim=True)
    std = torch.where(std > eps, std, torch.ones_like(std))
    for i, other in enumerate(others):
        if other.ndim != 2 or other.shape[1] != train.shape[1]:
            raise ValueError(
                f"others[{i}] must have shape (n, {train.shape[1]}) like train, got {tuple(other.shape)}"
            )
    return tuple((t - mean) / std for t in (train, *others))


def split(
    X: Tensor, y: Tensor, val_fraction: float = 0.2, test_fraction: float = 0.0, seed: int = 0
) -> tuple[Dataset, ...]:
    """Shuffle with ``seed`` and cut into (train, val) or (train, val, test) pairs."""
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError("X is empty: cannot split an empty dataset")
    fraction("val_fraction", val_fraction)
    fraction("test_fraction", test_fraction)
    n = len(X)
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if n - n_val - n_test < 1:
        raise ValueError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training rows"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[: n - n_val - n_test], order[n - n_val - n_test : n - n_test]
    parts = [(X[train_idx], y[train_idx]), (X[val_idx], y[val_idx])]
    if test_fraction > 0:
        test_idx = order[n - n_test :]
        parts.append((X[test_idx], y[test_idx]))
    return tuple(parts)


def flip_labels(
    y: Tensor, fraction_flipped: float, num_classes: int | None = None, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Give a fraction of the labels a different class, drawn uniformly from the others.

    Returns ``(y_noisy, flipped)``: the new labels and a boolean mask of the
    ``round(fraction_flipped * len(y))`` examples that changed. Chapter 6 uses
    it to make label noise whose size is known (lesson ``06_regularization/01``).
    """
    if y.ndim != 1 or y.dtype != torch.long:
        shape = tuple(y.shape)
        raise ValueError(f"y must be a 1-D tensor of class indices (long), got {y.dtype} of shape {shape}")
    fraction("fraction_flipped", fraction_flipped)
    num_classes = int(y.max().item()) + 1 if num_classes is None else num_classes
    positive_int("num_classes", num_classes, minimum=2)
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got {y.min().item()}..{y.max().item()}")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(y), generator=gen)[: round(fraction_flipped * len(y))]
    offset = torch.randint(1, num_classes, (len(idx),), generator=gen)  # never 0: the class changes
    y_noisy = y.clone()
    y_noisy[idx] = (y[idx] + offset) % num_classes
    flipped = torch.zeros(len(y), dtype=torch.bool)
    flipped[idx] = True
    return y_noisy, flipped


class TensorLoader:
    """Mini-batches over in-memory tensors: a faster, re-iterable ``DataLoader``.

    Each pass over the loader is one epoch; with ``shuffle=True`` the order is
    drawn from a generator seeded with ``seed``, so runs are reproducible.
    ``transform(X_batch, y_batch) -> (X_batch, y_batch)``, when given, is applied
    to every batch as it is served (data augmentation on the training loader
    only); it receives the loader's ``generator`` as a keyword argument, so its
    random draws are seeded with the loader.
    """

    def __init__(
        self,
        X: Tensor,
        y: Tensor,
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        transform: Callable[..., Dataset] | None = None,
    ) -> None:
        if len(X) != len(y):
            raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
        if len(X) == 0:
            raise ValueError("X is empty: a loader needs at least one example")
        positive_int("batch_size", batch_size)
        if transform is not None and not callable(transform):
            raise TypeError(
                f"transform must be a function (X, y, generator=...) -> (X, y), got {transform!r}"
            )
        self.transform = transform
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        """Number of batches in one epoch."""
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self) -> Iterator[Dataset]:
        n = len(self.X)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            X, y = self.X[order], self.y[order]
        else:
            X, y = self.X, self.y
        for start in range(0, n, self.batch_size):
            batch = X[start : start + self.batch_size], y[start : start + self.batch_size]
            yield batch if self.transform is None else self.transform(*batch, generator=self.generator)
