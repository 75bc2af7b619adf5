"""The step benchmark (``pinr bench``): every registered case states a problem its engines can
time, and the SIREN reference code's way of taking derivatives (nested ``autograd.grad``) gives
the same atoms and combinations as pinr's jet and autograd engines, in float64."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from pinr.backbones import Network, build_backbone
from pinr.bench import steps
from pinr.cli import app
from pinr.compiler import compile_problem
from pinr.derivatives import AutogradEngine, JetEngine


@pytest.mark.parametrize("name", list(steps.CASES))
def test_reference_engine_equals_jet_and_autograd(name):
    problem = steps.case_problem(name)
    assert problem.name == name
    term = compile_problem(problem).terms[0]
    e = term.expression
    torch.manual_seed(0)
    net = Network(
        build_backbone("siren", problem.domain.dim, problem.n_outputs, width=16, depth=2), problem.domain.bounds
    ).double()
    points = term.region.sample(32, generator=torch.Generator().manual_seed(0), dtype=torch.float64).points
    coefs = e.coefficients(points, None)
    ref_atoms, ref_combos = steps.ReferenceEngine().evaluate(net, points, e.atoms, e.combos, coefs)
    assert len(ref_atoms) == len(e.atoms) and len(ref_combos) == len(e.combos)
    for engine in (JetEngine(), AutogradEngine()):
        atoms, combos = engine.evaluate(net, points, e.atoms, e.combos, coefs)
        for a, b in zip([*ref_atoms, *ref_combos], [*atoms, *combos]):
            torch.testing.assert_close(a.reshape(-1), b.reshape(-1), rtol=1e-10, atol=1e-10)


def test_unknown_case_and_engine_are_one_line():
    runner = CliRunner()
    r = runner.invoke(app, ["bench", "--case", "nope"])
    assert r.exit_code == 2 and "unknown bench case 'nope'; choose from ('fit', 'laplacian'" in r.output
    r = runner.invoke(app, ["bench", "--engine", "nope"])
    assert r.exit_code == 2 and "unknown bench engine 'nope'" in r.output
    with pytest.raises(ValueError, match="unknown bench case 'nope'"):
        steps.case_problem("nope")
