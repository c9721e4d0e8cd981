"""Tests for utils.data: generated data sets, standardize, split and TensorLoader."""

from __future__ import annotations

import random

import numpy as np
import pytest
import requests
import torch
from sklearn import datasets as skd
from torch.utils.data import DataLoader, TensorDataset

from utils import data as data_module
from utils.data import (
    TensorLoader,
    flip_labels,
    imbalanced_subset,
    load_digits,
    make_blobs,
    make_circles,
    make_mnist1d,
    make_moons,
    make_regression_1d,
    make_spirals,
    split,
    standardize,
)

# -- generated data sets ---------------------------------------------------

CLASSIFICATION_SETS = {
    "moons": (make_moons, 2),
    "circles": (make_circles, 2),
    "blobs": (make_blobs, 3),
    "spirals": (make_spirals, 2),
}


@pytest.mark.parametrize("name", CLASSIFICATION_SETS)
def test_2d_sets_shapes_dtypes_and_labels(name):
    make, num_classes = CLASSIFICATION_SETS[name]
    X, y = make(n=150, seed=1)
    assert X.shape == (150, 2) and X.dtype == torch.float32
    assert y.shape == (150,) and y.dtype == torch.long
    assert set(y.tolist()) == set(range(num_classes))
    assert torch.isfinite(X).all()


@pytest.mark.parametrize("name", CLASSIFICATION_SETS)
def test_2d_sets_are_deterministic_by_seed(name):
    make, _ = CLASSIFICATION_SETS[name]
    X1, y1 = make(n=100, seed=3)
    X2, y2 = make(n=100, seed=3)
    X3, _ = make(n=100, seed=4)
    torch.testing.assert_close(X1, X2, rtol=0, atol=0)
    assert torch.equal(y1, y2)
    assert not torch.equal(X1, X3)


@pytest.mark.parametrize("name", CLASSIFICATION_SETS)
def test_2d_sets_reject_too_few_examples(name):
    make, _ = CLASSIFICATION_SETS[name]
    with pytest.raises(ValueError, match=r"n must be an integer >= 2"):
        make(n=1)


def test_moons_and_circles_match_scikit_learn():
    X, y = make_moons(n=120, noise=0.1, seed=5)
    X_ref, y_ref = skd.make_moons(n_samples=120, noise=0.1, random_state=5)
    np.testing.assert_allclose(X.numpy(), X_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    X, y = make_circles(n=120, noise=0.05, factor=0.3, seed=5)
    X_ref, y_ref = skd.make_circles(n_samples=120, noise=0.05, factor=0.3, random_state=5)
    np.testing.assert_allclose(X.numpy(), X_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), y_ref)


def test_blobs_offset_shifts_every_point():
    X0, y0 = make_blobs(n=200, centers=4, seed=2)
    X5, y5 = make_blobs(n=200, centers=4, offset=5.0, seed=2)
    torch.testing.assert_close(X5 - X0, torch.full_like(X0, 5.0))
    assert torch.equal(y0, y5)
    assert set(y0.tolist()) == {0, 1, 2, 3}


def test_blobs_rejects_bad_centers():
    with pytest.raises(ValueError, match=r"centers must be an integer >= 1"):
        make_blobs(centers=0)


def test_spirals_classes_are_balanced_and_bounded():
    X, y = make_spirals(n=300, classes=3, noise=0.0, seed=0)
    assert torch.bincount(y).tolist() == [100, 100, 100]
    radius = X.norm(dim=1)
    assert radius.min() >= 0.25 - 1e-6 and radius.max() <= 1.0 + 1e-6


def test_spirals_rejects_one_class():
    with pytest.raises(ValueError, match=r"classes must be an integer >= 2"):
        make_spirals(classes=1)


def test_regression_1d_shapes_range_and_determinism():
    X, y = make_regression_1d(n=80, noise=0.0, seed=1)
    assert X.shape == (80, 1) and y.shape == (80, 1)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    assert X.min() >= -3.0 and X.max() <= 3.0
    torch.testing.assert_close(y, torch.sin(2 * X) + 0.5 * X)  # noise=0: the exact function
    X2, y2 = make_regression_1d(n=80, noise=0.0, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)


def test_regression_1d_outliers_count_and_size():
    X0, y0 = make_regression_1d(n=200, seed=3)
    X1, y1 = make_regression_1d(n=200, outlier_fraction=0.1, outlier_scale=4.0, seed=3)
    assert torch.equal(X0, X1)  # outliers only move targets
    shift = (y1 - y0).flatten()
    moved = shift.abs() > 1e-6
    assert moved.sum().item() == 20
    torch.testing.assert_close(shift[moved].abs(), torch.full((20,), 4.0))
    assert (shift[moved] > 0).any() and (shift[moved] < 0).any()


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_regression_1d_rejects_bad_outlier_fraction(bad):
    with pytest.raises(ValueError, match=r"outlier_fraction must lie in \[0, 1\)"):
        make_regression_1d(outlier_fraction=bad)


def test_load_digits_shapes_and_range():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.long
    assert X.min() == 0 and X.max() == 16
    assert set(y.tolist()) == set(range(10))


# -- MNIST-1D ---------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Make any download attempt fail, and start from an empty cache."""

    def refuse(*args, **kwargs):
        raise RuntimeError("network access attempted in a test")

    monkeypatch.setattr(requests, "get", refuse)
    data_module._mnist1d_arrays.cache_clear()
    yield
    data_module._mnist1d_arrays.cache_clear()


def test_mnist1d_is_generated_without_network(no_network):
    X, y = make_mnist1d(n=200)
    assert X.shape == (200, 40) and X.dtype == torch.float32
    assert y.shape == (200,) and y.dtype == torch.long
    assert torch.bincount(y, minlength=10).tolist() == [20] * 10
    assert torch.isfinite(X).all()


def test_mnist1d_matches_the_mnist1d_generator(no_network):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = 200, 3, 1.0
    ref = make_dataset(args)
    X, y = make_mnist1d(n=200, seed=3)
    np.testing.assert_allclose(X.numpy(), ref["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), ref["y"])


def test_mnist1d_is_deterministic_by_seed(no_network):
    X1, y1 = make_mnist1d(n=100, seed=1)
    data_module._mnist1d_arrays.cache_clear()  # regenerate rather than hit the cache
    X2, y2 = make_mnist1d(n=100, seed=1)
    X3, _ = make_mnist1d(n=100, seed=2)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert not torch.equal(X1, X3)


def test_mnist1d_returns_n_rows_for_any_n(no_network):
    X, y = make_mnist1d(n=205, seed=0)
    assert X.shape == (205, 40) and y.shape == (205,)
    X_more, _ = make_mnist1d(n=210, seed=0)
    assert torch.equal(X, X_more[:205])


def test_mnist1d_leaves_global_rngs_alone(no_network):
    random.seed(5)
    np.random.seed(5)
    expected = random.random(), np.random.rand()
    random.seed(5)
    np.random.seed(5)
    make_mnist1d(n=100, seed=9)
    assert (random.random(), np.random.rand()) == expected


def test_mnist1d_returns_copies(no_network):
    X, _ = make_mnist1d(n=100, seed=0)
    X.zero_()
    X_again, _ = make_mnist1d(n=100, seed=0)
    assert X_again.abs().sum() > 0


def test_mnist1d_rejects_too_few_examples():
    with pytest.raises(ValueError, match=r"n must be an integer >= 10"):
        make_mnist1d(n=5)


# -- standardize -------------------------------------------------------------


def test_standardize_train_has_mean_0_std_1_and_others_use_train_stats():
    gen = torch.Generator().manual_seed(0)
    train = 3.0 + 2.0 * torch.randn(500, 4, generator=gen)
    val = torch.randn(50, 4, generator=gen)
    test = torch.randn(20, 4, generator=gen)
    train_s, val_s, test_s = standardize(train, val, test)
    torch.testing.assert_close(train_s.mean(dim=0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(train_s.std(dim=0), torch.ones(4), atol=1e-5, rtol=0)
    mean, std = train.mean(dim=0), train.std(dim=0)
    torch.testing.assert_close(val_s, (val - mean) / std)
    torch.testing.assert_close(test_s, (test - mean) / std)


def test_standardize_returns_a_tuple_and_handles_constant_columns():
    train = torch.tensor([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    (out,) = standardize(train)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 1], torch.zeros(3))  # constant column: 0, not nan


def test_a_feature_constant_in_train_is_only_centred_in_other_splits():
    # a pixel blank in every training image but not in a test image (as in small digits splits)
    train = torch.tensor([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0]])
    test = torch.tensor([[3.0, 16.0]])
    _, out = standardize(train, test)
    torch.testing.assert_close(out, torch.tensor([[0.0, 16.0]]))  # not 16 / eps = 1.6e9


@pytest.mark.parametrize("train", [torch.zeros(5), torch.zeros(1, 3)])
def test_standardize_rejects_bad_train(train):
    with pytest.raises(ValueError, match=r"train must be a 2-D tensor with at least 2 rows"):
        standardize(train)


def test_standardize_rejects_mismatched_others():
    with pytest.raises(ValueError, match=r"others\[0\] must have shape \(n, 3\)"):
        standardize(torch.randn(10, 3), torch.randn(4, 2))


# -- split -------------------------------------------------------------------


def _indexed(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """X holds each row's index so we can trace rows; y = 10 * index keeps pairs checkable."""
    X = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2)
    return X, 10 * torch.arange(n)


def test_split_sizes_disjoint_and_complete():
    X, y = _indexed(100)
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = split(X, y, val_fraction=0.2, test_fraction=0.1, seed=0)
    assert (len(X_tr), len(X_va), len(X_te)) == (70, 20, 10)
    ids = [part[:, 0].long() for part in (X_tr, X_va, X_te)]
    assert sorted(torch.cat(ids).tolist()) == list(range(100))  # disjoint and covering
    for X_part, y_part in ((X_tr, y_tr), (X_va, y_va), (X_te, y_te)):
        assert torch.equal(y_part, 10 * X_part[:, 0].long())  # rows stay paired


def test_split_without_test_returns_two_parts():
    X, y = _indexed(50)
    parts = split(X, y, val_fraction=0.3)
    assert len(parts) == 2
    assert (len(parts[0][0]), len(parts[1][0])) == (35, 15)


def test_split_is_reproducible_and_shuffles():
    X, y = _indexed(60)
    a = split(X, y, seed=4)
    b = split(X, y, seed=4)
    c = split(X, y, seed=5)
    assert torch.equal(a[0][0], b[0][0]) and torch.equal(a[1][1], b[1][1])
    assert not torch.equal(a[0][0], c[0][0])
    assert not torch.equal(a[0][0][:, 0], torch.arange(48, dtype=torch.float32))  # shuffled
    expected_order = torch.randperm(60, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[0][0][:, 0].long(), expected_order[:48])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"val_fraction": -0.1}, r"val_fraction must lie in \[0, 1\)"),
        ({"val_fraction": 1.0}, r"val_fraction must lie in \[0, 1\)"),
        ({"test_fraction": 1.5}, r"test_fraction must lie in \[0, 1\)"),
        ({"val_fraction": 0.6, "test_fraction": 0.4}, r"val_fraction \+ test_fraction .* no training rows"),
    ],
)
def test_split_rejects_bad_fractions(kwargs, pattern):
    X, y = _indexed(10)
    with pytest.raises(ValueError, match=pattern):
        split(X, y, **kwargs)


def test_split_rejects_empty_and_mismatched_data():
    with pytest.raises(ValueError, match=r"X is empty"):
        split(torch.zeros(0, 2), torch.zeros(0))
    with pytest.raises(ValueError, match=r"X and y must have the same length, got 3 and 2"):
        split(torch.zeros(3, 2), torch.zeros(2))


# -- TensorLoader ------------------------------------------------------------


def test_loader_covers_every_example_once_per_epoch():
    X, y = _indexed(103)
    loader = TensorLoader(X, y, batch_size=10, shuffle=True, seed=0)
    assert len(loader) == 11
    for _ in range(2):  # re-iterable: each pass is one epoch
        batches = list(loader)
        assert len(batches) == len(loader)
        assert [len(xb) for xb, _ in batches] == [10] * 10 + [3]
        seen = torch.cat([xb[:, 0] for xb, _ in batches]).long()
        assert sorted(seen.tolist()) == list(range(103))
        for xb, yb in batches:
            assert torch.equal(yb, 10 * xb[:, 0].long())


def test_loader_shuffling_is_reproducible_by_seed():
    X, y = _indexed(40)

    def orders(seed: int) -> list[list[int]]:
        loader = TensorLoader(X, y, batch_size=40, seed=seed)
        return [next(iter(loader))[1].tolist() for _ in range(2)]

    first = orders(1)
    assert first == orders(1)
    assert first != orders(2)
    assert first[0] != first[1]  # a new order every epoch


def test_loader_matches_torch_dataloader_without_shuffle():
    X, y = _indexed(25)
    ours = list(TensorLoader(X, y, batch_size=8, shuffle=False))
    ref = list(DataLoader(TensorDataset(X, y), batch_size=8, shuffle=False))
    assert len(ours) == len(ref) == 4
    for (xb, yb), (xr, yr) in zip(ours, ref, strict=True):
        assert torch.equal(xb, xr) and torch.equal(yb, yr)


def test_loader_rejects_empty_mismatched_and_bad_batch_size():
    with pytest.raises(ValueError, match=r"X is empty"):
        TensorLoader(torch.zeros(0, 2), torch.zeros(0))
    with pytest.raises(ValueError, match=r"X and y must have the same length, got 4 and 3"):
        TensorLoader(torch.zeros(4, 2), torch.zeros(3))
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0"):
        TensorLoader(torch.zeros(4, 2), torch.zeros(4), batch_size=0)


# -- imbalanced_subset ------------------------------------------------------


def test_imbalanced_subset_keeps_the_requested_share_of_each_class():
    X, y = load_digits()
    counts = torch.bincount(y, minlength=10)
    Xi, yi = imbalanced_subset(X, y, {3: 0.1, 7: 0.0, 9: 0.5}, seed=0)
    kept = torch.bincount(yi, minlength=10)
    assert kept[3].item() == round(0.1 * counts[3].item())
    assert kept[7].item() == 0 and kept[9].item() == round(0.5 * counts[9].item())
    unlisted = [c for c in range(10) if c not in (3, 7, 9)]
    assert torch.equal(kept[unlisted], counts[unlisted])  # unlisted classes keep every row
    rows = {(*row.tolist(), label) for row, label in zip(X, y.tolist())}
    assert all((*row.tolist(), label) in rows for row, label in zip(Xi, yi.tolist()))


def test_imbalanced_subset_is_seeded_keeps_order_and_accepts_a_list():
    X = torch.arange(200, dtype=torch.float32)[:, None]
    y = torch.arange(200) % 4
    first = imbalanced_subset(X, y, [1.0, 0.5, 0.2, 0.02], seed=3)
    again = imbalanced_subset(X, y, {0: 1.0, 1: 0.5, 2: 0.2, 3: 0.02}, seed=3)
    other = imbalanced_subset(X, y, [1.0, 0.5, 0.2, 0.02], seed=4)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])
    assert torch.bincount(first[1]).tolist() == [50, 25, 10, 1]  # 0.02 * 50 rounds to 1
    assert (first[0].flatten().diff() > 0).all()  # original order kept


def test_imbalanced_subset_keeps_one_row_of_a_small_positive_fraction():
    X, y = torch.zeros(20, 2), torch.tensor([0] * 10 + [1] * 10)
    _, yi = imbalanced_subset(X, y, {1: 0.01})
    assert torch.bincount(yi).tolist() == [10, 1]


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "half"])
def test_imbalanced_subset_rejects_a_fraction_outside_0_1(bad):
    X, y = load_digits()
    with pytest.raises(ValueError, match=r"fractions\[2\] must lie in \[0, 1\]"):
        imbalanced_subset(X, y, {2: bad})


def test_imbalanced_subset_rejects_unknown_classes_and_bad_labels():
    X, y = load_digits()
    with pytest.raises(ValueError, match=r"class 10, which is not in y; classes in y: \[0, 1, 2"):
        imbalanced_subset(X, y, {10: 0.5})
    with pytest.raises(ValueError, match="not in y"):
        imbalanced_subset(X, y, [0.5] * 11)  # one fraction too many
    with pytest.raises(ValueError, match="1-D tensor of class labels"):
        imbalanced_subset(X, y.float(), {1: 0.5})
    with pytest.raises(ValueError, match="same length"):
        imbalanced_subset(X[:10], y, {1: 0.5})


# -- flip_labels ------------------------------------------------------------------


def test_flip_labels_changes_exactly_the_fraction_to_other_classes():
    y = torch.arange(1000) % 10
    y_noisy, flipped = flip_labels(y, 0.3, seed=1)
    assert flipped.sum().item() == 300 and flipped.dtype == torch.bool
    assert torch.equal(y_noisy[~flipped], y[~flipped])
    assert (y_noisy[flipped] != y[flipped]).all()
    counts = torch.bincount(y_noisy[flipped], minlength=10)  # new classes spread over all ten
    assert counts.min() > 10
    again, _ = flip_labels(y, 0.3, seed=1)
    assert torch.equal(again, y_noisy) and not torch.equal(flip_labels(y, 0.3, seed=2)[0], y_noisy)
    assert torch.equal(flip_labels(y, 0.0)[0], y)


def test_flip_labels_rejects_bad_arguments():
    y = torch.tensor([0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"fraction_flipped must lie in \[0, 1\), got 1.0"):
        flip_labels(y, 1.0)
    with pytest.raises(ValueError, match=r"y must be a 1-D tensor of class indices"):
        flip_labels(y.double(), 0.5)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        flip_labels(y, 0.5, num_classes=2)
    with pytest.raises(ValueError, match=r"num_classes must be an integer >= 2, got 1"):
        flip_labels(torch.zeros(3, dtype=torch.long), 0.5, num_classes=1)
