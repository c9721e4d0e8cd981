"""Tests for utils.diagnostics: LayerMonitor statistics against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils.diagnostics import LayerMonitor, LayerStats
from utils.models import make_mlp


def _batch(n: int = 64, d: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen), torch.randint(0, 2, (n,), generator=gen)


def _all_forward_hooks(model: nn.Module) -> list:
    return [h for m in model.modules() for h in m._forward_hooks.values()]


def test_hooks_are_removed_after_the_with_block():
    model = make_mlp([4, 8, 8, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, y = _batch()
    with LayerMonitor(model, layers="all", optimizer=optimizer) as monitor:
        assert monitor.attached and len(_all_forward_hooks(model)) == 5
        F.cross_entropy(model(X), y).backward()
        optimizer.step()
    assert not monitor.attached
    assert _all_forward_hooks(model) == []
    assert all(not m._forward_hooks for m in model.modules())
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
    num_records = len(monitor.records["act1"])
    model(X)  # no hooks: nothing new is recorded, but old records are kept
    assert len(monitor.records["act1"]) == num_records == 1


def test_hooks_are_removed_when_the_block_raises():
    model = make_mlp([4, 8, 2])
    with pytest.raises(RuntimeError, match="boom"), LayerMonitor(model):
        raise RuntimeError("boom")
    assert _all_forward_hooks(model) == []


def test_attach_is_idempotent_and_remove_can_reattach():
    model = make_mlp([4, 8, 2])
    monitor = LayerMonitor(model)
    assert monitor.attach() is monitor
    monitor.attach()
    assert len(_all_forward_hooks(model)) == 1
    monitor.remove()
    assert _all_forward_hooks(model) == []
    with monitor:
        model(_batch()[0])
    assert [s.name for s in monitor.stats()] == ["act1"]


def test_activation_stats_match_a_hand_computed_forward_pass():
    torch.manual_seed(0)
    model = make_mlp([4, 32, 32, 2], activation="tanh")
    X, _ = _batch()
    with LayerMonitor(model) as monitor:
        model(X)
    a1 = torch.tanh(model.linear1(X))
    a2 = torch.tanh(model.linear2(a1))
    stats = monitor.stats()
    assert [s.name for s in stats] == ["act1", "act2"]
    for s, a in zip(stats, (a1, a2), strict=True):
        assert isinstance(s, LayerStats)
        assert s.mean == pytest.approx(a.mean().item(), abs=1e-6)
        assert s.std == pytest.approx(a.std().item(), rel=1e-5)
        assert s.saturated == pytest.approx((a.abs() > 0.99).float().mean().item())
        assert math.isnan(s.dead)  # dead applies to rectifiers only
        assert math.isnan(s.grad_norm)  # no backward pass yet
    torch.testing.assert_close(monitor.values["act2"], a2.detach().flatten())
    assert monitor.series("std") == [s.std for s in stats]


def test_grad_norm_matches_autograd_grad_wrt_layer_output():
    torch.manual_seed(1)
    model = make_mlp([4, 16, 16, 2])
    X, y = _batch(seed=1)
    with LayerMonitor(model, layers="all") as monitor:
        F.cross_entropy(model(X), y).backward()

    h1 = model.linear1(X)
    a1 = model.act1(h1)
    h2 = model.linear2(a1)
    a2 = model.act2(h2)
    logits = model.linear3(a2)
    outputs = {"linear1": h1, "act1": a1, "linear2": h2, "act2": a2, "linear3": logits}
    grads = torch.autograd.grad(F.cross_entropy(logits, y), list(outputs.values()))
    by_name = {s.name: s for s in monitor.stats()}
    assert list(by_name) == list(outputs)  # depth order
    for (name, _), grad in zip(outputs.items(), grads, strict=True):
        assert by_name[name].grad_norm == pytest.approx(grad.norm().item(), rel=1e-5), name
        assert by_name[name].grad_std == pytest.approx(grad.std().item(), rel=1e-5), name
        torch.testing.assert_close(monitor.grad_values[name], grad.flatten())


def test_dead_relu_layer_has_dead_fraction_one():
    model = make_mlp([4, 16, 16, 2])
    with torch.no_grad():
        model.linear1.bias.fill_(-100.0)  # every pre-activation is very negative
    X, _ = _batch()
    with LayerMonitor(model) as monitor:
        model(X)
    assert monitor.stats()[0].dead == 1.0
    assert monitor.stats()[0].mean == 0.0 and monitor.stats()[0].std == 0.0
    assert math.isnan(monitor.stats()[0].saturated)  # a ReLU has dead units, not saturation


def test_dead_fraction_counts_units_dead_for_every_example():
    model = make_mlp([4, 8, 2])
    with torch.no_grad():
        model.linear1.weight.zero_()
        model.linear1.bias.copy_(torch.tensor([-1.0, 1.0] * 4))  # units 0, 2, 4, 6 dead
    with LayerMonitor(model) as monitor:
        model(_batch()[0])
    assert monitor.stats()[0].dead == 0.5


def test_dead_fraction_is_per_channel_for_convolutions():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    with torch.no_grad():
        model[0].bias.copy_(torch.tensor([-100.0, 0.5, -100.0, 0.5]))
        model[0].weight.fill_(0.01)
    with LayerMonitor(model) as monitor:
        model(torch.rand(2, 1, 6, 6))
    assert monitor.stats()[0].dead == 0.5


def test_tanh_with_huge_weights_is_saturated():
    torch.manual_seed(0)
    model = make_mlp([10, 64, 64, 2], activation="tanh", init="normal", std=100.0)
    X, _ = _batch(d=10)
    with LayerMonitor(model) as monitor:
        model(X)
    saturated = monitor.series("saturated")
    assert all(s > 0.95 for s in saturated), saturated
    small = make_mlp([10, 64, 2], activation="tanh", init="normal", std=0.01)
    with LayerMonitor(small) as monitor:
        small(X)
    assert monitor.series("saturated") == [0.0]


def test_sigmoid_saturation_counts_both_ends():
    model = nn.Sequential(nn.Linear(1, 3), nn.Sigmoid())
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([-10.0, 0.0, 10.0]))  # near 0, at 0.5, near 1
    with LayerMonitor(model) as monitor:
        model(torch.zeros(5, 1))
    assert monitor.stats()[0].saturated == pytest.approx(2 / 3)


@pytest.mark.parametrize("activation", ["leaky_relu", "prelu", "elu", "selu"])
def test_dead_fraction_of_other_rectifiers_counts_units_off_for_every_example(activation):
    model = make_mlp([4, 8, 2], activation=activation)
    with torch.no_grad():
        model.linear1.bias.copy_(torch.tensor([-100.0, 0.0] * 4))  # units 0, 2, 4, 6 always negative
    X, _ = _batch()
    with LayerMonitor(model) as monitor:
        model(X)
    z = model.linear1(X)
    expected = (z.amax(dim=0) <= 0).float().mean().item()
    assert monitor.stats()[0].dead == pytest.approx(expected) and expected >= 0.5


@pytest.mark.parametrize("activation", ["gelu", "silu", "mish", "softplus", "identity"])
def test_dead_fraction_does_not_apply_to_smooth_activations(activation):
    model = make_mlp([4, 8, 2], activation=activation)
    with torch.no_grad():
        model.linear1.bias.fill_(-100.0)
    with LayerMonitor(model, layers=["act1"]) as monitor:
        model(_batch()[0])
    assert math.isnan(monitor.stats()[0].dead)


@pytest.mark.parametrize(
    "module",
    [nn.ELU(), nn.ELU(alpha=0.5), nn.CELU(alpha=2.0), nn.SELU(), nn.Softplus(), nn.Softplus(beta=3.0),
     nn.Hardtanh(), nn.ReLU6()],
    ids=repr,
)  # fmt: skip
def test_saturated_fraction_is_where_autograd_slope_is_below_threshold(module):
    from utils.diagnostics import SATURATED_SLOPE

    z = torch.linspace(-16, 8, 2401).reshape(2401, 1).requires_grad_(True)
    (slope,) = torch.autograd.grad(module(z).sum(), z)  # PyTorch's own derivative
    expected = (slope.abs() < SATURATED_SLOPE).float().mean().item()
    model = nn.Sequential(nn.Identity(), module)
    with LayerMonitor(model, layers=["1"]) as monitor, torch.no_grad():
        model(z.detach())
    assert 0.05 < expected < 0.95  # the grid reaches both the flat and the steep part
    assert monitor.stats()[0].saturated == pytest.approx(expected, abs=2 / 2401)


def test_new_activation_modules_are_monitored_by_default():
    for activation in ("prelu", "mish", "softplus"):
        model = make_mlp([4, 8, 8, 2], activation=activation)
        with LayerMonitor(model) as monitor:
            model(_batch()[0])
        assert [s.name for s in monitor.stats()] == ["act1", "act2"], activation


def test_update_ratios_match_one_sgd_step_by_hand():
    torch.manual_seed(2)
    model = make_mlp([4, 16, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    X, y = _batch(seed=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if n.endswith("weight")}
    with LayerMonitor(model, optimizer=optimizer) as monitor:
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if n.endswith("weight")}
        optimizer.step()
    assert set(monitor.update_ratios) == {"linear1.weight", "linear2.weight"}
    for name, w_before in before.items():
        w_after = dict(model.named_parameters())[name].detach()
        expected = ((w_after - w_before).norm() / w_before.norm()).item()
        assert monitor.update_ratios[name] == [pytest.approx(expected, rel=1e-5)]
        sgd_formula = (0.5 * grads[name].norm() / w_before.norm()).item()  # ||lr * g|| / ||W||
        assert monitor.update_ratios[name][0] == pytest.approx(sgd_formula, rel=1e-4)


def test_update_ratios_accumulate_one_value_per_step():
    model = make_mlp([4, 8, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, y = _batch()
    with LayerMonitor(model, optimizer=optimizer) as monitor:
        for _ in range(3):
            optimizer.zero_grad()
            F.cross_entropy(model(X), y).backward()
            optimizer.step()
    assert len(monitor.update_ratios["linear1.weight"]) == 3
    assert len(monitor.records["act1"]) == 3


class _Custom(nn.Module):
    """Not a Sequential: named sub-modules and a skip connection."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.block = nn.ModuleDict({"fc": nn.Linear(8, 8), "gate": nn.Tanh()})
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.encoder(x))
        h = h + self.block["gate"](self.block["fc"](h))
        return self.head(h)


def test_monitor_works_on_a_custom_module():
    torch.manual_seed(3)
    model = _Custom()
    X, y = _batch(seed=3)
    with LayerMonitor(model) as monitor:
        F.cross_entropy(model(X), y).backward()
    assert [s.name for s in monitor.stats()] == ["act", "block.gate"]
    h = torch.relu(model.encoder(X))
    g = torch.tanh(model.block["fc"](h))
    assert monitor.stats()[1].mean == pytest.approx(g.mean().item(), abs=1e-6)
    (grad_h,) = torch.autograd.grad(F.cross_entropy(model.head(h + g), y), [h])
    assert monitor.stats()[0].grad_norm == pytest.approx(grad_h.norm().item(), rel=1e-5)
    with LayerMonitor(model, layers=["encoder", "block.fc"]) as monitor:
        model(X)
    assert [s.name for s in monitor.stats()] == ["encoder", "block.fc"]


def test_functional_activations_fall_back_to_linear_layers():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(F.relu(self.fc1(x)))

    assert list(LayerMonitor(Functional()).modules) == ["fc1", "fc2"]


def test_layer_selectors():
    model = make_mlp([4, 8, 8, 2])
    assert list(LayerMonitor(model).modules) == ["act1", "act2"]
    assert list(LayerMonitor(model, layers="activation").modules) == ["act1", "act2"]
    assert list(LayerMonitor(model, layers="linear").modules) == ["linear1", "linear2", "linear3"]
    assert list(LayerMonitor(model, layers="all").modules) == [
        "linear1",
        "act1",
        "linear2",
        "act2",
        "linear3",
    ]
    assert list(LayerMonitor(model, layers=["linear2", "act1"]).modules) == ["linear2", "act1"]


def test_unknown_selector_lists_valid_choices():
    with pytest.raises(
        ValueError, match=r"layers='relu' is not valid; choose one of: activation, all, linear$"
    ):
        LayerMonitor(make_mlp([4, 8, 2]), layers="relu")


def test_unknown_layer_names_list_valid_names():
    with pytest.raises(
        ValueError, match=r"layers has unknown module names \['act9'\]; valid names: linear1, act1, linear2$"
    ):
        LayerMonitor(make_mlp([4, 8, 2]), layers=["act1", "act9"])


def test_selection_of_nothing_is_an_error():
    with pytest.raises(ValueError, match=r"layers=\[\] selects no module of Sequential"):
        LayerMonitor(make_mlp([4, 8, 2]), layers=[])
    with pytest.raises(ValueError, match=r"layers='linear' selects no module of Sequential"):
        LayerMonitor(nn.Sequential(nn.Tanh()), layers="linear")


def test_max_values_limits_stored_values():
    model = make_mlp([4, 100, 2])
    with LayerMonitor(model, max_values=50) as monitor:
        F.cross_entropy(model(_batch()[0]), _batch()[1]).backward()
    assert monitor.values["act1"].shape == (50,)
    assert monitor.grad_values["act1"].shape == (50,)


def test_no_grad_forward_records_no_gradient():
    model = make_mlp([4, 8, 2])
    with LayerMonitor(model) as monitor, torch.no_grad():
        model(_batch()[0])
    assert math.isnan(monitor.stats()[0].grad_norm)
    assert monitor.grad_values == {}


def test_series_rejects_unknown_key():
    monitor = LayerMonitor(make_mlp([4, 8, 2]))
    keys = "dead, grad_norm, grad_std, mean, saturated, std"
    with pytest.raises(ValueError, match=rf"key='variance' is not valid; choose one of: {keys}$"):
        monitor.series("variance")


def test_table_prints_rounded_rows(capsys):
    model = make_mlp([4, 8, 8, 2])
    with LayerMonitor(model) as monitor:
        model(_batch()[0])
    monitor.table(keys=("mean", "std"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["layer", "mean", "std"]
    assert [line.split()[0] for line in lines[1:]] == ["act1", "act2"]
    assert float(lines[1].split()[2]) == pytest.approx(monitor.stats()[0].std, rel=1e-3)


def test_clear_forgets_records():
    model = make_mlp([4, 8, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with LayerMonitor(model, optimizer=optimizer) as monitor:
        F.cross_entropy(model(_batch()[0]), _batch()[1]).backward()
        optimizer.step()
        monitor.clear()
        assert monitor.stats() == [] and monitor.values == {} and monitor.update_ratios == {}
        model(_batch()[0])  # still attached: records again
    assert len(monitor.stats()) == 1


def test_layer_stats_defaults():
    s = LayerStats(name="x", mean=0.0, std=1.0)
    assert all(math.isnan(v) for v in (s.saturated, s.dead, s.grad_norm, s.grad_std))


class _Tied(nn.Module):
    """One Linear + tanh block applied three times in a pass (weights shared across depth)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(3):
            x = self.act(self.fc(x))
        return x


def test_a_module_reused_in_one_pass_gets_a_record_per_call():
    torch.manual_seed(4)
    model = _Tied()
    X, _ = _batch(seed=4)
    with LayerMonitor(model) as monitor:
        model(X).sum().backward()
    assert [s.name for s in monitor.stats()] == ["act", "act@2", "act@3"]
    h1 = torch.tanh(model.fc(X))
    h2 = torch.tanh(model.fc(h1))
    h3 = torch.tanh(model.fc(h2))
    for stats, h in zip(monitor.stats(), (h1, h2, h3)):
        assert stats.mean == pytest.approx(h.mean().item(), abs=1e-6)
        assert stats.std == pytest.approx(h.std().item(), rel=1e-5)
    (g1,) = torch.autograd.grad(torch.tanh(model.fc(torch.tanh(model.fc(h1)))).sum(), [h1])
    assert monitor.stats()[0].grad_norm == pytest.approx(g1.norm().item(), rel=1e-5)
    assert set(monitor.values) == {"act", "act@2", "act@3"}
    with monitor:  # a second pass replaces the latest stats and appends to the records
        model(X)
    assert len(monitor.stats()) == 3 and len(monitor.records["act@3"]) == 2


def test_every_k_records_every_kth_pass_only():
    model = make_mlp([4, 8, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, y = _batch()
    with LayerMonitor(model, optimizer=optimizer, every=3) as monitor:
        means = []
        for _ in range(7):  # passes 1, 4 and 7 are recorded
            out = model(X)
            means.append(torch.relu(model.linear1(X)).mean().item())
            optimizer.zero_grad()
            F.cross_entropy(out, y).backward()
            optimizer.step()
    assert monitor.passes == 7
    assert [r.mean for r in monitor.records["act1"]] == pytest.approx(
        [means[0], means[3], means[6]], abs=1e-6
    )
    assert all(math.isfinite(r.grad_norm) for r in monitor.records["act1"])
    assert len(monitor.update_ratios["linear1.weight"]) == 3  # only after the recorded passes


def test_every_must_be_a_positive_integer():
    model = make_mlp([4, 8, 2])
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="every must be an integer >= 1"):
            LayerMonitor(model, every=bad)
