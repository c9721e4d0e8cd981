"""Tests for utils.doctor: diagnose names each planted bug of lesson 7.5, and none on a healthy run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.data import load_digits, split, standardize
from utils.doctor import FINDINGS, THRESHOLDS, Diagnosis, Finding, diagnose, predict, train_step
from utils.models import make_mlp


@pytest.fixture(scope="module")
def digits():
    """Digits in float64: raw pixels in [0, 16] and standardized ones (training rows only)."""
    X, y = load_digits()
    (X_train, y_train), _ = split(X.double(), y, val_fraction=0.2, seed=0)
    (X_std,) = standardize(X_train)
    return X_train, X_std, y_train  # (1437, 64), (1437, 64), (1437,)


def _mlp(seed: int, **options) -> nn.Sequential:
    torch.manual_seed(seed)
    return make_mlp([64, 64, 64, 10], **options).double()


def _sgd(lr: float = 0.05):
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=0.9)


def _step_without_zero_grad(model, optimizer, loss_fn, X, y):
    model.train()
    loss = loss_fn(model(X), y)
    loss.backward()  # the gradients of every earlier step are still in .grad
    optimizer.step()
    return loss.item()


@torch.no_grad()
def _evaluate_in_train_mode(model, X):
    return model(X)  # no model.eval()


def _case(name: str, seed: int, digits) -> dict:
    """The arguments of diagnose for one planted bug (or the healthy run)."""
    X_raw, X, y = digits
    case = {"model": _mlp(seed), "data": (X, y), "optimizer": _sgd()}
    if name == "softmax_before_loss":
        case["model"] = nn.Sequential(_mlp(seed), nn.Softmax(dim=1))
    elif name == "eval_missing_dropout":
        case |= {"model": _mlp(seed, dropout=0.2), "evaluate": _evaluate_in_train_mode}
    elif name == "eval_missing_batchnorm":
        case |= {"model": _mlp(seed, norm="batch"), "evaluate": _evaluate_in_train_mode}
    elif name == "unscaled_inputs":
        case["data"] = (X_raw, y)
    elif name == "zero_grad_missing":
        case["step"] = _step_without_zero_grad
    elif name == "labels_shuffled":
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed + 1))
        case["data"] = (X, y[order])  # y shuffled on its own, apart from X
    elif name == "lr_100x":
        case["optimizer"] = _sgd(lr=100 * 0.05)
    elif name == "summed_loss":
        case["loss_fn"] = nn.CrossEntropyLoss(reduction="sum")
    return case


PLANTED = {
    "softmax_before_loss": "softmax_before_loss",
    "eval_missing_dropout": "eval_mode_missing",
    "eval_missing_batchnorm": "eval_mode_missing",
    "unscaled_inputs": "unscaled_inputs",
    "zero_grad_missing": "zero_grad_missing",
    "labels_shuffled": "labels_shuffled",
    "lr_100x": "lr_too_large",
    "summed_loss": "summed_loss",
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bug", PLANTED)
def test_diagnose_names_the_planted_bug_and_no_other(bug, seed, digits):
    result = diagnose(**_case(bug, seed, digits), seed=seed, verbose=False)
    assert result.codes == [PLANTED[bug]], f"{bug}: diagnose found {result.codes}"
    assert not result.healthy


def test_the_lesson_of_eval_mode_missing_depends_on_the_layer(digits):
    dropout = diagnose(**_case("eval_missing_dropout", 0, digits), verbose=False).findings[0]
    batchnorm = diagnose(**_case("eval_missing_batchnorm", 0, digits), verbose=False).findings[0]
    assert dropout.lesson.endswith("03_dropout.ipynb") and "dropout" in dropout.evidence
    assert batchnorm.lesson.endswith("04_normalization.ipynb") and "batch norm" in batchnorm.evidence


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("options", [{}, {"dropout": 0.2}, {"norm": "batch"}], ids=["plain", "dropout", "bn"])
def test_a_healthy_run_gets_no_finding(options, seed, digits, capsys):
    _, X, y = digits
    model = _mlp(seed, **options)
    result = diagnose(model, (X, y), optimizer=_sgd(), evaluate=predict, seed=seed)
    assert result.healthy and result.codes == [], result.report()
    printed = capsys.readouterr().out
    assert "no findings" in printed and "!!" not in printed
    m = result.measurements
    assert abs(m["initial_loss"] - torch.log(torch.tensor(10.0)).item()) < 0.3  # about ln C
    assert m["batch_loss_end"] < 0.05 and m["held_out_accuracy"] > 0.8


def test_symptoms_go_under_the_cause_that_explains_them(digits):
    result = diagnose(**_case("summed_loss", 0, digits), verbose=False)
    (finding,) = result.findings
    assert isinstance(finding, Finding) and isinstance(result, Diagnosis)
    assert "lr_too_large" in finding.symptoms  # B times the steps: the updates blow up
    assert {"initial loss", "update:weight"} <= result.flagged
    assert finding.cause == FINDINGS["summed_loss"][0]
    report = result.report()
    assert "which also explains: lr_too_large" in report and "reduction='sum'" in report


def test_the_training_step_is_measured_against_sgd_on_the_loss(digits):
    healthy = diagnose(**_case("healthy", 0, digits), verbose=False).measurements
    buggy = diagnose(**_case("zero_grad_missing", 0, digits), verbose=False).measurements
    assert abs(healthy["step_ratio"] - 1) < 1e-6 and abs(healthy["second_step_ratio"] - 1) < 1e-6
    assert abs(buggy["step_ratio"] - 1) < 1e-6 and abs(buggy["second_step_ratio"] - 2) < 0.05


def test_diagnose_accepts_an_optimizer_and_changes_neither_model_nor_random_state(digits):
    _, X, y = digits
    model = _mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=100 * 0.05, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    state = torch.get_rng_state()
    result = diagnose(model, (X, y), optimizer=optimizer, verbose=False)
    assert result.codes == ["lr_too_large"]  # the settings of the optimizer were used
    assert torch.equal(torch.get_rng_state(), state)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())


def test_diagnose_is_deterministic(digits):
    a = diagnose(**_case("labels_shuffled", 0, digits), verbose=False)
    b = diagnose(**_case("labels_shuffled", 0, digits), verbose=False)
    assert a.measurements == b.measurements and a.report() == b.report()


def test_train_step_and_predict_match_pytorch(digits):
    _, X, y = digits
    ours, theirs = _mlp(0, dropout=0.2), _mlp(0, dropout=0.2)
    ours.eval()  # train_step must switch training mode on
    loss_fn = nn.CrossEntropyLoss()
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.1)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for _ in range(2):
        torch.manual_seed(5)
        loss = train_step(ours, opt_ours, loss_fn, X[:32], y[:32])
        torch.manual_seed(5)
        theirs.train()
        opt_theirs.zero_grad()
        reference = loss_fn(theirs(X[:32]), y[:32])
        reference.backward()
        opt_theirs.step()
        assert loss == pytest.approx(reference.item(), rel=1e-12)
    torch.testing.assert_close(ours.state_dict(), theirs.state_dict())
    theirs.eval()
    with torch.no_grad():
        expected = theirs(X[:50])
    theirs.train()
    got = predict(theirs, X[:50])
    torch.testing.assert_close(got, expected)
    assert theirs.training and not got.requires_grad


def test_thresholds_and_findings_are_documented():
    assert set(THRESHOLDS) >= {"input_rms", "initial_loss", "update_ratio_large"}
    for code, (cause, lesson) in FINDINGS.items():
        assert cause.endswith(".") and lesson.startswith("lessons/") and lesson.endswith(".ipynb"), code


def _ignore_model(model, optimizer, loss_fn, X, y):
    return None  # trains nothing: a step that uses a global model instead looks the same


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda X, y: {"model": "mlp"}, TypeError, "model must be a torch.nn.Module"),
        (lambda X, y: {"data": X}, TypeError, r"data must be a pair \(X, y\) of tensors"),
        (lambda X, y: {"data": (X, y.double())}, ValueError, r"data: y must be a 1-D tensor of class"),
        (lambda X, y: {"data": (X, y[:-1])}, ValueError, "data: X and y must have the same length"),
        (lambda X, y: {"data": (X[:40], y[:40])}, ValueError, r"at least 2 \* batch_size = 64 rows"),
        (lambda X, y: {"batch_size": 4}, ValueError, "batch_size must be an integer >= 8"),
        (lambda X, y: {"num_steps": 5}, ValueError, "num_steps must be an integer >= 10"),
        (lambda X, y: {"loss_fn": "ce"}, TypeError, "loss_fn must be callable or None"),
        (lambda X, y: {"step": 1}, TypeError, "step must be callable or None"),
        (lambda X, y: {"evaluate": "eval"}, TypeError, "evaluate must be callable or None"),
        (
            lambda X, y: {"optimizer": "sgd"},
            TypeError,
            r"optimizer must be a torch.optim.Optimizer .*or None",
        ),
        (
            lambda X, y: {"optimizer": torch.optim.SGD(nn.Linear(3, 3).parameters(), lr=0.1)},
            ValueError,
            "optimizer holds parameters that are not the model's",
        ),
        (lambda X, y: {"optimizer": lambda params: "sgd"}, TypeError, r"optimizer\(params\) must return"),
        (lambda X, y: {"step": _ignore_model}, ValueError, "did not change the model it was given"),
        (
            lambda X, y: {"val_data": (X[:50, :10], y[:50])},
            ValueError,
            r"val_data: rows of X must have shape",
        ),
        (
            lambda X, y: {"model": make_mlp([64, 3]).double()},
            ValueError,
            "model returns 3 scores per row, but the labels go up to 9",
        ),
        (
            lambda X, y: {"model": nn.Sequential(nn.Linear(64, 1), nn.Flatten(0)).double()},
            ValueError,
            r"model must return a \(batch, classes\) tensor",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(change, error, message, digits):
    _, X, y = digits
    kwargs = {"model": _mlp(0), "data": (X, y), "verbose": False} | change(X, y)
    with pytest.raises(error, match=message):
        diagnose(**kwargs)
