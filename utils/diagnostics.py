"""Removable hooks that record per-layer statistics of any ``nn.Module``.

Chapter 1 introduces per-layer activation statistics; Chapter 2 uses them to
compare initializers. Use :class:`LayerMonitor` as a context manager so the
hooks are removed when the block ends::

    with LayerMonitor(model) as monitor:
        loss_fn(model(X), y).backward()
    monitor.table()
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from utils._validate import choice, positive_int

_ACTIVATION_TYPES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Hardtanh,
)  # fmt: skip
_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_SELECTORS = ("activation", "linear", "all")

#: |tanh| above this, or a sigmoid this close to 0 or 1, counts as saturated
#: (the local derivative is then below 0.02).
SATURATION = {nn.Tanh: 0.99, nn.Sigmoid: 0.99}

#: Saturated, for the activations without a ``SATURATION`` entry: the local
#: derivative is below this (the negative tails of ELU, CELU, SELU and Softplus,
#: and the flat parts of Hardtanh and ReLU6, where it is exactly 0).
SATURATED_SLOPE = 0.02

#: Rectifiers: a unit whose input is <= 0 for every example counts as ``dead``.
#: A ReLU (or ReLU6) unit in that state gets no gradient at all; the others
#: still pass the gradient of their negative part and can come back (Chapter 3).
RECTIFIERS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU)


@dataclass
class LayerStats:
    """Statistics of one layer's output on the latest forward/backward pass.

    ``saturated`` is the fraction of outputs where the activation is flat
    (tanh, sigmoid, and the negative tails of ELU, CELU, SELU and Softplus,
    the flat parts of Hardtanh and ReLU6); ``dead`` is the fraction of units
    whose input is <= 0 for every example, for the rectifiers in
    :data:`RECTIFIERS`. Each is ``nan`` where it does not apply.
    ``grad_norm`` is the norm of the loss gradient with respect to the
    layer's output (``nan`` until a backward pass has run).
    """

    name: str
    mean: float
    std: float
    saturated: float = math.nan
    dead: float = math.nan
    grad_norm: float = math.nan
    grad_std: float = math.nan


def _local_slope(module: nn.Module, z: Tensor) -> Tensor | None:
    """The activation's derivative at its input ``z``, where saturation applies, else None."""
    if isinstance(module, nn.ELU):
        return torch.where(z > 0, 1.0, module.alpha * torch.exp(z.clamp(max=0)))
    if isinstance(module, nn.CELU):
        return torch.where(z > 0, 1.0, torch.exp(z.clamp(max=0) / module.alpha))
    if isinstance(module, nn.SELU):  # PyTorch's constants lambda and lambda * alpha
        return torch.where(z > 0, 1.0507009873554805, 1.7580993408473766 * torch.exp(z.clamp(max=0)))
    if isinstance(module, nn.Softplus):
        return torch.sigmoid(module.beta * z)
    if isinstance(module, nn.Hardtanh):  # ReLU6 is a Hardtanh on [0, 6]
        return ((z > module.min_val) & (z < module.max_val)).to(z.dtype)
    return None


def _saturated_fraction(module: nn.Module, out: Tensor, z: Tensor | None = None) -> float:
    if isinstance(module, nn.Tanh):
        return (out.abs() > SATURATION[nn.Tanh]).float().mean().item()
    if isinstance(module, nn.Sigmoid):
        edge = 1.0 - SATURATION[nn.Sigmoid]
        return ((out < edge) | (out > 1.0 - edge)).float().mean().item()
    slope = None if z is None else _local_slope(module, z)
    if slope is None:
        return math.nan
    return (slope.abs() < SATURATED_SLOPE).float().mean().item()


def _dead_fraction(module: nn.Module, out: Tensor, z: Tensor | None = None) -> float:
    """Fraction of units (features or channels) whose input is <= 0 for every example."""
    if not isinstance(module, RECTIFIERS) or out.dim() < 2:
        return math.nan
    z = out if z is None else z  # a ReLU's output is <= 0 exactly where its input is
    other_dims = [0, *range(2, z.dim())]  # every dim but the units (features or channels)
    return (z.amax(dim=other_dims) <= 0).float().mean().item()


class LayerMonitor:
    """Record activation and gradient statistics of selected layers with hooks.

    A *pass* is one forward call of ``model``. On every ``every``-th pass (the
    1st, the ``1 + every``-th, ...) each monitored layer records a
    :class:`LayerStats` for each of its calls: a module reused within one pass
    (weight tying, a recurrent cell) gets one record per call, named ``name``,
    ``name@2``, ``name@3`` in call order. Sampling (``every=10``) keeps the
    cost of monitoring a long training run small.

    Args:
        model: any module.
        layers: ``"activation"`` (default: activation modules, or Linear/Conv
            layers when the model has none), ``"linear"`` (Linear/Conv outputs),
            ``"all"`` (both), or a list of module names from ``named_modules()``.
        optimizer: when given, also record the update:weight ratio
            ``||W_after - W_before|| / ||W_before||`` of every weight, at each
            optimizer step that follows a recorded pass.
        max_values: how many output/gradient values to keep per layer for histograms.
        every: record every ``every``-th pass (1 records them all).
    """

    def __init__(
        self,
        model: nn.Module,
        layers: str | Sequence[str] = "activation",
        optimizer: torch.optim.Optimizer | None = None,
        max_values: int = 20_000,
        every: int = 1,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.max_values = max_values
        self.every = positive_int("every", every)
        self.modules = self._select(model, layers)
        self.records: dict[str, list[LayerStats]] = defaultdict(list)
        self.values: dict[str, Tensor] = {}
        self.grad_values: dict[str, Tensor] = {}
        self.update_ratios: dict[str, list[float]] = defaultdict(list)
        self.passes = 0  # forward calls of the model seen while attached
        self._sampled = True  # whether the current pass is recorded
        self._latest: list[LayerStats] = []  # records of the latest recorded pass, in call order
        self._calls: dict[str, int] = {}  # calls of each module in the current pass
        self._handles: list = []
        self._before: dict[str, Tensor] = {}

    @staticmethod
    def _select(model: nn.Module, layers: str | Sequence[str]) -> dict[str, nn.Module]:
        named = dict(model.named_modules())
        if isinstance(layers, str):
            choice("layers", layers, _SELECTORS)
            acts = {n: m for n, m in named.items() if isinstance(m, _ACTIVATION_TYPES)}
            lins = {n: m for n, m in named.items() if isinstance(m, _LAYER_TYPES)}
            if layers == "all":
                return {n: m for n, m in named.items() if n in acts or n in lins}
            selected = acts if layers == "activation" and acts else lins
        else:
            unknown = [n for n in layers if n not in named]
            if unknown:
                valid = ", ".join(n for n in named if n)
                raise ValueError(f"layers has unknown module names {unknown}; valid names: {valid}")
            selected = {n: named[n] for n in layers}
        if not selected:
            raise ValueError(f"layers={layers!r} selects no module of {type(model).__name__}")
        return selected

    # -- hooks -------------------------------------------------------------
    def _start_pass(self, *args) -> None:
        self.passes += 1
        self._sampled = (self.passes - 1) % self.every == 0
        if self._sampled:
            self._latest = []
            self._calls = {}

    def _forward_hook(self, name: str):
        def hook(module: nn.Module, inputs, out: Tensor) -> None:
            if not self._sampled or not isinstance(out, Tensor):
                return
            call = self._calls[name] = self._calls.get(name, 0) + 1
            label = name if call == 1 else f"{name}@{call}"
            detached = out.detach()
            z = inputs[0].detach() if inputs and isinstance(inputs[0], Tensor) else None
            std, mean = torch.std_mean(detached) if detached.numel() > 1 else (torch.zeros(()), detached)
            record = LayerStats(
                name=label,
                mean=mean.item(),
                std=std.item(),
                saturated=_saturated_fraction(module, detached, z),
                dead=_dead_fraction(module, detached, z),
            )
            self.records[label].append(record)
            self._latest.append(record)
            self.values[label] = detached.flatten()[: self.max_values].clone()
            if out.requires_grad:
                out.register_hook(self._grad_hook(label, record))

        return hook

    def _grad_hook(self, name: str, record: LayerStats):
        def hook(grad: Tensor) -> None:
            record.grad_norm = grad.norm().item()
            record.grad_std = grad.std().item() if grad.numel() > 1 else 0.0
            self.grad_values[name] = grad.detach().flatten()[: self.max_values].clone()

        return hook

    def _weights(self) -> dict[str, Tensor]:
        return {f"{n}.weight": m.weight for n, m in self.model.named_modules() if isinstance(m, _LAYER_TYPES)}

    def _before_step(self, *args) -> None:
        self._before = {n: w.detach().clone() for n, w in self._weights().items()} if self._sampled else {}

    def _after_step(self, *args) -> None:
        for n, w in self._weights().items():
            before = self._before.get(n)
            if before is not None:
                self.update_ratios[n].append(((w.detach() - before).norm() / before.norm()).item())
        self._before = {}

    # -- lifecycle ---------------------------------------------------------
    def attach(self) -> LayerMonitor:
        """Register the hooks (done by ``with``)."""
        if self._handles:
            return self
        self._handles.append(self.model.register_forward_pre_hook(self._start_pass))
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._forward_hook(name)))
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_pre_hook(self._before_step))
            self._handles.append(self.optimizer.register_step_post_hook(self._after_step))
        return self

    def remove(self) -> None:
        """Remove every hook; recorded statistics are kept."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> LayerMonitor:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.remove()

    @property
    def attached(self) -> bool:
        """True while hooks are registered."""
        return bool(self._handles)

    # -- results -----------------------------------------------------------
    def clear(self) -> None:
        """Forget everything recorded so far."""
        self.records.clear()
        self.values.clear()
        self.grad_values.clear()
        self.update_ratios.clear()
        self._latest = []
        self.passes = 0

    def stats(self) -> list[LayerStats]:
        """The :class:`LayerStats` of the latest recorded pass, one per call, in call order."""
        return list(self._latest)

    def series(self, key: str) -> list[float]:
        """One statistic (a :class:`LayerStats` field) of the latest pass, layer by layer."""
        choice("key", key, [f for f in LayerStats.__dataclass_fields__ if f != "name"])
        return [getattr(s, key) for s in self.stats()]

    def table(self, keys: Sequence[str] = ("mean", "std", "saturated", "dead", "grad_norm")) -> None:
        """Print the latest statistics as a fixed-width table (rounded, nbval-stable)."""
        print(f"{'layer':<12}" + "".join(f"{k:>11}" for k in keys))
        for s in self.stats():
            print(f"{s.name:<12}" + "".join(f"{getattr(s, k):>11.4g}" for k in keys))
