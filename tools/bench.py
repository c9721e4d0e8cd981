"""Speed benchmark (``make bench``): prints figures, asserts nothing.

1. Wall time of each lesson, executed top to bottom in a fresh kernel (budget: 60 s).
2. ``utils.train`` against a bare PyTorch loop on the same model and data
   (target ratio: at most 1.10).
3. Training with ``LayerMonitor`` hooks attached against without.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils import LayerMonitor, TensorLoader, make_mlp, make_mnist1d, setup, train  # noqa: E402

BUDGET_S = 60.0
REPEATS = 5


def time_lesson(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return time.perf_counter() - start


def bare_loop(model: nn.Module, loader: TensorLoader, num_epochs: int, lr: float) -> None:
    """The loop a reader would write: forward, loss, record, backward, step."""
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        for X, y in loader:
            loss = loss_fn(model(X), y)
            losses.append(loss.item())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def median_time(fn) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loop_ratios() -> tuple[float, float, float, float]:
    setup(0)
    X, y = make_mnist1d(n=4000)
    base = make_mlp([40, 128, 128, 10], "relu")
    num_epochs, lr = 5, 0.05

    def run_utils():
        train(copy.deepcopy(base), TensorLoader(X, y, 64, seed=0), num_epochs=num_epochs, lr=lr)

    def run_bare():
        bare_loop(copy.deepcopy(base), TensorLoader(X, y, 64, seed=0), num_epochs, lr)

    def run_hooks():
        model = copy.deepcopy(base)
        with LayerMonitor(model, layers="all"):
            train(model, TensorLoader(X, y, 64, seed=0), num_epochs=num_epochs, lr=lr)

    run_bare(), run_utils()  # warm up
    t_bare, t_utils, t_hooks = median_time(run_bare), median_time(run_utils), median_time(run_hooks)
    return t_bare, t_utils, t_utils / t_bare, t_hooks / t_utils


def main() -> None:
    lessons = sorted(p for p in (ROOT / "lessons").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    print(f"{'lesson':<55}{'time (s)':>10}  budget {BUDGET_S:.0f} s")
    total = 0.0
    for path in lessons:
        seconds = time_lesson(path)
        total += seconds
        flag = "" if seconds < BUDGET_S else "  OVER BUDGET"
        print(f"{path.relative_to(ROOT).as_posix():<55}{seconds:>10.1f}{flag}")
    print(f"{'total':<55}{total:>10.1f}")
    print()
    t_bare, t_utils, ratio, hooks = loop_ratios()
    print(f"training loop, median of {REPEATS} runs (MLP 40-128-128-10, 4000 MNIST-1D examples, 5 epochs):")
    print(f"  bare PyTorch loop        {t_bare:.3f} s")
    print(f"  utils.train              {t_utils:.3f} s   ratio {ratio:.2f}  (target <= 1.10)")
    print(f"  utils.train + hooks on   ratio to hooks off {hooks:.2f}")


if __name__ == "__main__":
    main()
