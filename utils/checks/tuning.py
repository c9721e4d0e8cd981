"""Checkers for Chapter 7, tuning in practice (lessons ``07_tuning/*``).

Optuna is imported only by the checkers of lesson 07/03 that need it, so the
other lessons do not load it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from utils._validate import positive_int, positive_number
from utils.checks.core import finite_number, report
from utils.checks.regularization import _stop_rule

if TYPE_CHECKING:
    import optuna


def _proposals(sampler: optuna.samplers.BaseSampler, n_trials: int) -> list[dict]:
    """The configurations ``sampler`` proposes for lesson 7.3's search space (a stand-in objective)."""
    import optuna

    from utils.search import suggest_config

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda trial: suggest_config(trial)["lr"], n_trials=n_trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return [trial.params for trial in study.trials]


def check_tpe_startup(answer: int, n_trials: int = 16, seed: int = 0) -> bool:
    """Check how many of TPE's first ``n_trials`` proposals equal random search's (lesson 07/03).

    Both samplers get the same ``seed``; the expected count is measured, not assumed.
    """
    positive_int("n_trials", n_trials)
    import optuna

    name = f"TPE proposals equal to random search's, of {n_trials}"
    tpe = _proposals(optuna.samplers.TPESampler(seed=seed), n_trials)
    random = _proposals(optuna.samplers.RandomSampler(seed=seed), n_trials)
    same = [a == b for a, b in zip(tpe, random)]
    expected = sum(same)
    startup = same.index(False) if False in same else n_trials
    try:
        value = int(answer)
    except (TypeError, ValueError):
        return report(False, name, f"expected a whole number, got {answer!r}.")
    detail = f"got {value}, measured {expected}: the first {startup} are identical, then TPE takes over."
    hint = "until it has n_startup_trials (10) finished trials, TPE samples at random with its own seed."
    return report(value == expected, name, detail, hint)


def check_distinct_trials(study: optuna.Study, n_trials: int = 32) -> bool:
    """Check that ``study`` holds ``n_trials`` trials with all-different configurations (lesson 07/03)."""
    import optuna

    if not isinstance(study, optuna.Study):
        return report(
            False, "distinct configurations", f"expected an optuna.Study, got {type(study).__name__}."
        )
    trials = study.get_trials(deepcopy=False)
    configs = {tuple(sorted(trial.params.items())) for trial in trials}
    detail = f"{len(trials)} trials (expected {n_trials}), {len(configs)} distinct configurations."
    if len(trials) != n_trials:
        return report(False, "distinct configurations", detail, "run every worker for its n_trials.")
    repeats = len(trials) / max(len(configs), 1)
    hint = f"each configuration ran {repeats:.0f} times: the workers share one seed; give each its own."
    ok = len(configs) == len(trials)
    return report(ok, "distinct configurations", detail, "" if ok else hint)


def _halving_epochs(n: int, eta: int, min_epochs: int, max_epochs: int, restart: bool = False) -> int:
    """Epochs trained by synchronous successive halving.

    Rung ``k`` keeps ``n // eta**k`` configurations and trains each to
    ``min(min_epochs * eta**k, max_epochs)`` epochs, continuing from the epochs
    it already has (``restart=True``: from scratch, a common slip). It ends at
    the rung that reaches ``max_epochs``, or when no configuration is left.
    """
    total, trained, k = 0, 0, 0
    while n // eta**k >= 1:
        budget = min(min_epochs * eta**k, max_epochs)
        total += (n // eta**k) * (budget if restart else budget - trained)
        if budget == max_epochs:
            break
        trained, k = budget, k + 1
    return total


def check_halving_epochs(fn, cases: tuple[tuple[int, int, int, int], ...] | None = None) -> bool:
    """Check ``fn(n, eta, min_epochs, max_epochs)``: the epochs successive halving trains (lesson 07/03)."""
    name = "successive halving budget"
    cases = cases or ((27, 3, 1, 9), (32, 2, 1, 6), (81, 3, 1, 27), (10, 4, 2, 8), (5, 3, 1, 100))
    for n, eta, low, high in cases:
        expected = _halving_epochs(n, eta, low, high)
        try:
            got = fn(n, eta, low, high)
        except Exception as exc:  # the reader's code may fail in any way; report it
            return report(False, name, f"fn({n}, {eta}, {low}, {high}) raised {type(exc).__name__}: {exc}")
        if not isinstance(got, (int, float)) or not math.isfinite(got) or got != expected:
            full = n * high
            hint = (
                "survivors continue from the epochs they already trained; do not count those twice."
                if got == _halving_epochs(n, eta, low, high, restart=True)
                else f"rung k keeps n // eta**k configurations and trains them to min(min_epochs * eta**k, "
                f"max_epochs) epochs (without pruning it would be {full})."
            )
            return report(False, name, f"fn({n}, {eta}, {low}, {high}) = {got!r}, expected {expected}.", hint)
    return report(True, name, f"all {len(cases)} cases match, e.g. 27 configurations, eta 3: "
                  f"{_halving_epochs(27, 3, 1, 9)} epochs instead of {27 * 9}.")  # fmt: skip


def check_gd_steps(answer: float, kappa: float = 100.0, reduction: float = 1e-3) -> bool:
    """Check the steps gradient descent needs to shrink the slowest error by ``reduction`` (lesson 07/01).

    With step ``1 / lambda_max`` the error along the slowest eigenvector shrinks by
    ``1 - 1 / kappa`` per step.
    """
    if not kappa > 1:
        raise ValueError(f"kappa must be a number > 1, got {kappa!r}")
    if not 0 < reduction < 1:
        raise ValueError(f"reduction must lie in (0, 1), got {reduction!r}")
    name = f"steps for condition number {kappa:g}"
    value = finite_number(answer)
    if value is None:
        return report(False, name, f"expected a number, got {answer!r}.")
    expected = math.ceil(math.log(reduction) / math.log(1 - 1 / kappa))
    detail = f"got {value:.4g}, expected {expected} (ln {reduction:g} / ln(1 - 1/{kappa:g}))."
    if math.isfinite(value) and abs(value - expected) <= 0.01 * expected:
        return report(True, name, f"{detail} That is about kappa * ln(1/{reduction:g}) steps.")
    if math.isclose(value, kappa, rel_tol=0.05):
        hint = (
            "each step removes only a fraction 1/kappa of the error: you need about ln(1/reduction) * kappa."
        )
    else:
        hint = "solve (1 - 1/kappa)**t = reduction for t."
    return report(False, name, detail, hint)


def _shifted_sets(seed: int = 0) -> tuple[Tensor, Tensor]:
    """Training rows with very different feature scales, and test rows from a shifted distribution."""
    gen = torch.Generator().manual_seed(seed)
    scales = torch.tensor([0.01, 1.0, 30.0, 500.0], dtype=torch.float64)
    X_train = torch.randn(200, 4, generator=gen, dtype=torch.float64) * scales + 5.0
    X_test = torch.randn(100, 4, generator=gen, dtype=torch.float64) * scales + 5.0 + 2.0 * scales
    return X_train, X_test


def _apply(fn, *args, **kwargs) -> tuple[list | None, str]:
    """Call a reader's function; return its output as a list of tensors, or None and why not."""
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # the reader's code may fail in any way; report it
        return None, f"it raised {type(exc).__name__}: {exc}"
    if not isinstance(out, (list, tuple)) or not all(isinstance(t, Tensor) for t in out):
        return None, f"expected a list or tuple of tensors, got {type(out).__name__}"
    return list(out), ""


def check_train_statistics(fn) -> bool:
    """Check that ``fn(X_train, X_test)`` standardizes both with training statistics (lesson 07/01)."""
    name = "standardize with training statistics"
    X_train, X_test = _shifted_sets()
    out, why = _apply(fn, X_train, X_test)
    if out is None or len(out) != 2:
        return report(False, name, why or f"expected 2 tensors (train, test), got {len(out)}.")
    Z_train, Z_test = out

    def close(a: Tensor, b: Tensor) -> bool:
        return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-6, atol=1e-8))

    both = torch.cat([X_train, X_test])
    candidates = {
        "the training statistics": (X_train.mean(0), X_train.std(0)),
        "the training statistics (population std)": (X_train.mean(0), X_train.std(0, correction=0)),
        "statistics of train and test together": (both.mean(0), both.std(0)),
        "each set's own statistics": None,
    }
    for label, stats in candidates.items():
        if stats is None:
            own = (X_test - X_test.mean(0)) / X_test.std(0)
            ok = close(Z_test, own)
        else:
            m, s = stats
            ok = close(Z_train, (X_train - m) / s) and close(Z_test, (X_test - m) / s)
        if ok:
            shift = Z_test.mean(0).mean().item()
            detail = f"it standardizes with {label}; the shifted test set's mean comes out at {shift:+.2f}."
            if label.startswith("the training"):
                return report(True, name, detail + " The shift stays visible, as it would in deployment.")
            hint = "compute the mean and std from X_train alone and apply them to both sets."
            return report(False, name, detail + " The test rows leaked into the statistics.", hint)
    return report(
        False, name, "the outputs match no standardization.", "return (X - mean) / std for both sets."
    )


def check_whitening(fn) -> bool:
    """Check ``fn(train_rows, *others, eps=...)``: whitening fitted on ``train_rows`` only (lesson 07/01)."""
    name = "PCA whitening"
    gen = torch.Generator().manual_seed(0)
    mixing = torch.tensor([[2.0, 0.0, 0.0, 0.0], [1.5, 0.3, 0.0, 0.0], [0.0, 0.0, 5.0, 0.0],
                           [0.5, 0.0, 1.0, 0.05]], dtype=torch.float64)  # fmt: skip
    X_train = torch.randn(500, 4, generator=gen, dtype=torch.float64) @ mixing.T + 3.0
    X_other = torch.randn(200, 4, generator=gen, dtype=torch.float64) @ mixing.T + 4.0  # shifted
    centred = X_train - X_train.mean(0)
    eigenvalues = torch.linalg.eigvalsh(torch.cov(centred.T))
    for eps in (0.0, 0.5):
        out, why = _apply(fn, X_train, X_other, eps=eps)
        if out is None or len(out) != 2:
            return report(False, name, why or f"expected 2 tensors for 2 inputs, got {len(out)}.")
        W_train, W_other = out
        if W_train.shape != X_train.shape or W_other.shape != X_other.shape:
            return report(False, name, f"eps={eps}: the shapes changed: {tuple(W_train.shape)}.")
        got = torch.linalg.eigvalsh(torch.cov(W_train.T))
        want = eigenvalues / (eigenvalues + eps)
        if not torch.allclose(got, want, rtol=5e-3, atol=1e-6):
            detail = (
                f"eps={eps}: covariance eigenvalues {got.numpy().round(3)}, expected {want.numpy().round(3)}."
            )
            hint = "rotate onto the eigenvectors of the training covariance and divide by sqrt(lambda + eps)."
            return report(False, name, detail, hint)
        # the same affine map must serve both sets: fit it on the training rows, apply it to the others
        A = torch.cat([X_train, torch.ones(len(X_train), 1, dtype=torch.float64)], dim=1)
        B = torch.cat([X_other, torch.ones(len(X_other), 1, dtype=torch.float64)], dim=1)
        M = torch.linalg.lstsq(A, W_train).solution
        if not torch.allclose(B @ M, W_other, rtol=1e-5, atol=1e-6):
            hint = "transform the other sets with the training mean and eigenvectors, not their own."
            return report(
                False, name, f"eps={eps}: the other set was not transformed like the training set.", hint
            )
    return report(True, name, "identity covariance for eps=0, lambda/(lambda+eps) otherwise, and the other "
                  "set transformed with the training statistics.")  # fmt: skip


def check_accuracy_noise(answer: float, p: float = 0.7, n: int = 200) -> bool:
    """Check a predicted std of an accuracy measured on ``n`` examples, each right with probability ``p``.

    The number right is binomial, so the accuracy has std ``sqrt(p (1 - p) / n)`` (lesson 07/04).
    """
    if not 0 < p < 1:
        raise ValueError(f"p must lie in (0, 1), got {p!r}")
    positive_int("n", n)
    name = f"std of an accuracy on {n} examples"
    value = finite_number(answer)
    if value is None:
        return report(False, name, f"expected a number, got {answer!r}.")
    expected = math.sqrt(p * (1 - p) / n)
    detail = f"got {value:.4g}, expected {expected:.4g} = sqrt({p:g} * {1 - p:g} / {n})."
    if math.isfinite(value) and abs(value - expected) <= 0.03 * expected:
        return report(True, name, detail)
    if math.isclose(value, p * (1 - p) / n, rel_tol=0.03):
        hint = "that is the variance; the standard deviation is its square root."
    elif math.isclose(value, math.sqrt(p * (1 - p)), rel_tol=0.03):
        hint = (
            "that is the std of one example's right-or-wrong; an average of n of them divides it by sqrt(n)."
        )
    else:
        hint = (
            "the number right is binomial(n, p): its variance is n p (1 - p); divide by n for the accuracy."
        )
    return report(False, name, detail, hint)


def check_no_overfitting(history, tolerance: float = 0.1, max_val_loss: float = 1.8) -> bool:
    """Check that a run ends within ``tolerance`` of its lowest validation loss, without early stopping.

    ``history`` is the :class:`utils.train.History` of a full run (lesson 07/04).
    """
    name = "no overfitting at the end"
    val_loss = list(getattr(history, "val_loss", []) or [])
    if not val_loss:
        return report(False, name, "the history has no validation loss: pass val_data to train.")
    if getattr(history, "best_epoch", None) is not None:
        return report(False, name, "this run used early stopping (patience).", "change the model or its "
                      "regularization instead, and train all epochs.")  # fmt: skip
    last, lowest = val_loss[-1], min(val_loss)
    detail = (
        f"last validation loss {last:.3f}, lowest {lowest:.3f} at epoch {val_loss.index(lowest) + 1} "
        f"of {len(val_loss)} (allowed: {1 + tolerance:.2f} x lowest, and below {max_val_loss})."
    )
    if not math.isfinite(last):
        return report(False, name, detail, "the run diverged: lower the learning rate.")
    if last > (1 + tolerance) * lowest:
        hint = "the validation loss climbs after its minimum: regularize, shrink the model or train less."
        return report(False, name, detail, hint)
    if last >= max_val_loss:
        return report(
            False, name, detail, "it no longer overfits, but it learned too little: regularize less."
        )
    return report(True, name, detail)


def check_stopping_epoch(fn) -> bool:
    """Check ``fn(val_losses, patience) -> (best, stopped)`` against ``utils.train``'s rule (lesson 07/04)."""
    name = "early stopping by hand"
    cases = [
        ([1.0, 0.9, 0.8, 0.85, 0.9, 0.95, 0.7], 3),
        ([1.0, 0.9, 0.8, 0.7, 0.6], 2),
        ([1.0, 1.0, 1.0, 0.5], 2),
        ([0.5, 0.6, 0.4, 0.45, 0.45, 0.45, 0.3], 3),
        ([2.0, 1.0, 1.5], 1),
    ]
    for losses, patience in cases:
        expected = _stop_rule(losses, patience)
        try:
            got = fn(list(losses), patience)
        except Exception as exc:  # the reader's code may fail in any way; report it
            return report(False, name, f"fn({losses}, {patience}) raised {type(exc).__name__}: {exc}")
        if got is None or tuple(got) != expected:
            hint = (
                "an equal loss is not an improvement."
                if losses[0] == losses[1]
                else "count the epochs since the last improvement; stop when the count reaches patience."
            )
            return report(False, name, f"fn({losses}, {patience}) = {got!r}, expected {expected}.", hint)
    return report(True, name, f"all {len(cases)} curves give the epochs utils.train keeps and stops at.")


# --------------------------------------------------------------------------- lesson 07/02
def check_linear_scaling(
    answer: float, lr: float = 0.08, batch_size: int = 32, new_batch_size: int = 1024
) -> bool:
    """Check the learning rate the linear scaling rule gives when ``batch_size`` becomes ``new_batch_size``.

    The rule multiplies the learning rate by the factor the batch grows by (lesson 07/02).
    """
    positive_number("lr", lr)
    positive_int("batch_size", batch_size)
    positive_int("new_batch_size", new_batch_size)
    name = f"linear scaling from batch {batch_size} to {new_batch_size}"
    value = finite_number(answer)
    if value is None:
        return report(False, name, f"expected a number, got {answer!r}.")
    k = new_batch_size / batch_size
    expected = lr * k
    detail = f"got {value:.4g}, expected {lr:g} x {new_batch_size}/{batch_size} = {expected:.4g}."
    if math.isfinite(value) and math.isclose(value, expected, rel_tol=0.01):
        return report(True, name, detail)
    if math.isclose(value, lr * math.sqrt(k), rel_tol=0.01):
        hint = "that is the square-root rule; the linear rule multiplies by the batch factor itself."
    elif math.isclose(value, lr / k, rel_tol=0.01):
        hint = "a larger batch gets a larger learning rate, not a smaller one."
    else:
        hint = "multiply the learning rate by new_batch_size / batch_size."
    return report(False, name, detail, hint)


def check_interior_best(scores: dict) -> bool:
    """Check that the lowest score of a learning-rate grid is not at its smallest or largest rate.

    Lesson 07/02 extends its grid until this holds.

    ``scores`` maps each learning rate tried to its score, lower is better
    (``inf`` for a run that never reached the target).
    """
    name = "best learning rate inside the grid"
    if not isinstance(scores, dict) or len(scores) < 3:
        got = len(scores) if isinstance(scores, dict) else type(scores).__name__
        return report(False, name, f"expected a dict of at least 3 learning rates -> scores, got {got}.")
    try:
        lrs = sorted(float(lr) for lr in scores)
        values = [float(score) for _, score in sorted(scores.items(), key=lambda item: float(item[0]))]
    except (TypeError, ValueError):
        return report(False, name, "expected numbers: learning rates -> scores (math.inf for a failed run).")
    values = [math.inf if math.isnan(v) else v for v in values]  # a NaN score is a failed run
    if not any(math.isfinite(v) for v in values):
        return report(False, name, f"no learning rate in {lrs} gave a finite score.",
                      "every run failed: try rates far below and far above these.")  # fmt: skip
    best = min(range(len(lrs)), key=lambda i: (values[i], lrs[i]))
    span = f"{len(lrs)} rates, {lrs[0]:g} to {lrs[-1]:g}"
    detail = f"the best of {span}, is {lrs[best]:g} (score {values[best]:.4g})"
    if best == len(lrs) - 1:
        return report(
            False, name, detail + ", the largest tried.", "add larger learning rates until one is worse."
        )
    if best == 0:
        return report(
            False, name, detail + ", the smallest tried.", "add smaller learning rates until one is worse."
        )
    return report(
        True,
        name,
        detail + f": no better on either side ({values[best - 1]:.4g} and {values[best + 1]:.4g}).",
    )


def _tune_lr(score, lrs, factor: float = 2.0) -> tuple[float | None, dict]:
    """The reference of :func:`check_tune_lr`: extend while the best is on an edge, then refine once."""
    scores = {lr: score(lr) for lr in sorted(lrs)}
    while True:
        grid = sorted(scores)
        if not any(math.isfinite(scores[lr]) for lr in grid):
            return None, scores
        best = min(grid, key=lambda lr: (scores[lr], lr))
        if best == grid[-1]:
            scores[best * factor] = score(best * factor)
        elif best == grid[0]:
            scores[best / factor] = score(best / factor)
        else:
            break
    for lr in (best / math.sqrt(factor), best * math.sqrt(factor)):
        scores[lr] = score(lr)
    return min(scores, key=lambda lr: (scores[lr], lr)), scores


def _bowl(best: float, diverge: float = math.inf):
    """A score with its minimum at ``best`` on a log scale, infinite above ``diverge``."""
    return lambda lr: math.inf if lr > diverge else 1.0 + math.log2(lr / best) ** 2


def check_tune_lr(fn) -> bool:
    """Check ``fn(score, lrs, factor=2.0) -> (best_lr, scores)``, a search that extends its own grid.

    Lesson 07/02 asks for it as an exercise.

    The search scores every rate in ``lrs``; while the best is the smallest or
    largest rate tried it adds the next rate beyond it (``/ factor`` or
    ``* factor``); then it scores ``best / sqrt(factor)`` and ``best * sqrt(factor)``
    and returns the lowest score's rate (the smaller on a tie) with every score.
    When every score is infinite it returns ``(None, scores)``.
    """
    name = "a search that extends its own grid"
    cases = [
        ("optimum above the grid", _bowl(0.7), [0.01, 0.02, 0.04, 0.08]),
        ("optimum below the grid", _bowl(0.003), [0.04, 0.08, 0.16]),
        ("divergence above 0.3", _bowl(1.0, diverge=0.3), [0.01, 0.02, 0.04]),
        ("optimum inside the grid", _bowl(0.05), [0.01, 0.02, 0.04, 0.08, 0.16]),
        ("every run fails", lambda lr: math.inf, [0.1, 0.2, 0.4]),
    ]
    for label, score, lrs in cases:
        calls: list[float] = []

        def counted(lr, score=score, calls=calls):
            calls.append(lr)
            if len(calls) > 200:
                raise RuntimeError("more than 200 evaluations: the search does not stop")
            return score(lr)

        expected_best, expected_scores = _tune_lr(score, lrs)
        try:
            got = fn(counted, list(lrs))
        except Exception as exc:  # the reader's code may fail in any way; report it
            return report(False, name, f"{label}: it raised {type(exc).__name__}: {exc}")
        if not (isinstance(got, tuple) and len(got) == 2):
            return report(False, name, f"{label}: expected a pair (best_lr, scores), got {got!r}.")
        best, _ = got
        if expected_best is None:
            ok = best is None
        else:
            ok = isinstance(best, (int, float)) and math.isclose(best, expected_best, rel_tol=1e-9)
        if not ok:
            shown = f"{best:.4g}" if isinstance(best, (int, float)) else repr(best)
            expected = "None" if expected_best is None else f"{expected_best:.4g}"
            return report(False, name, f"{label}: best {shown}, expected {expected}.",
                          "extend while the best is at an edge, then try best / sqrt(factor) and "
                          "best * sqrt(factor).")  # fmt: skip
        if len(calls) != len(expected_scores):
            return report(False, name, f"{label}: {len(calls)} evaluations, expected {len(expected_scores)}.",
                          "score each rate once, add one rate at a time, and refine only once.")  # fmt: skip
    return report(True, name, f"all {len(cases)} cases: the right rate with the fewest evaluations.")


def _seed_scores(name: str, scores) -> list[float]:
    """Per-seed scores from a :class:`utils.SeedStats` or a sequence of numbers (at least 2)."""
    values = getattr(scores, "values", scores)
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a SeedStats or a list of per-seed scores, got {scores!r}") from None
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} needs at least 2 finite per-seed scores to have a spread, got {values}")
    return values


def check_gain_verdict(answer: bool, current, candidate, k: float = 2.0) -> bool:
    """Check a verdict on one tuning step: is ``candidate``'s gain over ``current`` beyond the noise?

    ``current`` and ``candidate`` hold the per-seed validation scores of two
    configurations (:class:`utils.SeedStats` or lists). The gain is the
    difference of their means, the noise ``sqrt(s_current**2 + s_candidate**2)``
    from their sample standard deviations, and a gain counts when it exceeds
    ``k`` times the noise. ``answer`` is ``True`` (beyond the noise) or
    ``False`` (within it). Lesson ``07_tuning/06_capstone`` decides every step
    with this rule.
    """
    if not k > 0:
        raise ValueError(f"k must be a number > 0, got {k!r}")
    before, after = _seed_scores("current", current), _seed_scores("candidate", candidate)
    name = "verdict on the step"
    if not isinstance(answer, bool):
        return report(False, name, f"expected True (beyond the noise) or False (within it), got {answer!r}.")
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    gain = mean_after - mean_before
    std = [math.sqrt(sum((v - m) ** 2 for v in vs) / (len(vs) - 1))
           for vs, m in ((before, mean_before), (after, mean_after))]  # fmt: skip
    noise = math.hypot(*std)
    beyond = gain > k * noise
    verdict = "beyond the noise" if beyond else "within the noise"
    threshold = f"a gain must exceed {k:g} x noise = {k * noise:.4f}"
    detail = f"gain {gain:+.4f}, noise {noise:.4f}: {verdict} ({threshold})."
    if answer == beyond:
        return report(True, name, detail)
    if beyond:
        hint = "the gain is larger than the spread of the seeds allows by chance: the change is real."
    elif gain > 0:
        hint = f"a higher mean is not enough: compare the gain with {k:g} times the noise of the two runs."
    else:
        hint = "the candidate's mean is not even higher than the current one's."
    return report(False, name, detail, hint)


def _mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator) of per-seed scores."""
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def check_seeds_needed(answer: int, current, candidate, k: float = 2.0) -> bool:
    """Check how many seeds per configuration would make ``candidate``'s gain count.

    With ``n`` seeds for each configuration, the difference of the two means has
    the standard error ``sqrt((s_current**2 + s_candidate**2) / n)``; the answer
    is the smallest ``n`` for which the gain (difference of the means) exceeds
    ``k`` times it, with the spreads ``s`` measured on the seeds given
    (:class:`utils.SeedStats` or lists). Lesson ``07_tuning/06_capstone`` asks it
    of a step whose gain stayed within the noise.
    """
    if not k > 0:
        raise ValueError(f"k must be a number > 0, got {k!r}")
    before, after = _seed_scores("current", current), _seed_scores("candidate", candidate)
    (mean_before, s_before), (mean_after, s_after) = _mean_and_std(before), _mean_and_std(after)
    gain = mean_after - mean_before
    if not gain > 0:
        raise ValueError(
            f"candidate must have the higher mean score to gain anything, got a gain of {gain:+.4g}"
        )
    variance = s_before**2 + s_after**2
    expected = math.floor(k**2 * variance / gain**2) + 1  # smallest n with gain > k sqrt(variance / n)
    name = "seeds per configuration"
    rule = f"gain {gain:+.4f} > {k:g} x sqrt(({s_before:.4f}^2 + {s_after:.4f}^2) / n)"
    number = finite_number(answer)
    if number is None or number != int(number) or number < 1:
        return report(False, name, f"expected a whole number of seeds >= 1, got {answer!r}.")
    if int(number) == expected:
        return report(True, name, f"n = {expected} is the smallest n with {rule}.")
    if int(number) == math.floor(k**2 * variance / gain**2):
        hint = f"n = {int(number)} leaves the gain within the bound: round k^2 variance / gain^2 up."
    elif int(number) < expected:
        hint = f"with n = {int(number)} the standard error is still {math.sqrt(variance / int(number)):.4f}."
    else:
        hint = f"fewer suffice: solve gain = {k:g} sqrt(variance / n) for n, variance = {variance:.3g}."
    return report(False, name, f"expected {expected}, got {int(number)}.", hint)


# --------------------------------------------------------------------------- lesson 07/05
def check_summed_initial_loss(answer: float, batch_size: int = 64, num_classes: int = 10) -> bool:
    """Check a prediction of the initial loss with ``reduction="sum"``: about ``B ln C`` (lesson 07/05)."""
    positive_int("batch_size", batch_size)
    positive_int("num_classes", num_classes, minimum=2)
    expected = batch_size * math.log(num_classes)
    name = f"initial summed loss of {batch_size} rows and {num_classes} classes"
    value = finite_number(answer)
    if value is None:
        return report(False, name, f"expected a number, got {answer!r}.")
    ok = math.isclose(value, expected, rel_tol=0.02)
    detail = f"got {value:.4g}, expected {expected:.4g} = {batch_size} ln {num_classes}."
    hint = "at initialization each row's loss is about ln C; a sum adds up all the rows."
    return report(ok, name, detail, "" if ok else hint)


def check_training_loop(step, evaluate, seed: int = 0) -> bool:
    """Run ``diagnose`` with the reader's ``step`` and ``evaluate`` on a dropout MLP (lesson 07/05).

    Passes when :func:`utils.doctor.diagnose` finds nothing wrong on standardized
    digits; otherwise names each finding and its likely cause.
    """
    from utils.data import load_digits, standardize
    from utils.doctor import FINDINGS, diagnose
    from utils.models import make_mlp

    name = "a training step and an evaluation without bugs"
    if not (callable(step) and callable(evaluate)):
        return report(False, name, f"expected two functions, got {step!r} and {evaluate!r}.")
    X, y = load_digits()
    (X,) = standardize(X.double())

    def sgd(params):
        return torch.optim.SGD(params, lr=0.05, momentum=0.9)

    try:
        with torch.random.fork_rng(devices=[]):  # the reader's random state is left alone
            torch.manual_seed(seed)
            model = make_mlp([64, 32, 10], dropout=0.2).double()
            result = diagnose(
                model, (X, y), optimizer=sgd, step=step, evaluate=evaluate, seed=seed, verbose=False
            )
    except Exception as exc:  # the reader's code may fail in any way; report it
        return report(False, name, f"diagnose could not run it: {type(exc).__name__}: {exc}")
    if result.healthy:
        return report(True, name, "diagnose finds nothing wrong with step and evaluate.")
    found = ", ".join(result.codes)
    hint = " ".join(FINDINGS[code][0] for code in result.codes)
    return report(False, name, f"diagnose finds: {found}.", hint)
