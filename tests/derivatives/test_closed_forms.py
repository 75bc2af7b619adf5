r"""Derivatives of a one-hidden-layer SIREN against closed forms, in both engines.

For :math:`\Phi(x) = W_2 \sin(\omega (W_1 x + b_1)) + b_2` with :math:`z = \omega(W_1 x + b_1)`:
:math:`\partial_i \Phi = W_2 (\omega W_{1,:i} \odot \cos z)`,
:math:`\partial_i\partial_j \Phi = -W_2(\omega^2 W_{1,:i} W_{1,:j} \odot \sin z)`.
"""

import pytest
import torch

import pinr as pr
from pinr.compiler import Atom, Combo
from pinr.derivatives import AutogradEngine, JetEngine


@pytest.mark.parametrize("engine", [AutogradEngine(), JetEngine()], ids=["autograd", "jet"])
def test_siren_derivatives_match_closed_form(engine):
    torch.manual_seed(3)
    net = pr.build_backbone("siren", 2, 2, width=16, depth=0, omega0=7.0).double()
    (l1,), head = net.layers, net.head
    x = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    w = 7.0
    z = w * (x @ l1.weight.T + l1.bias)
    W1, W2 = l1.weight, head.weight
    for c in range(2):  # per channel, never summed over channels
        val = torch.sin(z) @ W2[c] + head.bias[c]
        ux = (w * W1[:, 0] * torch.cos(z)) @ W2[c]
        uy = (w * W1[:, 1] * torch.cos(z)) @ W2[c]
        uxx = -(w**2 * W1[:, 0] ** 2 * torch.sin(z)) @ W2[c]
        uxy = -(w**2 * W1[:, 0] * W1[:, 1] * torch.sin(z)) @ W2[c]
        uyy = -(w**2 * W1[:, 1] ** 2 * torch.sin(z)) @ W2[c]
        atoms = [Atom(c, (0, 0)), Atom(c, (1, 0)), Atom(c, (0, 1)), Atom(c, (2, 0)), Atom(c, (1, 1))]
        lapl = Combo(c, ((2, 0), (0, 2)), (0, 0))
        av, cv = engine.evaluate(net, x, atoms, [lapl], [1.0])
        for got, want in zip(av + cv, [val, ux, uy, uxx, uxy, uxx + uyy]):
            torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-11)
