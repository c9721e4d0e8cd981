"""Tests for utils.regularization: weight-decay parameter groups, with torch.optim as the reference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.models import make_mlp
from utils.regularization import NORM_TYPES, weight_decay_groups


def _ids(params) -> set[int]:
    return {id(p) for p in params}


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_weights_decay_and_biases_and_norm_parameters_do_not(norm):
    model = make_mlp([4, 8, 8, 3], norm=norm)
    decay, no_decay = weight_decay_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    linears = [m for m in model if isinstance(m, nn.Linear)]
    norms = [m for m in model if isinstance(m, NORM_TYPES)]
    assert _ids(decay["params"]) == _ids(m.weight for m in linears)
    expected = [m.bias for m in linears] + [p for m in norms for p in m.parameters()]
    assert _ids(no_decay["params"]) == _ids(expected)
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_scalar_gain_frozen_and_shared_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = self.a  # the same layer twice: its parameters appear once
            self.gain = nn.Parameter(torch.tensor(0.0))  # a SkipInit-style scalar
            self.frozen = nn.Linear(3, 3)
            self.frozen.requires_grad_(False)

    net = Net()
    groups = weight_decay_groups(net, 0.1)
    assert _ids(groups[0]["params"]) == {id(net.a.weight)}
    assert _ids(groups[1]["params"]) == {id(net.a.bias), id(net.gain)}
    torch.optim.SGD(groups, lr=0.1)  # torch accepts the groups (no duplicates)


def test_decay_only_groups_drop_the_empty_group():
    groups = weight_decay_groups(nn.Linear(3, 2, bias=False), 0.5)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.5


def test_sgd_with_the_groups_equals_an_l2_penalty_on_the_weights_only():
    torch.manual_seed(0)
    model = make_mlp([4, 6, 3], norm="batch")
    ref = make_mlp([4, 6, 3], norm="batch")
    ref.load_state_dict(model.state_dict())
    X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    lam, lr = 0.05, 0.1
    optimizer = torch.optim.SGD(weight_decay_groups(model, lam), lr=lr, momentum=0.9)
    ref_optimizer = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(5):
        optimizer.zero_grad()
        loss_fn(model(X), y).backward()
        optimizer.step()
        ref_optimizer.zero_grad()
        penalty = sum(m.weight.pow(2).sum() for m in ref if isinstance(m, nn.Linear))
        (loss_fn(ref(X), y) + lam / 2 * penalty).backward()
        ref_optimizer.step()
    for p, p_ref in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, p_ref)


@pytest.mark.parametrize("bad", [-0.1, "0.1", None, True, float("nan")])
def test_rejects_a_bad_weight_decay(bad):
    with pytest.raises(ValueError, match=r"weight_decay must be a number >= 0, got"):
        weight_decay_groups(nn.Linear(2, 2), bad)


def test_rejects_a_model_without_trainable_parameters():
    with pytest.raises(ValueError, match="no trainable parameters"):
        weight_decay_groups(nn.ReLU(), 0.1)
