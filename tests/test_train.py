"""Tests for utils.train: the loop against a hand-written SGD loop, divergence, evaluate."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils.data import TensorLoader, make_blobs, make_moons, make_regression_1d
from utils.models import make_mlp
from utils.train import History, evaluate, train


def _easy_problem():
    X, y = make_blobs(n=120, centers=3, std=0.5, seed=0)
    X = (X - X.mean(dim=0)) / X.std(dim=0)
    return X, y


def test_loss_decreases_on_an_easy_problem():
    torch.manual_seed(0)
    X, y = _easy_problem()
    model = make_mlp([2, 16, 3])
    history = train(model, TensorLoader(X, y, batch_size=32, seed=0), num_epochs=15, lr=0.2)
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]
    assert history.train_acc[-1] > 0.95
    assert not history.diverged and history.diverged_at is None


def test_history_lengths_match_epochs_and_steps():
    torch.manual_seed(0)
    X, y = _easy_problem()
    loader = TensorLoader(X, y, batch_size=50, seed=0)  # 3 batches per epoch
    history = train(make_mlp([2, 8, 3]), loader, num_epochs=4, val_data=(X[:30], y[:30]))
    assert isinstance(history, History)
    assert len(history.step_loss) == 4 * len(loader) == 12
    for curve in (history.train_loss, history.train_acc, history.val_loss, history.val_acc):
        assert len(curve) == 4
    no_val = train(make_mlp([2, 8, 3]), (X, y), num_epochs=2)  # a tuple is one full batch
    assert len(no_val.step_loss) == 2 and no_val.val_loss == [] and no_val.val_acc == []


def test_train_matches_a_hand_written_sgd_loop():
    torch.manual_seed(0)
    X, y = make_moons(n=70, seed=0)
    model = make_mlp([2, 8, 8, 2], activation="tanh")
    ref = copy.deepcopy(model)
    lr, batch_size, num_epochs, seed = 0.3, 16, 3, 7
    history = train(model, TensorLoader(X, y, batch_size=batch_size, seed=seed), num_epochs=num_epochs, lr=lr)

    gen = torch.Generator().manual_seed(seed)  # the same data order as the loader
    step_loss, epoch_loss, epoch_acc = [], [], []
    for _ in range(num_epochs):
        order = torch.randperm(len(X), generator=gen)
        total_loss, correct = 0.0, 0
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            logits = ref(X[idx])
            loss = F.cross_entropy(logits, y[idx])
            for p in ref.parameters():
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in ref.parameters():
                    p -= lr * p.grad
            step_loss.append(loss.item())
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(dim=1) == y[idx]).sum().item()
        epoch_loss.append(total_loss / len(X))
        epoch_acc.append(correct / len(X))

    for (name, p), p_ref in zip(model.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, p_ref, msg=name)
    torch.testing.assert_close(torch.tensor(history.step_loss), torch.tensor(step_loss))
    torch.testing.assert_close(torch.tensor(history.train_loss), torch.tensor(epoch_loss))
    assert history.train_acc == epoch_acc


def test_train_with_given_optimizer_matches_torch_optimizer_loop():
    torch.manual_seed(1)
    X, y = make_regression_1d(n=40, seed=1)
    model = make_mlp([1, 16, 1])
    ref = copy.deepcopy(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history = train(model, (X, y), num_epochs=5, optimizer=optimizer, loss_fn=nn.MSELoss())
    ref_opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    for _ in range(5):
        loss = F.mse_loss(ref(X), y)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
    for p, p_ref in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, p_ref)
    assert all(math.isnan(a) for a in history.train_acc)  # regression: no accuracy


def test_scheduler_is_stepped_once_per_epoch():
    X, y = _easy_problem()
    model = make_mlp([2, 4, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    train(model, TensorLoader(X, y, batch_size=40), num_epochs=3, optimizer=optimizer, scheduler=scheduler)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


def test_binary_accuracy_with_bce_loss():
    X, y = make_moons(n=100, seed=0)
    model = make_mlp([2, 16, 1])
    target = y.float()[:, None]
    history = train(model, (X, target), num_epochs=2, loss_fn=nn.BCEWithLogitsLoss(), lr=0.5)
    with torch.no_grad():
        expected = ((model(X) > 0).float() == target).float().mean().item()
    _, acc = evaluate(model, (X, target), nn.BCEWithLogitsLoss())
    assert acc == pytest.approx(expected)
    assert 0.0 <= history.train_acc[-1] <= 1.0


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = _easy_problem()
    train(make_mlp([2, 4, 3]), (X, y), num_epochs=3, val_data=(X, y), verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch   1") and "train loss" in lines[0] and "val loss" in lines[0]


# -- divergence ------------------------------------------------------------------


def _diverging_run(**kwargs) -> History:
    torch.manual_seed(0)
    X, y = make_regression_1d(n=50, seed=0)
    model = make_mlp([1, 32, 32, 1])
    return train(model, (X, y), num_epochs=50, lr=50.0, loss_fn=nn.MSELoss(), **kwargs)


def test_nonfinite_loss_stops_and_explains(capsys):
    history = _diverging_run()
    assert history.diverged
    step = history.diverged_at
    assert step is not None and 1 < step <= 50
    assert len(history.step_loss) == step - 1  # training stopped at the bad step
    assert all(math.isfinite(v) for v in history.step_loss)
    out = capsys.readouterr().out
    assert f"step {step}" in out and "learning rate" in out


def test_nonfinite_loss_at_first_step():
    X = torch.tensor([[float("nan"), 0.0]])
    history = train(make_mlp([2, 2]), (X, torch.tensor([0])), num_epochs=3)
    assert history.diverged_at == 1 and history.step_loss == [] and history.train_loss == []


def test_nonfinite_loss_can_raise():
    with pytest.raises(FloatingPointError, match=r"step \d+ .*learning rate"):
        _diverging_run(on_nonfinite="raise")


# -- evaluate ----------------------------------------------------------------------


def test_evaluate_matches_full_batch_loss_and_accuracy():
    torch.manual_seed(0)
    X, y = make_moons(n=101, seed=2)
    model = make_mlp([2, 8, 2])
    with torch.no_grad():
        logits = model(X)
    expected_loss = F.cross_entropy(logits, y).item()
    expected_acc = (logits.argmax(dim=1) == y).float().mean().item()
    for data in ((X, y), TensorLoader(X, y, batch_size=10, shuffle=False), TensorLoader(X, y, batch_size=7)):
        loss, acc = evaluate(model, data)  # uneven batches are weighted by their size
        assert loss == pytest.approx(expected_loss, rel=1e-5)
        assert acc == pytest.approx(expected_acc)


def test_evaluate_regression_accuracy_is_nan():
    X, y = make_regression_1d(n=30)
    model = make_mlp([1, 4, 1])
    loss, acc = evaluate(model, (X, y), nn.MSELoss())
    with torch.no_grad():
        assert loss == pytest.approx(F.mse_loss(model(X), y).item(), rel=1e-5)
    assert math.isnan(acc)


def test_evaluate_uses_eval_mode_and_restores_it():
    torch.manual_seed(0)
    X, y = _easy_problem()
    model = nn.Sequential(nn.Linear(2, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 3))
    model.train()
    first = evaluate(model, (X, y))
    assert first == evaluate(model, (X, y))  # dropout is off while evaluating
    assert model.training
    model.eval()
    evaluate(model, (X, y))
    assert not model.training


def test_evaluate_restores_train_mode_when_it_raises():
    model = make_mlp([2, 3])
    model.train()
    with pytest.raises(RuntimeError):
        evaluate(model, (torch.zeros(4, 5), torch.zeros(4, dtype=torch.long)))  # wrong input size
    assert model.training


def test_evaluate_rejects_empty_data():
    model = make_mlp([2, 2])
    model.train()
    with pytest.raises(ValueError, match=r"data is empty"):
        evaluate(model, [])
    with pytest.raises(ValueError, match=r"data is empty"):
        evaluate(model, (torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)))
    assert model.training


# -- argument errors ---------------------------------------------------------------


@pytest.mark.parametrize("num_epochs", [0, -1, 2.5, True])
def test_train_rejects_bad_num_epochs(num_epochs):
    X, y = _easy_problem()
    with pytest.raises(ValueError, match=r"num_epochs must be an integer >= 1"):
        train(make_mlp([2, 3]), (X, y), num_epochs=num_epochs)


def test_train_rejects_bad_on_nonfinite():
    X, y = _easy_problem()
    with pytest.raises(ValueError, match=r"on_nonfinite='ignore' is not valid; choose one of: raise, stop$"):
        train(make_mlp([2, 3]), (X, y), on_nonfinite="ignore")


def test_train_rejects_empty_and_wrongly_typed_data():
    with pytest.raises(ValueError, match=r"train_data is empty"):
        train(make_mlp([2, 3]), [])
    with pytest.raises(ValueError, match=r"train_data is empty"):
        train(make_mlp([2, 3]), (torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)))
    with pytest.raises(TypeError, match=r"train_data must be a \(X, y\) tuple"):
        train(make_mlp([2, 3]), 5)


def test_history_records_the_learning_rate_of_every_step():
    X, y = _easy_problem()
    model = make_mlp([2, 4, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    loader = TensorLoader(X, y, batch_size=40)  # 3 batches per epoch
    history = train(model, loader, num_epochs=2, optimizer=optimizer, scheduler=scheduler)
    assert history.step_lr == pytest.approx([0.1] * 3 + [0.05] * 3)


def test_scheduler_stepped_per_batch_matches_a_hand_written_warmup():
    X, y = _easy_problem()
    model = make_mlp([2, 4, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    warmup = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 5))
    loader = TensorLoader(X, y, batch_size=40)  # 3 batches per epoch, 9 steps
    history = train(
        model, loader, num_epochs=3, optimizer=optimizer, scheduler=warmup, scheduler_step="batch"
    )
    expected = [0.2 * min(1.0, (step + 1) / 5) for step in range(9)]
    assert history.step_lr == pytest.approx(expected)


def test_reduce_on_plateau_is_stepped_with_the_validation_loss():
    X, y = _easy_problem()
    model = make_mlp([2, 4, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing changes, so no improvement
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    optimizer.param_groups[0]["lr"] = 1e-30  # effectively frozen, but a lr the scheduler can halve
    train(model, (X, y), num_epochs=4, optimizer=optimizer, scheduler=plateau, val_data=(X, y))
    assert plateau.best == pytest.approx(evaluate(model, (X, y))[0])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-30 * 0.5**3)  # epochs 2, 3, 4 did not improve


def test_gradient_clipping_matches_clip_grad_norm_in_a_hand_written_loop():
    torch.manual_seed(5)
    X, y = _easy_problem()
    model = make_mlp([2, 16, 3])
    ref = copy.deepcopy(model)
    history = train(model, (X, y), num_epochs=4, lr=5.0, clip_grad_norm=0.1)
    norms = []
    for _ in range(4):
        ref.zero_grad()
        F.cross_entropy(ref(X), y).backward()
        norms.append(nn.utils.clip_grad_norm_(ref.parameters(), 0.1).item())
        with torch.no_grad():
            for p in ref.parameters():
                p -= 5.0 * p.grad
    for p, p_ref in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, p_ref)
    assert history.grad_norm == pytest.approx(norms, rel=1e-5)
    assert max(norms) > 0.1  # clipping acted
    assert train(make_mlp([2, 4, 3]), (X, y), num_epochs=1).grad_norm == []  # recorded only when clipping


def _overfitting_problem():
    torch.manual_seed(0)
    X, y = make_moons(n=60, noise=0.4, seed=0)
    X_val, y_val = make_moons(n=200, noise=0.4, seed=1)
    return make_mlp([2, 64, 64, 2]), (X, y), (X_val, y_val)


@pytest.mark.parametrize("metric", ["val_loss", "val_acc"])
def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(metric):
    model, data, val = _overfitting_problem()
    history = train(model, data, num_epochs=400, lr=0.5, val_data=val, patience=10, metric=metric)
    curve = history.val_loss if metric == "val_loss" else history.val_acc
    best = min(curve) if metric == "val_loss" else max(curve)
    first_best = curve.index(best) + 1
    assert history.best_epoch == first_best
    assert history.stopped_epoch == len(curve) == first_best + 10 < 400
    val_loss, val_acc = evaluate(model, val)
    assert (val_loss if metric == "val_loss" else val_acc) == pytest.approx(best, rel=1e-6)


def test_early_stopping_without_restore_keeps_the_last_weights():
    model, data, val = _overfitting_problem()
    history = train(model, data, num_epochs=400, lr=0.5, val_data=val, patience=10, restore_best=False)
    assert evaluate(model, val)[0] == pytest.approx(history.val_loss[-1], rel=1e-6)
    assert history.val_loss[-1] > min(history.val_loss)


def test_without_patience_every_epoch_runs():
    model, data, val = _overfitting_problem()
    history = train(model, data, num_epochs=30, lr=0.5, val_data=val)
    assert history.stopped_epoch == 30 and history.best_epoch is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scheduler_step": "step"}, r"scheduler_step='step' is not valid; choose one of: batch, epoch"),
        ({"clip_grad_norm": 0.0}, r"clip_grad_norm must be a number > 0, got 0.0"),
        ({"clip_grad_norm": -1}, r"clip_grad_norm must be a number > 0, got -1"),
        ({"patience": 0, "val_data": "v"}, r"patience must be an integer >= 1, got 0"),
        (
            {"patience": 3, "metric": "acc", "val_data": "v"},
            r"metric='acc' is not valid; choose one of: val_acc",
        ),
        ({"patience": 3}, r"patience \(early stopping\) needs val_data"),
    ],
)
def test_train_rejects_bad_options(kwargs, message):
    X, y = _easy_problem()
    with pytest.raises(ValueError, match=message):
        train(make_mlp([2, 4, 3]), (X, y), num_epochs=1, **kwargs)


def test_loader_transform_is_applied_to_every_batch_with_the_loader_generator():
    X = torch.arange(12.0).reshape(6, 2)
    y = torch.arange(6)

    def jitter(X_batch, y_batch, generator):
        return X_batch + torch.rand(X_batch.shape, generator=generator), y_batch

    first = [b for b in TensorLoader(X, y, batch_size=4, seed=3, transform=jitter)]
    again = [b for b in TensorLoader(X, y, batch_size=4, seed=3, transform=jitter)]
    plain = [b for b in TensorLoader(X, y, batch_size=4, seed=3)]
    assert [len(b[0]) for b in first] == [4, 2]
    for (Xa, ya), (Xb, _), (Xp, yp) in zip(first, again, plain):
        torch.testing.assert_close(Xa, Xb)  # seeded with the loader: reproducible
        assert torch.equal(ya, yp)
        noise = Xa - Xp
        assert ((noise > 0) & (noise < 1)).all()


def test_loader_transform_must_be_callable():
    with pytest.raises(TypeError, match="transform must be a function"):
        TensorLoader(torch.zeros(3, 1), torch.zeros(3), transform="flip")
