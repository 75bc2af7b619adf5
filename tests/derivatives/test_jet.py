"""The jet engine against mathematics: nested autograd in float64 on the same modules.

Every check compares a jet slot with the per-output-channel derivative computed by nested
``torch.autograd.grad(create_graph=True)`` on the plain-tensor evaluation of the same module.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from pinr.backbones import primitives as P
from pinr.derivatives import jet as jet_module
from pinr.derivatives.jet import Jet, cat

RTOL = 1e-10
DTYPE = torch.float64


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def points(n: int, d: int, seed: int = 0) -> Tensor:
    return (2.0 * torch.rand(n, d, generator=generator(seed), dtype=DTYPE) - 1.0)


def init_(module: nn.Module, seed: int, *, gain: float = 1.0) -> nn.Module:
    """Deterministic uniform init ``U(-gain·sqrt(6/fan_in), ...)`` of every Linear."""
    g = generator(seed)
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = gain * math.sqrt(6.0 / m.in_features)
            with torch.no_grad():
                m.weight.copy_((2 * torch.rand(m.weight.shape, generator=g, dtype=DTYPE) - 1) * bound)
                if m.bias is not None:
                    m.bias.copy_((2 * torch.rand(m.bias.shape, generator=g, dtype=DTYPE) - 1) * 0.5)
    return module.to(DTYPE)


def hessians(module: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Autograd reference: value (N, W), gradient (W, N, d), Hessian (W, N, d, d) per channel."""
    x = x.detach().requires_grad_(True)
    u = module(x)
    grads, hess = [], []
    for c in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, c].sum(), x, create_graph=True)
        rows = [
            torch.autograd.grad(g[:, i].sum(), x, create_graph=True, materialize_grads=True)[0]
            for i in range(x.shape[1])
        ]
        grads.append(g)
        hess.append(torch.stack(rows, dim=1))
    return u, torch.stack(grads), torch.stack(hess)


def stream_reference(hess: Tensor, axes: tuple[int, ...], stream) -> Tensor:
    """Σ coef · ∂_{axes[a]} ∂_{axes[b]} u per channel, shape (N, W)."""
    out = torch.zeros(hess.shape[1], hess.shape[0], dtype=hess.dtype)
    for a, b, coef in stream:
        term = hess[:, :, axes[a], axes[b]].T
        out = out + (coef.reshape(-1, 1) if isinstance(coef, Tensor) else coef) * term
    return out


def assert_close(actual: Tensor, expected: Tensor, rtol: float = RTOL) -> None:
    scale = expected.abs().max().clamp_min(1.0)
    err = (actual - expected).abs().max()
    assert err <= rtol * scale, f"max error {err.item():.3e} exceeds {rtol:g} x scale {scale.item():.3e}"


def check_jet(module: nn.Module, x: Tensor, axes: tuple[int, ...], streams) -> Jet:
    """Assert value, first slots and every stream of ``module``'s jet equal autograd's."""
    jet = module(Jet.seed(x, axes, streams))
    u, grad, hess = hessians(module, x)
    assert isinstance(jet, Jet)
    assert jet.data.shape == (1 + len(axes) + len(streams), x.shape[0], u.shape[1])
    assert_close(jet.value, u)
    for a, axis in enumerate(axes):
        assert_close(jet.first[a], grad[:, :, axis].T)
    for p, stream in enumerate(streams):
        assert_close(jet.second[p], stream_reference(hess, axes, stream))
    return jet


def coefficient_streams(x: Tensor):
    """u_xx, the mixed u_xy (given as (y, x)), a Laplacian and a per-point weighted operator."""
    a_x = 1.0 + x[:, 0] ** 2
    b_x = torch.cos(x[:, 1])
    c_x = 0.3 * x[:, 0] * x[:, 1]
    return (
        ((0, 0, 1.0),),
        ((1, 0, 1.0),),
        ((0, 0, 1.0), (1, 1, 1.0)),
        ((0, 0, a_x), (1, 1, b_x), (0, 1, c_x), (1, 1, -2.5)),
    )


# ---------------------------------------------------------------------- networks
def siren(in_features: int, out_features: int, width: int = 24, depth: int = 3, omega: float = 30.0):
    layers: list[nn.Module] = [P.Linear(in_features, width), P.Activation("sin", omega=omega)]
    for _ in range(depth - 1):
        layers += [P.Linear(width, width), P.Activation("sin", omega=omega)]
    layers.append(P.Linear(width, out_features))
    net = nn.Sequential(*layers)
    init_(net, seed=1, gain=1.0 / omega)
    with torch.no_grad():  # SIREN's first layer: U(-1/in, 1/in)
        net[0].weight.uniform_(-1.0 / in_features, 1.0 / in_features, generator=generator(2))
    return net


class TwoBranchProduct(nn.Module):
    """u = a ⊙ b + a − 0.5 b + 2 − 3 with a tanh branch and a sin2/gaussian branch."""

    def __init__(self, d: int, width: int, out: int) -> None:
        super().__init__()
        self.a = nn.Sequential(P.Linear(d, width), P.Activation("tanh"), P.Linear(width, out))
        self.b = nn.Sequential(
            P.Linear(d, width), P.Activation("sin2", omega=2.0), P.Linear(width, width),
            P.Activation("gaussian"), P.Linear(width, out),
        )

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        return 3.0 - (a * b + a - 0.5 * b + 2.0)


class FourierMLP(nn.Module):
    """FourierEncoding (with input) → relu → softplus(β=2) MLP."""

    def __init__(self, d: int, out: int) -> None:
        super().__init__()
        B = torch.randn(6, d, generator=generator(5), dtype=DTYPE)
        self.enc = P.FourierEncoding(B, include_input=True)
        self.l1 = P.Linear(self.enc.out_features, 20)
        self.l2 = P.Linear(20, 20)
        self.l3 = P.Linear(20, out)

    def forward(self, x):
        h = P.relu(self.l1(self.enc(x)))
        return self.l3(P.softplus(self.l2(h), beta=2.0))


class CatBranches(nn.Module):
    """cat[tanh branch, sigmoid branch, exp branch, constant-in-x features] → Linear; scaled."""

    def __init__(self, d: int, out: int) -> None:
        super().__init__()
        self.a = P.Linear(d, 5)
        self.b = P.Linear(d, 4)
        self.c = P.Linear(d, 3)
        self.head = P.Linear(5 + 4 + 3 + 2, out)
        self.register_buffer("weights", torch.linspace(0.5, 1.5, out, dtype=DTYPE))

    def forward(self, x):
        n = x.value.shape[0] if isinstance(x, Jet) else x.shape[0]
        constant = torch.ones(n, 2, dtype=DTYPE)
        h = P.cat([P.tanh(self.a(x)), P.sigmoid(self.b(x)), P.exp(0.5 * self.c(x)), constant])
        return P.scale(P.cos(self.head(h)), self.weights)


NETWORKS = {
    "siren": lambda: siren(3, 3),
    "product": lambda: init_(TwoBranchProduct(3, 12, 2), seed=3),
    "fourier_relu_softplus": lambda: init_(FourierMLP(3, 2), seed=4, gain=0.5),
    "cat": lambda: init_(CatBranches(3, 3), seed=6),
    # zero streams carried through ReLU, then created by sin from full first slots
    "relu_then_sin": lambda: init_(
        nn.Sequential(
            P.Linear(3, 12), P.Activation("relu"), P.Linear(12, 12),
            P.Activation("sin", omega=3.0), P.Linear(12, 2),
        ),
        seed=28,
    ),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_jets_match_autograd(name):
    net = NETWORKS[name]()
    x = points(64, 3, seed=7)
    axes = (0, 2)  # skip the middle input axis: slots index `axes`, not input axes
    check_jet(net, x, axes, coefficient_streams(x))


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_plain_operation_path_matches_autograd(name, monkeypatch):
    """The unfused path that torch.compile traces, run eagerly."""
    monkeypatch.setattr(jet_module, "_use_fused", lambda: False)
    net = NETWORKS[name]()
    x = points(40, 3, seed=25)
    check_jet(net, x, (0, 2), coefficient_streams(x))


@pytest.mark.parametrize("name", sorted(P.ACTIVATIONS))
def test_every_activation_matches_autograd(name):
    net = init_(
        nn.Sequential(
            P.Linear(2, 10), P.Activation(name, omega=1.5), P.Linear(10, 10),
            P.Activation(name), P.Linear(10, 2),
        ),
        seed=8,
        gain=0.7,
    )
    x = points(50, 2, seed=9)
    check_jet(net, x, (0, 1), coefficient_streams(x))


def test_jets_without_streams_and_with_only_some_axes():
    net = siren(3, 2)
    x = points(30, 3, seed=10)
    jet = check_jet(net, x, (1,), ())
    assert jet.n_first == 1 and jet.streams == () and jet.second.shape == (0, 30, 2)
    jet = check_jet(net, x, (), ())
    assert jet.data.shape == (1, 30, 2)


def test_generic_elementwise_rule():
    """f = v³ through Jet.elementwise: f' = 3v², f'' = 6v."""

    class Cube(nn.Module):
        def forward(self, x):
            if isinstance(x, Jet):
                return x.elementwise(lambda v: v**3, lambda v: 3 * v**2, lambda v: 6 * v)
            return x**3

    net = init_(nn.Sequential(P.Linear(2, 6), Cube(), P.Linear(6, 2)), seed=11)
    x = points(40, 2, seed=12)
    check_jet(net, x, (0, 1), coefficient_streams(x))


def test_seed_structure():
    x = points(5, 3, seed=13)
    lap = ((0, 0, 1.0), (1, 1, 1.0))
    jet = Jet.seed(x, (2, 0), [lap])
    assert jet.data.shape == (4, 5, 3)
    torch.testing.assert_close(jet.value, x, rtol=0, atol=0)
    torch.testing.assert_close(jet.first[0], torch.tensor([[0.0, 0.0, 1.0]], dtype=DTYPE).expand(5, 3))
    torch.testing.assert_close(jet.first[1], torch.tensor([[1.0, 0.0, 0.0]], dtype=DTYPE).expand(5, 3))
    assert torch.count_nonzero(jet.second) == 0
    assert jet.streams == (lap,)
    assert Jet.seed(x, (0, 1), [((1, 0, 2.0),)]).streams == (((0, 1, 2.0),),)


def test_stacked_data_and_parts_agree():
    """A jet built from raw stacked data (one matmul path) equals the seeded one."""
    net = siren(2, 2, width=8, depth=2)
    x = points(20, 2, seed=14)
    streams = coefficient_streams(x)
    seeded = net(Jet.seed(x, (0, 1), streams))
    raw = Jet(Jet.seed(x, (0, 1), streams).data.clone(), 2, streams)
    stacked = net(raw)
    assert_close(stacked.data, seeded.data)
    v, j, s = seeded.value, seeded.first, seeded.second
    assert_close(seeded.data, torch.cat([v[None], j, s]))


def test_constants_broadcast_and_arithmetic():
    net = siren(2, 3, width=8, depth=2)
    x = points(16, 2, seed=15)
    jet = net(Jet.seed(x, (0, 1), [((0, 0, 1.0), (1, 1, 1.0))]))
    k = torch.rand(16, 3, generator=generator(16), dtype=DTYPE)
    for combined, value, slot_scale in [
        (k + jet, k + jet.value, 1.0),
        (jet - k, jet.value - k, 1.0),
        (k - jet, k - jet.value, -1.0),
        (1.0 - jet, 1.0 - jet.value, -1.0),
    ]:
        assert_close(combined.value, value)
        assert_close(combined.first, slot_scale * jet.first)
        assert_close(combined.second, slot_scale * jet.second)
    scaled = k * jet
    assert_close(scaled.data, k * jet.data)
    assert_close((jet / 4.0).data, 0.25 * jet.data)
    # A one-channel jet plus an (N, W) constant broadcasts every slot.
    single = siren(2, 1, width=8, depth=2)(Jet.seed(x, (0, 1), [((0, 0, 1.0),)]))
    wide = single + k
    assert wide.data.shape == (4, 16, 3)
    assert_close(wide.first, single.first.expand(2, 16, 3))


def test_invalid_structures_are_rejected():
    x = points(4, 2, seed=17)
    with pytest.raises(ValueError, match="slot"):
        Jet.seed(x, (0,), [((0, 1, 1.0),)])
    with pytest.raises(ValueError, match="input axis"):
        Jet.seed(x, (2,))
    with pytest.raises(ValueError, match="slots"):
        Jet(torch.zeros(4, 4, 2, dtype=DTYPE), 1, [((0, 0, 1.0),)])
    with pytest.raises(ValueError, match=r"\(n_points,\)"):
        Jet.seed(x, (0,), [((0, 0, torch.ones(4, 1)),)])
    a = Jet.seed(x, (0, 1), [((0, 0, 1.0),)])
    b = Jet.seed(x, (0, 1), [((1, 1, 1.0),)])
    with pytest.raises(ValueError, match="same Jet.seed"):
        a + b
    with pytest.raises(ValueError, match="same Jet.seed"):
        cat([a, b])
    with pytest.raises(ValueError, match="channels"):
        cat([a, a], dim=0)
    with pytest.raises(TypeError):
        cat([x, x])


def test_structurally_equal_seeds_combine():
    x = points(8, 2, seed=18)
    lap = ((0, 0, 1.0), (1, 1, 1.0))
    net = siren(2, 1, width=6, depth=1)
    total = net(Jet.seed(x, (0, 1), [lap])) + net(Jet.seed(x, (0, 1), [lap]))
    reference = net(Jet.seed(x, (0, 1), [lap]))
    assert_close(total.data, 2.0 * reference.data)


def test_activation_registry():
    with pytest.raises(ValueError, match="sin.*"):
        P.activation("swish")
    with pytest.raises(ValueError, match="gaussian"):
        P.Activation("nope")
    assert set(P.ACTIVATIONS) == {
        "sin", "cos", "relu", "tanh", "softplus", "sigmoid", "sin2", "gaussian", "exp", "identity"
    }


def test_relu_derivative_at_zero_is_zero():
    x = torch.zeros(3, 1, dtype=DTYPE)
    jet = P.relu(Jet.seed(x, (0,), [((0, 0, 1.0),)]))
    assert torch.count_nonzero(jet.first) == 0 and torch.count_nonzero(jet.second) == 0


def test_dtype_follows_inputs():
    """float32 points keep float32 slots, even with float64 per-point coefficients."""
    net = siren(2, 1, width=8, depth=2).float()
    x = points(10, 2, seed=19).float()
    coef = torch.linspace(1.0, 2.0, 10, dtype=DTYPE)
    jet = net(Jet.seed(x, (0, 1), [((0, 0, 1.0), (1, 1, 1.0)), ((0, 0, coef), (0, 1, 0.5))]))
    assert jet.data.dtype == torch.float32
    reference = net.double()(Jet.seed(x.double(), (0, 1), [((0, 0, coef), (0, 1, 0.5))]))
    torch.testing.assert_close(jet.second[1], reference.second[0].float(), rtol=1e-4, atol=1e-3)


def test_coefficients_are_numbers_or_per_point_tensors():
    x = points(6, 2, seed=27)
    numpy = pytest.importorskip("numpy")
    jet = Jet.seed(x, (0, 1), [((0, 0, numpy.float32(2.0)), (1, 1, 3))])
    assert jet.streams == (((0, 0, 2.0), (1, 1, 3.0)),)
    with pytest.raises(ValueError, match="one value per point"):
        Jet.seed(x, (0,), [((0, 0, torch.ones(5)),)])
    with pytest.raises(TypeError, match="coefficient"):
        Jet.seed(x, (0,), [((0, 0, "1"),)])


# ---------------------------------------------------------------------- training gradients
def losses_from_atoms(u, ux, uy, seconds):
    loss = (ux * u).mean() + (uy - u).abs().mean()
    for p, s in enumerate(seconds):
        loss = loss + (p + 1.0) * s.square().mean()
    return loss


@pytest.mark.parametrize("operators", ["laplacian", "laplacian_and_weighted"])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_parameter_gradients_match_autograd(name, operators):
    """A loss of jet atoms and the same loss of autograd atoms have equal parameter gradients.

    A lone Laplacian stream takes the fused Σ J_a² rule; a second, weighted stream the general one.
    """
    net = NETWORKS[name]()
    x = points(48, 3, seed=20)
    axes = (0, 1)
    a_x = 1.0 + x[:, 2] ** 2
    streams = (((0, 0, 1.0), (1, 1, 1.0)),)
    if operators == "laplacian_and_weighted":
        streams += (((0, 0, a_x), (0, 1, 0.5)),)
    params = [p for p in net.parameters() if p.requires_grad]

    jet = net(Jet.seed(x, axes, streams))
    loss_jet = losses_from_atoms(jet.value, jet.first[0], jet.first[1], list(jet.second))
    grads_jet = torch.autograd.grad(loss_jet, params)

    u, grad, hess = hessians(net, x)
    loss_ag = losses_from_atoms(
        u, grad[:, :, 0].T, grad[:, :, 1].T, [stream_reference(hess, axes, s) for s in streams]
    )
    grads_ag = torch.autograd.grad(loss_ag, params)

    assert_close(loss_jet.detach(), loss_ag.detach())
    for g_jet, g_ag in zip(grads_jet, grads_ag):
        assert_close(g_jet, g_ag)


def test_gradients_flow_to_trainable_fourier_frequencies_and_coefficients():
    B = torch.randn(4, 2, generator=generator(21), dtype=DTYPE)
    enc = P.FourierEncoding(B, trainable=True)
    head = init_(P.Linear(8, 1), seed=22)
    x = points(12, 2, seed=23)
    coef = torch.ones(12, dtype=DTYPE, requires_grad=True)
    jet = head(enc(Jet.seed(x, (0, 1), [((0, 0, coef), (1, 1, 1.0))])))
    jet.second[0].square().mean().backward()
    assert enc.B.grad is not None and torch.count_nonzero(enc.B.grad) > 0
    assert coef.grad is not None and torch.count_nonzero(coef.grad) > 0


def test_fused_backward_rules_are_twice_differentiable():
    """The hand-written backwards of the fused nodes pass gradcheck and gradgradcheck."""
    g = generator(26)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=DTYPE, requires_grad=True)

    d1, d2, first, second = rand(5, 3), rand(5, 3), rand(2, 5, 3), rand(1, 5, 3)
    def laplacian(d1, d2, first, second):  # Σ J² is formed without a graph by the caller
        quadratic = first.detach().square().sum(0, keepdim=True)
        return jet_module._SlotChain.apply(d1, d2, first, second, quadratic, -2.5, True)

    given = lambda *t: jet_module._SlotChain.apply(*t, 0.5, False)  # noqa: E731
    sincos = lambda v: P._SinCos.apply(v, 3.0, 3.0)  # noqa: E731
    sincos_k = lambda v: P._SinCos.apply(v, 2.0, 1.0)  # noqa: E731
    for fn, inputs in [
        (laplacian, (d1, d2, first, second)),
        (given, (d1, d2, first, rand(2, 5, 3), rand(2, 5, 3))),
        (sincos, (rand(4, 3),)),
        (sincos_k, (rand(4, 3),)),
    ]:
        assert torch.autograd.gradcheck(fn, inputs)
        assert torch.autograd.gradgradcheck(fn, inputs)


# ---------------------------------------------------------------------- torch.compile
def jet_laplacian(net: nn.Module, x: Tensor) -> Tensor:
    """Stacked data of u·u + u for a Laplacian jet (exercises products and the stacked view)."""
    jet = net(Jet.seed(x, (0, 1), [((0, 0, 1.0), (1, 1, 1.0))]))
    return (jet * jet + jet).data


# Inductor imports torch.utils.mkldnn, which warns about its own use of torch.jit.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.slow
def test_compiled_jet_laplacian_matches_eager():
    """torch.compile (inductor; ~15 s cold on a 2-core CPU) traces a jet network and its backward."""
    torch._dynamo.reset()
    net = siren(2, 1, width=8, depth=2)
    x = points(32, 2, seed=24)
    compiled = torch.compile(jet_laplacian, fullgraph=True, dynamic=False)
    out = compiled(net, x)
    assert_close(out, jet_laplacian(net, x))
    # The compiled graph trains: its parameter gradients equal eager's.
    params = list(net.parameters())
    # (The Laplacian does not depend on the last bias: its gradient is zero.)
    g_compiled = torch.autograd.grad(
        compiled(net, x).square().mean(), params, materialize_grads=True
    )
    g_eager = torch.autograd.grad(
        jet_laplacian(net, x).square().mean(), params, materialize_grads=True
    )
    for a, b in zip(g_compiled, g_eager):
        assert_close(a, b)
