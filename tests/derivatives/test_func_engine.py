"""The ``func`` engine (torch.func transforms per point) equals the ``jet`` and ``autograd``
engines in float64 for every registered backbone: values, first derivatives, pure and mixed
second derivatives, a Laplacian combo and a combo with per-point coefficients; and ``auto``
never chooses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from small_backbones import SMALL  # tests/ is on the path (pyproject: pythonpath)

import pinr as pr
from pinr.backbones import Network
from pinr.compiler import Atom, Combo
from pinr.derivatives import ENGINES, AutogradEngine, FuncEngine, JetEngine, get_engine, select_engine

BOUNDS = np.array([[-2.0, 3.0], [0.5, 1.5], [0.0, 4.0]])


def unit(d: int, *axes: int) -> tuple[int, ...]:
    o = [0] * d
    for a in axes:
        o[a] += 1
    return tuple(o)


def network(name: str, d: int) -> Network:
    torch.manual_seed(0)
    backbone = pr.build_backbone(name, d, 2, **SMALL.get(name, {})).double()
    for step in range(6):  # progressive backbones part-way into their schedule
        backbone.on_step(step, 16)
    return Network(backbone, BOUNDS[:d]).double()


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("name", pr.available_backbones())
def test_func_equals_jet_and_autograd(name, d):
    net = network(name, d)
    g = torch.Generator().manual_seed(1)
    b = torch.as_tensor(BOUNDS[:d])
    x = b[:, 0] + torch.rand(24, d, generator=g, dtype=torch.float64) * (b[:, 1] - b[:, 0])
    laplacian = tuple(unit(d, i, i) for i in range(d))
    atoms = [Atom(0, unit(d)), Atom(1, unit(d, 0)), Atom(0, unit(d, d - 1)), Atom(1, unit(d, 0, 0)),
             Atom(0, unit(d, 0, 1)), Atom(1, unit(d, 1, d - 1))]
    combos = [Combo(0, laplacian, tuple(range(d))), Combo(1, (unit(d, 0, 0), unit(d, 0, 1)), (d, d + 1))]
    coefficients = [1.0] * d + [torch.cos(x[:, 0]) + 2.0, 0.5]
    results = {engine().name: engine().evaluate(net, x, atoms, combos, coefficients)
               for engine in (FuncEngine, JetEngine, AutogradEngine)}
    func_atoms, func_combos = results["func"]
    assert any(v.abs().max() > 1e-3 for v in func_atoms[3:] + func_combos), "second derivatives are all zero"
    for other in ("jet", "autograd"):
        other_atoms, other_combos = results[other]
        for a, u, v in zip(atoms, func_atoms, other_atoms):
            torch.testing.assert_close(u, v, rtol=1e-9, atol=1e-9, msg=f"{name}: func != {other} on {a}")
        for c, u, v in zip(combos, func_combos, other_combos):
            torch.testing.assert_close(u, v, rtol=1e-9, atol=1e-9, msg=f"{name}: func != {other} on {c}")


def test_func_third_order_matches_autograd():
    net = network("siren", 2)
    x = torch.rand(10, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    atoms = [Atom(0, (3, 0)), Atom(1, (1, 2))]
    (fu, fv), _ = FuncEngine().evaluate(net, x, atoms)
    (au, av), _ = AutogradEngine().evaluate(net, x, atoms)
    torch.testing.assert_close(fu, au, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(fv, av, rtol=1e-9, atol=1e-9)


def test_func_is_registered_and_never_chosen_by_auto():
    assert ENGINES["func"] is FuncEngine and get_engine("func").name == "func"
    net = network("siren", 2)
    for order in (0, 1, 2, 3):
        assert select_engine(net, "auto", max_order=order).name != "func"
    assert select_engine(net, "func", max_order=2).name == "func"
    with pytest.raises(ValueError, match="engine 'func' computes derivatives up to order 4"):
        select_engine(net, "func", max_order=5)
