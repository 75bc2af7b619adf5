r"""One conditioned network for a collection of instances (DeepSDF's auto-decoder, FiLM-SIREN).

Instance :math:`k` of a :class:`~pinr.collection.Collection` has a code :math:`z_k`; the network
:math:`\Phi(x; z)` and the codes are trained together on

.. math:: \mathcal L(\theta, z) = \frac1K\sum_{k=1}^K\Big(\sum_t w_t\,\rho_t\big(r_{t,k}(x; \theta, z_k)\big)
          + \lambda\|z_k\|^2\Big),

every condition of every instance as one :class:`~pinr.training.instances.InstanceTerm` and the
code prior as a :class:`~pinr.training.instances.CodeRegularizer`, by pinr's loop with its
callbacks (progress, history, divergence guard, checkpoints: the codes are weights of the
network, so checkpoints keep them). Test-time optimisation
(:meth:`ConditionedSolution.fit_code`) fits the code of a new instance with the network frozen:
:math:`\hat z = \arg\min_z \sum_t w_t\rho_t(r_t(x; \theta, z)) + \lambda\|z\|^2`.
"""

from __future__ import annotations

import logging
import numbers
import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from pinr.backbones.base import embedded_features
from pinr.backbones.conditioned import BoundNetwork, CodeTable, ConditionedNetwork, build_conditioned
from pinr.case import as_case
from pinr.collection import CodeConfig, Collection
from pinr.compiler import compile_problem
from pinr.derivatives import select_engine
from pinr.io import save_torch
from pinr.solution import NeuralSolution, grid_of
from pinr.symbolic.hard import harden
from pinr.training.config import DEFAULT_BATCH, TrainConfig
from pinr.training.instances import CodeRegularizer, InstanceTerm
from pinr.training.loop import Loop, TrainState, lr_schedule
from pinr.training.parameters import ParameterSet
from pinr.training.setup import network_box
from pinr.training.terms import Model, build_terms, term_losses

from .pinn import PINNSolver

__all__ = ["ConditionedSolver", "ConditionedSolution", "load_conditioned", "plot_instances"]

log = logging.getLogger(__name__)

FORMAT = "pinr-conditioned-1"


def _build(codes: CodeConfig, problem, backbone: str, options: dict):
    """The conditioned backbone ``codes`` asks for, over ``backbone`` with its ``options``."""
    if codes.conditioning in ("film", "hyper"):
        options = {**options, "mapping_width": codes.mapping_width, "mapping_depth": codes.mapping_depth}
    return build_conditioned(codes.conditioning, embedded_features(problem.domain.dim), problem.n_outputs,
                             codes.features, backbone=backbone, **options)


class ConditionedSolver(PINNSolver):
    r"""Train one conditioned network on ``collection`` (a :class:`~pinr.collection.Collection`)
    with ``config`` (a :class:`~pinr.training.TrainConfig` laid over the collection's training
    defaults, as :class:`~solvers.pinn.PINNSolver` does for a case) and ``codes`` (a
    :class:`~pinr.collection.CodeConfig`; default the collection's). ``callbacks`` join the loop
    after pinr's own.

    It is a :class:`PINNSolver` of the first instance (its options, loop, callbacks, checkpoints,
    strategy and memory guard) that trains other parts: every condition of every instance as
    one :class:`~pinr.training.instances.InstanceTerm` plus the code prior
    (:meth:`make_terms`), the conditioned network with its code table (:meth:`make_network`),
    and the codes in their own optimiser group (:meth:`optimizer_groups`)."""

    def __init__(self, collection: Collection, config: TrainConfig | None = None, *, codes: CodeConfig | None = None,
                 callbacks=(), strategy=None):
        if not isinstance(collection, Collection):
            raise TypeError(f"ConditionedSolver takes a pinr.Collection, got {type(collection).__name__}")
        if config is not None and config.optim.optimizer not in (None, "adam"):
            raise ValueError(f"a collection trains one conditioned network and its codes by first-order steps; "
                             f"optimizer={config.optim.optimizer!r} solves one problem: use optimizer='adam' (the "
                             "default) or solve the instances one by one")
        self.collection, self.codes = collection, codes or collection.codes
        first = collection.cases[0].replace(training=collection.training, validation=None, reference=None,
                                            source={"name": collection.name, **dict(collection.source)})
        super().__init__(first, config, callbacks=callbacks, strategy=strategy)

    @classmethod
    def from_options(cls, collection: Collection, *, callbacks=(), strategy=None,
                     **options) -> "ConditionedSolver":
        """The solver from flat options: the training ones of :meth:`PINNSolver.from_options`
        and the code ones of :meth:`~pinr.collection.CodeConfig.from_options` (``conditioning``,
        ``code_features``, ...; unset ones keep the collection's)."""
        given = {k: options.pop(k) for k in list(options) if k in CodeConfig.OPTIONS}
        codes = collection.codes
        if any(v is not None for v in given.values()):
            chosen = CodeConfig.from_options(**given)
            codes = CodeConfig(**{**codes.__dict__, **{k: v for k, v in chosen.__dict__.items()
                                                        if v != getattr(CodeConfig(), k)}})
        return cls(collection, TrainConfig.from_options(**options), codes=codes, callbacks=callbacks,
                   strategy=strategy)

    @property
    def backbone_name(self) -> str:
        return f"{self.codes.conditioning}-{self.config.model.backbone}"

    # ------------------------------------------------------------------------ the parts
    def choose_defaults(self, device: torch.device, *, given: TrainConfig | None = None
                        ) -> tuple[TrainConfig, dict[str, str]]:
        """One instance's defaults with Adam (a collection's codes and conditioned network are trained
        by first-order steps), drawing points uniformly: instances keep no adaptive pools."""
        given = given or TrainConfig()
        given = replace(given, optim=replace(given.optim, optimizer="adam"))
        defaults, reasons = super().choose_defaults(device, given=given)
        return (replace(defaults, sampling=replace(defaults.sampling, sampling=None)),
                {k: v for k, v in reasons.items() if k != "sampling"})

    def make_terms(self) -> list:
        """Every condition of every instance as one :class:`InstanceTerm`, and the code prior."""
        c = self.config
        if c.model.hard:  # each instance's value conditions imposed exactly, as PINNSolver does for one
            self.collection = _hardened(self.collection)
        if c.sampling.sampling not in (None, "uniform"):
            raise ValueError(f"collections sample uniformly; sampling={c.sampling.sampling!r} is not supported")
        if c.optim.balance == "self-adaptive":
            raise ValueError("balance='self-adaptive' is not supported for collections; "
                             "use 'gradnorm', 'ntk' or 'none'")
        self.instances = [compile_problem(case.problem) for case in self.collection.cases]
        per = [build_terms(cp, batch=c.sampling.batch, causal=c.schedule.causal, causal_chunks=c.schedule.causal_chunks,
                           dtype=self.dtype, device=self.device, default_batch=DEFAULT_BATCH)
               for cp in self.instances]
        return [InstanceTerm([p[i] for p in per]) for i in range(len(per[0]))] + [CodeRegularizer(self.codes.weight)]

    def make_network(self) -> ConditionedNetwork:
        c, problem = self.config, self.collection.problem
        net = ConditionedNetwork(_build(self.codes, problem, c.model.backbone, dict(c.model.options or {})),
                                 network_box(problem.domain, c.model.time_scale), len(self.collection),
                                 code_std=self.codes.std, output_scale=c.model.output_scale)
        return net.to(device=self.device, dtype=self.dtype)

    def optimizer_groups(self, network: ConditionedNetwork, params) -> list[dict]:
        """The network at ``lr``, the codes at the codes' ``lr`` (default the network's)."""
        lr = self.config.optim.lr
        codes = list(network.codes.parameters())
        ids = {id(p) for p in codes}
        return [{"params": [p for p in network.parameters() if id(p) not in ids], "lr": lr},
                {"params": codes, "lr": self.codes.lr or lr}]

    def statement(self, state: TrainState) -> None:
        """No verdict yet: one network answers every instance, and its terms carry their codes
        (the collection's own metrics judge it; a per-instance verdict is future work)."""
        return None

    def solution(self, state: TrainState | None = None) -> "ConditionedSolution":
        state = state or self.state
        return ConditionedSolution(state.model.network, self.collection, backbone=self.config.model.backbone,
                                   options=dict(self.config.model.options or {}), codes=self.codes,
                                   metadata={"steps": state.step}, batch=self.config.sampling.batch,
                                   hard=bool(self.config.model.hard))


def _hardened(collection: Collection) -> Collection:
    """``collection`` with every instance's value conditions made hard where they can be
    (:func:`~pinr.symbolic.hard.harden`), each with its own data :math:`G_k`."""
    return collection.replace(cases=[case.replace(problem=harden(case.problem)[0]) for case in collection.cases])


class ConditionedSolution:
    r"""A trained conditioned network and its collection: ``solution[k]`` (or
    ``solution.instance(name)``) is instance :math:`k`'s :class:`~pinr.solution.NeuralSolution`,
    :math:`x \mapsto \Phi(x; z_k)`; ``codes`` ``(K, c)``; :meth:`fit_code` fits a new instance.
    An instance's solution evaluates, differentiates and plots as any other; it is saved with
    the whole network (:meth:`save`, :func:`load_conditioned`), not by ``NeuralSolution.save``."""

    def __init__(self, network: ConditionedNetwork, collection: Collection, *, backbone: str, options: dict,
                 codes: CodeConfig, metadata: dict | None = None, batch=None, hard: bool = False):
        self.batch = batch  #: the training's points per term per step (test-time fits default to it)
        #: whether ``collection``'s value conditions are imposed exactly (``hard=True``; the collection
        #: then states them hard): a new instance's are too
        self.hard = bool(hard)
        self.network, self.collection, self.backbone, self.options = network, collection, backbone, dict(options)
        self.code_config, self.metadata = codes, dict(metadata or {})
        problem = collection.problem
        self.fields, self.coords, self.grid = problem.fields, problem.domain.coords, grid_of(problem.domain)

    @property
    def names(self) -> tuple[str, ...]:
        return self.collection.names

    @property
    def codes(self) -> np.ndarray:
        """The trained codes ``(K, c)``."""
        return self.network.codes.weight.detach().cpu().double().numpy()

    def __len__(self) -> int:
        return len(self.collection)

    def __getitem__(self, index: int) -> NeuralSolution:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not -len(self) <= index < len(self):
            raise IndexError(f"instance index {index!r} out of range for {len(self)} instances; use 0..{len(self) - 1} "
                             "or solution.instance(name)")
        index = int(index) % len(self)
        return self._solution(self.network.bind(index), self.collection.cases[index])

    def instance(self, name: str) -> NeuralSolution:
        """Instance ``name``'s solution."""
        if name not in self.names:
            raise KeyError(f"no instance {name!r}; instances are {list(self.names)}")
        return self[self.names.index(name)]

    def _solution(self, bound: BoundNetwork, case) -> NeuralSolution:
        problem = case.problem
        return NeuralSolution(bound, fields=problem.fields, coords=problem.domain.coords, grid=grid_of(problem.domain),
                              backbone=f"{self.code_config.conditioning}-{self.backbone}", options=self.options,
                              problem=problem, case=case, metadata=dict(self.metadata))

    def fit_code(self, target, *, steps: int = 500, lr: float = 1e-2, weight: float | None = None,
                 batch=None, seed: int = 0) -> tuple[np.ndarray, NeuralSolution]:
        r"""Test-time optimisation: the code :math:`\hat z` of ``target`` (a problem or case stated
        as the collection's instances are, or with an observation of a few of its values) with
        the network frozen, by ``steps`` Adam steps at ``lr`` (cosine decay over the second half)
        on the target's terms plus :math:`\lambda\|z\|^2` (``weight``; default the collection's),
        from a code drawn as the training codes were. ``batch`` points per term per step (default
        the training's). Returns the code ``(c,)`` and the reconstruction :math:`\Phi(\cdot\,;\hat z)`."""
        case = as_case(target)
        if self.hard:
            case = case.replace(problem=harden(case.problem)[0])
        problem = case.problem
        train = self.collection.problem
        if problem.fields != train.fields or not np.allclose(problem.domain.bounds, train.domain.bounds):
            raise ValueError("fit_code: the target must be stated on the collection's domain with its fields "
                             f"{train.fields}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"fit_code steps must be a positive integer, got {steps!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"fit_code lr must be a positive number, got {lr!r}")
        p = next(self.network.parameters())
        compiled = compile_problem(problem)
        terms = build_terms(compiled, batch=batch if batch is not None else self.batch,
                            dtype=p.dtype, device=p.device, default_batch=DEFAULT_BATCH)
        terms.append(CodeRegularizer(self.code_config.weight if weight is None else weight))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            table = CodeTable(1, self.network.codes.weight.shape[1], std=self.code_config.std)
        table = table.to(device=p.device, dtype=p.dtype)
        bound = BoundNetwork(self.network, table, 0)
        engine = select_engine(bound, "auto", max_order=compiled.max_order)
        optimizer = torch.optim.Adam(table.parameters(), lr=lr)
        generator = torch.Generator(device=p.device)
        generator.manual_seed(seed)
        state = TrainState(Model(bound, engine, ParameterSet({}).to(device=p.device, dtype=p.dtype)), optimizer,
                           lr_schedule(optimizer, steps, 0.5, lr * 1e-2), generator, total=steps)
        frozen = [q for q in self.network.parameters() if q.requires_grad]
        try:
            for q in frozen:
                q.requires_grad_(False)
            Loop(state, terms, partial(term_losses, state.model, terms)).run(steps)
        finally:
            for q in frozen:
                q.requires_grad_(True)
        return table.weight.detach()[0].cpu().double().numpy(), self._solution(bound, case)

    # ------------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Weights (codes included) and what rebuilds the network (loaded with
        ``weights_only=True`` by :func:`load_conditioned` given the collection)."""
        return save_torch(path, {
            "format": FORMAT, "backbone": self.backbone, "options": self.options,
            "codes": dict(self.code_config.__dict__), "names": list(self.names), "hard": self.hard,
            "dtype": str(next(self.network.parameters()).dtype).replace("torch.", ""),
            "state_dict": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
            "metadata": {k: v for k, v in self.metadata.items() if isinstance(v, (int, float, str))}})


def load_conditioned(path: str | os.PathLike, collection: Collection) -> ConditionedSolution:
    """A :class:`ConditionedSolution` saved by :meth:`ConditionedSolution.save`, for ``collection``
    (the instances it was trained on, by name)."""
    saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path} is not a saved conditioned solution ({FORMAT})")
    if list(saved["names"]) != list(collection.names):
        raise ValueError(f"{path} was trained on instances {saved['names']}, not {list(collection.names)}")
    codes = CodeConfig(**saved["codes"])
    if saved.get("hard", False):  # trained with its value conditions imposed: so are they here
        collection = _hardened(collection)
    problem = collection.problem
    backbone = _build(codes, problem, saved["backbone"], saved["options"])
    net = ConditionedNetwork(backbone, problem.domain.bounds, len(collection), code_std=codes.std)
    net = net.to(getattr(torch, saved["dtype"]))
    net.load_state_dict(saved["state_dict"])
    return ConditionedSolution(net, collection, backbone=saved["backbone"], options=saved["options"], codes=codes,
                               metadata=saved.get("metadata"), hard=bool(saved.get("hard", False)))


def plot_instances(path, solution: ConditionedSolution) -> Path:
    """Every instance's first field on the collection's grid, one panel each (2-D; the middle
    slice of the last axis in 3-D)."""
    from pinr.plotting import plot_fields

    problem = solution.collection.problem
    panels = {}
    for k, name in enumerate(solution.names):
        v = solution[k].on_grid()[..., 0]
        while v.ndim > 2:
            v = v[..., v.shape[-1] // 2]
        panels[name] = v.T if v.ndim == 2 else v
    b = problem.domain.bounds
    extent = (b[0, 0], b[0, 1], b[1, 0], b[1, 1]) if b.shape[0] > 1 else (b[0, 0], b[0, 1])
    return plot_fields(path, panels, extent=extent, suptitle=f"{solution.collection.name}: {len(solution)} instances",
                       cmap="gray" if problem.image else "viridis")
