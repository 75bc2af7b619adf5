r"""Terms of a collection of instances trained through one conditioned network.

An :class:`InstanceTerm` is one condition (or observation) of every instance: it draws each
instance's batch with that instance's own term and stacks them into one :class:`Batch` whose
``data["instance"]`` ``(N,)`` holds the instance of every point; its loss is the mean over the
instances of their terms' losses, each evaluated by the network bound to the instance's code
(:meth:`~pinr.backbones.conditioned.ConditionedNetwork.bind`),

.. math:: \mathcal L_t = \frac1K \sum_{k=1}^K \mathcal L_{t,k}\big(\Phi(\cdot\,; z_k)\big).

When the instances' terms are one compiled expression of their points' data (residuals
reduced by a mean, observations) and every instance drew as many points, this is the first
instance's term on all the points at once, each point with its instance's code: one pass of
the network instead of :math:`K` (the tests hold both equal in float64).

:class:`CodeRegularizer` is DeepSDF's prior on the codes, :math:`\mathcal N(0, \sigma^2 I)`,
as a term: :math:`\mathcal L_z = \frac{\lambda}{K}\sum_k \|z_k\|^2` with
:math:`\lambda = 1/\sigma^2` up to the data term's scale, so that the objective is the mean over
instances of DeepSDF's :math:`\mathcal L_k + \lambda\|z_k\|^2`.

Both are ordinary terms: the loop, the callbacks, the progress bar and the checkpoints treat
them as any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .abstract import AbstractTerm
from .batch import Batch

__all__ = ["InstanceTerm", "CodeRegularizer", "INSTANCE"]

#: the key of ``Batch.data`` holding the instance index of every point
INSTANCE = "instance"


def _cat(values, dim=0):
    if any(v is None for v in values):
        if not all(v is None for v in values):
            raise ValueError("instances of one term disagree on what their batches carry (normals, targets)")
        return None
    return torch.cat(values, dim=dim)


class InstanceTerm(AbstractTerm):
    """The terms ``parts`` (one per instance, all of one condition: same name) as one term over
    the collection; the model's network must be a
    :class:`~pinr.backbones.conditioned.ConditionedNetwork` with ``len(parts)`` codes."""

    def __init__(self, parts: Sequence[AbstractTerm]):
        self.parts = list(parts)
        if not self.parts:
            raise ValueError("InstanceTerm needs one term per instance, got none")
        names = {p.name for p in self.parts}
        if len(names) != 1:
            raise ValueError(f"the instances of a collection must state the same conditions; one term gathers "
                             f"{sorted(names)}")
        first = self.parts[0]
        self.name, self.weight, self.expression = first.name, first.weight, first.expression
        self.sampler = None  # each instance's term draws its own points
        self.fused = _fusable(self.parts)  #: whether equal-sized batches take one pass (see the module)
        self._keys: list[list] = [[] for _ in self.parts]  # each instance's data sources, in batch order

    def sample(self, generator, *, window=1.0):
        batches = [p.sample(generator, window=window) for p in self.parts]
        points = torch.cat([b.points for b in batches])
        ids = torch.cat([torch.full((b.points.shape[0],), k, dtype=torch.long, device=points.device)
                         for k, b in enumerate(batches)])
        # each instance's data sources are its own objects: stacked by position, restored by split
        self._keys = [list(b.data) for b in batches]
        if any(len(keys) != len(self._keys[0]) for keys in self._keys):
            raise ValueError(f"the instances of term {self.name!r} carry different data; state them alike")
        data = {(INSTANCE, j): torch.cat([b.data[keys[j]] for b, keys in zip(batches, self._keys)])
                for j in range(len(self._keys[0]))}
        data[INSTANCE] = ids
        return Batch(points, _cat([b.normals for b in batches]), data,
                     _cat([b.targets for b in batches], 1), _cat([b.sigma for b in batches], 1))

    def split(self, batch: Batch) -> list[Batch]:
        """The instances' own batches (without the instance column), in order."""
        counts = torch.bincount(batch.data[INSTANCE], minlength=len(self.parts)).tolist()
        out, start = [], 0
        stacked = Batch(batch.points, batch.normals, {k: v for k, v in batch.data.items() if k != INSTANCE},
                        batch.targets, batch.sigma)
        for keys, n in zip(self._keys, counts):
            part = stacked.subset(slice(start, start + n))
            out.append(Batch(part.points, part.normals, {key: part.data[(INSTANCE, j)] for j, key in enumerate(keys)},
                             part.targets, part.sigma))
            start += n
        return out

    def loss(self, model, batch):
        from ..backbones.conditioned import BoundNetwork
        from .terms import Model

        net = model.network
        ids = batch.data[INSTANCE]
        counts = torch.bincount(ids, minlength=len(self.parts))
        parts = self.split(batch)
        if self.fused and bool((counts == counts[0]).all()):
            one = Batch(batch.points, batch.normals, self._fused_data(parts), batch.targets, batch.sigma)
            return self.parts[0].loss(Model(BoundNetwork(net, net.codes, ids), model.engine, model.parameters), one)
        losses, per_point = [], []
        for k, (part, b) in enumerate(zip(self.parts, parts)):
            loss, values = part.loss(Model(net.bind(k), model.engine, model.parameters), b)
            losses.append(loss)
            per_point.append(values)
        return torch.stack(losses).mean(), torch.cat(per_point)

    def _fused_data(self, parts: list[Batch]) -> dict:
        """Every data value of the first instance's expression at all the points, each instance's
        from its own source (carried by its points, else interpolated there as the compiled
        expression would), keyed by the first instance's sources ``(N, channels)``."""
        columns: dict = {}
        for i, app in enumerate(self.parts[0].expression.data):
            key = (app.func.source, app.func.channel)
            if key in columns:
                continue
            values = []
            for term, b in zip(self.parts, parts):
                own = term.expression.data[i]
                carried = b.data.get(own.func.source)
                if carried is not None:
                    values.append(carried if carried.dim() == 1 else carried[:, own.func.channel])
                else:
                    values.append(own.func.source.interpolate(term.expression.data_points(own, b.points),
                                                              own.func.channel))
            columns[key] = torch.cat(values)
        data: dict = {}
        for (source, channel), v in columns.items():
            if source not in data:
                width = 1 + max(c for (s, c) in columns if s == source)
                data[source] = v.new_zeros(v.shape[0], width)
            data[source][:, channel] = v
        return data

    def callbacks(self, progress) -> list:
        return [c for p in self.parts for c in p.callbacks(progress)]

    def state_dict(self) -> dict:
        return {str(k): p.state_dict() for k, p in enumerate(self.parts)}

    def load_state_dict(self, state: dict) -> None:
        for k, p in enumerate(self.parts):
            p.load_state_dict(state.get(str(k), {}))

    def __repr__(self):
        return f"InstanceTerm({self.name!r}, {len(self.parts)} instances)"


def _fusable(parts) -> bool:
    """Whether the terms ``parts`` are one expression of their data reduced by a mean over points."""
    from .terms import BinaryCrossEntropy, MeanAbs, MeanSquare, Observation, Residual

    kind = type(parts[0])
    if kind not in (Residual, Observation) or any(type(p) is not kind for p in parts):
        return False
    if any(str(p.expression.exprs) != str(parts[0].expression.exprs) or p.weight != parts[0].weight for p in parts):
        return False
    if kind is Residual:
        means = (MeanSquare, MeanAbs, BinaryCrossEntropy)
        return all(type(p.reduction) is type(parts[0].reduction) and isinstance(p.reduction, means) for p in parts)
    return True


class CodeRegularizer(AbstractTerm):
    r""":math:`\mathcal L_z = \frac{\lambda}{K}\sum_{k=1}^K \|z_k\|^2` over the model's codes
    ``model.network.codes`` ``(K, c)``, :math:`\lambda` = ``weight`` (default 1e-4, DeepSDF's
    ``CodeRegularizationLambda``); its gradient is :math:`2\lambda z_k / K`. It draws no points
    (its batch is empty, its per-point values ``(0,)``)."""

    expression = None

    def __init__(self, weight: float = 1e-4, *, name: str = "codes"):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (math.isfinite(weight)
                                                                                    and weight >= 0):
            raise ValueError(f"code regularisation weight must be a finite number >= 0 (DeepSDF uses 1e-4), "
                             f"got {weight!r}")
        self.name, self.weight = name, float(weight)
        self.sampler = None

    def sample(self, generator, *, window=1.0):
        return Batch(torch.empty(0, 1, device=generator.device))

    def loss(self, model, batch):
        z = model.network.codes.weight
        return self.weight * z.square().sum(1).mean(), z.new_zeros(0)

    def __repr__(self):
        return f"CodeRegularizer(weight {self.weight:g})"
