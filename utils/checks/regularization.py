"""Checkers for Chapter 6, regularization and normalization (lessons ``06_regularization/*``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from utils.checks.core import finite_number, report
from utils.regularization import NORM_TYPES
from utils.train import STOP_METRICS, evaluate


def _stop_rule(
    curve: Sequence[float], patience: int, min_delta: float = 0.0, higher_is_better: bool = False
) -> tuple[int, int]:
    """(best_epoch, stop_epoch), 1-based, of early stopping with ``patience`` on ``curve``."""
    best, best_epoch, waited = math.nan, 0, 0
    for epoch, value in enumerate(curve, start=1):
        gain = (value - best) if higher_is_better else (best - value)
        if epoch == 1 or gain > min_delta:
            best, best_epoch, waited = value, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, len(curve)


def _check_curve(curve: Sequence[float], patience: int) -> None:
    if len(curve) == 0:
        raise ValueError("curve is empty: give one validation value per epoch")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be an integer >= 1, got {patience!r}")


def check_early_stopping(
    stop_epoch: int, best_epoch: int, curve: Sequence[float], patience: int, higher_is_better: bool = False
) -> bool:
    """Check a predicted stopping epoch and restored epoch for ``curve`` (lesson 06/01_early_stopping)."""
    _check_curve(curve, patience)
    best, stop = _stop_rule(curve, patience, higher_is_better=higher_is_better)
    name = f"early stopping with patience {patience}"
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (stop_epoch, best_epoch)):
        detail = f"expected two epoch numbers, got stop {stop_epoch!r} and best {best_epoch!r}."
        return report(False, name, detail, "count epochs from 1, as utils.train does.")
    if stop_epoch == stop and best_epoch == best:
        return report(
            True, name, f"the best epoch is {best}; {patience} epochs without improvement end at {stop}."
        )
    detail = f"got stop {stop_epoch!r}, best {best_epoch!r}; expected stop {stop}, best {best}."
    if best_epoch == best and stop_epoch == best + patience - 1:
        hint = "training stops after the patience-th epoch without improvement: best + patience."
    elif best_epoch != best:
        hint = "the restored weights are those of the epoch with the best value (the first one, on a tie)."
    else:
        hint = "count the epochs after the best one; a later improvement resets the count."
    return report(False, name, detail, hint)


def check_restored_best(model, history, val_data, metric: str = "val_acc") -> bool:
    """Check that ``model`` holds the weights of the best ``metric`` epoch of ``history`` (lesson 06/01)."""
    if metric not in STOP_METRICS:
        raise ValueError(f"metric={metric!r} is not valid; choose one of: {', '.join(sorted(STOP_METRICS))}")
    name = f"restored the best epoch by {metric}"
    curve = getattr(history, metric)
    if history.best_epoch is None or not curve:
        return report(
            False,
            name,
            "this run did not use early stopping (history.best_epoch is None).",
            "pass patience=10.",
        )
    higher = STOP_METRICS[metric]
    best_value = max(curve) if higher else min(curve)
    expected = curve.index(best_value) + 1
    loss, acc = evaluate(model, val_data)
    now = acc if metric == "val_acc" else loss
    if history.best_epoch != expected:
        return report(
            False,
            name,
            f"the run kept epoch {history.best_epoch}, but the best {metric} was at epoch {expected}.",
            f'early stopping watched another metric: pass metric="{metric}".',
        )
    if not math.isclose(now, best_value, rel_tol=1e-9, abs_tol=1e-12):
        return report(
            False,
            name,
            f"the model scores {now:.4f} on the validation data, the best epoch scored {best_value:.4f}.",
            "keep restore_best=True so the best weights are loaded at the end.",
        )
    return report(True, name, f"epoch {expected} of {len(curve)}, {metric} {best_value:.4f}.")


_STOP_CASES = [
    ([0.9, 0.7, 0.62, 0.64, 0.6, 0.61, 0.63, 0.62, 0.65, 0.66, 0.7], 3, 0.0),
    ([1.0, 0.9, 0.8, 0.7, 0.6], 2, 0.0),  # never stops early
    ([1.0, 0.99999, 0.99998, 0.99997, 0.99996], 2, 1e-3),  # tiny gains do not count
    ([0.5, 0.5, 0.5, 0.4], 2, 0.0),  # a tie is not an improvement
    ([0.5, 0.45, 0.44, 0.3], 2, 0.02),  # 0.44 is not 0.02 below 0.45; 0.3 still comes in time
    ([0.7], 1, 0.0),
]


def check_stop_rule(fn: Callable[[Sequence[float], int, float], tuple[int, int]]) -> bool:
    """Check ``fn(curve, patience, min_delta) -> (best_epoch, stop_epoch)`` on loss curves (lesson 06/01)."""
    name = "stopping rule with min_delta"
    for curve, patience, min_delta in _STOP_CASES:
        expected = _stop_rule(curve, patience, min_delta)
        case = f"curve {curve}, patience {patience}, min_delta {min_delta}"
        try:
            got = fn(list(curve), patience, min_delta)
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"{case}: it raised {type(exc).__name__}: {exc}")
        if not isinstance(got, tuple) or len(got) != 2:
            return report(False, name, f"{case}: expected a pair (best_epoch, stop_epoch), got {got!r}.")
        if tuple(got) != expected:
            hint = "epochs count from 1; an improvement must beat the best by more than min_delta."
            return report(False, name, f"{case}: got {tuple(got)}, expected {expected}.", hint)
    return report(
        True, name, f"matches the reference on {len(_STOP_CASES)} curves, ties and tiny gains included."
    )


def check_shrinkage(ridge: float, lasso: float, w_ols: float = 2.0, lam: float = 0.25) -> bool:
    """Check ridge and lasso weights for orthonormal features and least-squares ``w_ols`` (lesson 06/02)."""
    if not lam > 0:
        raise ValueError(f"lam must be a number > 0, got {lam!r}")
    name = "ridge and lasso shrinkage"
    expected_ridge = w_ols / (1 + lam)
    expected_lasso = math.copysign(max(abs(w_ols) - lam, 0.0), w_ols) + 0.0  # no -0.0
    got_ridge, got_lasso = finite_number(ridge), finite_number(lasso)
    if got_ridge is None or got_lasso is None:
        return report(False, name, f"expected two numbers, got ridge={ridge!r}, lasso={lasso!r}.")
    ok_ridge = math.isclose(got_ridge, expected_ridge, rel_tol=1e-3, abs_tol=1e-9)
    ok_lasso = math.isclose(got_lasso, expected_lasso, rel_tol=1e-3, abs_tol=1e-9)
    detail = f"ridge {got_ridge:.4g} (expected {expected_ridge:.4g}), "
    detail += f"lasso {got_lasso:.4g} (expected {expected_lasso:.4g})."
    if ok_ridge and ok_lasso:
        return report(True, name, detail + " Ridge divides by 1 + lambda; the lasso subtracts lambda.")
    if not ok_ridge and math.isclose(got_ridge, w_ols - lam, rel_tol=1e-3):
        hint = "ridge does not subtract: (1 + lambda) w = w_ols, so it divides."
    elif not ok_lasso and math.isclose(got_lasso, w_ols / (1 + lam), rel_tol=1e-3):
        hint = "the lasso does not divide: minimize (w - w_ols)^2 / 2 + lambda |w|, a soft threshold."
    else:
        hint = "write each objective for one weight, with X^T X / n = 1, and set its (sub)gradient to zero."
    return report(False, name, detail, hint)


def check_decay_groups(optimizer, model) -> bool:
    """Check that ``optimizer`` decays exactly the weight matrices of ``model`` (lesson 06/02)."""
    name = "weight-decay groups"
    decay_of = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    wrong_on, wrong_off, missing = [], [], []
    for module_name, module in model.named_modules():
        is_norm = isinstance(module, NORM_TYPES)
        for param_name, param in module.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            if not param.requires_grad:
                continue
            if id(param) not in decay_of:
                missing.append(full)
                continue
            should_decay = param.ndim >= 2 and not is_norm
            if should_decay and not decay_of[id(param)] > 0:
                wrong_off.append(full)
            elif not should_decay and decay_of[id(param)] != 0:
                wrong_on.append(full)
    if missing:
        return report(False, name, f"the optimizer does not train {missing[:3]}.", "give it every parameter.")
    if wrong_on:
        detail = f"{len(wrong_on)} bias or normalization parameters decay, e.g. {wrong_on[:2]}."
        return report(
            False, name, detail, "use weight_decay_groups(model, lam) instead of model.parameters()."
        )
    if wrong_off:
        return report(
            False, name, f"weight matrices without decay: {wrong_off[:3]}.", "set weight_decay > 0."
        )
    count = sum(1 for v in decay_of.values() if v > 0)
    return report(True, name, f"{count} weight matrices decay; biases and normalization parameters do not.")


def check_elastic_net_prox(fn: Callable) -> bool:
    """Check ``fn(z, t, alpha, beta)``, the elastic net's proximal step, on random inputs (lesson 06/02)."""
    name = "elastic-net proximal step"
    gen = torch.Generator().manual_seed(0)
    for t, alpha, beta in [(0.5, 0.4, 0.0), (1.0, 0.3, 2.0), (0.1, 2.0, 5.0), (2.0, 0.0, 1.0)]:
        z = 2 * torch.randn(200, generator=gen, dtype=torch.float64)
        expected = torch.sign(z) * torch.clamp(z.abs() - t * alpha, min=0.0) / (1 + t * beta)
        case = f"t={t}, alpha={alpha}, beta={beta}"
        try:
            got = fn(z.clone(), t, alpha, beta)
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"{case}: it raised {type(exc).__name__}: {exc}")
        if not isinstance(got, torch.Tensor) or got.shape != z.shape:
            return report(
                False, name, f"{case}: expected a tensor of shape {tuple(z.shape)}, got {got!r:.60}."
            )
        if not torch.allclose(got.to(z.dtype), expected, atol=1e-9):
            zeros_ok = torch.equal(got == 0, expected == 0)
            hint = (
                "divide by 1 + t * beta after the threshold." if zeros_ok else "threshold at t * alpha first."
            )
            return report(False, name, f"{case}: values differ from the exact minimizer.", hint)
    return report(True, name, "matches the exact minimizer in 4 cases, exact zeros included.")


def check_eval_deterministic(
    accuracy_fn: Callable, model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor
) -> bool:
    """Check that ``accuracy_fn(model, X, y)`` evaluates in eval mode and restores the mode (lesson 06/03)."""
    name = "accuracy in eval mode"
    model.train()
    expected = evaluate(model, (X, y))[1]
    try:
        first, second = accuracy_fn(model, X, y), accuracy_fn(model, X, y)
    except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
        return report(False, name, f"it raised {type(exc).__name__}: {exc}")
    first, second = finite_number(first), finite_number(second)
    if first is None or second is None:
        return report(False, name, "expected the accuracy as a number.")
    if first != second:
        detail = f"two calls gave {first:.4f} and {second:.4f}: dropout is still on."
        return report(False, name, detail, "call model.eval() before predicting.")
    if not math.isclose(first, expected, abs_tol=1e-9):
        return report(False, name, f"got {first:.4f}, utils.evaluate gives {expected:.4f}.")
    if not model.training:
        detail = f"accuracy {first:.4f}, but the model was left in eval mode."
        return report(False, name, detail, "restore the mode it had: model.train(was_training).")
    return report(True, name, f"{first:.4f} on every call, equal to utils.evaluate; the mode is restored.")


#: SELU's negative saturation value, -lambda * alpha (Klambauer et al., 2017).
SELU_SATURATION = -1.7580993408473766


def check_alpha_dropout(fn: Callable) -> bool:
    """Check ``fn(x, p)`` against the statistics of ``nn.AlphaDropout`` on N(0, 1) inputs (lesson 06/03)."""
    name = "AlphaDropout"
    for p in (0.1, 0.3):
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(400_000, generator=gen, dtype=torch.float64)
        a = ((1 - p) * (1 + p * SELU_SATURATION**2)) ** -0.5
        b = -a * SELU_SATURATION * p
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                out = fn(x.clone(), p)
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"p={p}: it raised {type(exc).__name__}: {exc}")
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return report(
                False, name, f"p={p}: expected a tensor of shape {tuple(x.shape)}, got {type(out).__name__}."
            )
        out = out.to(torch.float64)
        dropped = torch.isclose(out, torch.full_like(out, a * SELU_SATURATION + b), rtol=0, atol=1e-9)
        kept_ok = torch.allclose(out[~dropped], a * x[~dropped] + b, atol=1e-9)
        frac, mean, var = dropped.double().mean().item(), out.mean().item(), out.var().item()
        detail = f"p={p}: dropped {frac:.3f}, mean {mean:+.3f}, variance {var:.3f}"
        if abs(frac - p) > 0.01:
            hint = "set each value to alpha' with probability p, then apply a * x + b."
            return report(False, name, detail + f" (expected {p} dropped).", hint)
        if not kept_ok:
            return report(
                False, name, detail + "; kept values are not a * x + b.", "apply the affine map to all."
            )
        if abs(mean) > 0.01 or abs(var - 1) > 0.02:
            return report(False, name, detail + " (expected mean 0, variance 1).", "check a and b.")
    return report(
        True,
        name,
        "drops a fraction p to a * alpha' + b and keeps mean 0 and variance 1, as nn.AlphaDropout.",
    )


@torch.no_grad()
def check_batch_independent(model: torch.nn.Module, batch_size: int = 8, seed: int = 0) -> bool:
    """Check that ``model``'s train-mode output for an example does not depend on its batch (lesson 06/04)."""
    name = "independent of the batch"
    first = next((m for m in model.modules() if isinstance(m, torch.nn.Linear)), None)
    if first is None:
        raise ValueError("model has no Linear layer to read the input size from")
    if not any(isinstance(m, NORM_TYPES) for m in model.modules()):
        return report(False, name, "the model has no normalization layer.", 'keep one: norm="layer".')
    gen = torch.Generator().manual_seed(seed)
    dtype = first.weight.dtype
    X = torch.randn(batch_size, first.in_features, generator=gen, dtype=dtype)
    was_training = model.training
    model.train()
    try:
        together = model(X)
        alone = torch.cat([model(X[i : i + 1]) for i in range(batch_size)])
        mixed = model(torch.cat([X[:1], 5 + 3 * X[1:]]))[:1]  # other batchmates
    except (ValueError, RuntimeError) as exc:  # batch norm refuses a batch of one in train mode
        return report(False, name, f"a batch of one example fails in train mode: {exc}", 'use norm="layer".')
    finally:
        model.train(was_training)
    gap = max((together - alone).abs().max().item(), (mixed - together[:1]).abs().max().item())
    if gap > 1e-6:
        detail = f"an example's output changes by up to {gap:.3g} with its batchmates."
        return report(False, name, detail, "batch norm uses batch statistics; layer norm does not.")
    return report(
        True, name, "each example's output is the same alone, in its batch, and among other batchmates."
    )


def check_bn_folding(fn: Callable) -> bool:
    """Check ``fn(linear, bn) -> Linear`` against ``Sequential(linear, bn)`` in eval mode (lesson 06/04)."""
    name = "batch norm folded into Linear"
    gen = torch.Generator().manual_seed(0)
    dtype = torch.get_default_dtype()
    linear, bn = torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4)
    with torch.no_grad():  # trained-looking statistics and parameters
        for tensor in (linear.weight, linear.bias, bn.weight, bn.bias, bn.running_mean):
            tensor.copy_(torch.randn(tensor.shape, generator=gen, dtype=dtype))
        bn.running_var.copy_(0.5 + torch.rand(4, generator=gen, dtype=dtype) * 3)
    reference = torch.nn.Sequential(linear, bn).eval()
    X = torch.randn(32, 6, generator=gen, dtype=dtype)
    with torch.no_grad():
        expected = reference(X)
        try:
            folded = fn(linear, bn)
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"it raised {type(exc).__name__}: {exc}")
        if not isinstance(folded, torch.nn.Linear):
            return report(False, name, f"expected an nn.Linear, got {type(folded).__name__}.")
        got = folded(X)
    gap = (got - expected).abs().max().item()
    if gap > 1e-5:
        hint = "scale = gamma / sqrt(running_var + eps); bias = scale * (b - running_mean) + beta."
        return report(False, name, f"outputs differ from Linear + BatchNorm (eval) by up to {gap:.3g}.", hint)
    return report(True, name, "one Linear reproduces Linear + BatchNorm in eval mode (within 1e-5).")


#: The transforms of the MNIST-1D generator that exercise 06/05 asks about, and whether each keeps the label.
MNIST1D_TRANSFORMS = {"shift": True, "scale": True, "reverse": False, "negate": False}


def check_label_preserving(answer) -> bool:
    """Check the set of MNIST-1D transforms that keep the label (lesson 06/05)."""
    name = "label-preserving transforms"
    expected = {t for t, keeps in MNIST1D_TRANSFORMS.items() if keeps}
    if not isinstance(answer, (set, frozenset, list, tuple)) or not all(isinstance(a, str) for a in answer):
        return report(
            False,
            name,
            f"expected a set of names, got {answer!r}.",
            f"choose from {sorted(MNIST1D_TRANSFORMS)}.",
        )
    unknown = set(answer) - set(MNIST1D_TRANSFORMS)
    if unknown:
        return report(
            False, name, f"unknown names {sorted(unknown)}.", f"choose from {sorted(MNIST1D_TRANSFORMS)}."
        )
    if set(answer) == expected:
        return report(True, name, "the generator shifts and scales; it never reverses or negates a template.")
    wrong_in, missing = set(answer) - expected, expected - set(answer)
    detail = f"got {sorted(answer)}, expected {sorted(expected)}."
    hint = (
        f"the generator never applies {sorted(wrong_in)}, and the templates are not symmetric."
        if wrong_in
        else f"the generator itself applies {sorted(missing)} to every signal."
    )
    return report(False, name, detail, hint)


def check_train_only(train_loader, val_loader) -> bool:
    """Check that only ``train_loader`` transforms its batches (lesson 06/05)."""
    name = "augmentation on the training data only"
    if getattr(train_loader, "transform", None) is None:
        return report(
            False, name, "the training loader has no transform.", "keep transform= on the training loader."
        )
    if getattr(val_loader, "transform", None) is not None:
        detail = "the validation loader transforms its batches too."
        return report(False, name, detail, "build the validation loader without transform=.")
    if getattr(val_loader, "shuffle", False):
        return report(
            False, name, "the validation loader shuffles.", "shuffle=False keeps evaluation in order."
        )
    return report(True, name, "training batches are augmented; validation batches are served as they are.")


def check_cutout(fn: Callable) -> bool:
    """Check ``fn(X, y, length, generator=None)``: one window of zeros per signal (lesson 06/05)."""
    name = "cutout"
    X = 1.0 + torch.rand(400, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.arange(400) % 10
    original = X.clone()
    for length in (5, 1, 40):
        try:
            out = fn(X, y, length, generator=torch.Generator().manual_seed(1))
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"length {length}: it raised {type(exc).__name__}: {exc}")
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.Tensor)):
            return report(
                False, name, f"length {length}: expected a pair (X_new, y), got {type(out).__name__}."
            )
        X_new, y_new = out
        if not torch.equal(X, original):
            return report(
                False, name, "the input X was changed in place.", "work on a copy (masked_fill, clone)."
            )
        if X_new.shape != X.shape or not torch.equal(y_new, y):
            return report(False, name, f"length {length}: the shapes or the labels changed.")
        zero = X_new == 0
        if not (zero.sum(dim=1) == length).all():
            return report(False, name, f"length {length}: each signal needs exactly {length} zeros.")
        runs = zero[:, 1:] & ~zero[:, :-1]  # starts of zero runs after position 0
        if ((runs.sum(dim=1) + zero[:, 0].long()) != 1).any():
            return report(False, name, f"length {length}: the zeros must be consecutive, inside the signal.")
        if not torch.equal(X_new[~zero], X[~zero]):
            return report(False, name, f"length {length}: values outside the window changed.")
        starts = zero.double().argmax(dim=1)
        if length == 5 and (starts.min() > 2 or starts.max() < 33 or len(set(starts.tolist())) < 30):
            return report(False, name, "the window should start anywhere from 0 to 35, drawn per signal.")
    return report(True, name, "one window of zeros per signal, in a random place; the rest untouched.")


def check_identity_init(block_fn: Callable[[int], torch.nn.Module], width: int = 16) -> bool:
    """Check a Fixup-style residual block: the identity at initialization, able to learn (lesson 06/06)."""
    name = "identity at initialization"
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        block = block_fn(width)
    if getattr(block, "gain", None) is not None:
        return report(
            False, name, "the block still has a gain.", "Fixup uses no gain: zero the last layer instead."
        )
    X = torch.randn(32, width, generator=gen, dtype=torch.get_default_dtype())
    out = block(X)
    if not torch.allclose(out, X, atol=1e-12):
        gap = (out - X).abs().max().item()
        return report(
            False,
            name,
            f"block(x) differs from x by up to {gap:.3g}.",
            "zero the last Linear's weight and bias.",
        )
    upstream = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    params = [p for p in block.parameters() if p.requires_grad]
    grads = torch.autograd.grad((out * upstream).sum(), params, allow_unused=True) if params else []
    if not any(g is not None and g.abs().max() > 0 for g in grads):
        return report(
            False, name, "no parameter gets a gradient: the branch can never learn.", "keep linear1 random."
        )
    return report(True, name, "block(x) = x at initialization, and the last layer receives a gradient.")


def check_bounded_stream(network_fn: Callable[[int], torch.nn.Module]) -> bool:
    """Check that the residual stream keeps its std within a factor for 4, 16, 64 blocks (lesson 06/06)."""
    name = "bounded residual stream"
    gen = torch.Generator().manual_seed(0)
    ratios = {}
    for num_blocks in (4, 16, 64):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = network_fn(num_blocks)
        X = torch.randn(256, model[0].in_features, generator=gen, dtype=torch.get_default_dtype())
        with torch.no_grad():
            h = model[0](X)
            start = h.std().item()
            for block in model[1:-2]:
                h = block(h)
        ratios[num_blocks] = h.std().item() / start
    span = ", ".join(f"{k} blocks: x{v:.3g}" for k, v in ratios.items())
    if all(0.9 <= r <= 3.0 for r in ratios.values()):
        return report(True, name, f"the std grows by {span}.")
    hint = "each block multiplies the variance by 1 + c^2; choose c so that (1 + c^2)^L stays bounded."
    return report(False, name, f"the std grows by {span} (needs 0.9 to 3 at every depth).", hint)
