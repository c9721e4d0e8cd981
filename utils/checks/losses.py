"""Checkers for Chapter 4, loss functions (lessons ``04_losses/*``).

Each reference is PyTorch itself (``torch.nn.functional``, ``torch.distributions``,
autograd) or a direct numerical search, never the formula the exercise asks for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from utils._validate import positive_int
from utils.checks.core import number_or_report, report


def _call(fn: Callable[..., Tensor], name: str, case: str, *args, **kwargs) -> Tensor | None:
    """Call a reader's function; report and return ``None`` if it fails or returns no tensor."""
    try:
        got = fn(*args, **kwargs)
    except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
        report(False, name, f"{case}: it raised {type(exc).__name__}: {exc}")
        return None
    if not isinstance(got, Tensor):
        report(False, name, f"{case}: expected a tensor, got {type(got).__name__}.")
        return None
    return got


def _compare(
    got: Tensor, expected: Tensor, name: str, case: str, hint: str, rtol: float, atol: float
) -> bool:
    """Report a shape or value mismatch between a reader's tensor and the reference; True if they agree."""
    if tuple(got.shape) != tuple(expected.shape):
        detail = f"{case}: output shape {tuple(got.shape)}, expected {tuple(expected.shape)}."
        return report(False, name, detail, "return one value per element (no reduction).")
    got64, expected64 = got.detach().double(), expected.detach().double()
    if not torch.isfinite(got64).all():
        bad = (~torch.isfinite(got64)).sum().item()
        return report(False, name, f"{case}: {bad} value(s) are inf or nan; PyTorch's are finite.", hint)
    if not torch.allclose(got64, expected64, rtol=rtol, atol=atol):
        worst = (got64 - expected64).abs().argmax().item()
        g, e = got64.flatten()[worst].item(), expected64.flatten()[worst].item()
        return report(False, name, f"{case}: got {g:.6g} where PyTorch gives {e:.6g}.", hint)
    return True


# --------------------------------------------------------------------------- lesson 01_likelihoods


def _entropy(counts: Sequence[int]) -> float:
    total = float(sum(counts))
    return -sum(c / total * math.log(c / total) for c in counts if c > 0)


def check_prior_loss(answer: float, counts: Sequence[int]) -> bool:
    """Check the initial cross-entropy of a model that predicts the class frequencies (04/01_likelihoods).

    The model's weights are zero and its output bias is ``log(counts / sum(counts))``,
    so every input gets the same prediction; the loss is then measured on the
    training set whose class counts are ``counts``.
    """
    counts = list(counts)
    if len(counts) < 2 or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
        raise ValueError(f"counts must list at least two non-negative integers, got {counts!r}")
    if sum(counts) == 0:
        raise ValueError("counts must not all be zero")
    name = "initial loss with the prior as bias"
    value = number_or_report(answer, name)
    if value is None:
        return False
    # reference: cross_entropy of the constant logits log(frequency) on a label vector with these counts
    freq = torch.tensor(counts, dtype=torch.float64) / sum(counts)
    y = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    logits = freq.clamp_min(1e-300).log().expand(len(y), -1)
    expected = F.cross_entropy(logits, y).item()
    detail = f"got {value:.4f}, expected {expected:.4f}."
    if abs(value - expected) <= 1e-3:
        return report(True, name, f"{detail} It is the entropy of the labels, below ln {len(counts)} = "
                      f"{math.log(len(counts)):.4f}, the loss of a uniform guess.")  # fmt: skip
    if math.isclose(value, math.log(len(counts)), abs_tol=1e-3):
        hint = "ln C is the loss of a uniform guess; this bias makes softmax predict the class frequencies."
    elif math.isclose(value, -math.log(max(counts) / sum(counts)), abs_tol=1e-3):
        hint = "that is the loss of the most frequent class alone; average -log p over every example."
    else:
        hint = "softmax(log f) = f, and the loss averages -log f_y over the examples: -sum_c f_c log f_c."
    return report(False, name, detail, hint)


def _bce_cases() -> list[tuple[str, Tensor, Tensor, Tensor | None]]:
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(64, 3, generator=gen, dtype=torch.float64)
    target = torch.rand(64, 3, generator=gen, dtype=torch.float64).round()
    extreme = torch.tensor([[-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0]] * 2)  # float32
    extreme_target = torch.tensor([[0.0] * 7, [1.0] * 7])
    soft = torch.rand(64, 3, generator=gen, dtype=torch.float64)  # targets need not be 0 or 1
    pos_weight = torch.tensor([0.5, 2.0, 5.0], dtype=torch.float64)
    return [
        ("random logits, no pos_weight", logits, target, None),
        ("random logits, pos_weight [0.5, 2, 5] per column", logits, target, pos_weight),
        ("soft targets in [0, 1]", logits, soft, pos_weight),
        ("float32 logits from -1000 to 1000", extreme, extreme_target, None),
        ("float32 logits from -1000 to 1000 with pos_weight 3", extreme, extreme_target, torch.tensor(3.0)),
    ]


def check_bce_with_logits(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(logits, target, pos_weight=None)`` against ``F.binary_cross_entropy_with_logits`` (04/01).

    ``fn`` returns one loss per element (``reduction="none"``); cases include
    soft targets, a per-column ``pos_weight`` and float32 logits of +-1000.
    """
    name = "BCE with logits"
    for case, logits, target, pos_weight in _bce_cases():
        got = _call(fn, name, case, logits, target, pos_weight=pos_weight)
        if got is None:
            return False
        expected = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none")
        hint = "compute it from z without forming sigmoid(z): softplus(-z) = max(-z, 0) + log1p(exp(-|z|))."
        if pos_weight is not None:
            hint = "pos_weight multiplies only the positive term: -[w y log s(z) + (1 - y) log(1 - s(z))]."
        tol = 1e-5 if logits.dtype == torch.float32 else 1e-10
        if not _compare(got, expected, name, case, hint, rtol=tol, atol=tol):
            return False
    return report(
        True, name, "matches F.binary_cross_entropy_with_logits in 5 cases, including logits of ±1000."
    )


def check_laplace_nll(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> bool:
    """Check ``fn(mean, target, scale)`` against ``-Laplace(mean, scale).log_prob(target)`` (04/01)."""
    name = "Laplace NLL"
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(200, generator=gen, dtype=torch.float64)
    target = mean + 2 * torch.randn(200, generator=gen, dtype=torch.float64)
    for scale_value in (0.3, 1.0, 4.0):
        scale = torch.full_like(mean, scale_value)
        case = f"scale {scale_value}"
        got = _call(fn, name, case, mean, target, scale)
        if got is None:
            return False
        expected = -torch.distributions.Laplace(mean, scale).log_prob(target)
        if got.shape == expected.shape and torch.allclose(got.double(), expected - math.log(2), atol=1e-9):
            return report(
                False, name, f"{case}: off by log 2 everywhere.", "the density is exp(-|y - m| / b) / (2b)."
            )
        hint = "-log p(y) = |y - mean| / scale + log(2 * scale)."
        if not _compare(got, expected, name, case, hint, rtol=1e-9, atol=1e-9):
            return False
    return report(True, name, "matches -Laplace(mean, scale).log_prob(target) for three scales.")


# --------------------------------------------------------------------------- lesson 02_regression_outliers


def _constant_minimizer(targets: Tensor, loss: str, delta: float) -> float:
    """The constant c minimising the mean loss over ``targets``, by a dense grid search and a refinement."""
    fns = {
        "mse": lambda c, t: F.mse_loss(c, t, reduction="none"),
        "mae": lambda c, t: F.l1_loss(c, t, reduction="none"),
        "huber": lambda c, t: F.huber_loss(c, t, reduction="none", delta=delta),
    }
    low, high = targets.min().item(), targets.max().item()
    for _ in range(3):  # each pass zooms in around the best grid point
        grid = torch.linspace(low, high, 2001, dtype=torch.float64)[:, None]  # (2001, 1)
        c, t = torch.broadcast_tensors(grid, targets[None, :])  # (2001, n) each
        values = fns[loss](c, t).mean(dim=1)
        best = values.argmin().item()
        low, high = grid[max(best - 2, 0)].item(), grid[min(best + 2, len(grid) - 1)].item()
    return grid[best].item()


def check_constant_fit(
    answer: float, targets: Sequence[float], loss: str = "huber", delta: float = 1.0
) -> bool:
    """Check the constant prediction that minimises ``loss`` on ``targets`` (04/02_regression_outliers)."""
    if loss not in ("mse", "mae", "huber"):
        raise ValueError(f"loss={loss!r} is not valid; choose one of: huber, mae, mse")
    t = torch.as_tensor(list(targets), dtype=torch.float64)
    if t.ndim != 1 or len(t) < 2:
        raise ValueError(f"targets must list at least two numbers, got {list(targets)!r}")
    name = f"constant minimising {loss}" + (f" (delta={delta:g})" if loss == "huber" else "")
    value = number_or_report(answer, name)
    if value is None:
        return False
    expected = _constant_minimizer(t, loss, delta)
    detail = f"got {value:.4g}, expected {expected:.4g}."
    if abs(value - expected) <= 1e-3 * max(1.0, abs(expected)):
        return report(True, name, detail)
    mean, median = t.mean().item(), t.median().item()
    if loss == "huber" and math.isclose(value, mean, abs_tol=1e-3):
        hint = "that is the mean (MSE's answer); the outlier pulls on Huber with a force of at most delta."
    elif loss == "huber" and math.isclose(value, median, abs_tol=1e-3):
        hint = "that is the median (MAE's answer); residuals within delta pull in proportion to their size."
    else:
        hint = "at the minimum the gradients balance: the sum of clip(c - y_i, -delta, delta) is 0."
    return report(False, name, detail, hint)


def check_smooth_l1(fn: Callable[[Tensor, Tensor, float], Tensor]) -> bool:
    """Check ``fn(pred, target, beta)`` against ``F.smooth_l1_loss(..., reduction="none")`` (04/02)."""
    name = "smooth L1"
    gen = torch.Generator().manual_seed(0)
    pred = 3 * torch.randn(500, generator=gen, dtype=torch.float64)
    target = torch.randn(500, generator=gen, dtype=torch.float64)
    for beta in (1.0, 0.25, 2.0, 0.0):
        case = f"beta={beta}"
        got = _call(fn, name, case, pred, target, beta)
        if got is None:
            return False
        expected = F.smooth_l1_loss(pred, target, beta=beta, reduction="none")
        hint = "smooth L1 with beta is Huber with delta=beta divided by beta; beta=0 is plain |r| (L1)."
        if got.shape == expected.shape and beta > 0:
            huber = F.huber_loss(pred, target, delta=beta, reduction="none")
            if torch.allclose(got.double(), huber):
                hint = "that is Huber with delta=beta; smooth L1 divides it by beta."
        if not _compare(got, expected, name, case, hint, rtol=1e-9, atol=1e-12):
            return False
    return report(True, name, "matches F.smooth_l1_loss for beta = 1, 0.25, 2 and the edge case 0.")


def check_pinball_loss(fn: Callable[[Tensor, Tensor, float], Tensor]) -> bool:
    """Check ``fn(pred, target, tau)`` is the pinball loss: its best constant is the tau-quantile (04/02)."""
    name = "pinball loss"
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(101, generator=gen, dtype=torch.float64).exp()  # skewed: the quantiles differ a lot
    r = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=torch.float64)  # residual target - pred
    for tau in (0.1, 0.5, 0.9):
        case = f"tau={tau}"
        got = _call(fn, name, case, torch.zeros(5, dtype=torch.float64), r, tau)
        if got is None:
            return False
        if tuple(got.shape) != (5,):
            return report(
                False, name, f"{case}: output shape {tuple(got.shape)}, expected (5,): one per element."
            )
        if (got.double() < -1e-12).any():
            return report(False, name, f"{case}: some losses are negative.", "the pinball loss is >= 0.")
        # best constant among the targets (a minimiser of this piecewise-linear loss is always a data point)
        values = []
        for c in target:
            out = _call(fn, name, case, c.expand(len(target)), target, tau)
            if out is None:
                return False
            values.append(out.double().mean())
        best = target[torch.stack(values).argmin()].item()
        expected = torch.quantile(target, tau).item()
        if not math.isclose(best, expected, rel_tol=1e-9):
            hint = (
                "with r = target - pred the loss is max(tau * r, (tau - 1) * r): under-predictions cost tau."
            )
            detail = f"{case}: the best constant is {best:.4g}, but the {tau}-quantile is {expected:.4g}."
            return report(False, name, detail, hint)
        if abs(got.double()[-1].item() - 2 * tau) > 1e-9:  # r = 2 > 0: an under-prediction of 2 costs 2 tau
            detail = f"{case}: an under-prediction by 2 costs {got[-1].item():.4g}, expected {2 * tau:.4g}."
            return report(False, name, detail, "scale each side by tau or 1 - tau, nothing else.")
    return report(True, name, "its best constant is torch.quantile(target, tau) for tau = 0.1, 0.5, 0.9.")


# ---------------------------------------------------------------- lesson 03_classification_numerics


def check_double_softmax_floor(answer: float, num_classes: int = 10) -> bool:
    """Check the lowest loss ``CrossEntropyLoss`` can reach on softmax outputs (04/03)."""
    positive_int("num_classes", num_classes, minimum=2)
    name = f"loss floor with {num_classes} classes"
    value = number_or_report(answer, name)
    if value is None:
        return False
    best = F.one_hot(torch.tensor([0]), num_classes).double()  # the most confident probabilities possible
    expected = F.cross_entropy(best, torch.tensor([0])).item()
    detail = f"got {value:.4f}, expected {expected:.4f}."
    if abs(value - expected) <= 1e-3:
        return report(True, name, f"{detail} Even a perfect one-hot input leaves this loss, and a gradient.")
    if abs(value) <= 1e-3:
        hint = (
            "the loss applies softmax again: a one-hot input becomes softmax([1, 0, ...]), not (1, 0, ...)."
        )
    else:
        hint = "cross_entropy(p, 0) = -p_0 + log(sum_c exp(p_c)); put p = (1, 0, ..., 0)."
    return report(False, name, detail, hint)


def check_logsumexp(fn: Callable[[Tensor, int], Tensor]) -> bool:
    """Check ``fn(x, dim)`` against ``torch.logsumexp`` on extreme float32 inputs (04/03)."""
    name = "log-sum-exp"
    gen = torch.Generator().manual_seed(0)
    inf = float("inf")
    cases = [
        ("random (5, 7), dim=1", 3 * torch.randn(5, 7, generator=gen), 1),
        ("random (5, 7), dim=0", 3 * torch.randn(5, 7, generator=gen), 0),
        ("large values [1000, 1000, 999], dim=-1", torch.tensor([[1000.0, 1000.0, 999.0]]), -1),
        ("very negative values [-1000, -1001], dim=1", torch.tensor([[-1000.0, -1001.0]]), 1),
        ("a mix [800, -800, 0], dim=1", torch.tensor([[800.0, -800.0, 0.0]]), 1),
        ("a masked entry [-inf, 2, 3], dim=1", torch.tensor([[-inf, 2.0, 3.0]]), 1),
    ]
    for case, x, dim in cases:
        got = _call(fn, name, case, x, dim)
        if got is None:
            return False
        expected = torch.logsumexp(x, dim=dim)
        hint = "subtract the maximum m first: m + log(sum(exp(x - m))) never overflows."
        if not _compare(got, expected, name, case, hint, rtol=1e-5, atol=1e-5):
            return False
    row = torch.full((1, 3), -inf)  # every entry masked: torch gives -inf, not nan
    got = _call(fn, name, "a fully masked row [-inf, -inf, -inf]", row, 1)
    if got is None:
        return False
    if got.shape != (1,) or not (got == -inf).all():
        hint = "the max is -inf and -inf - (-inf) is nan: use 0 in place of a max that is not finite."
        return report(
            False, name, f"a fully masked row gives {got.flatten().tolist()}, expected [-inf].", hint
        )
    return report(True, name, "matches torch.logsumexp on 7 cases: overflow, underflow and masked rows.")


def check_cross_entropy_grad(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(logits, y, ignore_index=-100)``: d(mean cross-entropy)/d(logits) (04/03)."""
    name = "cross-entropy gradient"
    gen = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(8, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(5, (8,), generator=gen)
    y_ignored = y.clone()
    y_ignored[[1, 4]] = -100
    big = torch.tensor([[500.0, 0.0, -500.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    cases = [
        ("8 examples, 5 classes", logits, y, -100),
        ("2 of 8 targets set to ignore_index=-100", logits, y_ignored, -100),
        ("ignore_index=3", logits, y, 3),
        ("logits of ±500", big, torch.tensor([2, 1]), -100),
    ]
    for case, z, target, ignore in cases:
        leaf = z.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(F.cross_entropy(leaf, target, ignore_index=ignore), leaf)
        got = _call(fn, name, case, z.clone(), target, ignore_index=ignore)
        if got is None:
            return False
        hint = "(softmax(z) - one_hot(y)) / n, with ignored rows set to 0 and n counting the others."
        kept = target != ignore
        if got.shape == expected.shape and not kept.all():
            rescaled = got.double()[kept] * len(target) / kept.sum()
            if torch.allclose(rescaled, expected[kept], atol=1e-9):
                hint = "divide by the number of rows that are not ignored, not by the batch size."
        if not _compare(got, expected, name, case, hint, rtol=1e-7, atol=1e-10):
            return False
    return report(
        True, name, "matches autograd through F.cross_entropy, with ignore_index and extreme logits."
    )


# --------------------------------------------------------------------------- lesson 04_imbalance_calibration


def check_smoothing_gap(answer: float, epsilon: float = 0.1, num_classes: int = 10) -> bool:
    """Check the logit gap (true class minus another) minimising label-smoothed cross-entropy (04/04)."""
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon!r}")
    positive_int("num_classes", num_classes, minimum=2)
    name = f"optimal logit gap (epsilon={epsilon:g}, {num_classes} classes)"
    value = number_or_report(answer, name)
    if value is None:
        return False
    # reference: minimise the smoothed loss over the gap g (logits g, 0, ..., 0) with a dense search
    gaps = torch.linspace(0.0, 50.0, 200_001, dtype=torch.float64)
    logits = torch.zeros(len(gaps), num_classes, dtype=torch.float64)
    logits[:, 0] = gaps
    losses = F.cross_entropy(
        logits, torch.zeros(len(gaps), dtype=torch.long), label_smoothing=epsilon, reduction="none"
    )
    expected = gaps[losses.argmin()].item()
    detail = f"got {value:.4f}, expected {expected:.4f}."
    if abs(value - expected) <= 2e-3:
        return report(True, name, f"{detail} Beyond it, a larger gap raises the loss: the margin is bounded.")
    wrong_target = math.log((1 - epsilon) / (epsilon / (num_classes - 1)))
    if math.isclose(value, wrong_target, abs_tol=2e-3):
        hint = "PyTorch spreads epsilon over all C classes, the true one included: q_y = 1 - eps + eps/C."
    else:
        hint = "softmax(z) should equal the smoothed target q; the gap is log(q_y / q_other)."
    return report(False, name, detail, hint)


def _sigmoid_focal_reference(logits: Tensor, target: Tensor, alpha: float, gamma: float) -> Tensor:
    """Lin et al. (2017), eq. 5 with the alpha of eq. 3: alpha_t (1 - p_t)^gamma times the BCE."""
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss


def check_sigmoid_focal_loss(fn: Callable[..., Tensor]) -> bool:
    """Check ``fn(logits, target, alpha=0.25, gamma=2.0)`` per element against Lin et al.'s focal loss (04/04)

    ``alpha < 0`` means no alpha weighting; with ``gamma=0`` and no alpha it is
    ``F.binary_cross_entropy_with_logits``. Cases include float32 logits of +-100.
    """
    name = "sigmoid focal loss"
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(100, generator=gen, dtype=torch.float64)
    target = torch.rand(100, generator=gen, dtype=torch.float64).round()
    extreme = torch.tensor([-100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0] * 2)
    extreme_target = torch.tensor([0.0] * 7 + [1.0] * 7)
    cases = [
        ("gamma=0, no alpha (plain BCE)", logits, target, -1.0, 0.0),
        ("gamma=2, no alpha", logits, target, -1.0, 2.0),
        ("gamma=2, alpha=0.25", logits, target, 0.25, 2.0),
        ("gamma=0.5, alpha=0.75", logits, target, 0.75, 0.5),
        ("float32 logits of ±100, gamma=2, alpha=0.25", extreme, extreme_target, 0.25, 2.0),
    ]
    for case, z, t, alpha, gamma in cases:
        got = _call(fn, name, case, z, t, alpha=alpha, gamma=gamma)
        if got is None:
            return False
        expected = _sigmoid_focal_reference(z, t, alpha, gamma)
        hint = "FL = alpha_t (1 - p_t)^gamma * BCE, with p_t = p if y = 1 else 1 - p (Lin et al., eq. 5)."
        if gamma == 0 and alpha < 0:
            hint = "with gamma = 0 and no alpha it must equal F.binary_cross_entropy_with_logits."
        elif alpha >= 0 and got.shape == expected.shape:
            swapped = _sigmoid_focal_reference(z, t, 1 - alpha, gamma)
            if torch.allclose(got.double(), swapped.double(), atol=1e-9):
                hint = "alpha weights the positives (y = 1) and 1 - alpha the negatives, not the reverse."
        tol = 1e-5 if z.dtype == torch.float32 else 1e-9
        if not _compare(got, expected, name, case, hint, rtol=tol, atol=tol):
            return False
    return report(True, name, "matches Lin et al.'s focal loss in 5 cases, including logits of ±100.")


def _best_inverse_temperature(logits: Tensor, y: Tensor, low: float = 1e-3, high: float = 50.0) -> float:
    """The b minimising cross_entropy(b * logits, y), by ternary search: the loss is convex in b."""
    for _ in range(80):  # the interval shrinks to (2/3)^80 of its width, about 1e-14
        a, b = low + (high - low) / 3, high - (high - low) / 3
        if F.cross_entropy(a * logits, y) < F.cross_entropy(b * logits, y):
            high = b
        else:
            low = a
    return (low + high) / 2


def check_temperature(fn: Callable[[Tensor, Tensor], float]) -> bool:
    """Check ``fn(logits, y)`` returns the temperature T that minimises the NLL of ``logits / T`` (04/04)."""
    name = "temperature scaling"
    gen = torch.Generator().manual_seed(0)
    n, num_classes = 2000, 10
    y = torch.randint(num_classes, (n,), generator=gen)
    true_logits = 1.5 * torch.randn(n, num_classes, generator=gen, dtype=torch.float64)
    true_logits[torch.arange(n), y] += 2.0
    for label, scale in (("overconfident logits (x3)", 3.0), ("underconfident logits (x0.5)", 0.5)):
        logits = scale * true_logits
        try:
            value = float(fn(logits.clone(), y.clone()))
        except Exception as exc:  # the reader's code may fail in any way; report it instead of crashing
            return report(False, name, f"{label}: it raised {type(exc).__name__}: {exc}")
        expected = 1.0 / _best_inverse_temperature(logits, y)
        detail = f"{label}: got T = {value:.4g}, expected {expected:.4g}."
        if not (math.isfinite(value) and abs(value / expected - 1) < 0.02):
            hint = (
                "minimise F.cross_entropy(logits / T, y) over T > 0 (e.g. optimise log T with LBFGS or Adam)."
            )
            if math.isfinite(value) and value > 0 and abs(value * expected - 1) < 0.02:
                hint = "you returned 1 / T: the logits are divided by T."
            return report(False, name, detail, hint)
    return report(True, name, "finds the NLL-minimising T for over- and underconfident logits (within 2%).")
