"""Tests for utils.optim: optimizers and schedules by name, the side-by-side comparison, the range test."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from utils.data import TensorLoader, make_blobs
from utils.models import make_mlp
from utils.optim import (
    OPTIMIZERS,
    SCHEDULES,
    Comparison,
    RangeTest,
    compare_with_torch,
    lr_range_test,
    make_optimizer,
    make_scheduler,
    top_hessian_eigenvalue,
)


def _params():
    return nn.Linear(3, 2).parameters()


# -- make_optimizer ---------------------------------------------------------------------

EXPECTED_TYPES = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_make_optimizer_builds_the_named_torch_optimizer(name):
    optimizer = make_optimizer(name, _params(), lr=0.05, momentum=0.8, weight_decay=0.01)
    assert type(optimizer) is EXPECTED_TYPES[name]
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.05 and group["weight_decay"] == 0.01
    if name in ("momentum", "nesterov"):
        assert group["momentum"] == 0.8 and group["nesterov"] == (name == "nesterov")
    if name == "sgd":
        assert group["momentum"] == 0


def test_make_optimizer_trains_like_the_torch_optimizer_it_names():
    torch.manual_seed(0)
    model = make_mlp([4, 8, 3]).double()
    ref = copy.deepcopy(model)
    X, y = torch.randn(32, 4, dtype=torch.float64), torch.randint(3, (32,))
    ours = make_optimizer("nesterov", model.parameters(), lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(20):
        for net, opt in ((model, ours), (ref, theirs)):
            opt.zero_grad()
            nn.functional.cross_entropy(net(X), y).backward()
            opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "adamax"}, r"name='adamax' is not valid; choose one of: adagrad, adam, adamw, momentum"),
        ({"lr": -0.1}, r"lr must be a number > 0, got -0.1"),
        ({"lr": 0}, r"lr must be a number > 0, got 0"),
        ({"momentum": 1.0}, r"momentum must lie in \[0, 1\), got 1.0"),
        ({"momentum": -0.5}, r"momentum must lie in \[0, 1\), got -0.5"),
        ({"name": "momentum", "momentum": 0.0}, r"needs momentum in \(0, 1\), got 0"),
        ({"weight_decay": -1e-4}, r"weight_decay must be a number >= 0"),
        ({"betas": (0.9, 1.0)}, r"betas\[1\] must lie in \[0, 1\), got 1.0"),
        ({"betas": (0.9,)}, r"betas must be a pair"),
    ],
)
def test_make_optimizer_rejects_bad_arguments(kwargs, message):
    arguments = {"name": "adam", "lr": 0.01} | kwargs
    name, lr = arguments.pop("name"), arguments.pop("lr")
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, _params(), lr, **arguments)


# -- make_scheduler ---------------------------------------------------------------------


def _lrs(scheduler_fn, steps: int, lr: float = 0.1) -> list[float]:
    optimizer = torch.optim.SGD(_params(), lr=lr)
    scheduler = scheduler_fn(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_make_scheduler_follows_the_formulas():
    steps = 30
    cosine = _lrs(lambda o: make_scheduler("cosine", o, steps, min_lr=0.01), steps)
    formula = [0.01 + 0.09 * (1 + math.cos(math.pi * t / steps)) / 2 for t in range(steps)]
    assert cosine == pytest.approx(formula)
    step = _lrs(lambda o: make_scheduler("step", o, steps, gamma=0.5), steps)
    assert step == pytest.approx([0.1 * 0.5 ** (t // 10) for t in range(steps)])
    exponential = _lrs(lambda o: make_scheduler("exponential", o, steps, gamma=0.01), steps + 1)
    assert exponential[-1] == pytest.approx(0.1 * 0.01) and exponential[0] == pytest.approx(0.1)
    constant = _lrs(lambda o: make_scheduler("constant", o, steps), steps)
    assert constant == pytest.approx([0.1] * steps)
    restarts = _lrs(lambda o: make_scheduler("cosine_restarts", o, steps, restarts=3), steps)
    assert restarts[0] == restarts[10] == restarts[20] == pytest.approx(0.1) and restarts[9] < 0.01


def test_make_scheduler_one_cycle_is_torchs():
    ours = _lrs(lambda o: make_scheduler("one_cycle", o, 50, pct_start=0.25), 50)
    theirs = _lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, 0.1, total_steps=50, pct_start=0.25, cycle_momentum=False
        ),
        50,
    )
    assert ours == pytest.approx(theirs)
    assert max(ours) == pytest.approx(0.1, rel=1e-3)


def test_make_scheduler_one_cycle_leaves_the_momentum_alone():
    plain = torch.optim.SGD(_params(), lr=0.1)
    make_scheduler("one_cycle", plain, 20)
    assert plain.param_groups[0]["momentum"] == 0  # PyTorch's default would set it to 0.95
    adam = torch.optim.Adam(_params(), lr=0.1)
    scheduler = make_scheduler("one_cycle", adam, 20)
    for _ in range(10):
        adam.step()
        scheduler.step()
    assert adam.param_groups[0]["betas"] == (0.9, 0.999)


def test_make_scheduler_warmup_is_linear_then_the_schedule():
    lrs = _lrs(lambda o: make_scheduler("cosine", o, 40, warmup_steps=10), 40)
    start = 1 / 10  # LinearLR: the factor rises from 1/warmup_steps to 1 in warmup_steps steps
    assert lrs[:10] == pytest.approx([0.1 * (start + (1 - start) * t / 10) for t in range(10)])
    assert lrs[10:] == pytest.approx([0.1 * (1 + math.cos(math.pi * t / 30)) / 2 for t in range(30)])


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("linear", {}, r"name='linear' is not valid; choose one of: constant, cosine, cosine_restarts"),
        ("cosine", {"total_steps": 0}, r"total_steps must be an integer >= 1"),
        ("cosine", {"warmup_steps": 100}, r"warmup_steps must be < total_steps=100"),
        ("cosine", {"warmup_steps": -1}, r"warmup_steps must be an integer >= 0"),
        ("one_cycle", {"warmup_steps": 5}, r"has its own warmup"),
        ("step", {"gamma": -0.1}, r"gamma must be a number > 0"),
        ("cosine", {"min_lr": -1.0}, r"min_lr must be a number >= 0"),
        ("one_cycle", {"pct_start": 1.0}, r"pct_start must lie in \(0, 1\)"),
    ],
)
def test_make_scheduler_rejects_bad_arguments(name, kwargs, message):
    arguments = {"total_steps": 100} | kwargs
    optimizer = torch.optim.SGD(_params(), lr=0.1)
    with pytest.raises(ValueError, match=message):
        make_scheduler(name, optimizer, **arguments)


def test_schedules_constant_lists_every_name():
    optimizer = torch.optim.SGD(_params(), lr=0.1)
    for name in SCHEDULES:
        assert make_scheduler(name, optimizer, 20) is not None


# -- compare_with_torch -----------------------------------------------------------------


def _momentum_rule(w, grad, state, lr=0.1, mu=0.9):
    v = grad.clone() if "v" not in state else mu * state["v"] + grad
    state["v"] = v
    return w - lr * v


def test_compare_with_torch_agrees_for_a_correct_rule():
    reference = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)  # noqa: E731
    comparison = compare_with_torch(_momentum_rule, reference, steps=150)
    assert isinstance(comparison, Comparison)
    assert len(comparison.max_diff) == 150 and comparison.first_difference() is None
    assert max(comparison.max_diff) < 1e-12 and comparison.error is None


def test_compare_with_torch_finds_the_first_differing_step():
    def late_bug(w, grad, state):  # right for 4 steps, then forgets its velocity
        state["t"] = state.get("t", 0) + 1
        if state["t"] == 5:
            state.pop("v")
        return _momentum_rule(w, grad, state)

    reference = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)  # noqa: E731
    comparison = compare_with_torch(late_bug, reference, steps=20)
    assert comparison.first_difference() == 5
    assert max(comparison.max_diff[:4]) < 1e-12 < comparison.max_diff[4]


def test_compare_with_torch_reports_a_failing_rule():
    def broken(w, grad, state):
        raise RuntimeError("boom")

    comparison = compare_with_torch(broken, lambda p: torch.optim.SGD(p, lr=0.1), steps=5)
    assert comparison.max_diff == [] and "RuntimeError: boom" in comparison.error
    assert comparison.first_difference() == 1
    wrong_shape = compare_with_torch(lambda w, g, s: w.sum(), lambda p: torch.optim.SGD(p, lr=0.1))
    assert "must return a tensor of shape" in wrong_shape.error


def test_compare_with_torch_accepts_a_model_and_data():
    torch.manual_seed(0)
    model = make_mlp([2, 8, 1]).double()
    X, y = torch.randn(40, 2, dtype=torch.float64), torch.randn(40, 1, dtype=torch.float64)
    rule = lambda w, g, s: w - 0.05 * g  # noqa: E731
    comparison = compare_with_torch(rule, lambda p: torch.optim.SGD(p, lr=0.05), 30, model=model, data=(X, y))
    assert comparison.first_difference() is None
    with pytest.raises(ValueError, match="pass both model and data"):
        compare_with_torch(rule, lambda p: torch.optim.SGD(p, lr=0.05), model=model)
    with pytest.raises(TypeError, match=r"rule must be a function"):
        compare_with_torch("sgd", lambda p: torch.optim.SGD(p, lr=0.05))
    with pytest.raises(ValueError, match=r"steps must be an integer >= 1"):
        compare_with_torch(rule, lambda p: torch.optim.SGD(p, lr=0.05), steps=0)


# -- lr_range_test ----------------------------------------------------------------------


def _range_problem():
    X, y = make_blobs(n=256, centers=3, std=1.5, seed=0)
    X = (X - X.mean(dim=0)) / X.std(dim=0)
    return TensorLoader(X, y, batch_size=32, seed=0)


def test_lr_range_test_restores_model_and_optimizer():
    torch.manual_seed(0)
    model = make_mlp([2, 16, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = _range_problem()
    for X, y in loader:  # give the optimizer some state to restore
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        optimizer.step()
    weights = copy.deepcopy(model.state_dict())
    state = copy.deepcopy(optimizer.state_dict())
    model.eval()
    result = lr_range_test(model, loader, optimizer, start_lr=1e-4, end_lr=1.0, num_steps=40)
    assert isinstance(result, RangeTest) and 3 <= len(result.lrs) <= 40
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, weights[key])
    restored = optimizer.state_dict()
    assert restored["param_groups"][0]["lr"] == 3e-3
    for key, value in state["state"].items():
        torch.testing.assert_close(restored["state"][key]["exp_avg"], value["exp_avg"])
    assert not model.training  # its mode is restored too


def test_lr_range_test_rises_geometrically_and_finds_the_minimum():
    torch.manual_seed(0)
    model = make_mlp([2, 16, 3])
    result = lr_range_test(model, _range_problem(), start_lr=1e-3, end_lr=100.0, num_steps=60)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert ratios == pytest.approx([(1e5) ** (1 / 59)] * len(ratios))
    assert len(result.lrs) < 60  # the loss blew up before lr = 100 and the test stopped
    assert max(result.smoothed) > 4 * min(result.smoothed)
    assert result.lrs[0] < result.steepest_lr <= result.min_loss_lr < result.lrs[-1]
    assert result.suggested_lr == pytest.approx(result.min_loss_lr / 10)
    smooth = result.smoothed
    assert smooth[0] == pytest.approx(result.losses[0])  # bias-corrected: no pull towards 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_lr": -1.0}, r"start_lr must be a number > 0"),
        ({"end_lr": 1e-6}, r"end_lr must be larger than start_lr"),
        ({"num_steps": 2}, r"num_steps must be an integer >= 3"),
        ({"smoothing": 0.0}, r"smoothing must lie in \(0, 1\)"),
        ({"diverge_factor": 1.0}, r"diverge_factor must be > 1"),
    ],
)
def test_lr_range_test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lr_range_test(make_mlp([2, 3]), _range_problem(), **kwargs)


def test_lr_range_test_rejects_empty_data_and_reports_no_finite_loss():
    with pytest.raises(ValueError, match="train_data is empty"):
        lr_range_test(make_mlp([2, 3]), [])
    X = torch.tensor([[float("nan"), 0.0]])
    result = lr_range_test(make_mlp([2, 3]), [(X, torch.tensor([0]))])
    with pytest.raises(ValueError, match="no finite loss"):
        _ = result.min_loss_lr


# -- top_hessian_eigenvalue -------------------------------------------------------------


def test_top_hessian_eigenvalue_matches_the_full_hessian():
    torch.manual_seed(0)
    model = make_mlp([2, 6, 1], "tanh").double()
    X, y = torch.randn(30, 2, dtype=torch.float64), torch.randn(30, 1, dtype=torch.float64)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss_of_flat(theta):
        pieces = torch.split(theta, [math.prod(s) for s in shapes])
        weights = {n: t.reshape(s) for n, t, s in zip(names, pieces, shapes)}
        return nn.functional.mse_loss(torch.func.functional_call(model, weights, (X,)), y)

    eigenvalues = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of_flat, flat))
    top = eigenvalues.abs().max().item()
    estimate = top_hessian_eigenvalue(lambda: nn.functional.mse_loss(model(X), y), model.parameters(), 300)
    assert estimate == pytest.approx(top, rel=1e-6)


def test_top_hessian_eigenvalue_of_a_quadratic_and_bad_input():
    A = torch.diag(torch.tensor([1.0, 5.0, 10.0], dtype=torch.float64))
    w = torch.ones(3, dtype=torch.float64, requires_grad=True)
    assert top_hessian_eigenvalue(lambda: 0.5 * w @ A @ w, [w], iters=200) == pytest.approx(10.0)
    with pytest.raises(ValueError, match=r"iters must be an integer >= 1"):
        top_hessian_eigenvalue(lambda: 0.5 * w @ A @ w, [w], iters=0)
    with pytest.raises(ValueError, match=r"params is empty"):
        top_hessian_eigenvalue(lambda: 0.5 * w @ A @ w, [])
