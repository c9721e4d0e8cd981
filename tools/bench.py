"""Speed benchmark (``make bench``): prints figures, asserts nothing.

1. Wall and kernel CPU time of each lesson, executed top to bottom in a fresh
   kernel (budget: 60 s each).
2. Each part of ``make test``, timed by running its make target, and the part's
   cost per lesson (target: the nbval passes and the browser suite together at
   most about 18 s per lesson).
3. ``utils.train`` against a bare PyTorch loop on the same model and data
   (target ratio: at most 1.10), and training with ``LayerMonitor`` hooks sampling
   every 10th step against hooks off (target: at most 1.3).

``python tools/bench.py LESSON.ipynb ...`` times only the lessons given;
``--no-parts`` skips part 2, which runs most of ``make test``.
"""

from __future__ import annotations

import argparse
import copy
import resource
import statistics
import subprocess
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

    def hooks(every: int):
        def run_hooks():
            model = copy.deepcopy(base)
            with LayerMonitor(model, layers="all", every=every):
                train(model, TensorLoader(X, y, 64, seed=0), num_epochs=num_epochs, lr=lr)

        return run_hooks

    return interleaved_medians(
        {"bare": run_bare, "utils": run_utils, "hooks_10": hooks(10), "hooks_1": hooks(1)}
    )


#: The parts of ``make test`` in the order it runs them (system-deps is a no-op when installed).
PARTS = ("lint", "unit", "nbval", "nbval-portable", "book-check", "browser-suite")


def time_parts(num_lessons: int) -> None:
    """Run each part of ``make test`` by its make target and print its wall time."""
    print(f"{'part of make test':<24}{'wall (s)':>10}{'per lesson (s)':>16}")
    seconds = {}
    for part in PARTS:
        start = time.perf_counter()
        done = subprocess.run(["make", "-s", part], cwd=ROOT, capture_output=True, text=True)
        seconds[part] = time.perf_counter() - start
        status = "" if done.returncode == 0 else "  FAILED (the time is still shown)"
        print(f"{part:<24}{seconds[part]:>10.1f}{seconds[part] / num_lessons:>16.1f}{status}", flush=True)
    per_lesson = sum(seconds[p] for p in ("nbval", "nbval-portable", "browser-suite")) / num_lessons
    print(f"{'total':<24}{sum(seconds.values()):>10.1f}")
    print(f"nbval + nbval-portable + browser suite per lesson: {per_lesson:.1f} s (target: about 18 s)")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description="time the lessons and the training loop")
    parser.add_argument("lessons", nargs="*", help="lesson notebooks (default: all, then the rest)")
    parser.add_argument("--no-parts", action="store_true", help="do not time the parts of make test")
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
    if not args.no_parts:
        time_parts(len(lessons))
    t = loop_ratios()
    print(
        f"training loop, median of {REPEATS} interleaved runs (MLP 40-128-128-10, 4000 MNIST-1D, 5 epochs):"
    )
    print(f"  {'bare PyTorch loop':<31}{t['bare']:.3f} s")
    ratio = t["utils"] / t["bare"]
    print(f"  {'utils.train':<31}{t['utils']:.3f} s   ratio to bare {ratio:.2f}  (target <= 1.10)")
    for every, target in ((10, "  (target <= 1.3)"), (1, "")):
        hooks = t[f"hooks_{every}"]
        label = f"utils.train + hooks, every={every}"
        ratio = hooks / t["utils"]
        print(f"  {label:<31}{hooks:.3f} s   ratio to hooks off {ratio:.2f}{target}")


if __name__ == "__main__":
    main()
