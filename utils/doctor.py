"""A doctor for a training run: :func:`diagnose` runs the debugging recipe on your own classifier.

Lesson ``07_tuning/05_debugging`` teaches the recipe and plants the bugs this
module looks for. :func:`diagnose` takes a classifier, its training data and
its loss, and optionally your optimizer, your training step and your
prediction function (a bug in a training loop shows only when that loop runs).
Every check runs on a copy of the model:

1. **inputs**: are the features standardized?
2. **outputs**: logits, or probabilities (a softmax before ``CrossEntropyLoss``)?
3. **initial loss**: about ``ln C`` for ``C`` classes (``B ln C`` for a summed loss)?
4. **training step**: does a second call of ``step`` forget the first one's gradient?
5. **evaluation**: does ``evaluate`` predict like ``model.eval()``?
6. **gradient flow**: the weight gradient of each layer, first to last.
7. **one batch**: the update:weight ratio of the first steps, and can the model
   drive the loss of one batch to near 0?
8. **short run**: after a short run, is the accuracy on held-out rows above chance?

Each problem becomes a :class:`Finding` with its likely cause and the lesson
that explains it. A symptom that a cause found in the same run explains (a
diverging loss after a summed loss, say) is listed under that cause, not on its own.
"""

from __future__ import annotations

import copy
import math
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from utils._validate import positive_int
from utils.diagnostics import LayerMonitor

StepFn = Callable[..., object]  # step(model, optimizer, loss_fn, X, y)
EvaluateFn = Callable[[nn.Module, Tensor], Tensor]  # evaluate(model, X) -> logits or classes
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


def _lesson(name: str) -> str:
    return f"lessons/{name}.ipynb"


#: Every finding :func:`diagnose` can report: code -> (likely cause and what to do, the lesson
#: that explains it). The first six are causes; the others are symptoms, reported on their own
#: only when no cause found in the same run explains them.
FINDINGS: dict[str, tuple[str, str]] = {
    "unscaled_inputs": (
        "the inputs are not standardized: features far from mean 0 and std 1, or on very "
        "different scales, make the loss surface badly conditioned. Standardize with the "
        "statistics of the training rows.",
        _lesson("07_tuning/01_preprocessing"),
    ),
    "softmax_before_loss": (
        "the model ends in a softmax, but CrossEntropyLoss applies log_softmax itself: the loss "
        "sees probabilities, its gradient shrinks and it cannot reach 0. Return the logits.",
        _lesson("04_losses/03_classification_numerics"),
    ),
    "summed_loss": (
        "the loss is summed over the batch (reduction='sum'), not averaged: every step is "
        "batch-size times larger, a learning rate in disguise. Use reduction='mean'.",
        _lesson("04_losses/03_classification_numerics"),
    ),
    "zero_grad_missing": (
        "the training step never zeroes the gradients: backward() adds to .grad, so each step "
        "follows the sum of all gradients so far. Call optimizer.zero_grad() before backward().",
        _lesson("07_tuning/05_debugging"),
    ),
    "eval_mode_missing": (
        "evaluate() predicts in training mode: dropout drops units at random and batch norm uses "
        "the statistics of the batch. Call model.eval() before predicting, model.train() after.",
        _lesson("06_regularization/03_dropout"),
    ),
    "labels_shuffled": (
        "the model fits one batch, but after a short run its accuracy on held-out rows is at "
        "chance: the labels look unrelated to the inputs. Shuffle X and y with one permutation.",
        _lesson("07_tuning/05_debugging"),
    ),
    "initial_loss_high": (
        "the initial loss is far above ln C: the first logits are large, from inputs or weights "
        "at too large a scale. Standardize the inputs; check the initialization.",
        _lesson("04_losses/01_likelihoods"),
    ),
    "vanishing_gradients": (
        "the weight gradient of some layer is over 1000 times smaller than the largest: the "
        "signal dies on the way. Use He initialization, ReLU-like activations or normalization.",
        _lesson("02_initialization/03_kaiming"),
    ),
    "lr_too_large": (
        "the learning rate is too large: the first updates change the weights by a large "
        "fraction of themselves and the loss rises or diverges. Divide it by 10.",
        _lesson("05_optimizers/01_gradient_descent"),
    ),
    "lr_too_small": (
        "the learning rate is too small: the updates are a tiny fraction of the weights and "
        "the loss of one batch barely moves. Raise it, after a learning-rate range test.",
        _lesson("07_tuning/04_reading_curves"),
    ),
    "cannot_overfit": (
        "the model cannot drive the loss of a single batch to near 0: a bug in the model, the "
        "loss or the step, a learning rate far too small, or too little capacity. Fix this first.",
        _lesson("07_tuning/05_debugging"),
    ),
}

# Symptoms that a finding explains: listed under it, not on their own.
_EXPLAINS = {
    "unscaled_inputs": ("initial_loss_high", "lr_too_large", "cannot_overfit", "labels_shuffled"),
    "softmax_before_loss": ("vanishing_gradients", "lr_too_small", "cannot_overfit", "labels_shuffled"),
    "summed_loss": ("initial_loss_high", "lr_too_large", "cannot_overfit", "labels_shuffled"),
    "zero_grad_missing": ("lr_too_large", "cannot_overfit", "labels_shuffled"),
    "lr_too_large": ("cannot_overfit", "labels_shuffled"),
    "lr_too_small": ("cannot_overfit", "labels_shuffled"),
    "cannot_overfit": ("labels_shuffled",),
}

#: The thresholds of :func:`diagnose`'s checks.
THRESHOLDS = {
    "input_rms": (0.2, 5.0),  # root mean square of the inputs outside this range: unscaled
    "feature_std_ratio": 100.0,  # largest / smallest feature std above this: unscaled
    "initial_loss": 1.5,  # initial loss above this times ln C, plus 0.5: high
    "vanishing": 1e-3,  # smallest / largest weight-gradient norm below this: vanishing
    "update_ratio_large": 0.2,  # update:weight ratio of the first steps above this: lr too large
    "update_ratio_rising": 1e-2,  # ... or above this while the loss of one batch rises
    "update_ratio_small": 1e-4,  # below this while one batch cannot be fitted: lr too small
}


@dataclass(frozen=True)
class Finding:
    """One problem :func:`diagnose` found.

    ``code`` is a key of :data:`FINDINGS`; ``check`` names the check that saw
    it; ``evidence`` says what was measured; ``cause`` is the likely cause and
    what to do; ``lesson`` is the lesson that explains it; ``symptoms`` lists
    the other findings this one explains.
    """

    code: str
    check: str
    evidence: str
    cause: str
    lesson: str
    symptoms: tuple[str, ...] = ()


@dataclass
class Diagnosis:
    """What :func:`diagnose` measured and found.

    ``findings`` are the problems, causes first; ``checks`` maps each check to a
    one-line summary of its measurement (``!!`` marks the checks that saw a
    problem in the report); ``measurements`` holds the numbers
    (``initial_loss``, ``second_step_ratio``, ``update_ratio``,
    ``held_out_accuracy``, ...).
    """

    findings: list[Finding] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    measurements: dict[str, float] = field(default_factory=dict)
    flagged: set[str] = field(default_factory=set)

    @property
    def codes(self) -> list[str]:
        """The codes of the findings, in order."""
        return [f.code for f in self.findings]

    @property
    def healthy(self) -> bool:
        """True when nothing was found."""
        return not self.findings

    def report(self) -> str:
        """The printed report: one line per check, then each finding with its cause and lesson."""
        lines = [
            f"{'!!' if name in self.flagged else 'ok'}  {name:<15}{text}"
            for name, text in self.checks.items()
        ]
        lines.append("no findings" if self.healthy else "")
        for f in self.findings:
            lines.append(f"{f.code} ({f.check})")
            lines += ["  " + line for line in textwrap.wrap(f"measured: {f.evidence}", 76)]
            if f.symptoms:
                lines.append(f"  which also explains: {', '.join(f.symptoms)}")
            lines += ["  " + line for line in textwrap.wrap(f"likely cause: {f.cause}", 76)]
            lines.append(f"  see {f.lesson}")
        return "\n".join(lines).rstrip()


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable, X: Tensor, y: Tensor
) -> float:
    """One correct training step: train mode, zero the gradients, loss, backward, optimizer step.

    The default ``step`` of :func:`diagnose`; returns the loss of the batch.
    """
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def predict(model: nn.Module, X: Tensor) -> Tensor:
    """The model's outputs in evaluation mode, without gradients; the model's mode is restored.

    The default ``evaluate`` of :func:`diagnose`.
    """
    was_training = model.training
    model.eval()
    try:
        return model(X)
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------- helpers
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass
class _Run:
    """The inputs of :func:`diagnose`, and what its checks have found so far."""

    model: nn.Module
    X: Tensor  # training rows, shuffled
    y: Tensor
    X_val: Tensor
    y_val: Tensor
    loss_fn: Callable
    optimizer: torch.optim.Optimizer | OptimizerFactory | None
    step: StepFn
    evaluate: EvaluateFn | None
    batch_size: int
    num_steps: int
    seed: int
    result: Diagnosis = field(default_factory=Diagnosis)
    found: dict[str, Finding] = field(default_factory=dict)

    @property
    def batch(self) -> tuple[Tensor, Tensor]:
        return self.X[: self.batch_size], self.y[: self.batch_size]

    def copy(self) -> nn.Module:
        """A copy of the model in training mode, without gradients."""
        clone = copy.deepcopy(self.model).train()
        clone.zero_grad(set_to_none=True)
        return clone

    def new_optimizer(self, clone: nn.Module) -> torch.optim.Optimizer:
        """A fresh optimizer for ``clone`` with the settings of the reader's ``optimizer``."""
        if self.optimizer is None:
            return torch.optim.Adam(clone.parameters(), lr=1e-3)
        if isinstance(self.optimizer, torch.optim.Optimizer):
            index = {id(p): i for i, p in enumerate(self.model.parameters())}
            params = list(clone.parameters())
            groups = [
                {**group, "params": [params[index[id(p)]] for p in group["params"]]}
                for group in self.optimizer.param_groups
            ]
            return type(self.optimizer)(groups, **self.optimizer.defaults)
        made = self.optimizer(clone.parameters())
        if not isinstance(made, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer(params) must return a torch.optim.Optimizer, got {type(made).__name__}"
            )
        return made

    def check(self, name: str, summary: str, **measured: float) -> None:
        self.result.checks[name] = summary
        self.result.measurements.update(measured)

    def flag(self, code: str, check: str, evidence: str, lesson: str | None = None) -> None:
        cause, default_lesson = FINDINGS[code]
        self.found.setdefault(code, Finding(code, check, evidence, cause, lesson or default_lesson))


def _check_data(name: str, data, row_shape: tuple[int, ...] | None = None) -> tuple[Tensor, Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data)):
        raise TypeError(f"{name} must be a pair (X, y) of tensors, got {type(data).__name__}")
    X, y = data
    if len(X) != len(y):
        raise ValueError(f"{name}: X and y must have the same length, got {len(X)} and {len(y)}")
    if y.dtype != torch.long or y.dim() != 1:
        raise ValueError(
            f"{name}: y must be a 1-D tensor of class indices (torch.long), got {y.dtype} of shape "
            f"{tuple(y.shape)}; diagnose checks classifiers"
        )
    if not X.is_floating_point():
        raise ValueError(f"{name}: X must be a floating-point tensor, got {X.dtype}")
    if row_shape is not None and tuple(X.shape[1:]) != row_shape:
        raise ValueError(
            f"{name}: rows of X must have shape {row_shape} as in data, got {tuple(X.shape[1:])}"
        )
    return X, y


def _check_optimizer(optimizer, model: nn.Module) -> None:
    if isinstance(optimizer, torch.optim.Optimizer):
        own = {id(p) for p in model.parameters()}
        if any(id(p) not in own for group in optimizer.param_groups for p in group["params"]):
            raise ValueError(
                "optimizer holds parameters that are not the model's: build it on model.parameters()"
            )
    elif optimizer is not None and not callable(optimizer):
        raise TypeError(
            "optimizer must be a torch.optim.Optimizer built on model.parameters(), a function "
            f"params -> optimizer, or None; got {type(optimizer).__name__}"
        )


def _params(model: nn.Module) -> Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).clone()


def _grads(model: nn.Module) -> Tensor:
    grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in model.parameters()]
    return torch.cat([g.flatten() for g in grads])


def _has(model: nn.Module, kinds: tuple[type, ...]) -> bool:
    return any(isinstance(m, kinds) for m in model.modules())


# --------------------------------------------------------------------------- the checks
def _inputs(run: _Run) -> None:
    """Standardized features have a root mean square near 1 and similar spreads."""
    flat = run.X.reshape(len(run.X), -1).double()
    rms = flat.pow(2).mean().sqrt().item()
    std = flat.std(dim=0)
    varying = std[std > 1e-12 * max(std.max().item(), 1e-300)]  # constant features do not count
    ratio = (varying.max() / varying.min()).item() if len(varying) else 1.0
    summary = f"rms {rms:.3g}, largest/smallest feature std {ratio:.3g}"
    run.check("inputs", summary, input_rms=rms, feature_std_ratio=ratio)
    low, high = THRESHOLDS["input_rms"]
    if not low <= rms <= high or ratio > THRESHOLDS["feature_std_ratio"]:
        run.flag("unscaled_inputs", "inputs", f"{summary}; standardized: rms near 1, similar stds")


def _outputs_and_initial_loss(run: _Run) -> int:
    """Logits or probabilities? Is the initial loss near ln C? Returns the number of classes."""
    Xb, yb = run.batch
    out = predict(copy.deepcopy(run.model), Xb)
    if not isinstance(out, Tensor) or out.dim() != 2 or len(out) != len(Xb):
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"model must return a (batch, classes) tensor of scores, got {shape}")
    num_classes, top = out.shape[1], int(max(run.y.max(), run.y_val.max()))
    if num_classes < 2 or top >= num_classes:
        raise ValueError(f"model returns {num_classes} scores per row, but the labels go up to {top}")
    probabilities = bool((out >= 0).all() and (out.sum(dim=1) - 1).abs().max() < 1e-4)
    run.check("outputs", "probabilities (rows >= 0, summing to 1)" if probabilities else "logits")
    if probabilities:  # can the loss reach 0 on outputs like these? Not if it expects logits
        perfect = nn.functional.one_hot(yb, num_classes).to(out.dtype)
        with torch.no_grad():
            floor = float(run.loss_fn(perfect, yb))
        run.result.measurements["loss_of_perfect_outputs"] = floor
        if floor > 0.1:
            evidence = f"outputs are probabilities, and even perfect ones give a loss of {floor:.3g}"
            run.flag("softmax_before_loss", "outputs", evidence)
    ln_c = math.log(num_classes)
    with torch.no_grad():
        initial = float(run.loss_fn(out, yb))
    run.check("initial loss", f"{initial:.3g} (ln {num_classes} = {ln_c:.3g})", initial_loss=initial)
    summed = len(yb) * ln_c
    if getattr(run.loss_fn, "reduction", "mean") == "sum" or abs(initial / summed - 1) < 0.25:
        run.flag("summed_loss", "initial loss", f"{initial:.3g}, near batch size x ln C = {summed:.3g}")
    elif initial > THRESHOLDS["initial_loss"] * ln_c + 0.5:
        run.flag("initial_loss_high", "initial loss", f"{initial:.3g}, far above ln C = {ln_c:.3g}")
    return num_classes


def _training_step(run: _Run, lr: float = 1e-3) -> None:
    """Two calls of ``step`` with plain SGD; each update is compared with SGD on the loss alone.

    A correct step moves the weights by ``-lr * grad``: a ratio of 1 along the gradient, at
    both calls. A step that never zeroes the gradients adds the first gradient to the
    second: a ratio of about 2 at the second call (the two gradients are nearly equal).
    """
    Xb, yb = run.batch
    clone = run.copy()
    probe = torch.optim.SGD(clone.parameters(), lr=lr)
    ratios = []
    for call in range(2):
        reference = copy.deepcopy(clone)
        before = _params(clone)
        torch.manual_seed(run.seed + call)  # the same dropout masks in the step and the reference
        run.step(clone, probe, run.loss_fn, Xb, yb)
        delta = _params(clone) - before
        if call == 0 and not bool(delta.abs().max() > 0):
            raise ValueError(
                "step(model, optimizer, loss_fn, X, y) did not change the model it was given: it must "
                "train the `model` it receives with the `optimizer` it receives"
            )
        reference.zero_grad(set_to_none=True)
        torch.manual_seed(run.seed + call)
        run.loss_fn(reference(Xb), yb).backward()
        grad = _grads(reference)
        ratios.append(-(delta @ grad).item() / (lr * grad.pow(2).sum().item()))
    first, second = ratios
    summary = f"updates {first:.2f} and {second:.2f} times those of SGD on the loss"
    run.check("training step", summary, step_ratio=first, second_step_ratio=second)
    if abs(first - 1) < 0.1 and second - first > 0.5:
        run.flag("zero_grad_missing", "training step", f"{summary}: the second adds the first's gradient")


def _evaluation(run: _Run) -> None:
    """Does ``evaluate`` predict like the model in eval mode?"""
    if run.evaluate is None:
        run.check("evaluation", "default: model.eval(), no gradients")
        return
    reference = predict(copy.deepcopy(run.model), run.X_val)
    got = run.evaluate(run.copy(), run.X_val)  # a model in training mode, as after a step
    if not isinstance(got, Tensor) or len(got) != len(run.X_val):
        shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
        raise ValueError(f"evaluate(model, X) must return one row or class per row of X, got {shape}")
    got = got.detach()
    if got.dim() == 1:  # predicted classes
        differs = bool((got != reference.argmax(dim=1)).any())
    else:
        differs = bool((got - reference).abs().max() > 1e-6 * (reference.abs().max() + 1e-12))
    run.check("evaluation", "differs from model.eval()" if differs else "matches model.eval()")
    dropout, batchnorm = _has(run.model, _DROPOUT), _has(run.model, _BATCHNORM)
    if differs and (dropout or batchnorm):
        layer = "dropout" if dropout else "batch norm"
        lesson = None if dropout else _lesson("06_regularization/04_normalization")
        evidence = f"evaluate() differs from the model in eval mode, which has {layer}"
        run.flag("eval_mode_missing", "evaluation", evidence, lesson)


def _gradient_flow(run: _Run) -> None:
    """The weight-gradient norm of every Linear or Conv layer at initialization, on one batch."""
    Xb, yb = run.batch
    clone = run.copy()
    torch.manual_seed(run.seed)
    run.loss_fn(clone(Xb), yb).backward()
    norms = [m.weight.grad.norm().item() for m in clone.modules() if isinstance(m, _WEIGHTED)]
    if not norms:
        run.check("gradient flow", "no Linear or Conv layer with a gradient")
        return
    low, high = min(norms), max(norms)
    summary = f"weight gradients {low:.2g} to {high:.2g} over {len(norms)} layers"
    run.check("gradient flow", summary, grad_min=low, grad_max=high)
    if low < THRESHOLDS["vanishing"] * high:
        run.flag("vanishing_gradients", "gradient flow", summary)


def _one_batch(run: _Run, ln_c: float) -> None:
    """Update:weight ratios of the first 10 steps on one batch, then: can the model fit it?"""
    Xb, yb = run.batch
    clone = run.copy()
    optimizer = run.new_optimizer(clone)
    first = float(run.loss_fn(predict(clone, Xb), yb))
    with LayerMonitor(clone, layers="linear", optimizer=optimizer) as monitor:
        for _ in range(10):
            run.step(clone, optimizer, run.loss_fn, Xb, yb)
    for _ in range(run.num_steps - 10):
        run.step(clone, optimizer, run.loss_fn, Xb, yb)
    out = predict(clone, Xb)
    last = float(run.loss_fn(out, yb))
    accuracy = (out.argmax(dim=1) == yb).double().mean().item()
    ratios = sorted(sum(v) / len(v) for v in monitor.update_ratios.values() if v)
    median = ratios[len(ratios) // 2] if ratios else math.nan  # over the layers
    run.check(
        "update:weight", f"{median:.2g} in the first 10 steps (rule of thumb: 1e-3)", update_ratio=median
    )
    shown = f"{last:.3g}" if last < 1e3 else "over 1e3"  # a diverging loss: its digits mean nothing
    summary = f"loss {first:.3g} -> {shown} in {run.num_steps} steps, accuracy {accuracy:.2f}"
    run.check("one batch", summary, batch_loss_start=first, batch_loss_end=last, batch_accuracy=accuracy)
    rose = not last <= first  # also when the loss is nan
    fitted = last < 0.1 * min(first, ln_c) and accuracy == 1.0
    if median > THRESHOLDS["update_ratio_large"] or (rose and median > THRESHOLDS["update_ratio_rising"]):
        evidence = f"update:weight ratio {median:.2g}; one batch's loss went from {first:.3g} to {shown}"
        run.flag("lr_too_large", "update:weight", evidence)
    elif not fitted and median < THRESHOLDS["update_ratio_small"]:
        run.flag("lr_too_small", "update:weight", f"update:weight ratio {median:.2g}; {summary}")
    if not fitted:
        run.flag("cannot_overfit", "one batch", summary)


def _short_run(run: _Run, num_classes: int) -> None:
    """After ``num_steps`` steps through the training rows, is the held-out accuracy above chance?"""
    clone = run.copy()
    optimizer = run.new_optimizer(clone)
    B, start = run.batch_size, 0
    for _ in range(run.num_steps):
        start = 0 if start + B > len(run.X) else start
        run.step(clone, optimizer, run.loss_fn, run.X[start : start + B], run.y[start : start + B])
        start += B
    accuracy = (predict(clone, run.X_val).argmax(dim=1) == run.y_val).double().mean().item()
    counts = torch.bincount(run.y_val, minlength=num_classes).double()
    chance = (counts.max() / counts.sum()).item()  # always predicting the most frequent class
    margin = 3 * math.sqrt(chance * (1 - chance) / len(run.y_val))  # 3 binomial stds
    summary = f"held-out accuracy {accuracy:.2f} after {run.num_steps} steps (chance {chance:.2f})"
    run.check("short run", summary, held_out_accuracy=accuracy, chance=chance)
    if accuracy <= chance + margin:
        run.flag("labels_shuffled", "short run", summary)


def _conclude(run: _Run) -> None:
    """Findings in the order of :data:`FINDINGS`; a symptom a found cause explains goes under it."""
    explained: dict[str, list[str]] = {}
    hidden: set[str] = set()
    for code in FINDINGS:  # causes first, so a symptom goes under the first cause that explains it
        if code in run.found and code not in hidden:
            for symptom in _EXPLAINS.get(code, ()):
                if symptom in run.found and symptom not in hidden:
                    explained.setdefault(code, []).append(symptom)
                    hidden.add(symptom)
    run.result.flagged = {f.check for f in run.found.values()}
    run.result.findings = [
        Finding(**{**vars(run.found[code]), "symptoms": tuple(explained.get(code, ()))})
        for code in FINDINGS
        if code in run.found and code not in hidden
    ]


# --------------------------------------------------------------------------- diagnose
def diagnose(
    model: nn.Module,
    data: tuple[Tensor, Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    *,
    optimizer: torch.optim.Optimizer | OptimizerFactory | None = None,
    step: StepFn | None = None,
    evaluate: EvaluateFn | None = None,
    val_data: tuple[Tensor, Tensor] | None = None,
    batch_size: int = 32,
    num_steps: int = 100,
    seed: int = 0,
    verbose: bool = True,
) -> Diagnosis:
    """Run the debugging recipe of lesson ``07_tuning/05_debugging`` on a classifier.

    Args:
        model: the classifier; it returns one score per class, ``(batch, C)``.
            It is never changed: every check runs on a copy.
        data: the training data, a pair ``(X, y)`` with class indices ``y``.
        loss_fn: the loss you train with (default ``nn.CrossEntropyLoss()``).
        optimizer: your optimizer (built on ``model.parameters()``) or a function
            ``params -> optimizer``; fresh copies with its settings train the
            copies of the model. Default: Adam with ``lr=1e-3``.
        step: your training step, ``step(model, optimizer, loss_fn, X, y)``; it
            must train the ``model`` it gets with the ``optimizer`` it gets.
            Default :func:`train_step`.
        evaluate: your prediction function, ``evaluate(model, X)``, returning
            logits or predicted classes. Default :func:`predict`.
        val_data: held-out ``(X, y)`` for the short run; by default a seeded
            fifth of ``data`` is held out.
        batch_size: rows per batch in the checks (at least 8).
        num_steps: steps of the one-batch check and of the short run (at least 10).
        seed: seeds every draw; the global random state is left as it was.
        verbose: print the report.

    The checks are listed in the module docstring, their thresholds in
    :data:`THRESHOLDS`, the findings in :data:`FINDINGS`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X, y = _check_data("data", data)
    positive_int("batch_size", batch_size, minimum=8)
    positive_int("num_steps", num_steps, minimum=10)
    if len(X) < 2 * batch_size:
        raise ValueError(f"data must have at least 2 * batch_size = {2 * batch_size} rows, got {len(X)}")
    for name, fn in (("loss_fn", loss_fn), ("step", step), ("evaluate", evaluate)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
    _check_optimizer(optimizer, model)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        order = torch.randperm(len(X))
        if val_data is None:
            held_out = max(batch_size, len(X) // 5)
            X_val, y_val = X[order[:held_out]], y[order[:held_out]]
            order = order[held_out:]
        else:
            X_val, y_val = _check_data("val_data", val_data, tuple(X.shape[1:]))
        run = _Run(model, X[order], y[order], X_val, y_val, loss_fn, optimizer, step or train_step,
                   evaluate, batch_size, num_steps, seed)  # fmt: skip
        _inputs(run)
        num_classes = _outputs_and_initial_loss(run)
        _training_step(run)
        _evaluation(run)
        _gradient_flow(run)
        _one_batch(run, math.log(num_classes))
        _short_run(run, num_classes)
    _conclude(run)
    if verbose:
        print(run.result.report())
    return run.result
