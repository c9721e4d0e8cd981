"""Repeat an experiment over several seeds and report mean ± std.

Every comparison in the book runs through :func:`run_seeds`, so it shows
its spread; asserts then compare means using that spread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from utils._validate import positive_int
from utils.repro import setup


@dataclass(frozen=True)
class SeedStats:
    """Results of one configuration over seeds.

    ``values`` has one row per seed: shape ``(num_seeds,)`` for a scalar result,
    ``(num_seeds, T)`` for a curve. ``mean`` and ``std`` (sample std, ddof=1)
    are taken over seeds.
    """

    seeds: tuple[int, ...]
    values: np.ndarray

    @property
    def mean(self) -> np.ndarray | float:
        """Mean over seeds (a float for scalar results)."""
        m = self.values.mean(axis=0)
        return float(m) if m.ndim == 0 else m

    @property
    def std(self) -> np.ndarray | float:
        """Sample standard deviation over seeds (0 for a single seed)."""
        if len(self.seeds) < 2:
            s = np.zeros_like(self.values[0], dtype=float)
        else:
            s = self.values.std(axis=0, ddof=1)
        return float(s) if np.ndim(s) == 0 else s

    def format(self, digits: int = 4) -> str:
        """``"mean ± std"`` rounded to ``digits`` decimals (scalar results only)."""
        if self.values.ndim != 1:
            raise ValueError("format() needs a scalar result per seed; this one is a curve")
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"

    def __str__(self) -> str:
        return self.format() if self.values.ndim == 1 else f"SeedStats(curve, {len(self.seeds)} seeds)"


def _seed_list(seeds: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        positive_int("seeds", seeds)
        return tuple(range(seeds))
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must be a count >= 1 or a non-empty list of seeds, got []")
    return seeds


def run_seeds(
    fn: Callable[[int], float | Sequence[float] | dict[str, float]],
    seeds: int | Sequence[int] = 3,
    reseed: bool = True,
) -> SeedStats | dict[str, SeedStats]:
    """Call ``fn(seed)`` for each seed and collect the results.

    Args:
        fn: runs one experiment; returns a number, a curve (1-D sequence), or a
            dict of numbers (then a dict of :class:`SeedStats` is returned).
        seeds: how many seeds (0, 1, ...) or an explicit list.
        reseed: call :func:`utils.setup` with each seed before ``fn`` runs
            (keeping the current thread count).
    """
    seed_list = _seed_list(seeds)
    results = []
    for seed in seed_list:
        if reseed:
            import torch

            setup(seed, num_threads=torch.get_num_threads())
        results.append(fn(seed))
    if isinstance(results[0], dict):
        keys = list(results[0])
        return {k: SeedStats(seed_list, np.asarray([r[k] for r in results], dtype=float)) for k in keys}
    return SeedStats(seed_list, np.asarray(results, dtype=float))
