r"""Physics-informed training of a backbone on a problem.

Each step draws fresh points for every term (:mod:`pinr.training.terms`), computes the
derivative atoms with the selected engine and minimises

.. math:: \mathcal L(\theta, p) = \sum_k w_k\, \rho_k\big(r_k(x; \theta, p)\big)

over the network's weights :math:`\theta` and the problem's trainable parameters :math:`p`, with
Adam and a cosine learning-rate decay, optionally followed by L-BFGS.

:class:`PINNSolver` assembles the parts and trains: what it is given is set up by parts it calls
once (:mod:`pinr.training.setup`: the options resolved against the case's defaults and the
backbone's recommended rate, the form of the answer under hard constraints, the network it starts
from — built once — and the memory plan), checkpoints are written and read by
:mod:`pinr.training.checkpoint`, and it makes the terms, the train state and the loop's callbacks
(:mod:`pinr.training.callbacks`). Floor: solvers. Extension points: a new loss is a term, a
new training method a callback passed in ``callbacks=`` (or added to :meth:`PINNSolver.callbacks`),
never a branch in the loop.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import torch

from pinr import memory
from pinr.backbones import Network, build_backbone
from pinr.backbones.base import embedded_features, output_scales
from pinr.case import as_case
from pinr.compiler import compile_problem
from pinr.derivatives import select_engine
from pinr.errors import DivergenceError, Interrupted
from pinr.solution import NeuralSolution, grid_of
from pinr.training import callbacks as cb
from pinr.training import checkpoint
from pinr.training.auto import choose, reentrant_corners
from pinr.training.balancing import balancer
from pinr.training.config import DEFAULT_BATCH, TrainConfig
from pinr.training.loop import Loop, TrainState
from pinr.training.optimizers import fitted, optimizer_kind
from pinr.training.parameters import ParameterSet
from pinr.training.sampling import AdaptiveSampling
from pinr.training.setup import (
    InitialNetwork,
    answer_form,
    network_box,
    planned_batches,
    resolve_device,
    resolve_dtype,
    resolve_options,
    start_at_known,
)
from pinr.training.strategy import AbstractStrategy, MainOnlyValidation, from_environment
from pinr.training.terms import Model, SelfAdaptive, build_terms, term_losses
from pinr.training.verdict import VerdictCheck, advise

__all__ = ["PINNSolver", "resolve_device", "resolve_dtype"]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = checkpoint.FORMAT


class PINNSolver:
    r"""Train a backbone on ``target`` (a :class:`~pinr.Problem` or a catalogue
    :class:`~pinr.Case`) with ``config`` (a :class:`~pinr.training.TrainConfig`; open fields take
    the case's defaults, the backbone's recommended learning rate, then pinr's defaults).

    ``reference`` (a solution) is scored every ``validate_every`` steps (default a tenth of the
    run) and at the end; ``validate_metrics`` (``solution -> dict``) replaces that score.
    With ``out`` set, ``checkpoint.pt`` is written every ``checkpoint_every`` steps (default a
    tenth of the run) and at the end. ``callbacks`` join the loop after pinr's own.
    ``strategy`` (:mod:`pinr.training.strategy`) is how the run uses its devices; by default
    data parallel under ``torchrun`` (only rank 0 then writes, shows progress and validates),
    else one device. :meth:`from_options` takes flat keywords.
    """

    def __init__(self, target, config: TrainConfig | None = None, *, reference=None, validate_metrics=None,
                 callbacks=(), strategy: AbstractStrategy | None = None):
        self.case = as_case(target)
        self.problem, self.compiled = self.case.problem, compile_problem(self.case.problem)
        self.resolved = resolve_options(self.case, config, choose=self.choose_defaults)
        self.config = c = self.resolved.config
        if c.schedule.windows > 1:
            raise ValueError(f"windows={c.schedule.windows} marches in time, window by window: solve with pr.solve or "
                             "pinr.solvers.MarchingSolver (a PINNSolver trains one network)")
        # value conditions imposed exactly where they can be: another form of the answer
        self.problem, self.compiled = problem, compiled = answer_form(self.problem, self.compiled, c.model.hard)
        output_scales(c.model.output_scale, problem.n_outputs)  # validate now, not at the first step
        if validate_metrics is not None and not callable(validate_metrics):
            raise TypeError(f"validate_metrics must be a callable solution -> dict, got {validate_metrics!r}")
        self.reference, self.validate_metrics, self.extra_callbacks = reference, validate_metrics, list(callbacks)
        self.device, self.dtype = resolve_device(c.device.device), resolve_dtype(c.device.dtype)
        if strategy is not None and not isinstance(strategy, AbstractStrategy):
            raise TypeError(f"strategy must be a pinr.training.strategy.AbstractStrategy, got {strategy!r}")
        self.strategy = strategy if strategy is not None else from_environment(self.device)
        self.device = self.strategy.device(self.device)
        #: the network the run starts from, built once (a bad backbone or option fails here, before any file)
        self.initial = InitialNetwork(self.make_network, c.run.seed)
        #: the derivative engine every train state of this run uses
        self.derivative_engine = select_engine(self.initial.network, c.device.engine,
                                               max_order=self.compiled.max_order, compile=bool(c.device.compile),
                                               functional=self.optimizer.functional)
        #: grid terms trained on batches of their grid because the whole grid does not fit the budget
        self.grid_plans, self.resolved = planned_batches(self.resolved, self.compiled, self.initial.network,
                                                         engine=self.derivative_engine.name, dtype=self.dtype,
                                                         device=self.device)
        self.config = c = self.resolved.config
        self.terms = self.make_terms()
        self.n_params = sum(p.numel() for p in self.initial.network.parameters()) + len(problem.trainable)
        self.resolved = fitted(self.resolved, self.terms, self.n_params, dtype=self.dtype, device=self.device,
                               budget=memory.memory_budget(self.device, c.device.memory_budget),
                               distributed=self.strategy.world_size > 1)
        self.config = c = self.resolved.config
        self.out = Path(c.run.out) if c.run.out is not None else None
        if c.run.tensorboard:  # checked here, before a run directory gets any file
            if self.out is None:
                raise ValueError("tensorboard=True writes into the run directory: give out= (--out)")
            cb.TensorBoard.writer_type()
        self.state: TrainState | None = None

    def choose_defaults(self, device: torch.device, *, given: TrainConfig | None = None
                        ) -> tuple[TrainConfig, dict[str, str]]:
        """Training defaults for a problem stated without any, and why each (:func:`choose`), given
        the user's own options (``given``: the optimiser they ask for, or imply)."""
        return choose(self.problem, self.compiled, device, given=given)

    # ------------------------------------------------------------------ the parts
    # What a solver trains is made by three methods, so that another solver (one network for a
    # collection of instances, :mod:`solvers.conditioned`) changes what it trains, not how.
    def make_terms(self) -> list:
        """The terms of the loss, from the compiled problem and the options."""
        c = self.config
        return build_terms(self.compiled, batch=c.sampling.batch, causal=c.schedule.causal,
                           causal_chunks=c.schedule.causal_chunks, dtype=self.dtype, device=self.device,
                           default_batch=DEFAULT_BATCH, sampling=c.sampling.sampling,
                           self_adaptive=c.optim.balance == "self-adaptive")

    def make_network(self) -> torch.nn.Module:
        """The network the terms evaluate, on the run's device: a bad backbone name, option or
        option value, or weights that cannot fit, fail in one line naming it."""
        c = self.config
        periodic = self.problem.periodic_axes
        options = dict(c.model.options or {})
        features = embedded_features(self.problem.domain.dim, periodic)
        what = f"the {c.model.backbone} network with options {options}"
        fix = "give it fewer weights (a smaller --option width=... or depth=..., or backbone_options)"
        self._check_network_size(features, options, what, fix)
        with memory.memory_guard(f"{what} on {self.device}", fix=fix):
            try:
                net = build_backbone(c.model.backbone, features, self.problem.n_outputs, **options)
            except (TypeError, ValueError) as err:
                if "backbone" in str(err):
                    raise
                raise type(err)(f"backbone {c.model.backbone!r} cannot be built with options {options}: {err}; "
                                f"`pinr list backbones` shows each option's default") from None
            network = Network(net, network_box(self.problem.domain, c.model.time_scale), c.model.output_scale,
                              periodic=periodic)
            start_at_known(network, self.problem)
            return network.to(device=self.device, dtype=self.dtype)

    def optimizer_groups(self, network: torch.nn.Module, params: ParameterSet) -> list[dict]:
        """Adam's parameter groups: the network at ``lr``, the problem's trainable parameters at
        ``parameter_lr``, self-adaptive point weights by ascent."""
        c = self.config
        groups = [{"params": list(network.parameters()), "lr": c.optim.lr}]
        if len(params):
            groups.append({"params": list(params.parameters()), "lr": c.optim.parameter_lr})
        point_weights = [t.reduction.weights for t in self.terms if isinstance(getattr(t, "reduction", None),
                                                                                   SelfAdaptive)]
        if point_weights:  # self-adaptive weights: the same rate, by ascent; one per point of this process
            groups.append({"params": point_weights, "lr": c.optim.lr, "maximize": True, "local": True})
        return groups

    def _check_network_size(self, features: int, options: dict, what: str, fix: str) -> None:
        """Refuse a network whose weights, gradients and Adam's two moments (4 copies) would not
        fit in the free memory, counted on the ``meta`` device (shapes only, nothing allocated);
        a backbone that cannot be built there is left to :func:`~pinr.memory.memory_guard`."""
        c = self.config
        try:
            with torch.device("meta"):
                probe = build_backbone(c.model.backbone, features, self.problem.n_outputs, **options)
        except Exception:  # noqa: BLE001  (bad options are reported by the real build just after)
            return
        weights = sum(p.numel() for p in probe.parameters())
        size = 8 if c.device.dtype == "float64" else 4
        memory.check_fits(f"{what} ({weights:,} weights)", 4 * size * weights, fix)

    @classmethod
    def from_options(cls, target, *, reference=None, validate_metrics=None, callbacks=(), strategy=None,
                     **options) -> "PINNSolver":
        """The solver from flat options (``steps=``, ``lr=``, ``backbone_options=``, ...)."""
        return cls(target, TrainConfig.from_options(**options), reference=reference,
                   validate_metrics=validate_metrics, callbacks=callbacks, strategy=strategy)

    # ------------------------------------------------------------------------ views
    @property
    def steps(self) -> int:
        return self.config.optim.steps

    @property
    def backbone_name(self) -> str:
        return self.config.model.backbone

    @property
    def backbone_options(self) -> dict:
        return dict(self.config.model.options or {})

    @property
    def history(self) -> dict:
        return self.state.history if self.state is not None else {"step": [], "loss": [], "lr": [], "seconds": []}

    @property
    def validation(self) -> dict:
        return self.state.validation if self.state is not None else {"step": []}

    @property
    def seconds(self) -> float:
        return self.state.seconds if self.state is not None else 0.0

    @property
    def network(self) -> Network:
        return self.state.model.network

    @property
    def engine(self):
        return self.state.model.engine

    # ------------------------------------------------------------------------ setup
    @property
    def optimizer(self):
        """The optimiser part (:mod:`pinr.training.optimizers`) the run trains with."""
        return optimizer_kind(self.config.optim.optimizer)

    def build(self) -> TrainState:
        """A fresh train state: network (seeded), trainable parameters, the optimiser (Adam with a
        cosine decay, or the natural-gradient step) and its schedule."""
        c = self.config
        torch.manual_seed(c.run.seed)
        network = self.initial.take()
        params = ParameterSet(self.problem.trainable).to(device=self.device, dtype=self.dtype)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(c.run.seed)
        for t in self.terms:  # a fresh state starts without adaptive pools, with self-adaptive weights at 1
            if t.sampler is not None:
                t.sampler.batch = None
            if isinstance(getattr(t, "reduction", None), SelfAdaptive):
                t.reduction.reset()
        optimizer, scheduler, update = self.optimizer.build(self.optimizer_groups(network, params), c.optim)
        if c.device.tf32 and self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        return TrainState(Model(network, self.derivative_engine, params), optimizer, scheduler, generator,
                          total=c.optim.steps, update=update)

    def losses_fn(self, model: Model):
        """``batches -> (losses (n_terms,), per-point residuals)``, compiled when asked."""
        fn = partial(term_losses, model, self.terms)
        mode = self.config.device.compile
        if mode:
            fn = torch.compile(fn, dynamic=False, mode=mode if isinstance(mode, str) else None)
        return fn

    def callbacks(self, state: TrainState) -> list:
        """pinr's parts of the loop, in order, then the user's; under data parallelism only rank 0
        shows progress, validates (the others wait) and writes checkpoints."""
        c, net, main = self.config, state.model.network, self.strategy.is_main
        history = cb.History(c.run.log_every)
        parts = [cb.BackboneSchedule()]
        if c.schedule.time_window:
            parts.append(cb.TimeWindow(c.schedule.time_window, c.schedule.time_window_start))
        balance = balancer(c.optim.balance, every=100)  # fixed: a shorter run balances as a longer one
        if balance is not None:
            parts.append(balance)
        if getattr(net.backbone, "wants_point_losses", False):
            parts.append(cb.PointLosses())
        if AdaptiveSampling.wanted(self.terms):
            parts.append(AdaptiveSampling())
        summary = "\n".join([self._summary(), *(p.note() for p in self.grid_plans.values())])
        progress = cb.Progress(f"{self.problem.name} [{c.model.backbone}/{state.model.engine.name}]", history,
                               enabled=bool(c.run.progress) and main, summary=summary)
        for t in self.terms:  # what a term brings with it (an occupancy grid's refresh, rays/s)
            parts += t.callbacks(progress)
        parts += self.strategy.callbacks(state, self.terms, balanced=balance is not None)
        parts += self.optimizer.callbacks(progress, c.run.log_every)
        parts += [cb.DivergenceGuard(c.run.log_every, advice=self.optimizer.divergence_advice(c.optim)), history,
                  progress]
        if main:
            parts.append(cb.TimeEstimate(progress, lbfgs_steps=c.optim.lbfgs_steps,
                                         settle=max([t.settles for t in self.terms], default=0)))
        parts.append(cb.LBFGSFinish(c.optim.lbfgs_steps))
        score = self._score()
        if score is not None:
            every = c.run.validate_every or max(1, c.optim.steps // 10)
            validation = cb.Validation(score, lambda: self.solution(state), every, progress)
            parts.append(validation if self.strategy.world_size == 1 else MainOnlyValidation(validation, self.strategy))
        judged = self.statement(state)
        if judged is not None:
            parts.append(VerdictCheck(*judged, seed=c.run.seed, advice=advise(c, self.problem, self.n_params),
                                      progress=progress, singular=reentrant_corners(self.problem.domain),
                                      image=bool(self.problem.image)))
        if c.run.tensorboard and main:
            parts.append(cb.TensorBoard(self.out / "tensorboard", history))
        if self.out is not None:  # the other ranks check their (equal) weights but write nothing
            parts.append(cb.Checkpoint(self.out / "checkpoint.pt", partial(self.save_checkpoint, state) if main
                                       else (lambda path: path), c.run.checkpoint_every or max(1, c.optim.steps // 10)))
        return parts + self.extra_callbacks

    def statement(self, state: TrainState) -> tuple[Model, list] | None:
        """What a verdict checks: the problem as stated (its hard conditions too) and the answer as
        a user gets it — the trained model and its terms when nothing was imposed by the form of
        the answer, else the hard form differentiated by nested autograd (``None``: no verdict)."""
        if self.problem is self.case.problem:
            return state.model, self.terms
        c = self.config
        compiled = compile_problem(self.case.problem)
        terms = build_terms(compiled, batch=c.sampling.batch, dtype=self.dtype, device=self.device,
                            default_batch=DEFAULT_BATCH)
        answer = self.solution(state).answer()
        engine = select_engine(answer, "autograd", max_order=compiled.max_order)
        return Model(answer, engine, state.model.parameters), terms

    def _summary(self) -> str:
        """The progress bar's first line: what was chosen, and how the run is spread."""
        w = self.strategy.world_size
        return self.resolved.summary() + (f"; data parallel on {w} ranks ({self.strategy!r}): batch is per rank, "
                                          f"a step sees {w}x the points" if w > 1 else "")

    def _score(self):
        if self.validate_metrics is not None:
            return self.validate_metrics
        if self.reference is None:
            return self.case.validation  # a case's own reference-free score (held-out views), if any
        from pinr.comparison import compare

        return lambda solution: compare(solution, self.reference)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, state: TrainState, path: Path) -> Path:
        """Everything needed to continue exactly (:func:`pinr.training.checkpoint.save_checkpoint`)."""
        return checkpoint.save_checkpoint(path, state, self.terms, backbone=self.backbone_name, config=self.config,
                                          dtype=self.dtype)

    def load_checkpoint(self, state: TrainState, path) -> None:
        """Continue ``state`` from a checkpoint (or a run directory holding ``checkpoint.pt``);
        another number of steps re-plans the schedule (:func:`pinr.training.checkpoint.replanned`)."""
        checkpoint.load_checkpoint(path, state, self.terms, backbone=self.backbone_name, config=self.config,
                                   optimizer=self.optimizer, device=self.device)

    # ------------------------------------------------------------------------ train
    def solution(self, state: TrainState | None = None) -> NeuralSolution:
        state = state or self.state
        sol = NeuralSolution(state.model.network, fields=self.problem.fields, coords=self.problem.domain.coords,
                             grid=grid_of(self.problem.domain), backbone=self.backbone_name,
                             options=self.backbone_options, problem=self.problem, case=self.case,
                             parameters=state.model.parameters.floats(), metadata={"steps": state.step})
        if self.config.device.memory_budget is not None:  # evaluate within the run's budget too
            sol.chunk = memory.evaluation_chunk(state.model.network, dtype=self.dtype, device=self.device,
                                                budget=self.config.device.memory_budget)
        return sol

    def start(self) -> TrainState:
        """The state training starts from: a fresh one (:meth:`build`), continued from the
        checkpoint of ``resume`` when given — so a bad checkpoint fails here, before anything of
        the run is written."""
        state = self.build()
        if self.config.run.resume is not None:
            self.load_checkpoint(state, self.config.run.resume)
        return state

    def run(self, *, until: int | None = None, state: TrainState | None = None) -> NeuralSolution:
        """Train and return the solution; checkpoints go to ``out`` when given.

        ``until`` stops after that many steps (of ``steps``) and checkpoints, so that a later
        solver with ``resume=`` continues exactly where this one stopped. ``state`` is where to
        start (default: :meth:`start`).
        """
        state = self.start() if state is None else state
        self.strategy.prepare(state, self.terms)
        self.state = state
        parts = self.callbacks(state)
        loop = Loop(state, self.terms, self.losses_fn(state.model), parts, strategy=self.strategy)
        threads, before = self.config.device.threads, torch.get_num_threads()
        try:
            if threads and self.device.type == "cpu":
                torch.set_num_threads(threads)
            largest = max((t.batch for t in self.terms if getattr(t, "batch", None)), default=None)
            with memory.memory_guard(f"a training step of {self.problem.name!r}", largest):
                loop.run(self.steps if until is None else min(int(until), self.steps))
        except DivergenceError as err:
            kept = [p for p in parts if isinstance(p, cb.Checkpoint) and p.written is not None]
            if kept:
                raise DivergenceError(f"{err}; the last good checkpoint (step {kept[0].written}) is kept at "
                                      f"{kept[0].path}") from None
            raise
        finally:
            torch.set_num_threads(before)
        if loop.stopped:
            kept = self.out / "checkpoint.pt" if self.out is not None else None
            raise Interrupted(f"stopped at step {state.step} of {self.steps}" +
                              (f"; the checkpoint is at {kept}" if kept else ""), step=state.step, checkpoint=kept)
        sol = self.solution(state)
        sol.metadata.update({"seconds": state.seconds, "engine": state.model.engine.name})
        sol.verdict = state.verdict
        return sol
