"""SCONE, FINER, WIRE and Gauss against their defining formulas: parameter counts, mask
ranges, FINER's detached and differentiated scale, WIRE's real arithmetic against torch's
complex layers, Gauss against its closed form."""

from __future__ import annotations

import math

import pytest
import torch

import pinr as pr
from pinr.compiler import Atom, Combo
from pinr.derivatives import AutogradEngine, JetEngine


def x2(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 2 * torch.rand(n, 2, generator=g, dtype=torch.float64) - 1


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_default_parameter_counts_rgb():
    counts = {name: count(pr.build_backbone(name, 2, 3)) for name in ("scone", "finer", "wire", "gauss")}
    assert counts == {"scone": 192_753, "finer": 198_915, "wire": 199_284, "gauss": 198_915}


@pytest.mark.parametrize("activation", ["sin2", "sigmoid", "tanh"])
def test_scone_masks_lie_in_unit_interval_and_jet_equals_autograd(activation):
    torch.manual_seed(0)
    net = pr.build_backbone("scone", 2, 2, width=16, omegas=(30.0, 10.0), mask_activation=activation).double()
    x = x2()
    with torch.no_grad():
        masks = net.masks(x)
    assert len(masks) == 2 and all(((m >= 0) & (m <= 1)).all() for m in masks)
    assert min(float(m.std()) for m in masks) > 1e-3  # not saturated
    atoms = [Atom(0, (1, 0)), Atom(1, (0, 1)), Atom(0, (1, 1)), Atom(1, (2, 0))]
    combos, coefs = [Combo(0, ((2, 0), (0, 2)), (0, 1))], [1.0, 1.0]
    aj, cj = JetEngine().evaluate(net, x, atoms, combos, coefs)
    aa, ca = AutogradEngine().evaluate(net, x, atoms, combos, coefs)
    for got, ref in zip(aj + cj, aa + ca):
        assert (got - ref).abs().max() <= 1e-10 * ref.abs().max()


def test_scone_is_the_stated_formula():
    torch.manual_seed(0)
    net = pr.build_backbone("scone", 2, 1, width=8, omegas=(90.0, 60.0)).double()
    x = x2()
    z = x
    for mask_layer, basis_layer, omega in zip(net.mask_layers, net.basis_layers, (90.0, 60.0)):
        m = torch.sin(30.0 * (z @ mask_layer.weight.T + mask_layer.bias)) ** 2
        z = m * torch.sin(omega * (x @ basis_layer.weight.T + basis_layer.bias))
    torch.testing.assert_close(net(x), z @ net.head.weight.T + net.head.bias)
    first = net.mask_layers[0]
    assert first.weight.abs().max() <= 1 / 2 and first.bias.abs().max() <= 1 / 2  # U(±1/n), n = 2
    assert net.mask_layers[1].bias.abs().max() <= math.sqrt(6 / 8) / 30


def test_finer_detached_scale_and_exact_scale():
    torch.manual_seed(0)
    frozen = pr.build_backbone("finer", 2, 1, width=12, depth=1).double()
    exact = pr.build_backbone("finer", 2, 1, width=12, depth=1, scale_grad=True).double()
    exact.load_state_dict(frozen.state_dict())
    x = x2(20)
    with torch.no_grad():
        z = x @ frozen.layers[0].weight.T + frozen.layers[0].bias
        h = torch.sin(30.0 * (z.abs() + 1) * z)
        z = h @ frozen.layers[1].weight.T + frozen.layers[1].bias
        h = torch.sin(30.0 * (z.abs() + 1) * z)
        torch.testing.assert_close(frozen(x), h @ frozen.head.weight.T + frozen.head.bias)
        torch.testing.assert_close(exact(x), frozen(x))
    # scale_grad: jet == autograd, and both equal finite differences of the function itself
    atoms = [Atom(0, (1, 0)), Atom(0, (0, 1)), Atom(0, (1, 1)), Atom(0, (0, 2))]
    aj, _ = JetEngine().evaluate(exact, x, atoms)
    aa, _ = AutogradEngine().evaluate(exact, x, atoms)
    for got, ref in zip(aj, aa):
        assert (got - ref).abs().max() <= 1e-10 * ref.abs().max()
    h = 1e-6
    e = torch.tensor([h, 0.0], dtype=torch.float64)
    with torch.no_grad():
        fd = (exact(x + e) - exact(x - e))[:, 0] / (2 * h)
    assert (aj[0] - fd).abs().max() <= 1e-5 * fd.abs().max()
    # the paper's detached factor gives the frozen-factor derivative, which is not the function's
    (frozen_dx,), _ = JetEngine().evaluate(frozen, x, atoms[:1])
    assert (frozen_dx - fd).abs().max() > 1e-2 * fd.abs().max()
    with pytest.raises(ValueError, match="first_bias_scale"):
        pr.build_backbone("finer", 2, 1, first_bias_scale=0.0)
    biased = pr.build_backbone("finer", 2, 1, width=500, first_bias_scale=20.0)
    assert 15 < biased.layers[0].bias.abs().max() <= 20


def test_wire_equals_complex_layers():
    torch.manual_seed(0)
    net = pr.build_backbone("wire", 2, 3, width=24, depth=2, omega0=20.0, sigma0=10.0).double()
    x = 0.1 * x2(30)
    omega, sigma = 20.0, 10.0

    def gabor(z):
        return torch.exp(1j * omega * z - (sigma * z).abs().square())

    y = gabor(x @ net.first.weight.T + net.first.bias)
    for layer in net.layers:
        w = torch.complex(layer.weight_re, layer.weight_im)
        b = torch.complex(layer.bias_re, layer.bias_im)
        y = gabor(y @ w.T + b)
    h = y.shape[1]
    head = torch.complex(net.head.weight[:, :h], -net.head.weight[:, h:])
    ref = (y @ head.T).real + net.head.bias
    out = net(x)
    assert out.abs().max() > 1e-3  # not a vanishing comparison
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    assert net.first.out_features == int(24 / math.sqrt(2))
    with pytest.raises(ValueError, match="overflows"):
        pr.build_backbone("wire", 2, 1, omega0=200.0, sigma0=1.0)


def test_gauss_is_the_stated_formula():
    torch.manual_seed(0)
    net = pr.build_backbone("gauss", 2, 1, width=10, depth=1, scale=3.0).double()
    x = x2()
    h = x
    for layer in net.layers:
        h = torch.exp(-(3.0 * (h @ layer.weight.T + layer.bias)) ** 2)
    torch.testing.assert_close(net(x), h @ net.head.weight.T + net.head.bias)
    with pytest.raises(ValueError, match="scale"):
        pr.build_backbone("gauss", 2, 1, scale=-1.0)


def test_scone_bad_options_raise():
    with pytest.raises(ValueError, match="mask_activation"):
        pr.build_backbone("scone", 2, 1, mask_activation="relu")
    with pytest.raises(ValueError, match="omega"):
        pr.build_backbone("scone", 2, 1, omegas=())
