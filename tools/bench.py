"""Speed benchmark (``make bench``): prints figures, asserts nothing.

1. Wall time of each lesson, executed top to bottom in a fresh kernel (budget: 60 s).
2. ``utils.train`` against a bare PyTorch loop on the same model and data
   (target ratio: at most 1.10).
3. Training with ``LayerMonitor`` hooks attached against without.
"""

from __future__ import annotations

import argparse
import copy
import resource
import statistics
import sys
import time
from pathlib import Path

import nbformat
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from regen import run  # noqa: E402

from utils import LayerMonitor, TensorLoader, make_mlp, make_mnist1d, setup, train  # noqa: E402

BUDGET_S = 60.0
REPEATS = 9


def time_lesson(path: Path) -> tuple[float, float]:
    """Wall time and kernel CPU time of one lesson, run as ``make regen`` runs it (not written).

    The CPU time (user + system of the kernel process) hardly depends on what else the
    machine is doing, so it estimates the wall time on an idle machine.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run(nbformat.read(path, as_version=4), path.parent)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


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


def interleaved_medians(fns: dict, rounds: int = REPEATS) -> dict[str, float]:
    """Median wall time of each function, running them in turn so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm up
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def loop_ratios() -> dict[str, float]:
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

    return interleaved_medians({"bare": run_bare, "utils": run_utils, "hooks": run_hooks})


def main() -> None:
    parser = argparse.ArgumentParser(description="time the lessons and the training loop")
    parser.add_argument("lessons", nargs="*", help="lesson notebooks (default: all, then the loop)")
    args = parser.parse_args()
    lessons = [Path(p).resolve() for p in args.lessons] or sorted(
        p for p in (ROOT / "lessons").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    print(f"{'lesson':<55}{'wall (s)':>10}{'CPU (s)':>10}  budget {BUDGET_S:.0f} s")
    total = total_cpu = 0.0
    for path in lessons:
        seconds, cpu = time_lesson(path)
        total += seconds
        total_cpu += cpu
        flag = "" if seconds < BUDGET_S else "  OVER BUDGET"
        print(f"{path.relative_to(ROOT).as_posix():<55}{seconds:>10.1f}{cpu:>10.1f}{flag}", flush=True)
    print(f"{'total':<55}{total:>10.1f}{total_cpu:>10.1f}")
    print()
    if args.lessons:
        return
    t = loop_ratios()
    print(
        f"training loop, median of {REPEATS} interleaved runs (MLP 40-128-128-10, 4000 MNIST-1D, 5 epochs):"
    )
    print(f"  bare PyTorch loop        {t['bare']:.3f} s")
    ratio = t["utils"] / t["bare"]
    print(f"  utils.train              {t['utils']:.3f} s   ratio to bare {ratio:.2f}  (target <= 1.10)")
    print(f"  utils.train + hooks on   {t['hooks']:.3f} s   ratio to hooks off {t['hooks'] / t['utils']:.2f}")


if __name__ == "__main__":
    main()
