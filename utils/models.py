"""An MLP builder with activations and initializers chosen by name.

Chapter 1 builds layers by hand and then with :func:`make_mlp`; Chapter 2
derives each initializer in :data:`INITIALIZERS` and checks it against
``torch.nn.init``.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

from utils._validate import choice, fraction

#: Activation name -> module class (Chapter 3 teaches each one).
ACTIVATIONS: dict[str, Callable[..., nn.Module]] = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}

#: The options each activation accepts, named as in its ``torch.nn`` class
#: (``init`` is PReLU's starting slope); an activation not listed takes none.
ACTIVATION_OPTIONS: dict[str, tuple[str, ...]] = {
    "leaky_relu": ("negative_slope",),
    "prelu": ("init",),
    "elu": ("alpha",),
    "gelu": ("approximate",),
    "softplus": ("beta", "threshold"),
}

NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}

_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a Linear or Conv weight: in/out features times kernel area."""
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _zeros(w: torch.Tensor) -> None:
    nn.init.zeros_(w)


def _constant(w: torch.Tensor, value: float = 0.5) -> None:
    nn.init.constant_(w, value)


def _normal(w: torch.Tensor, std: float = 0.01) -> None:
    nn.init.normal_(w, 0.0, std)


def _uniform(w: torch.Tensor, a: float = 0.05) -> None:
    nn.init.uniform_(w, -a, a)


def _xavier_uniform(w: torch.Tensor, gain: float = 1.0) -> None:
    nn.init.xavier_uniform_(w, gain=gain)


def _xavier_normal(w: torch.Tensor, gain: float = 1.0) -> None:
    nn.init.xavier_normal_(w, gain=gain)


def _kaiming_uniform(
    w: torch.Tensor, mode: str = "fan_in", nonlinearity: str = "relu", a: float = 0.0
) -> None:
    choice("mode", mode, ("fan_in", "fan_out"))
    nn.init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)


def _kaiming_normal(
    w: torch.Tensor, mode: str = "fan_in", nonlinearity: str = "relu", a: float = 0.0
) -> None:
    choice("mode", mode, ("fan_in", "fan_out"))
    nn.init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity)


def _lecun_normal(w: torch.Tensor) -> None:
    fan_in, _ = _fans(w)
    nn.init.normal_(w, 0.0, 1.0 / math.sqrt(fan_in))


def _lecun_uniform(w: torch.Tensor) -> None:
    fan_in, _ = _fans(w)
    bound = math.sqrt(3.0 / fan_in)  # U(-b, b) has variance b^2 / 3 = 1 / fan_in
    nn.init.uniform_(w, -bound, bound)


def _orthogonal(w: torch.Tensor, gain: float = 1.0) -> None:
    nn.init.orthogonal_(w, gain=gain)


#: Initializer name -> function filling a weight tensor in place. ``"default"``
#: keeps PyTorch's own ``reset_parameters`` (weights and biases).
INITIALIZERS: dict[str, Callable[..., None] | None] = {
    "default": None,
    "zeros": _zeros,
    "constant": _constant,
    "normal": _normal,
    "uniform": _uniform,
    "xavier_uniform": _xavier_uniform,
    "xavier_normal": _xavier_normal,
    "kaiming_uniform": _kaiming_uniform,
    "kaiming_normal": _kaiming_normal,
    "lecun_normal": _lecun_normal,
    "lecun_uniform": _lecun_uniform,
    "orthogonal": _orthogonal,
}


def _check_kwargs(init: str, kwargs: dict) -> None:
    fn = INITIALIZERS[init]
    allowed = [] if fn is None else list(fn.__code__.co_varnames[1 : fn.__code__.co_argcount])
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise ValueError(f"init={init!r} got unknown option(s) {unknown}; valid options: {valid}")


def init_weights(model: nn.Module, init: str = "default", bias: float = 0.0, **kwargs) -> nn.Module:
    """Initialize every Linear/Conv layer of ``model`` in place and return it.

    Args:
        model: any module; its Linear and Conv layers are initialized.
        init: a key of :data:`INITIALIZERS`.
        bias: value for the biases (ignored by ``"default"``, which keeps PyTorch's).
        **kwargs: options of the initializer, e.g. ``std=0.1`` for ``"normal"``.
    """
    choice("init", init, INITIALIZERS)
    _check_kwargs(init, kwargs)
    fn = INITIALIZERS[init]
    for module in model.modules():
        if not isinstance(module, _LAYER_TYPES):
            continue
        if fn is None:
            module.reset_parameters()
            continue
        with torch.no_grad():
            fn(module.weight, **kwargs)
            if module.bias is not None:
                module.bias.fill_(bias)
    return model


def _check_activation_options(name: str, options: dict) -> None:
    """Raise unless every option applies to activation ``name`` and has a valid value."""
    allowed = ACTIVATION_OPTIONS.get(name, ())
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise ValueError(f"activation={name!r} got unknown option(s) {unknown}; valid options: {valid}")
    for key, value in options.items():
        if key == "approximate":
            choice("approximate", value, ("none", "tanh"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{key} must be a finite number, got {value!r}")
        elif key in ("alpha", "beta") and value <= 0:
            raise ValueError(f"{key} must be a number > 0, got {value!r}")


def make_activation(name: str, **options) -> nn.Module:
    """Return a fresh activation module by name (see :data:`ACTIVATIONS`).

    ``options`` are the activation's own parameters, named as in ``torch.nn``
    (see :data:`ACTIVATION_OPTIONS`): ``negative_slope`` for leaky_relu,
    ``init`` (the starting slope) for prelu, ``alpha`` for elu,
    ``approximate`` for gelu, ``beta`` and ``threshold`` for softplus. An
    option that does not apply raises a ``ValueError`` naming the valid ones.
    """
    choice("activation", name, ACTIVATIONS)
    _check_activation_options(name, options)
    return ACTIVATIONS[name](**options)


def make_mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    init: str = "default",
    bias: bool = True,
    norm: str | None = None,
    negative_slope: float | None = None,
    activation_options: dict | None = None,
    dropout: float = 0.0,
    **init_kwargs,
) -> nn.Sequential:
    """Build ``Linear -> [norm] -> activation [-> dropout]`` blocks ending in a plain Linear.

    Layers are named ``linear1, norm1, act1, drop1, linear2, ...`` so diagnostics
    can report them by name. ``sizes=[2, 16, 16, 1]`` gives two hidden layers of 16.

    Args:
        sizes: input size, hidden sizes..., output size (at least two numbers).
        activation: a key of :data:`ACTIVATIONS`.
        init: a key of :data:`INITIALIZERS`; ``init_kwargs`` are passed to it.
        bias: whether the Linear layers have a bias.
        norm: ``None``, ``"batch"`` or ``"layer"`` normalization after each hidden Linear.
        negative_slope: slope for ``leaky_relu`` (PyTorch's 0.01 when ``None``).
        activation_options: the activation's own parameters, passed to
            :func:`make_activation` for every hidden layer, e.g. ``{"alpha": 0.5}``
            for ``"elu"`` or ``{"init": 0.1}`` for ``"prelu"`` (one learnable
            slope per layer).
        dropout: when > 0, an ``nn.Dropout(dropout)`` after each hidden
            activation (lesson ``06_regularization/03_dropout``); in [0, 1).
    """
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
        raise ValueError(
            f"sizes must list at least two positive integers (input, ..., output), got {sizes!r}"
        )
    choice("activation", activation, ACTIVATIONS)
    options = dict(activation_options or {})
    if negative_slope is not None:
        options["negative_slope"] = negative_slope
    _check_activation_options(activation, options)
    choice("init", init, INITIALIZERS)
    if norm is not None:
        choice("norm", norm, NORMS)
    fraction("dropout", dropout)
    _check_kwargs(init, init_kwargs)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    num_layers = len(sizes) - 1
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        layers[f"linear{i}"] = nn.Linear(fan_in, fan_out, bias=bias)
        if i < num_layers:
            if norm is not None:
                layers[f"norm{i}"] = NORMS[norm](fan_out)
            layers[f"act{i}"] = make_activation(activation, **options)
            if dropout > 0:
                layers[f"drop{i}"] = nn.Dropout(dropout)
    model = nn.Sequential(layers)
    return init_weights(model, init, **init_kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Total number of scalar parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
