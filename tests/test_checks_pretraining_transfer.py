"""Tests for the checkers of lesson 02/05_pretraining_transfer, with PyTorch as the reference."""

from __future__ import annotations

import copy

import torch
from torch import nn

from utils.checks.initialization import check_finetune_optimizer, check_transfer_model
from utils.models import count_parameters, make_mlp


def _right_transfer(source: nn.Module, num_classes: int) -> nn.Module:
    model = copy.deepcopy(source)
    model.requires_grad_(False)
    model.linear3 = nn.Linear(model.linear3.in_features, num_classes)
    return model


def _freeze_then_copy(source: nn.Module, num_classes: int) -> nn.Module:
    source.requires_grad_(False)  # the bug: freezes the caller's model too
    model = copy.deepcopy(source)
    model.linear3 = nn.Linear(model.linear3.in_features, num_classes)
    return model


def _appended_head(source: nn.Module, num_classes: int) -> nn.Module:
    model = copy.deepcopy(source)
    model.requires_grad_(False)
    model.add_module("new_layer", nn.Linear(model.linear3.out_features, num_classes))  # after the old head
    return model


def _head_then_freeze(source: nn.Module, num_classes: int) -> nn.Module:
    model = copy.deepcopy(source)
    model.linear3 = nn.Linear(model.linear3.in_features, num_classes)
    model.requires_grad_(False)  # freezes the new head as well
    return model


def test_transfer_model_accepts_the_recipe(capsys):
    assert check_transfer_model(_right_transfer) is True
    assert capsys.readouterr().out.startswith("Correct: transfer model")


def test_transfer_model_rejects_each_bug_with_a_hint(capsys):
    cases = {
        _freeze_then_copy: "frozen too",
        _appended_head: "add_module appends",
        _head_then_freeze: "trainable parameters",
        (lambda source, k: source): "shares weights",
        (lambda source, k: None): "expected a module",
    }
    for fn, message in cases.items():
        assert check_transfer_model(fn) is False
        out = capsys.readouterr().out
        assert out.startswith("Not yet") and message in out, out


def test_recipe_trains_only_the_head_with_pytorch_autograd():
    torch.manual_seed(0)
    source = make_mlp([8, 6, 4, 3])
    model = _right_transfer(source, 4)
    model(torch.randn(10, 8)).sum().backward()
    with_grad = [n for n, p in model.named_parameters() if p.grad is not None]
    assert with_grad == ["linear3.weight", "linear3.bias"]
    assert count_parameters(model, trainable_only=True) == 4 * 4 + 4


def _right_optimizer(model: nn.Module, lr: float, body_lr: float) -> torch.optim.Optimizer:
    model.requires_grad_(True)
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    head_ids = {id(p) for p in head.parameters()}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam([{"params": body, "lr": body_lr}, {"params": head.parameters(), "lr": lr}])


def test_finetune_optimizer_accepts_two_groups(capsys):
    assert check_finetune_optimizer(_right_optimizer) is True
    assert capsys.readouterr().out.startswith("Correct: fine-tuning optimizer")


def test_finetune_optimizer_rejects_wrong_answers(capsys):
    def one_lr(model, lr, body_lr):
        model.requires_grad_(True)
        return torch.optim.Adam(model.parameters(), lr=lr)

    def still_frozen(model, lr, body_lr):
        return torch.optim.Adam(model[-1].parameters(), lr=lr)

    def head_left_out(model, lr, body_lr):
        model.requires_grad_(True)
        return torch.optim.Adam(model[:-1].parameters(), lr=body_lr)

    for fn, message in [(one_lr, "has lr"), (still_frozen, "still frozen"), (head_left_out, "0 parameter")]:
        assert check_finetune_optimizer(fn) is False
        out = capsys.readouterr().out
        assert out.startswith("Not yet") and message in out, out
