"""A small training loop that returns a :class:`History`, and ``evaluate``.

Chapter 1 writes this loop by hand once; every later lesson calls :func:`train`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from utils._validate import choice, positive_int, positive_number
from utils.data import TensorLoader

Batches = Iterable[tuple[Tensor, Tensor]]


@dataclass
class History:
    """What happened during training: per-step loss and per-epoch metrics.

    Accuracies are ``nan`` for regression. ``step_lr`` is the learning rate
    each step used (of the first parameter group); ``grad_norm`` is the total
    gradient norm of each step before clipping, recorded when ``clip_grad_norm``
    is set. ``diverged_at`` is the step at which the loss stopped being finite
    (training stopped there), else ``None``. With early stopping, ``best_epoch``
    is the epoch whose weights were kept and ``stopped_epoch`` the last epoch run.
    """

    step_loss: list[float] = field(default_factory=list)
    step_lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    diverged_at: int | None = None
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    @property
    def diverged(self) -> bool:
        """True when training stopped on a non-finite loss."""
        return self.diverged_at is not None


def _predictions(logits: Tensor, loss_fn: nn.Module) -> Tensor | None:
    """Predicted classes from a batch of logits, or ``None`` when accuracy does not apply."""
    logits = logits.detach()
    if logits.dim() == 2 and logits.shape[1] > 1 and not isinstance(loss_fn, nn.BCEWithLogitsLoss):
        return logits.argmax(dim=1)  # class indices from one logit per class
    if isinstance(loss_fn, nn.BCEWithLogitsLoss):  # binary: logit > 0 means class 1
        return logits > 0
    return None


def _accuracy(preds: list[Tensor | None], targets: list[Tensor]) -> float:
    """Fraction of correct predictions over an epoch's batches (nan if it does not apply)."""
    if not preds or preds[0] is None:
        return math.nan
    pred, y = torch.cat(preds), torch.cat(targets)
    if pred.dtype == torch.long and y.is_floating_point():  # class indices vs regression targets
        return math.nan
    return (pred.to(y.dtype) == y).sum().item() / len(y)


def _as_batches(data: Batches | tuple[Tensor, Tensor], name: str) -> Batches:
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        if len(data[0]) == 0:
            raise ValueError(f"{name} is empty: X has no rows")
        return TensorLoader(*data, batch_size=max(1, len(data[0])), shuffle=False)
    if isinstance(data, Iterable):
        return data
    raise TypeError(f"{name} must be a (X, y) tuple of tensors or an iterable of batches, got {type(data)}")


def _divergence_message(step: int, epoch: int, loss: float) -> str:
    return (
        f"Training stopped at step {step} (epoch {epoch}): the loss became {loss}. "
        "Likely causes: a learning rate too large for this model (try 10x smaller), "
        "weights initialized at too large a scale, inputs that are not standardized, "
        "or a log or division of zero in a hand-written loss."
    )


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Batches | tuple[Tensor, Tensor], loss_fn: nn.Module | None = None
) -> tuple[float, float]:
    """Mean loss and accuracy (``nan`` for regression) of ``model`` on ``data``, in eval mode."""
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    batches = _as_batches(data, "data")
    was_training = model.training
    model.eval()
    total_loss, count = 0.0, 0
    preds, targets = [], []
    try:
        for X, y in batches:
            logits = model(X)
            total_loss += loss_fn(logits, y).item() * len(X)
            preds.append(_predictions(logits, loss_fn))
            targets.append(y)
            count += len(X)
    finally:  # restore the mode even when the model or loss raises
        model.train(was_training)
    if count == 0:
        raise ValueError("data is empty: nothing to evaluate")
    return total_loss / count, _accuracy(preds, targets)


#: What early stopping can watch, and whether larger is better.
STOP_METRICS = {"val_loss": False, "val_acc": True}


def _check_options(
    scheduler_step: str, clip_grad_norm: float | None, patience: int | None, metric: str, val_data
) -> None:
    choice("scheduler_step", scheduler_step, ("epoch", "batch"))
    if clip_grad_norm is not None:
        positive_number("clip_grad_norm", clip_grad_norm)
    if patience is not None:
        positive_int("patience", patience)
        choice("metric", metric, STOP_METRICS)
        if val_data is None:
            raise ValueError(
                "patience (early stopping) needs val_data to watch; pass val_data=(X_val, y_val)"
            )


def _improved(value: float, best: float, higher_is_better: bool) -> bool:
    return value > best if higher_is_better else value < best


def train(
    model: nn.Module,
    train_data: Batches | tuple[Tensor, Tensor],
    *,
    num_epochs: int = 10,
    lr: float = 0.1,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: nn.Module | None = None,
    val_data: Batches | tuple[Tensor, Tensor] | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scheduler_step: str = "epoch",
    clip_grad_norm: float | None = None,
    patience: int | None = None,
    metric: str = "val_loss",
    restore_best: bool = True,
    on_nonfinite: str = "stop",
    verbose: bool = False,
) -> History:
    """Train ``model`` and return its :class:`History`.

    Args:
        model: the network; it is trained in place.
        train_data: a ``(X, y)`` tuple (full batch) or an iterable of batches,
            such as :class:`utils.data.TensorLoader`.
        num_epochs: passes over ``train_data`` (the most, with early stopping).
        lr: learning rate of the default optimizer, plain SGD.
        optimizer: use this optimizer instead of ``SGD(model.parameters(), lr)``.
        loss_fn: defaults to ``nn.CrossEntropyLoss()``.
        val_data: evaluated after every epoch when given.
        scheduler: a learning-rate scheduler, stepped as ``scheduler_step`` says.
            ``ReduceLROnPlateau`` is stepped once per epoch with the validation
            loss (the training loss without ``val_data``).
        scheduler_step: ``"epoch"`` (after every epoch) or ``"batch"`` (after
            every optimizer step, as warmup and one-cycle schedules expect).
        clip_grad_norm: when set, rescale the gradients so that their total
            norm is at most this value before each step (direction unchanged).
        patience: early stopping: stop when ``metric`` has not improved for
            this many epochs. Needs ``val_data``.
        metric: what early stopping watches: ``"val_loss"`` or ``"val_acc"``.
        restore_best: with early stopping, load the weights of the best epoch
            when training ends.
        on_nonfinite: ``"stop"`` prints why and returns the history so far;
            ``"raise"`` raises ``FloatingPointError`` with the same message.
        verbose: print one line per epoch.
    """
    positive_int("num_epochs", num_epochs)
    choice("on_nonfinite", on_nonfinite, ("stop", "raise"))
    _check_options(scheduler_step, clip_grad_norm, patience, metric, val_data)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    optimizer = torch.optim.SGD(model.parameters(), lr=lr) if optimizer is None else optimizer
    batches = _as_batches(train_data, "train_data")
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    per_batch = scheduler is not None and scheduler_step == "batch" and not plateau
    params = [p for group in optimizer.param_groups for p in group["params"]]
    first_group = optimizer.param_groups[0]
    history = History()
    best, best_state, waited = math.nan, None, 0
    step = 0
    model.train()
    for epoch in range(1, num_epochs + 1):
        total_loss, count = 0.0, 0
        preds, targets = [], []  # compared once per epoch: cheaper than per step
        for X, y in batches:
            logits = model(X)
            loss = loss_fn(logits, y)
            loss_value = loss.item()
            step += 1
            if not math.isfinite(loss_value):
                history.diverged_at = step
                message = _divergence_message(step, epoch, loss_value)
                if on_nonfinite == "raise":
                    raise FloatingPointError(message)
                print(message)
                return history
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                history.grad_norm.append(nn.utils.clip_grad_norm_(params, clip_grad_norm).item())
            history.step_lr.append(first_group["lr"])
            optimizer.step()
            if per_batch:
                scheduler.step()
            history.step_loss.append(loss_value)
            total_loss += loss_value * len(X)
            preds.append(_predictions(logits, loss_fn))
            targets.append(y)
            count += len(X)
        if count == 0:
            raise ValueError("train_data is empty: an epoch produced no batches")
        history.train_loss.append(total_loss / count)
        history.train_acc.append(_accuracy(preds, targets))
        if val_data is not None:
            val_loss, val_acc = evaluate(model, val_data, loss_fn)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        if plateau:
            scheduler.step(history.val_loss[-1] if val_data is not None else history.train_loss[-1])
        elif scheduler is not None and not per_batch:
            scheduler.step()
        if verbose:
            line = f"epoch {epoch:3d}  train loss {history.train_loss[-1]:.4f}"
            if val_data is not None:
                line += f"  val loss {history.val_loss[-1]:.4f}"
            print(line)
        history.stopped_epoch = epoch
        if patience is not None:
            value = history.val_loss[-1] if metric == "val_loss" else history.val_acc[-1]
            if epoch == 1 or _improved(value, best, STOP_METRICS[metric]):
                best, waited, history.best_epoch = value, 0, epoch
                if restore_best:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
