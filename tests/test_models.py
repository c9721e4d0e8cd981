"""Tests for utils.models: initializers against their formulas and torch.nn.init, make_mlp, counts."""

from __future__ import annotations

import math
import re
from collections import OrderedDict

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils.models import (
    ACTIVATION_OPTIONS,
    ACTIVATIONS,
    INITIALIZERS,
    count_parameters,
    init_weights,
    make_activation,
    make_mlp,
)

FAN_IN, FAN_OUT = 800, 400  # 320,000 weights: empirical variances within ~1%


def _init_layer(init: str, seed: int = 0, layer: nn.Module | None = None, **kwargs) -> nn.Module:
    layer = nn.Linear(FAN_IN, FAN_OUT) if layer is None else layer
    torch.manual_seed(seed)
    return init_weights(layer, init, **kwargs)


def _torch_reference(fill, shape=(FAN_OUT, FAN_IN), seed: int = 0, **kwargs) -> torch.Tensor:
    """The same initializer from torch.nn.init, drawn with the same seed."""
    w = torch.empty(shape)
    torch.manual_seed(seed)
    fill(w, **kwargs)
    return w


def _assert_var(w: torch.Tensor, expected: float, rel: float = 0.03) -> None:
    var = w.var().item()
    assert abs(var - expected) <= rel * expected, f"variance {var:.4g}, expected {expected:.4g}"


# -- the variance formulas, checked empirically AND against torch.nn.init ------


def test_xavier_uniform_variance_bound_and_torch_reference():
    w = _init_layer("xavier_uniform").weight.detach()
    _assert_var(w, 2 / (FAN_IN + FAN_OUT))
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    torch.testing.assert_close(w, _torch_reference(nn.init.xavier_uniform_), rtol=0, atol=0)


def test_xavier_normal_variance_and_torch_reference():
    w = _init_layer("xavier_normal").weight.detach()
    _assert_var(w, 2 / (FAN_IN + FAN_OUT))
    torch.testing.assert_close(w, _torch_reference(nn.init.xavier_normal_), rtol=0, atol=0)


def test_xavier_gain_scales_std():
    w = _init_layer("xavier_normal", gain=2.0).weight.detach()
    _assert_var(w, 4 * 2 / (FAN_IN + FAN_OUT))
    torch.testing.assert_close(w, _torch_reference(nn.init.xavier_normal_, gain=2.0), rtol=0, atol=0)


def test_kaiming_normal_fan_in_variance_and_torch_reference():
    w = _init_layer("kaiming_normal").weight.detach()
    _assert_var(w, 2 / FAN_IN)
    ref = _torch_reference(nn.init.kaiming_normal_, mode="fan_in", nonlinearity="relu")
    torch.testing.assert_close(w, ref, rtol=0, atol=0)


def test_kaiming_normal_fan_out_variance_and_torch_reference():
    w = _init_layer("kaiming_normal", mode="fan_out").weight.detach()
    _assert_var(w, 2 / FAN_OUT)
    ref = _torch_reference(nn.init.kaiming_normal_, mode="fan_out", nonlinearity="relu")
    torch.testing.assert_close(w, ref, rtol=0, atol=0)


def test_kaiming_uniform_bound_variance_and_torch_reference():
    w = _init_layer("kaiming_uniform").weight.detach()
    bound = math.sqrt(6 / FAN_IN)
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    _assert_var(w, 2 / FAN_IN)
    ref = _torch_reference(nn.init.kaiming_uniform_, nonlinearity="relu")
    torch.testing.assert_close(w, ref, rtol=0, atol=0)


def test_kaiming_tanh_gain():
    w = _init_layer("kaiming_normal", nonlinearity="tanh").weight.detach()
    _assert_var(w, (5 / 3) ** 2 / FAN_IN)


def test_lecun_normal_variance_and_torch_reference():
    w = _init_layer("lecun_normal").weight.detach()
    _assert_var(w, 1 / FAN_IN)
    # LeCun normal is Kaiming normal with gain 1 ("linear"), and normal_(0, 1/sqrt(fan_in))
    torch.testing.assert_close(w, _torch_reference(nn.init.kaiming_normal_, nonlinearity="linear"))
    torch.testing.assert_close(w, _torch_reference(nn.init.normal_, std=1 / math.sqrt(FAN_IN)))


def test_lecun_uniform_bound_variance_and_torch_reference():
    w = _init_layer("lecun_uniform").weight.detach()
    bound = math.sqrt(3 / FAN_IN)
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    _assert_var(w, 1 / FAN_IN)
    torch.testing.assert_close(w, _torch_reference(nn.init.kaiming_uniform_, nonlinearity="linear"))


def test_normal_and_uniform_use_their_options():
    w = _init_layer("normal", std=0.2).weight.detach()
    _assert_var(w, 0.04)
    assert abs(w.mean().item()) < 0.002
    torch.testing.assert_close(w, _torch_reference(nn.init.normal_, mean=0.0, std=0.2), rtol=0, atol=0)
    w = _init_layer("uniform", a=0.3).weight.detach()
    assert w.abs().max() <= 0.3 and w.abs().max() > 0.29
    _assert_var(w, 0.3**2 / 3)
    torch.testing.assert_close(w, _torch_reference(nn.init.uniform_, a=-0.3, b=0.3), rtol=0, atol=0)


def test_normal_and_uniform_defaults():
    _assert_var(_init_layer("normal").weight.detach(), 0.01**2)
    assert _init_layer("uniform").weight.detach().abs().max() <= 0.05


@pytest.mark.parametrize(("out_features", "in_features"), [(50, 200), (200, 50)])
def test_orthogonal_is_orthonormal_and_matches_torch(out_features, in_features):
    layer = _init_layer("orthogonal", layer=nn.Linear(in_features, out_features))
    w = layer.weight.detach()
    # rows are orthonormal when out <= in, columns when out > in
    gram = w @ w.T if out_features <= in_features else w.T @ w
    torch.testing.assert_close(gram, torch.eye(min(out_features, in_features)), atol=1e-5, rtol=0)
    ref = _torch_reference(nn.init.orthogonal_, shape=(out_features, in_features))
    torch.testing.assert_close(w, ref)


def test_orthogonal_gain():
    w = _init_layer("orthogonal", layer=nn.Linear(30, 20), gain=3.0).weight.detach()
    torch.testing.assert_close(w @ w.T, 9 * torch.eye(20), atol=1e-4, rtol=0)


def test_zeros_and_constant_are_exact():
    layer = _init_layer("zeros", layer=nn.Linear(5, 4))
    assert torch.equal(layer.weight, torch.zeros(4, 5)) and torch.equal(layer.bias, torch.zeros(4))
    layer = _init_layer("constant", layer=nn.Linear(5, 4))
    assert torch.equal(layer.weight, torch.full((4, 5), 0.5))
    layer = _init_layer("constant", layer=nn.Linear(5, 4), value=-2.0)
    assert torch.equal(layer.weight, torch.full((4, 5), -2.0))


def test_default_is_pytorch_reset_parameters():
    layer = _init_layer("default", seed=1)
    w, b = layer.weight.detach(), layer.bias.detach()
    bound = 1 / math.sqrt(FAN_IN)
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    assert b.abs().max() <= bound and b.abs().max() > 0  # PyTorch's own bias, not zero
    ref = nn.Linear(FAN_IN, FAN_OUT)
    torch.manual_seed(1)
    ref.reset_parameters()
    torch.testing.assert_close(w, ref.weight.detach(), rtol=0, atol=0)
    torch.testing.assert_close(b, ref.bias.detach(), rtol=0, atol=0)


def test_default_ignores_bias_value():
    layer = _init_layer("default", layer=nn.Linear(10, 10), bias=3.0)
    assert layer.bias.abs().max() <= 1 / math.sqrt(10)


@pytest.mark.parametrize("init", [name for name, fn in INITIALIZERS.items() if fn is not None])
def test_named_schemes_set_biases(init):
    layer = nn.Linear(6, 4)
    nn.init.constant_(layer.bias, 7.0)
    init_weights(layer, init)
    assert torch.equal(layer.bias, torch.zeros(4))
    init_weights(layer, init, bias=0.1)
    assert torch.equal(layer.bias, torch.full((4,), 0.1))


def test_init_works_on_layers_without_bias():
    layer = init_weights(nn.Linear(6, 4, bias=False), "xavier_uniform")
    assert layer.bias is None


# -- convolutions: fan_in = in_channels * kernel area ---------------------------


def test_conv_fan_in_is_channels_times_kernel_area():
    conv = nn.Conv2d(64, 128, kernel_size=5)
    fan_in, fan_out = 64 * 25, 128 * 25
    _assert_var(_init_layer("lecun_normal", layer=conv).weight.detach(), 1 / fan_in)
    _assert_var(_init_layer("kaiming_normal", layer=conv).weight.detach(), 2 / fan_in)
    _assert_var(_init_layer("xavier_normal", layer=conv).weight.detach(), 2 / (fan_in + fan_out))
    w = _init_layer("lecun_uniform", layer=conv).weight.detach()
    assert w.abs().max() <= math.sqrt(3 / fan_in) and w.abs().max() > 0.99 * math.sqrt(3 / fan_in)
    assert torch.equal(conv.bias, torch.zeros(128))


def test_conv1d_lecun_matches_torch():
    conv = nn.Conv1d(32, 64, kernel_size=7)
    w = _init_layer("lecun_normal", layer=conv).weight.detach()
    ref = _torch_reference(nn.init.kaiming_normal_, shape=(64, 32, 7), nonlinearity="linear")
    torch.testing.assert_close(w, ref)


# -- init_weights on whole models ----------------------------------------------


class _Custom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 3)
        self.head = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        self.norm = nn.LayerNorm(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.conv(x).mean(dim=2)))


def test_init_weights_visits_nested_layers_and_returns_model():
    model = _Custom()
    norm_weight = model.norm.weight.detach().clone()
    assert init_weights(model, "constant", value=0.25) is model
    for layer in (model.conv, model.head[0], model.head[2]):
        assert torch.equal(layer.weight, torch.full_like(layer.weight, 0.25))
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
    assert torch.equal(model.norm.weight, norm_weight)  # normalization layers untouched


def _choices(names) -> str:
    """The exact 'choose one of: a, b, ...' list an error message must show."""
    return re.escape("choose one of: " + ", ".join(sorted(names))) + "$"


def test_init_weights_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"init='he' is not valid; " + _choices(INITIALIZERS)):
        init_weights(nn.Linear(2, 2), "he")


@pytest.mark.parametrize(
    ("init", "kwargs", "pattern"),
    [
        (
            "xavier_uniform",
            {"std": 0.1},
            r"init='xavier_uniform' got unknown option\(s\) \['std'\]; valid options: gain",
        ),
        ("normal", {"gain": 2.0}, r"init='normal'.*\['gain'\]; valid options: std"),
        ("kaiming_normal", {"std": 1.0}, r"\['std'\]; valid options: mode, nonlinearity, a"),
        ("lecun_normal", {"gain": 1.0}, r"init='lecun_normal'.*valid options: none"),
        ("default", {"std": 1.0}, r"init='default'.*valid options: none"),
    ],
)
def test_init_weights_rejects_unknown_options(init, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        init_weights(nn.Linear(2, 2), init, **kwargs)


def test_kaiming_rejects_bad_mode():
    with pytest.raises(ValueError, match=r"mode='fan_avg' is not valid; choose one of: fan_in, fan_out$"):
        init_weights(nn.Linear(2, 2), "kaiming_uniform", mode="fan_avg")


# -- activations ---------------------------------------------------------------

FUNCTIONAL = {
    "identity": lambda x: x,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "prelu": lambda x: F.prelu(x, torch.tensor([0.25])),  # nn.PReLU starts at slope 0.25
    "elu": F.elu,
    "gelu": F.gelu,
    "selu": F.selu,
    "silu": F.silu,
    "mish": F.mish,
    "softplus": F.softplus,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


def test_every_activation_has_a_functional_reference():
    assert set(FUNCTIONAL) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_make_activation_matches_torch_functional(name):
    x = torch.linspace(-5, 5, 101)
    act = make_activation(name)
    assert isinstance(act, nn.Module)
    assert act is not make_activation(name)  # a fresh module each call
    torch.testing.assert_close(act(x), FUNCTIONAL[name](x))


def test_leaky_relu_negative_slope():
    act = make_activation("leaky_relu", negative_slope=0.2)
    torch.testing.assert_close(act(torch.tensor([-1.0, 2.0])), torch.tensor([-0.2, 2.0]))


@pytest.mark.parametrize(
    ("name", "options", "reference"),
    [
        ("leaky_relu", {"negative_slope": 0.3}, lambda x: F.leaky_relu(x, 0.3)),
        ("prelu", {"init": 0.1}, lambda x: F.prelu(x, torch.tensor([0.1]))),
        ("elu", {"alpha": 0.5}, lambda x: F.elu(x, alpha=0.5)),
        ("gelu", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh")),
        ("softplus", {"beta": 2.0, "threshold": 10.0}, lambda x: F.softplus(x, beta=2.0, threshold=10.0)),
    ],
)
def test_make_activation_passes_its_own_options(name, options, reference):
    assert set(options) <= set(ACTIVATION_OPTIONS[name])
    x = torch.linspace(-5, 5, 101)
    torch.testing.assert_close(make_activation(name, **options)(x), reference(x))


def test_prelu_slope_is_one_learnable_parameter():
    act = make_activation("prelu", init=0.1)
    (slope,) = act.parameters()
    assert slope.shape == (1,) and slope.requires_grad
    act(torch.tensor([-2.0, 3.0])).sum().backward()
    assert slope.grad.item() == pytest.approx(-2.0)  # d(a x)/da = x on the negative side


def test_make_activation_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"activation='swish' is not valid; " + _choices(ACTIVATIONS)):
        make_activation("swish")


@pytest.mark.parametrize(
    ("name", "options", "pattern"),
    [
        (
            "tanh",
            {"negative_slope": 0.2},
            r"activation='tanh' got unknown option\(s\) \['negative_slope'\]; valid options: none$",
        ),
        (
            "elu",
            {"negative_slope": 0.2},
            r"activation='elu' got unknown option\(s\) \['negative_slope'\]; valid options: alpha$",
        ),
        ("prelu", {"num_parameters": 8}, r"activation='prelu'.*valid options: init$"),
        ("softplus", {"alpha": 1.0}, r"activation='softplus'.*valid options: beta, threshold$"),
        ("gelu", {"approximate": "erf"}, r"approximate='erf' is not valid; choose one of: none, tanh$"),
        ("elu", {"alpha": -1.0}, r"alpha must be a number > 0, got -1.0"),
        ("leaky_relu", {"negative_slope": "0.1"}, r"negative_slope must be a finite number, got '0.1'"),
        ("leaky_relu", {"negative_slope": float("nan")}, r"negative_slope must be a finite number, got nan"),
    ],
)
def test_make_activation_rejects_options_that_do_not_apply(name, options, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_activation(name, **options)


# -- make_mlp -------------------------------------------------------------------


def test_make_mlp_layer_names_and_sizes():
    model = make_mlp([3, 16, 8, 2], activation="tanh")
    assert isinstance(model, nn.Sequential)
    assert [name for name, _ in model.named_children()] == ["linear1", "act1", "linear2", "act2", "linear3"]
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [
        (3, 16),
        (16, 8),
        (8, 2),
    ]
    assert isinstance(model.act1, nn.Tanh) and model.act1 is not model.act2
    assert model(torch.zeros(5, 3)).shape == (5, 2)


def test_make_mlp_single_layer_is_one_linear():
    model = make_mlp([4, 3])
    assert [name for name, _ in model.named_children()] == ["linear1"]


def test_make_mlp_without_bias():
    model = make_mlp([3, 5, 2], bias=False)
    assert all(m.bias is None for m in model if isinstance(m, nn.Linear))
    assert count_parameters(model) == 3 * 5 + 5 * 2


@pytest.mark.parametrize(("norm", "cls"), [("batch", nn.BatchNorm1d), ("layer", nn.LayerNorm)])
def test_make_mlp_norm_layers(norm, cls):
    model = make_mlp([3, 6, 4, 2], norm=norm)
    names = [name for name, _ in model.named_children()]
    assert names == ["linear1", "norm1", "act1", "linear2", "norm2", "act2", "linear3"]
    assert isinstance(model.norm1, cls) and isinstance(model.norm2, cls)
    size = model.norm2.num_features if norm == "batch" else model.norm2.normalized_shape[0]
    assert size == 4


def test_make_mlp_dropout_layers_follow_each_hidden_activation():
    model = make_mlp([3, 6, 4, 2], norm="batch", dropout=0.25)
    names = [name for name, _ in model.named_children()]
    assert names == ["linear1", "norm1", "act1", "drop1", "linear2", "norm2", "act2", "drop2", "linear3"]
    assert isinstance(model.drop1, nn.Dropout) and model.drop1.p == 0.25
    assert "drop1" not in dict(make_mlp([3, 6, 2]).named_children())  # dropout=0: no layer at all


def test_make_mlp_dropout_matches_functional_dropout_in_train_and_eval():
    torch.manual_seed(0)
    model = make_mlp([5, 7, 3], dropout=0.5)
    X = torch.randn(11, 5)
    torch.manual_seed(1)
    got = model(X)
    torch.manual_seed(1)
    hidden = F.dropout(F.relu(model.linear1(X)), p=0.5, training=True)
    torch.testing.assert_close(got, model.linear2(hidden))
    model.eval()  # eval mode: dropout is the identity
    torch.testing.assert_close(model(X), model.linear2(F.relu(model.linear1(X))))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_make_mlp_rejects_dropout_outside_0_1(p):
    with pytest.raises(ValueError, match=rf"dropout must lie in \[0, 1\), got {p}"):
        make_mlp([2, 3, 2], dropout=p)


def test_make_mlp_equals_hand_built_sequential():
    torch.manual_seed(0)
    model = make_mlp([4, 8, 8, 3], activation="leaky_relu", negative_slope=0.1, init="kaiming_normal")
    hand = nn.Sequential(
        OrderedDict(
            linear1=nn.Linear(4, 8),
            act1=nn.LeakyReLU(0.1),
            linear2=nn.Linear(8, 8),
            act2=nn.LeakyReLU(0.1),
            linear3=nn.Linear(8, 3),
        )
    )
    hand.load_state_dict(model.state_dict())  # strict: same names and shapes
    X = torch.randn(10, 4)
    torch.testing.assert_close(model(X), hand(X), rtol=0, atol=0)
    manual = X
    for layer in (model.linear1, model.linear2):
        manual = F.leaky_relu(F.linear(manual, layer.weight, layer.bias), 0.1)
    manual = F.linear(manual, model.linear3.weight, model.linear3.bias)
    torch.testing.assert_close(model(X), manual)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_make_mlp_builds_every_activation(activation):
    model = make_mlp([3, 5, 5, 2], activation=activation)
    assert type(model.act1) is ACTIVATIONS[activation] and model.act1 is not model.act2
    assert model(torch.zeros(4, 3)).shape == (4, 2)


def test_make_mlp_passes_activation_options_to_every_hidden_layer():
    model = make_mlp([3, 5, 5, 2], activation="elu", activation_options={"alpha": 0.5})
    assert [m.alpha for m in (model.act1, model.act2)] == [0.5, 0.5]
    prelu = make_mlp([3, 5, 5, 2], activation="prelu", activation_options={"init": 0.1})
    slopes = [p for name, p in prelu.named_parameters() if name.startswith("act")]
    assert len(slopes) == 2 and all(torch.equal(p, torch.tensor([0.1])) for p in slopes)
    leaky = make_mlp([3, 5, 2], activation="leaky_relu", negative_slope=0.3)
    assert leaky.act1.negative_slope == 0.3
    assert make_mlp([3, 5, 2], activation="leaky_relu").act1.negative_slope == 0.01  # PyTorch's default


def test_make_mlp_rejects_activation_options_that_do_not_apply():
    with pytest.raises(ValueError, match=r"activation='tanh' got unknown option\(s\) \['negative_slope'\]"):
        make_mlp([2, 3, 2], activation="tanh", negative_slope=0.2)
    with pytest.raises(ValueError, match=r"activation='relu'.*\['alpha'\]; valid options: none$"):
        make_mlp([2, 3, 2], activation="relu", activation_options={"alpha": 1.0})


def test_make_mlp_passes_init_and_options():
    torch.manual_seed(0)
    model = make_mlp([400, 300, 2], init="normal", std=0.2)
    _assert_var(model.linear1.weight.detach(), 0.04, rel=0.05)
    assert torch.equal(model.linear1.bias, torch.zeros(300))
    torch.manual_seed(0)
    xavier = make_mlp([400, 300, 2], init="xavier_normal")
    _assert_var(xavier.linear1.weight.detach(), 2 / 700, rel=0.05)


@pytest.mark.parametrize("sizes", [[3], [], [2, 0, 1], [2, -4, 1], [2, 3.0, 1], [2, True, 1], [2, "4"]])
def test_make_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match=r"sizes must list at least two positive integers .* got"):
        make_mlp(sizes)


def test_make_mlp_rejects_unknown_choices():
    with pytest.raises(ValueError, match=r"activation='rlu' is not valid; " + _choices(ACTIVATIONS)):
        make_mlp([2, 2], activation="rlu")
    with pytest.raises(ValueError, match=r"init='glorot' is not valid; " + _choices(INITIALIZERS)):
        make_mlp([2, 2], init="glorot")
    with pytest.raises(ValueError, match=r"norm='group' is not valid; choose one of: batch, layer$"):
        make_mlp([2, 2], norm="group")
    with pytest.raises(ValueError, match=r"init='xavier_normal' got unknown option\(s\) \['std'\]"):
        make_mlp([2, 2], init="xavier_normal", std=0.1)


# -- count_parameters -----------------------------------------------------------


def test_count_parameters_matches_formula_and_torch():
    model = make_mlp([10, 20, 5])
    assert count_parameters(model) == (10 * 20 + 20) + (20 * 5 + 5)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_count_parameters_trainable_only():
    model = make_mlp([10, 20, 5])
    model.linear1.weight.requires_grad_(False)
    assert count_parameters(model) == 325
    assert count_parameters(model, trainable_only=True) == 325 - 200
