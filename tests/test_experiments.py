"""Tests for utils.experiments: run_seeds and SeedStats against NumPy."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

from utils.experiments import SeedStats, run_seeds
from utils.repro import THREADS_ENV


@pytest.fixture(autouse=True)
def _no_thread_override(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)


def test_scalar_results_mean_and_std_match_numpy():
    values = {0: 1.5, 1: 2.0, 2: 4.25, 3: -1.0}
    stats = run_seeds(lambda seed: values[seed], seeds=4)
    assert isinstance(stats, SeedStats)
    assert stats.seeds == (0, 1, 2, 3)
    expected = np.array(list(values.values()))
    np.testing.assert_array_equal(stats.values, expected)
    assert isinstance(stats.mean, float) and isinstance(stats.std, float)
    assert stats.mean == pytest.approx(np.mean(expected))
    assert stats.std == pytest.approx(np.std(expected, ddof=1))


def test_seeds_given_as_list_are_passed_to_fn():
    calls = []
    stats = run_seeds(lambda seed: calls.append(seed) or float(seed), seeds=[10, 3, 7])
    assert calls == [10, 3, 7]
    assert stats.seeds == (10, 3, 7)
    np.testing.assert_array_equal(stats.values, [10.0, 3.0, 7.0])


def test_dict_results_give_a_dict_of_stats():
    out = run_seeds(lambda seed: {"loss": 1.0 + seed, "acc": 0.5 * seed}, seeds=3)
    assert isinstance(out, dict) and list(out) == ["loss", "acc"]
    assert out["loss"].mean == pytest.approx(2.0)
    assert out["acc"].std == pytest.approx(np.std([0.0, 0.5, 1.0], ddof=1))
    assert all(s.seeds == (0, 1, 2) for s in out.values())


def test_curve_results_have_one_row_per_seed():
    curves = {0: [3.0, 2.0, 1.0], 1: [4.0, 2.5, 0.5], 2: [3.5, 1.5, 0.0]}
    stats = run_seeds(lambda seed: curves[seed], seeds=3)
    assert stats.values.shape == (3, 3)
    np.testing.assert_allclose(stats.mean, np.mean(list(curves.values()), axis=0))
    np.testing.assert_allclose(stats.std, np.std(list(curves.values()), axis=0, ddof=1))
    assert str(stats) == "SeedStats(curve, 3 seeds)"
    with pytest.raises(ValueError, match=r"format\(\) needs a scalar result per seed"):
        stats.format()


def test_reseeding_makes_results_reproducible():
    def noisy(seed: int) -> float:
        return torch.rand(()).item() + float(np.random.rand()) + random.random()

    first = run_seeds(noisy, seeds=3)
    second = run_seeds(noisy, seeds=3)
    np.testing.assert_array_equal(first.values, second.values)
    assert len(set(first.values.tolist())) == 3  # different seeds, different draws
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    expected = noisy(5)
    assert run_seeds(noisy, seeds=[5]).values[0] == expected  # reseeding == seeding all three RNGs


def test_without_reseeding_the_global_stream_continues():
    torch.manual_seed(123)
    expected = torch.rand(2).tolist()
    torch.manual_seed(123)
    stats = run_seeds(lambda seed: torch.rand(()).item(), seeds=2, reseed=False)
    np.testing.assert_allclose(stats.values, expected)


def test_reseeding_keeps_the_thread_count():
    torch.set_num_threads(2)
    run_seeds(lambda seed: 0.0, seeds=2)
    assert torch.get_num_threads() == 2


def test_single_seed_has_zero_std():
    stats = run_seeds(lambda seed: 0.75, seeds=1)
    assert stats.mean == 0.75 and stats.std == 0.0
    curve = run_seeds(lambda seed: [1.0, 2.0], seeds=1)
    np.testing.assert_array_equal(curve.std, [0.0, 0.0])


def test_format_and_str_of_scalar_stats():
    stats = SeedStats(seeds=(0, 1), values=np.array([1.0, 2.0]))
    assert stats.format() == f"1.5000 ± {np.std([1.0, 2.0], ddof=1):.4f}"
    assert stats.format(digits=2) == "1.50 ± 0.71"
    assert str(stats) == stats.format()


def test_seed_stats_is_frozen():
    stats = SeedStats(seeds=(0,), values=np.array([1.0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.seeds = (1,)


@pytest.mark.parametrize("seeds", [0, -2])
def test_rejects_seed_count_below_one(seeds):
    with pytest.raises(ValueError, match=r"seeds must be an integer >= 1"):
        run_seeds(lambda seed: 0.0, seeds)


def test_rejects_empty_seed_list():
    with pytest.raises(
        ValueError, match=r"seeds must be a count >= 1 or a non-empty list of seeds, got \[\]"
    ):
        run_seeds(lambda seed: 0.0, [])


def test_rejects_negative_seed_in_list_when_reseeding():
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer, got -1"):
        run_seeds(lambda seed: 0.0, [0, -1])
