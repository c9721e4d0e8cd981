"""Tests for the checker of lesson 02_initialization/02_xavier, with PyTorch as the reference."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from utils.checks.initialization import check_xavier_uniform


def _torch_xavier(shape, gain=1.0):
    """The reference: nn.init.xavier_uniform_ on an empty tensor."""
    return nn.init.xavier_uniform_(torch.empty(shape), gain=gain)


def _fans_2d_only(shape, gain=1.0):
    """A common mistake: fans from the first two dimensions only, ignoring the kernel."""
    bound = gain * math.sqrt(6.0 / (shape[0] + shape[1]))
    return torch.empty(shape).uniform_(-bound, bound)


def _half_variance(shape, gain=1.0):
    """A common mistake: variance 1 / (fan_in + fan_out) instead of 2 / (fan_in + fan_out)."""
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    bound = gain * math.sqrt(3.0 / (fan_in + fan_out))
    return torch.empty(shape).uniform_(-bound, bound)


def _normal_instead(shape, gain=1.0):
    """Right variance, wrong distribution: a normal draw exceeds the uniform bound."""
    return nn.init.xavier_normal_(torch.empty(shape), gain=gain)


def test_pytorch_reference_passes(capsys):
    assert check_xavier_uniform(_torch_xavier) is True
    assert capsys.readouterr().out.startswith("Correct: Xavier uniform")


def test_a_from_scratch_version_passes(capsys):
    def scratch(shape, gain=1.0):
        receptive = math.prod(shape[2:])
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return (2 * torch.rand(shape) - 1) * bound

    assert check_xavier_uniform(scratch) is True


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (_fans_2d_only, "kernel size"),
        (_half_variance, "2 / (fan_in + fan_out)"),
        (_normal_instead, "no value may exceed it"),
    ],
)
def test_common_mistakes_fail_with_a_hint(fn, hint, capsys):
    assert check_xavier_uniform(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: Xavier uniform") and hint in out


def test_wrong_shape_and_errors_are_reported(capsys):
    assert check_xavier_uniform(lambda shape, gain=1.0: torch.zeros(3)) is False
    assert "expected a tensor of shape" in capsys.readouterr().out

    def broken(shape, gain=1.0):
        raise RuntimeError("boom")

    assert check_xavier_uniform(broken) is False
    assert "RuntimeError: boom" in capsys.readouterr().out
