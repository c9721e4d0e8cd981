"""Parameter groups for weight decay: decay the weights, not biases or normalization parameters.

Lesson ``06_regularization/02_weight_decay`` explains why; every later lesson
that trains with weight decay builds its optimizer from these groups.
"""

from __future__ import annotations

from torch import nn

#: Module types whose parameters (a scale and a shift per feature) are never decayed.
NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
)


def weight_decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer parameter groups: weight matrices with ``weight_decay``, the rest with 0.

    A parameter decays when it has at least two dimensions (the weight of a
    Linear or Conv layer) and does not belong to a normalization layer
    (:data:`NORM_TYPES`). Biases, normalization scales and shifts, and scalar
    parameters (such as a learned residual gain) get ``weight_decay=0``.
    Frozen parameters (``requires_grad=False``) are left out. Pass the result to
    any ``torch.optim`` optimizer: ``SGD(weight_decay_groups(model, 1e-4), lr=0.1)``.

    Returns:
        ``[{"params": decayed, "weight_decay": weight_decay},
        {"params": not_decayed, "weight_decay": 0.0}]``, skipping an empty group.
    """
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    decay, no_decay = [], []
    seen: set[int] = set()
    for module in model.modules():
        is_norm = isinstance(module, NORM_TYPES)
        for param in module.parameters(recurse=False):
            if id(param) in seen or not param.requires_grad:  # shared or frozen
                continue
            seen.add(id(param))
            (decay if param.ndim >= 2 and not is_norm else no_decay).append(param)
    if not decay and not no_decay:
        raise ValueError("model has no trainable parameters to group")
    groups = [
        {"params": decay, "weight_decay": float(weight_decay)},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]
