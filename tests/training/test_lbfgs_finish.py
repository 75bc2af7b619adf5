"""The L-BFGS finish keeps what a held-out batch says helps (:class:`pinr.training.LBFGSFinish`).

A least-squares fit of a line, ``w·x + b``, to targets drawn by two batches in turn: the first
batch is the one L-BFGS fits, the second the held-out one, scored by its median point's loss.
When both batches come from the same line the finish must reach that line (the exact
least-squares answer); when the held-out batch wants the opposite line, every L-BFGS iterate is
worse on it and the parameters Adam left must come back bit for bit.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from pinr.training import LBFGSFinish
from pinr.training.abstract import AbstractTerm
from pinr.training.batch import Batch
from pinr.training.parameters import ParameterSet

X = torch.linspace(-1, 1, 16, dtype=torch.float64)[:, None]


class Line(AbstractTerm):
    """Mean squared misfit to a line; ``sample`` hands out the given target slopes in turn."""

    name, weight = "line", 1.0

    def __init__(self, slopes):
        self.slopes, self.drawn, self.evaluated = list(slopes), 0, []

    def sample(self, generator, *, window=1.0):
        slope = self.slopes[self.drawn % len(self.slopes)]
        self.drawn += 1
        return Batch(X, targets=slope * X.T + 0.25)

    def loss(self, model, batch):
        self.evaluated.append(float(batch.targets[0, -1] - 0.25))  # the batch's slope
        res = model.network(batch.points).T - batch.targets
        return res.square().mean(), res.detach().square().sum(0)


def _loop(term: Line):
    torch.manual_seed(0)
    net = torch.nn.Linear(1, 1).double()
    with torch.no_grad():
        net.weight.fill_(0.5)
        net.bias.fill_(0.0)
    state = SimpleNamespace(model=SimpleNamespace(network=net, parameters=ParameterSet({})), weights=None,
                            total=10, history={}, generator=torch.Generator().manual_seed(0), seconds=0.0)
    return SimpleNamespace(state=state, terms=[term], strategy=None, finished=True, elapsed=lambda: 1.0)


def test_a_finish_that_helps_on_held_out_points_is_kept():
    loop = _loop(Line([2.0, 2.0]))
    LBFGSFinish(20, every=5).on_train_end(loop)
    fit_before, fit_after, held_before, held_after, kept = loop.state.history["lbfgs"][0]
    net = loop.state.model.network
    assert net.weight.item() == pytest.approx(2.0, abs=1e-4)  # the least-squares line, to L-BFGS's tolerance
    assert net.bias.item() == pytest.approx(0.25, abs=1e-4)
    assert held_after < 1e-9 < 0.1 < held_before and fit_after < 1e-9 < 0.1 < fit_before
    assert 0 < kept <= 20


def test_a_finish_that_hurts_on_held_out_points_is_undone():
    loop = _loop(Line([2.0, -1.0]))  # the fixed batch says slope 2, the held-out one slope -1
    net = loop.state.model.network
    before = [p.detach().clone() for p in net.parameters()]
    LBFGSFinish(20, every=5).on_train_end(loop)
    fit_before, fit_after, held_before, held_after, kept = loop.state.history["lbfgs"][0]
    assert kept == 0
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))
    assert fit_after == fit_before and held_after == held_before
    # the held-out score at the start: the median point's squared misfit, slope 0.5 against -1 on
    # x in [-1, 1] with the offset 0.25 missing (torch's median: the lower middle of 16 values)
    expected = float(((0.5 + 1.0) * X[:, 0] - 0.25).square().sort().values[7])
    assert held_before == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("patience", [1, 2])
def test_the_finish_stops_after_its_patience_without_a_new_best(patience):
    term = Line([2.0, -1.0])
    loop = _loop(term)
    LBFGSFinish(1000, every=1, patience=patience).on_train_end(loop)
    assert term.drawn == 2  # one fit batch, one held-out batch, nothing redrawn
    assert term.evaluated.count(-1.0) == 1 + patience  # before the finish and after each round
    assert loop.state.history["lbfgs"][0][4] == 0
    assert math.isfinite(loop.state.history["lbfgs"][0][3])
