"""Tests for utils.checks: each checker returns True/False and prints "Correct"/"Not yet"."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from utils.checks import check_close, check_true
from utils.checks.core import finite_number, number_or_report
from utils.checks.weights import check_linear_layer, check_param_count
from utils.models import count_parameters, make_mlp


def _assert_report(capsys, result: bool, expected: bool, *fragments: str) -> str:
    out = capsys.readouterr().out
    assert result is expected
    assert out.startswith("Correct" if expected else "Not yet"), out
    for fragment in fragments:
        assert fragment in out, out
    return out


# -- check_true --------------------------------------------------------------------


def test_check_true_reports_both_outcomes(capsys):
    _assert_report(capsys, check_true(1 < 2, "ordering", "1 is less than 2."), True, "ordering", "1 is less")
    out = _assert_report(
        capsys, check_true(0, "ordering", hint="compare again."), False, "Hint: compare again."
    )
    assert "Hint" in out
    _assert_report(capsys, check_true(torch.tensor(True), "tensor"), True)


# -- check_close -------------------------------------------------------------------


def test_check_close_within_tolerance(capsys):
    _assert_report(capsys, check_close(1.04, 1.0, name="std"), True, "std", "got 1.04, expected 1")


def test_check_close_outside_tolerance(capsys):
    _assert_report(capsys, check_close(1.2, 1.0, name="std", hint="use fan_in."), False, "Hint: use fan_in.")


def test_check_close_absolute_tolerance_and_tensors(capsys):
    _assert_report(capsys, check_close(torch.tensor(0.001), 0.0, atol=0.01), True)
    _assert_report(capsys, check_close(0.001, 0.0), False)  # rtol alone: zero needs an exact answer
    _assert_report(capsys, check_close(-1.0, -1.0, rtol=0.0), True)


@pytest.mark.parametrize("answer", [float("nan"), math.inf])
def test_check_close_rejects_non_finite(capsys, answer):
    _assert_report(capsys, check_close(answer, 1.0), False, "not a finite number")


@pytest.mark.parametrize("answer", ["abc", None, [1.0, 2.0]])
def test_check_close_rejects_non_numbers(capsys, answer):
    _assert_report(capsys, check_close(answer, 1.0), False, "expected a number")


@pytest.mark.parametrize("answer", [2, "2.5", torch.tensor(3.0)])
def test_finite_number_converts_numbers_silently(capsys, answer):
    assert finite_number(answer) == float(answer)
    assert number_or_report(answer, "x") == float(answer)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [(math.nan, "not a finite number"), (-math.inf, "not a finite number"), (None, "expected a number"),
     ("abc", "expected a number"), ([1.0, 2.0], "expected a number")],
)  # fmt: skip
def test_finite_number_rejects_what_is_not_a_finite_number(capsys, answer, fragment):
    assert finite_number(answer) is None
    assert capsys.readouterr().out == ""
    assert number_or_report(answer, "the slope") is None
    out = capsys.readouterr().out
    assert out.startswith("Not yet: the slope.") and fragment in out, out


# -- check_param_count -------------------------------------------------------------


def test_check_param_count_agrees_with_pytorch(capsys):
    sizes = [4, 16, 3]
    expected = count_parameters(make_mlp(sizes))
    assert expected == sum(p.numel() for p in make_mlp(sizes).parameters())
    _assert_report(capsys, check_param_count(expected, sizes), True, "4*16+16 + 16*3+3 = 131")
    no_bias = count_parameters(make_mlp(sizes, bias=False))
    _assert_report(capsys, check_param_count(no_bias, sizes, bias=False), True, "4*16 + 16*3 = 112")


def test_check_param_count_forgotten_bias(capsys):
    _assert_report(
        capsys, check_param_count(112, [4, 16, 3]), False, "expected 131", "one bias per output unit"
    )
    _assert_report(capsys, check_param_count(131, [4, 16, 3], bias=False), False, "these layers have no bias")


def test_check_param_count_other_mistake(capsys):
    _assert_report(capsys, check_param_count(100, [4, 16, 3]), False, "got 100", "fan_in * fan_out")


def test_check_param_count_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"sizes must list at least two layer sizes"):
        check_param_count(10, [4])


# -- check_linear_layer ------------------------------------------------------------


def test_check_linear_layer_accepts_correct_answers(capsys):
    _assert_report(capsys, check_linear_layer(lambda X, W, b: X @ W.T + b), True, "matches F.linear")
    _assert_report(capsys, check_linear_layer(F.linear, in_features=5, out_features=4), True)


def test_check_linear_layer_missing_bias(capsys):
    _assert_report(capsys, check_linear_layer(lambda X, W, b: X @ W.T), False, "off by exactly the bias")


def test_check_linear_layer_shape_error_is_reported(capsys):
    _assert_report(capsys, check_linear_layer(lambda X, W, b: X @ W + b), False, "it raised", "X @ W.T")


def test_check_linear_layer_wrong_shape(capsys):
    wrong = check_linear_layer(lambda X, W, b: (X @ W.T + b).T)
    _assert_report(capsys, wrong, False, "output shape (2, 5), expected (5, 2)")


def test_check_linear_layer_wrong_type_and_values(capsys):
    _assert_report(
        capsys, check_linear_layer(lambda X, W, b: (X @ W.T + b).tolist()), False, "expected a tensor"
    )
    _assert_report(capsys, check_linear_layer(lambda X, W, b: X @ W.T + 2 * b), False, "values differ")


def test_report_prints_one_line_and_returns_the_verdict(capsys):
    from utils.checks.core import report

    assert report(True, "bias", "it matches.", hint="unused when right") is True
    assert capsys.readouterr().out == "Correct: bias. it matches.\n"
    assert report(False, "bias", "off by 1.", hint="add b.") is False
    assert capsys.readouterr().out == "Not yet: bias. off by 1. Hint: add b.\n"
