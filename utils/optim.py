"""Optimizers and schedules by name, update rules checked against ``torch.optim``, the LR range test.

Chapter 5 teaches what is here:

- :func:`compare_with_torch` runs an update rule written from scratch and a
  ``torch.optim`` optimizer side by side (lessons ``05_optimizers/02``-``04``).
- :func:`make_optimizer` and :func:`make_scheduler` build the optimizers and
  learning-rate schedules of the chapter by name, with checked arguments
  (lessons ``05_optimizers/04_adaptive`` and ``05_schedules``).
- :func:`lr_range_test` is Smith's learning-rate range test; it leaves the
  model and the optimizer as it found them (lesson ``05_optimizers/05_schedules``).
- :func:`top_hessian_eigenvalue` estimates the largest curvature of a loss, which
  sets the largest stable learning rate (lesson ``05_optimizers/01_gradient_descent``).

An *update rule* is a function ``rule(w, grad, state) -> new_w``: it gets one
parameter tensor ``w``, its gradient, and a dict ``state`` that belongs to this
parameter (empty at the first step, kept between steps), and returns the new
value of the parameter.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from utils._validate import choice, fraction, positive_int, positive_number

UpdateRule = Callable[[Tensor, Tensor, dict], Tensor]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]

#: Optimizer names that :func:`make_optimizer` accepts (the colours of ``utils.style``).
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

#: Schedule names that :func:`make_scheduler` accepts.
SCHEDULES = ("constant", "step", "exponential", "cosine", "cosine_restarts", "one_cycle")


def _non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def make_optimizer(
    name: str,
    params: Iterable[nn.Parameter],
    lr: float,
    *,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer by name (see :data:`OPTIMIZERS`), with checked arguments.

    ``"momentum"`` and ``"nesterov"`` are ``SGD`` with ``momentum`` (the others
    ignore it); ``betas`` apply to ``"adam"`` and ``"adamw"``. Every other
    setting is PyTorch's default. Taught in lesson ``05_optimizers/04_adaptive``.
    """
    choice("name", name, OPTIMIZERS)
    positive_number("lr", lr)
    fraction("momentum", momentum)
    _non_negative("weight_decay", weight_decay)
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    fraction("betas[0]", betas[0])
    fraction("betas[1]", betas[1])
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        nesterov = name == "nesterov"
        if momentum == 0:
            raise ValueError(f"name={name!r} needs momentum in (0, 1), got 0; use name='sgd' for none")
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)


def make_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    *,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    gamma: float = 0.1,
    step_size: int | None = None,
    restarts: int = 3,
    pct_start: float = 0.3,
) -> torch.optim.lr_scheduler.LRScheduler:
    """A learning-rate schedule by name (see :data:`SCHEDULES`) over ``total_steps`` scheduler steps.

    ``total_steps`` counts calls of ``scheduler.step()``: epochs when it is
    stepped per epoch, batches when per batch (``train(..., scheduler_step=)``).
    The peak learning rate is the optimizer's ``lr``.

    - ``"constant"``: the peak all along.
    - ``"step"``: multiplied by ``gamma`` every ``step_size`` steps (default: a third of the run).
    - ``"exponential"``: multiplied by a constant factor per step, reaching ``gamma`` times
      the peak at the end.
    - ``"cosine"``: a half cosine from the peak down to ``min_lr``.
    - ``"cosine_restarts"``: ``restarts`` equal cosine cycles (SGDR with ``T_mult=1``).
    - ``"one_cycle"``: ``OneCycleLR`` rising over ``pct_start`` of the run (it has its own warmup),
      with ``cycle_momentum=False``: only the learning rate changes (PyTorch's default would also
      cycle the momentum, and switch it on for plain SGD).

    ``warmup_steps > 0`` puts a linear warmup from ``lr / warmup_steps`` to ``lr``
    before any schedule but ``"one_cycle"``; the schedule then runs over the
    remaining steps. Taught in lesson ``05_optimizers/05_schedules``.
    """
    choice("name", name, SCHEDULES)
    positive_int("total_steps", total_steps)
    positive_int("warmup_steps", warmup_steps, minimum=0)
    _non_negative("min_lr", min_lr)
    positive_number("gamma", gamma)
    positive_int("restarts", restarts)
    fraction("pct_start", pct_start, allow_zero=False)
    if warmup_steps >= total_steps:
        raise ValueError(f"warmup_steps must be < total_steps={total_steps}, got {warmup_steps}")
    if name == "one_cycle":
        if warmup_steps:
            raise ValueError("name='one_cycle' has its own warmup (pct_start); use warmup_steps=0")
        peak = optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peak, total_steps=total_steps, pct_start=pct_start, cycle_momentum=False
        )
    steps = total_steps - warmup_steps  # the schedule proper runs after the warmup
    lr_sched = torch.optim.lr_scheduler
    if name == "constant":
        main = lr_sched.LambdaLR(optimizer, lambda _: 1.0)
    elif name == "step":
        size = max(1, steps // 3) if step_size is None else positive_int("step_size", step_size)
        main = lr_sched.StepLR(optimizer, step_size=size, gamma=gamma)
    elif name == "exponential":
        main = lr_sched.ExponentialLR(optimizer, gamma=gamma ** (1.0 / steps))
    elif name == "cosine":
        main = lr_sched.CosineAnnealingLR(optimizer, T_max=steps, eta_min=min_lr)
    else:  # cosine_restarts
        main = lr_sched.CosineAnnealingWarmRestarts(optimizer, T_0=max(1, steps // restarts), eta_min=min_lr)
    if not warmup_steps:
        return main
    warmup = lr_sched.LinearLR(optimizer, start_factor=1.0 / warmup_steps, total_iters=warmup_steps)
    return lr_sched.SequentialLR(optimizer, [warmup, main], milestones=[warmup_steps])


@dataclass(frozen=True)
class Comparison:
    """An update rule against a ``torch.optim`` optimizer, step by step.

    ``max_diff[t]`` is the largest absolute difference between any parameter of
    the two runs after step ``t + 1``; ``scale[t]`` the largest absolute value of
    any parameter of the reference run then. ``error`` holds the message when
    the rule raised or returned something unusable (at step ``len(max_diff) + 1``).
    """

    max_diff: list[float]
    scale: list[float]
    error: str | None = None

    def first_difference(self, rtol: float = 1e-7, atol: float = 1e-10) -> int | None:
        """The first step (from 1) where the runs differ by more than ``atol + rtol * scale``, else None."""
        for t, (diff, scale) in enumerate(zip(self.max_diff, self.scale), start=1):
            if not diff <= atol + rtol * scale:  # also catches nan
                return t
        if self.error is not None:
            return len(self.max_diff) + 1
        return None


def _problem(seed: int, dtype: torch.dtype) -> tuple[nn.Module, Tensor, Tensor]:
    """A small tanh MLP and 3-class data, both seeded: the test bench of :func:`compare_with_torch`."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(96, 6, generator=gen, dtype=dtype)  # (96, 6)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).long() + (X[:, 3] > 1).long()  # 3 classes
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 3)).to(dtype)
    return model, X, y


def compare_with_torch(
    rule: UpdateRule,
    make_reference: OptimizerFactory,
    steps: int = 100,
    *,
    batch_size: int = 16,
    seed: int = 0,
    grad_scale: float = 1.0,
    model: nn.Module | None = None,
    data: tuple[Tensor, Tensor] | None = None,
) -> Comparison:
    """Run ``rule`` and ``make_reference(params)`` side by side from the same weights for ``steps`` steps.

    Each run computes its gradients on its own weights, on the same sequence of
    seeded mini-batches, so a difference at one step carries over to the next.
    Without ``model`` and ``data`` a small float64 tanh MLP on 3-class data is
    used. ``grad_scale`` multiplies the loss (to test tiny or huge gradients).
    Taught in lesson ``05_optimizers/02_minibatch_sgd``.
    """
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    positive_number("grad_scale", grad_scale)
    if not callable(rule):
        raise TypeError(f"rule must be a function rule(w, grad, state) -> new w, got {rule!r}")
    if (model is None) != (data is None):
        raise ValueError("pass both model and data, or neither (then a small float64 MLP is used)")
    if model is None:
        model, X, y = _problem(seed, torch.float64)
    else:
        X, y = data
    mine, ref = copy.deepcopy(model), copy.deepcopy(model)
    optimizer = make_reference(ref.parameters())
    states = [{} for _ in mine.parameters()]
    loss_fn = nn.CrossEntropyLoss() if y.dtype == torch.long else nn.MSELoss()
    gen = torch.Generator().manual_seed(seed)
    max_diff, scale = [], []
    for _ in range(steps):
        idx = torch.randint(len(X), (batch_size,), generator=gen)
        for net in (mine, ref):
            net.zero_grad(set_to_none=True)
            (grad_scale * loss_fn(net(X[idx]), y[idx])).backward()
        optimizer.step()
        with torch.no_grad():
            for p, state in zip(mine.parameters(), states):
                try:
                    new = rule(p.detach().clone(), p.grad.detach().clone(), state)
                except Exception as exc:  # a reader's rule may fail in any way: report it
                    return Comparison(max_diff, scale, f"the rule raised {type(exc).__name__}: {exc}")
                if not isinstance(new, Tensor) or new.shape != p.shape:
                    got = tuple(new.shape) if isinstance(new, Tensor) else type(new).__name__
                    return Comparison(max_diff, scale, f"the rule must return a tensor of shape "
                                      f"{tuple(p.shape)}, got {got}")  # fmt: skip
                p.copy_(new)
            pairs = list(zip(mine.parameters(), ref.parameters()))
            max_diff.append(max((a - b).abs().max().item() for a, b in pairs))
            scale.append(max(b.abs().max().item() for _, b in pairs))
    return Comparison(max_diff, scale)


def top_hessian_eigenvalue(
    loss_fn: Callable[[], Tensor], params: Iterable[Tensor], iters: int = 100, seed: int = 0
) -> float:
    """The Hessian eigenvalue of largest magnitude of ``loss_fn()`` in ``params``, by power iteration.

    Each iteration is one Hessian-vector product (a second backward pass), so the
    Hessian is never formed. ``loss_fn`` recomputes the loss (e.g. on a fixed
    batch); the start vector is drawn with ``seed``. Gradient descent on that loss
    is stable at these weights only for ``lr < 2 / top_hessian_eigenvalue(...)``.
    Taught in lesson ``05_optimizers/01_gradient_descent``.
    """
    positive_int("iters", iters)
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("params is empty: pass the parameters the loss depends on, e.g. model.parameters()")
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
    estimate = math.nan
    for _ in range(iters):
        norm = torch.sqrt(sum((x * x).sum() for x in v))
        v = [x / norm for x in v]  # unit length
        Hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        estimate = sum((a * b).sum() for a, b in zip(v, Hv)).item()  # v^T H v
        v = [h.detach() for h in Hv]
    return estimate


@dataclass(frozen=True)
class RangeTest:
    """The result of :func:`lr_range_test`.

    ``lrs`` and ``losses`` are the learning rate and training loss of every step
    run; ``smoothed`` is the bias-corrected moving average of ``losses``. The
    test stops early once the smoothed loss exceeds ``diverge_factor`` times its
    minimum (or becomes non-finite).
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]

    @property
    def min_loss_lr(self) -> float:
        """The learning rate at which the smoothed loss was lowest."""
        if not self.smoothed:
            raise ValueError("the range test recorded no finite loss: lower start_lr")
        best = min(range(len(self.smoothed)), key=self.smoothed.__getitem__)
        return self.lrs[best]

    @property
    def steepest_lr(self) -> float:
        """The learning rate at which the smoothed loss fell fastest per unit of log10(lr)."""
        end = min(range(len(self.smoothed)), key=self.smoothed.__getitem__)
        if end < 2:
            return self.lrs[0]
        slopes = [
            (self.smoothed[i + 1] - self.smoothed[i - 1]) / math.log10(self.lrs[i + 1] / self.lrs[i - 1])
            for i in range(1, end)
        ]
        return self.lrs[1 + min(range(len(slopes)), key=slopes.__getitem__)]

    @property
    def suggested_lr(self) -> float:
        """A common rule of thumb: a tenth of :attr:`min_loss_lr`."""
        return self.min_loss_lr / 10


def lr_range_test(
    model: nn.Module,
    train_data: Iterable[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer | None = None,
    *,
    loss_fn: nn.Module | None = None,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.05,
    diverge_factor: float = 4.0,
) -> RangeTest:
    """Smith's learning-rate range test: train with a learning rate rising geometrically, record the loss.

    Runs up to ``num_steps`` optimizer steps on batches of ``train_data`` (cycled
    if it has fewer batches), with the learning rate of every parameter group
    going from ``start_lr`` to ``end_lr`` on a log scale. Afterwards the model's
    weights, the optimizer's state and its learning rates are restored, so the
    real training starts from the same point. ``optimizer`` defaults to plain
    SGD. Taught in lesson ``05_optimizers/05_schedules``.
    """
    positive_number("start_lr", start_lr)
    positive_number("end_lr", end_lr)
    if end_lr <= start_lr:
        raise ValueError(f"end_lr must be larger than start_lr={start_lr}, got {end_lr}")
    positive_int("num_steps", num_steps, minimum=3)
    fraction("smoothing", smoothing, allow_zero=False)
    positive_number("diverge_factor", diverge_factor)
    if diverge_factor <= 1:
        raise ValueError(f"diverge_factor must be > 1, got {diverge_factor}")
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=start_lr)
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    lrs, losses, smoothed = [], [], []
    average = 0.0
    ratio = (end_lr / start_lr) ** (1.0 / (num_steps - 1))
    try:
        model.train()
        step = 0
        while step < num_steps:
            produced = False
            for X, y in train_data:
                produced = True
                lr = start_lr * ratio**step
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss = loss_fn(model(X), y)
                value = loss.item()
                if not math.isfinite(value):
                    return RangeTest(lrs, losses, smoothed)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                average = (1 - smoothing) * average + smoothing * value
                lrs.append(lr)
                losses.append(value)
                smoothed.append(average / (1 - (1 - smoothing) ** (step + 1)))  # bias-corrected
                step += 1
                if step >= num_steps or smoothed[-1] > diverge_factor * min(smoothed):
                    return RangeTest(lrs, losses, smoothed)
            if not produced:
                raise ValueError("train_data is empty: it produced no batches")
        return RangeTest(lrs, losses, smoothed)
    finally:  # leave the model and the optimizer as they were
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        model.train(was_training)
