"""Checkers for Chapter 2, initialization (lessons ``02_initialization/*``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from utils.checks.core import report


def _kaiming_depth_std(num_layers: int, gain: float, negative_slope: float) -> float:
    """std of the ``num_layers``-th Linear output of a bias-free (leaky) ReLU stack fed N(0, 1) inputs."""
    per_layer = gain**2 * (1.0 + negative_slope**2) / 2.0  # variance factor of every layer after the first
    return gain * per_layer ** ((num_layers - 1) / 2)


def check_kaiming_depth_std(
    answer: float, num_layers: int = 16, gain: float = math.sqrt(2.0), negative_slope: float = 0.2
) -> bool:
    """Check a predicted std deep in a leaky-ReLU stack with std gain/sqrt(fan_in) (lesson 02/03_kaiming)."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
    name = f"std after {num_layers} layers"
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return report(False, name, f"expected a number, got {answer!r}.")
    expected = _kaiming_depth_std(num_layers, gain, negative_slope)
    per_layer = gain**2 * (1.0 + negative_slope**2) / 2.0
    detail = f"got {value:.4g}, expected {expected:.4g}."
    if math.isfinite(value) and abs(value - expected) <= 0.015 * expected:
        return report(True, name, f"{detail} Each layer after the first multiplies Var by {per_layer:.4g}.")
    if math.isclose(value, _kaiming_depth_std(num_layers, gain, 0.0), rel_tol=0.015):
        hint = f"leaky ReLU keeps the negative half times {negative_slope}: E[f(z)^2] = (1 + a^2) Var[z] / 2."
    elif math.isclose(value, expected * math.sqrt(per_layer), rel_tol=0.015):
        hint = "layer 1 sees the raw input (variance 1), not an activation: count num_layers - 1 factors."
    else:
        hint = "layer 1 has Var = gain^2; every later layer multiplies it by gain^2 (1 + a^2) / 2."
    return report(False, name, detail, hint)


def _draw_initializer(
    fn: Callable[..., Tensor], shape: tuple[int, ...], name: str, case: str, isolate_rng: bool, **kwargs
) -> Tensor | None:
    """Call a reader's initializer ``fn(shape, **kwargs)``; report and return None if it fails.

    With ``isolate_rng`` the draw uses seed 0 and leaves the reader's random stream untouched.
    """
    try:
        if isolate_rng:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                got = fn(shape, **kwargs)
        else:
            got = fn(shape, **kwargs)
    except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
        report(False, name, f"{case}: it raised {type(exc).__name__}: {exc}")
        return None
    if not isinstance(got, Tensor) or tuple(got.shape) != tuple(shape):
        kind = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
        report(False, name, f"{case}: expected a tensor of shape {shape}, got {kind}.")
        return None
    return got


def _uniform_detail(got: Tensor, reference: Tensor, bound: float, case: str) -> tuple[float, float, str]:
    """Largest |w|, std, and a one-line comparison with the bound and ``nn.init``'s draw."""
    top, std, ref_std = got.abs().max().item(), got.std().item(), reference.std().item()
    detail = f"{case}: largest |w| {top:.4g} (bound {bound:.4g}), std {std:.4g} (nn.init: {ref_std:.4g})."
    return top, std, detail


def _second_moment_gain(activation: torch.nn.Module) -> float:
    """Reference gain 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1), by the trapezoid rule on a fine grid."""
    z = torch.linspace(-12.0, 12.0, 240_001, dtype=torch.float64)
    density = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    with torch.no_grad():
        moment = torch.trapezoid(activation(z) ** 2 * density, z).item()
    return 1.0 / math.sqrt(moment)


def check_gain_estimate(fn: Callable[[torch.nn.Module], float]) -> bool:
    """Check ``fn(activation)`` returns 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1) (lesson 02/03_kaiming)."""
    name = "gain estimate"
    cases = {
        "nn.ReLU()": (torch.nn.ReLU(), math.sqrt(2.0)),
        "nn.LeakyReLU(0.2)": (torch.nn.LeakyReLU(0.2), torch.nn.init.calculate_gain("leaky_relu", 0.2)),
        "nn.Identity()": (torch.nn.Identity(), 1.0),
        "nn.GELU()": (torch.nn.GELU(), _second_moment_gain(torch.nn.GELU())),
    }
    results = []
    for label, (activation, expected) in cases.items():
        try:
            value = float(fn(activation))
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"{label}: it raised {type(exc).__name__}: {exc}")
        if not (math.isfinite(value) and abs(value - expected) <= 0.01 * expected):
            hint = "keep Var[z] = 1 from layer to layer: gain^2 * E[f(z)^2] = 1 for z ~ N(0, 1)."
            if math.isfinite(value) and value > 0 and abs(1 / value - expected) <= 0.01 * expected:
                hint = "you returned sqrt(E[f(z)^2]); the gain is its reciprocal."
            return report(False, name, f"{label}: got {value:.4g}, expected {expected:.4g}.", hint)
        results.append(f"{label} {value:.4f}")
    return report(True, name, "; ".join(results) + " (each within 1%).")


def _transfer_source() -> torch.nn.Module:
    """A small MLP with named layers (``linear1 .. linear3``) standing in for a pretrained model."""
    from utils.models import make_mlp

    with torch.random.fork_rng(devices=[]):  # do not disturb the reader's random stream
        torch.manual_seed(0)
        return make_mlp([8, 6, 4, 3])


def check_transfer_model(fn: Callable[[torch.nn.Module, int], torch.nn.Module], num_classes: int = 4) -> bool:
    """Check ``fn(source, num_classes)``: frozen copy, new trainable head (02/05_pretraining_transfer)."""
    name = "transfer model"
    source = _transfer_source()
    snapshot = {k: v.clone() for k, v in source.state_dict().items()}
    try:
        model = fn(source, num_classes)
    except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
        return report(False, name, f"it raised {type(exc).__name__}: {exc}")
    if not isinstance(model, torch.nn.Module):
        return report(False, name, f"expected a module, got {type(model).__name__}.")
    if not all(p.requires_grad for p in source.parameters()):
        return report(
            False,
            name,
            "the source model was frozen too.",
            "copy.deepcopy(source) first, then freeze the copy.",
        )
    if any(not torch.equal(v, snapshot[k]) for k, v in source.state_dict().items()):
        return report(False, name, "the source model's weights changed.", "work on copy.deepcopy(source).")
    if model is source or any(
        p.data_ptr() == q.data_ptr() for p in model.parameters() for q in source.parameters()
    ):
        return report(
            False, name, "the new model shares weights with the source.", "start from copy.deepcopy(source)."
        )
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if len(linears) != 3:
        hint = "add_module appends after the old head; assign to its name (model.linear3 = ...) instead."
        return report(False, name, f"the model has {len(linears)} Linear layers, the source has 3.", hint)
    X = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    try:
        out = model(X)
    except Exception as exc:  # e.g. a head whose in_features does not match the body
        return report(False, name, f"the forward pass raised {type(exc).__name__}: {exc}")
    if tuple(out.shape) != (5, num_classes):
        return report(False, name, f"output shape {tuple(out.shape)}, expected (5, {num_classes}).",
                       "the new head maps the body's features to num_classes outputs.")  # fmt: skip
    head, body = linears[-1], linears[:-1]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if trainable != {id(p) for p in head.parameters()}:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        return report(False, name, f"trainable parameters: {names}; only the new head's should be.",
                       "call requires_grad_(False) on the copy before you create the new head.")  # fmt: skip
    source_body = [m for m in source.modules() if isinstance(m, torch.nn.Linear)][:-1]
    if not all(
        torch.equal(b.weight, s.weight) and torch.equal(b.bias, s.bias) for b, s in zip(body, source_body)
    ):
        return report(
            False, name, "the body's weights differ from the source's.", "keep the copied body as it is."
        )
    count = sum(p.numel() for p in head.parameters())
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    detail = f"frozen copy of the body ({frozen} parameters), new head ({count} trainable); source untouched."
    return report(True, name, detail)


def check_finetune_optimizer(
    fn: Callable[[torch.nn.Module, float, float], torch.optim.Optimizer],
    lr: float = 1e-2,
    body_lr: float = 1e-3,
) -> bool:
    """Check ``fn(model, lr, body_lr)``: head at ``lr``, body at ``body_lr`` (02/05_pretraining_transfer)."""
    name = "fine-tuning optimizer"
    with torch.random.fork_rng(devices=[]):  # unnamed layers: find the head as the last Linear
        torch.manual_seed(0)
        body = [torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 4), torch.nn.ReLU()]
        model = torch.nn.Sequential(*body).requires_grad_(False).append(torch.nn.Linear(4, 5))
    head = {id(p) for p in model[-1].parameters()}
    try:
        optimizer = fn(model, lr, body_lr)
    except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
        return report(False, name, f"it raised {type(exc).__name__}: {exc}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        return report(False, name, f"expected a torch.optim optimizer, got {type(optimizer).__name__}.")
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    if frozen:
        return report(False, name, f"still frozen: {frozen}.", "call model.requires_grad_(True) to unfreeze.")
    lr_of: dict[int, list[float]] = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            lr_of.setdefault(id(p), []).append(group["lr"])
    for param_name, p in model.named_parameters():
        expected = lr if id(p) in head else body_lr
        got = lr_of.get(id(p), [])
        if len(got) != 1:
            detail = f"{param_name} appears in {len(got)} parameter groups, not exactly one."
            return report(False, name, detail, "one group for the body, one for the head.")
        if not math.isclose(got[0], expected):
            detail = f"{param_name} has lr {got[0]:g}, expected {expected:g}."
            return report(
                False, name, detail, "the head (last Linear) gets lr, every other parameter body_lr."
            )
    return report(True, name, f"every parameter is trainable; body at lr {body_lr:g}, head at lr {lr:g}.")


def check_xavier_uniform(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(shape, gain=...)`` against ``nn.init.xavier_uniform_`` (lesson 02/02_xavier)."""
    name = "Xavier uniform"
    cases = [((100, 300), 1.0), ((300, 100), 1.0), ((64, 32, 3, 3), 5.0 / 3.0), ((32, 16, 5), math.sqrt(2.0))]
    for shape, gain in cases:
        case = f"shape={shape}, gain={gain:.4g}"
        reference = torch.nn.init.xavier_uniform_(
            torch.empty(shape), gain=gain, generator=torch.Generator().manual_seed(0)
        )
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(reference)
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
        got = _draw_initializer(fn, shape, name, case, isolate_rng=True, gain=gain)
        if got is None:
            return False
        top, std, detail = _uniform_detail(got, reference, bound, case)
        ratio = std / (bound / math.sqrt(3.0))  # 1 for U(-bound, bound)
        tol = max(0.05, 4.0 * math.sqrt(0.2 / got.numel()))  # 4 sampling stds of a uniform draw's std
        mean_ok = abs(got.mean().item()) <= 5.0 * bound / math.sqrt(3.0 * got.numel())
        if abs(ratio - 1) <= tol and top <= bound * (1 + 1e-5) and top >= 0.95 * bound and mean_ok:
            continue
        receptive = math.prod(shape[2:])
        if receptive > 1 and math.isclose(ratio, math.sqrt(receptive), rel_tol=tol):
            hint = "for a conv weight, fan_in = shape[1] * kernel size and fan_out = shape[0] * kernel size."
        elif math.isclose(ratio, math.sqrt(0.5), rel_tol=tol):
            hint = "the variance is 2 / (fan_in + fan_out), not 1 / (fan_in + fan_out)."
        elif top > bound * (1 + 1e-5):
            hint = "draw from U(-bound, bound): no value may exceed it."
        else:
            hint = "U(-a, a) has variance a^2 / 3, so a = gain * sqrt(6 / (fan_in + fan_out))."
        return report(False, name, detail, hint)
    return report(True, name, f"bounds and stds match nn.init.xavier_uniform_ in {len(cases)} cases.")


def _orthogonal_up_to_scale(weight: Tensor) -> float:
    """Relative deviation of W W^T (or W^T W, the smaller one) from a multiple of the identity."""
    flat = weight.detach().flatten(1).double()  # (out, in * kernel area)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    scale = gram.diagonal().mean()
    return ((gram - scale * torch.eye(len(gram), dtype=gram.dtype)).abs().max() / scale).item()


def _layer_output_stds(model: torch.nn.Module, X: Tensor) -> dict[str, float]:
    """std of the output of every Linear and Conv2d layer of ``model`` on ``X``."""
    stds: dict[str, float] = {}
    kinds = (torch.nn.Linear, torch.nn.Conv2d)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]
    handles = [m.register_forward_hook(lambda _m, _i, out, n=n: stds.__setitem__(n, out.std().item()))
               for n, m in layers]  # fmt: skip
    try:
        with torch.no_grad():
            model(X)
    finally:
        for handle in handles:
            handle.remove()
    return stds


def check_lsuv(fn: Callable[[torch.nn.Module, Tensor], object], tol: float = 0.1) -> bool:
    """Check ``fn(model, X)`` does LSUV on Linear and Conv2d layers (lesson 02/04_orthogonal_lsuv_selu)."""
    name = "LSUV"
    nn = torch.nn
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 5))
    cnn = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(16 * 8 * 8, 10))  # fmt: skip
    cases = [
        ("MLP", mlp, torch.randn(512, 20, generator=gen)),
        ("CNN", cnn, torch.randn(64, 3, 8, 8, generator=gen)),
    ]
    for label, model, X in cases:
        try:
            fn(model, X)
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"on the {label} it raised {type(exc).__name__}: {exc}")
        stds = _layer_output_stds(model, X)
        for layer_name, std in stds.items():
            layer = model.get_submodule(layer_name)
            where = f"{label} layer {layer_name} ({type(layer).__name__})"
            if abs(std - 1) > tol:
                hint = "rescale every Linear and Conv2d layer, first to last, until its output std is 1."
                return report(False, name, f"{where} has output std {std:.3g}, expected 1 ± {tol}.", hint)
            deviation = _orthogonal_up_to_scale(layer.weight)
            if deviation > 1e-3:
                hint = "start each layer from nn.init.orthogonal_, then only rescale it."
                return report(False, name, f"{where} is not orthogonal up to scale ({deviation:.2g}).", hint)
    detail = "every Linear and Conv2d output has std 1, and every weight is a scaled orthogonal matrix."
    return report(True, name, detail)


def check_jacobian_singular_values(fn: Callable[[torch.nn.Module, Tensor], Tensor]) -> bool:
    """Check ``fn(model, x)`` gives the singular values of d model(x)/dx (lesson 02/04_orthogonal_lsuv)."""
    name = "Jacobian singular values"
    torch.manual_seed(0)
    cases = [
        torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8)).double(),
        torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.ReLU(), torch.nn.Linear(6, 4)).double(),
    ]
    for model in cases:
        x = torch.randn(model[0].in_features, dtype=torch.float64)
        expected = torch.linalg.svdvals(torch.autograd.functional.jacobian(model, x))
        shape = f"a network with {model[0].in_features} inputs and {model[-1].out_features} outputs"
        try:
            got = torch.as_tensor(fn(model, x), dtype=torch.float64).flatten()
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"on {shape} it raised {type(exc).__name__}: {exc}")
        if got.shape != expected.shape:
            hint = "the Jacobian has one row per output and one column per input."
            detail = f"on {shape}: got {got.numel()} values, expected {expected.numel()}."
            return report(False, name, detail, hint)
        if not torch.allclose(got.sort(descending=True).values, expected, rtol=1e-5, atol=1e-8):
            hint = "use torch.autograd.functional.jacobian(model, x), then torch.linalg.svdvals."
            return report(False, name, f"on {shape}: the values differ from the reference.", hint)
    detail = f"matches torch.linalg.svdvals of the autograd Jacobian on {len(cases)} networks."
    return report(True, name, detail)


@torch.no_grad()
def check_signal_preserved(
    model: torch.nn.Module, low: float = 0.7, high: float = 1.4, batch_size: int = 1024, seed: int = 0
) -> bool:
    """Check that every Linear output's std is in [low, high] (lesson 02/01_signal_propagation)."""
    if not 0 < low < high:
        raise ValueError(f"low and high must satisfy 0 < low < high, got low={low!r}, high={high!r}")
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not layers:
        raise ValueError("model has no Linear layer to check")
    stds: dict[str, float] = {}

    def record(name: str):
        return lambda _module, _inputs, out: stds.__setitem__(name, out.std().item())

    handles = [m.register_forward_hook(record(n)) for n, m in layers]
    try:
        X = torch.randn(batch_size, layers[0][1].in_features, generator=torch.Generator().manual_seed(seed))
        model((X - X.mean(dim=0)) / X.std(dim=0))  # a standardized (batch_size, in_features) batch
    finally:
        for handle in handles:
            handle.remove()
    bad = [(n, s) for n, s in stds.items() if not low <= s <= high]
    span = f"layer stds range from {min(stds.values()):.3g} to {max(stds.values()):.3g}"
    band = f"[{low}, {high}]"
    if not bad:
        return report(True, "signal preserved", f"All {len(stds)} layers stay in {band}; {span}.")
    first = f"first {bad[0][0]} (std {bad[0][1]:.3g})"
    detail = f"{len(bad)} of {len(stds)} layers leave {band}, {first}; {span}."
    return report(False, "signal preserved", detail, "a layer multiplies the std by std_w * sqrt(fan_in).")
