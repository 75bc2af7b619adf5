r"""Physics-informed training of a backbone on a compiled problem.

Each step draws fresh collocation points per condition, computes the derivative atoms with the
selected engine, evaluates the residuals and minimises

.. math:: \mathcal L(\theta) = \sum_k w_k\, \rho_k\big(r_k(x; \theta)\big)

with Adam and a cosine learning-rate decay to ``lr_min``, optionally followed by L-BFGS.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from tqdm.auto import tqdm

from pinr.backbones import Network, build_backbone
from pinr.backbones.base import output_scales
from pinr.compiler import compile_problem
from pinr.derivatives import select_engine
from pinr.errors import DivergenceError
from pinr.io import save_torch

from .solution import NeuralSolution, grid_of

__all__ = ["PINNSolver", "SOLVER_DEFAULTS"]


def _opt(value, default):
    return default if value is None else value

log = logging.getLogger(__name__)

SOLVER_DEFAULTS = {
    "backbone": "siren", "steps": 2000, "lr": 1e-4, "lr_min": 1e-6, "batch": 4096,
    "lbfgs_steps": 0, "log_every": 10,
}


def resolve_device(device) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "fp32": torch.float32, "float64": torch.float64, "fp64": torch.float64}
    if dtype not in table:
        raise ValueError(f"dtype must be one of {sorted(table)}, got {dtype!r}")
    return table[dtype]


class PINNSolver:
    r"""Train ``backbone`` on ``problem``.

    Options (keyword-only; ``None`` takes the problem's ``defaults``, then
    :data:`SOLVER_DEFAULTS`): ``steps``, ``lr`` (peak Adam rate), ``lr_min`` (end of the cosine
    decay), ``batch`` (points per condition per step; an int or a mapping term → int; grid
    regions default to the full grid), ``backbone_options``, ``engine`` ("auto", "jet",
    "autograd"), ``device`` (CUDA when available), ``dtype`` ("float32"/"float64"), ``seed``,
    ``lbfgs_steps`` (L-BFGS iterations after Adam), ``validate_metrics`` (a callable
    ``solution -> dict`` scored at validation steps instead of ``pr.compare`` with ``reference``;
    its numbers go to ``validation``, the progress log and the validation plot),
    ``validate_every`` (steps between metric
    evaluations against ``reference``), ``checkpoint_every`` and ``out`` (a run directory for
    ``checkpoint.pt``), ``resume`` (a checkpoint or run directory to continue exactly),
    ``compile`` (``torch.compile`` the loss; a string is the compile mode, e.g. "reduce-overhead"
    for CUDA graphs when the batch shapes are static), ``tf32``, ``progress``. Time-dependent problems:
    ``time_window`` (fraction of the steps over which the sampled time interval grows from
    ``time_window_start`` of it to all of it, as in SIREN's wave experiment) and ``causal``
    (:math:`\epsilon` of causal weighting over ``causal_chunks`` time bins of the interior term).
    ``output_scale`` (a number or one per field) multiplies the network's outputs, so that the
    backbone works at unit size when the answer's size is far from 1 (the problem states it in
    ``defaults``, e.g. the wave pulse's amplitude).
    """

    def __init__(self, problem, *, backbone: str | None = None, backbone_options: Mapping | None = None,
                 steps: int | None = None, lr: float | None = None, lr_min: float | None = None,
                 batch: int | Mapping[str, int] | None = None, engine: str = "auto", device=None,
                 dtype="float32", seed: int = 0, lbfgs_steps: int | None = None,
                 validate_every: int | None = None, validate_metrics=None, checkpoint_every: int | None = None,
                 out: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
                 reference=None, compile: bool = False, tf32: bool = False, progress: bool = True,
                 log_every: int | None = None, time_window: float | None = None,
                 time_window_start: float | None = None, causal: float | None = None,
                 causal_chunks: int | None = None, output_scale=None):
        d = {**SOLVER_DEFAULTS, **dict(problem.defaults)}
        self.problem = problem
        self.backbone_name = backbone or d["backbone"]
        inherited = dict(d.get("backbone_options", {})) if backbone is None else {}
        self.backbone_options = {**inherited, **dict(backbone_options or {})}
        self.steps = int(steps if steps is not None else d["steps"])
        self.lr = float(lr if lr is not None else d["lr"])
        self.lr_min = float(lr_min if lr_min is not None else d["lr_min"])
        self.lbfgs_steps = int(lbfgs_steps if lbfgs_steps is not None else d["lbfgs_steps"])
        self.log_every = int(log_every or d["log_every"])
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        # None means "not chosen": grid regions then train on the full grid, others on the default
        self.batch = batch if batch is not None else problem.defaults.get("batch")
        self.engine_name = engine
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self.seed = int(seed)
        if validate_metrics is not None and not callable(validate_metrics):
            raise TypeError(f"validate_metrics must be a callable solution -> dict, got {validate_metrics!r}")
        self.validate_metrics = validate_metrics
        if validate_every is None and (reference is not None or validate_metrics is not None):
            validate_every = max(1, self.steps // 10)
        self.validate_every = validate_every
        self.checkpoint_every = checkpoint_every
        self.out = Path(out) if out is not None else None
        self.resume = Path(resume) if resume is not None else None
        self.reference = reference
        if compile not in (False, True, "default", "reduce-overhead", "max-autotune"):
            raise ValueError(f"compile must be True/False or a torch.compile mode ('default', 'reduce-overhead' "
                             f"for CUDA graphs, 'max-autotune'), got {compile!r}")
        self.compile, self.tf32, self.progress = compile, bool(tf32), bool(progress)
        self.time_window = _opt(time_window, d.get("time_window"))
        self.time_window_start = float(_opt(time_window_start, d.get("time_window_start", 0.1)))
        self.causal = _opt(causal, d.get("causal"))
        self.causal_chunks = int(_opt(causal_chunks, d.get("causal_chunks", 16)))
        time_axis = problem.domain.time is not None
        if (self.time_window or self.causal) and not time_axis:
            raise ValueError("time_window and causal weighting need a time axis (space * pr.TimeInterval)")
        if self.time_window is not None and not 0 <= self.time_window <= 1:
            raise ValueError(f"time_window is the fraction of steps over which the window grows, in [0, 1] (0: off); "
                             f"got {self.time_window}")
        if not 0 < self.time_window_start <= 1:
            raise ValueError(f"time_window_start must be in (0, 1], got {self.time_window_start}")
        self.output_scale = _opt(output_scale, d.get("output_scale"))
        output_scales(self.output_scale, problem.n_outputs)  # validate now, not at the first step
        self.compiled = compile_problem(problem)
        self.history: dict[str, list] = {"step": [], "loss": [], "lr": [], "seconds": []}
        self.validation: dict[str, list] = {"step": []}

    # ----------------------------------------------------------------------------- setup
    def _batch_for(self, term) -> int:
        if term.batch is not None:
            return term.batch
        b = self.batch
        if isinstance(b, Mapping):
            unknown = set(b) - {t.name for t in self.compiled.terms}
            if unknown:
                raise ValueError(f"batch names unknown terms {sorted(unknown)}; terms are "
                                 f"{[t.name for t in self.compiled.terms]}")
            if term.name in b:
                return int(b[term.name])
            b = None
        method = term.method or term.region.default_method
        if method == "grid" and (b is None or isinstance(self.batch, Mapping)):
            return term.region.domain.size
        return int(b if b is not None else SOLVER_DEFAULTS["batch"])

    def _build(self):
        torch.manual_seed(self.seed)
        net = build_backbone(self.backbone_name, self.problem.domain.dim, self.problem.n_outputs,
                             **self.backbone_options)
        network = Network(net, self.problem.domain.bounds, self.output_scale).to(device=self.device,
                                                                                  dtype=self.dtype)
        self.network = network
        self.engine = select_engine(network, self.engine_name, max_order=self.compiled.max_order,
                                    compile=bool(self.compile))
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(self.seed)
        self.optimizer = torch.optim.Adam(network.parameters(), lr=self.lr)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(self.steps, 1),
                                                                    eta_min=min(self.lr_min, self.lr))
        self.start_step = 0
        if self.tf32 and self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self._loss_terms = self._term_losses
        self._wants_points = bool(getattr(network.backbone, "wants_point_losses", False))
        if self.compile:
            mode = self.compile if isinstance(self.compile, str) else None
            self._loss_terms = torch.compile(self._term_losses, dynamic=False, mode=mode)

    def _window(self, step: int) -> float:
        """Fraction of the time interval covered at ``step``: grows linearly from
        ``time_window_start`` to 1 over the first ``time_window`` fraction of the steps."""
        if not self.time_window:
            return 1.0
        ramp = min(1.0, step / max(1.0, self.time_window * self.steps))
        return self.time_window_start + (1.0 - self.time_window_start) * ramp

    def _sample(self, step: int | None = None):
        out = []
        w = self._window(self.steps if step is None else step)
        t0 = float(self.problem.domain.bounds[-1, 0])
        for term in self.compiled.terms:
            s = term.region.sample(self._batch_for(term), method=term.method, generator=self.generator,
                                   dtype=self.dtype, device=self.device)
            pts = s.points
            if w < 1.0:  # time-window curriculum: move the samples into [t0, t0 + w (t1 - t0)]
                pts = term.region.windowed(pts, w, t0)
            out.append((pts, s.normals))
        return out

    def _causal_loss(self, res: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""Causal weighting (Wang, Sankaran & Perdikaris 2022): chunk the sampled times into
        ``causal_chunks`` bins, :math:`L_i` the mean squared residual in bin i, and
        :math:`\mathcal L = \frac1M\sum_i w_i L_i` with :math:`w_i = \exp(-\epsilon\sum_{k<i} L_k)` (no gradient)."""
        sq = res.square().sum(0)
        lo, hi = t.min().detach(), t.max().detach()
        m = self.causal_chunks
        idx = torch.clamp(((t - lo) / torch.clamp(hi - lo, min=1e-12) * m).long(), max=m - 1)
        sums = torch.zeros(m, dtype=sq.dtype, device=sq.device).index_add(0, idx, sq)
        counts = torch.zeros(m, dtype=sq.dtype, device=sq.device).index_add(0, idx, torch.ones_like(sq))
        chunk = sums / torch.clamp(counts, min=1.0)
        prior = torch.cumsum(chunk.detach(), 0) - chunk.detach()
        weights = torch.exp(-self.causal * prior)
        return (weights * chunk).mean()

    def _term_losses(self, samples, with_points: bool = False):
        """Weighted loss per term ``(n_terms,)``; with ``with_points`` also the per-point squared
        residuals ``[(N_k,), ...]`` (detached) that adaptive backbones such as SAPE consume."""
        losses, per_point = [], []
        for term, (pts, normals) in zip(self.compiled.terms, samples):
            e = term.expression
            coefs = e.coefficients(pts, normals)
            av, cv = self.engine.evaluate(self.network, pts, e.atoms, e.combos, coefs)
            res = e(pts, normals, av, cv)
            if self.causal and term.region.name == "interior":
                losses.append(term.weight * self._causal_loss(res, pts[:, -1]))
            else:
                losses.append(term.weight * term.reduce(res))
            if with_points:
                per_point.append(res.detach().square().sum(0))
        if with_points:
            return torch.stack(losses), per_point
        return torch.stack(losses)

    # ------------------------------------------------------------------------ checkpoints
    def _state(self, step: int) -> dict:
        return {"step": step, "model": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
                "history": self.history, "validation": self.validation,
                "config": {"backbone": self.backbone_name, "backbone_options": self.backbone_options,
                           "steps": self.steps, "lr": self.lr, "seed": self.seed,
                           "dtype": str(self.dtype).replace("torch.", "")}}

    def save_checkpoint(self, step: int) -> Path | None:
        if self.out is None:
            return None
        return save_torch(self.out / "checkpoint.pt", self._state(step))

    def _load(self, path: Path):
        if path.is_dir():
            path = path / "checkpoint.pt"
        if not path.exists():
            raise FileNotFoundError(f"resume: no checkpoint at {path}")
        state = torch.load(path, map_location=self.device, weights_only=False)
        cfg = state["config"]
        if cfg["backbone"] != self.backbone_name:
            raise ValueError(f"resume: checkpoint was trained with backbone {cfg['backbone']!r}, "
                             f"not {self.backbone_name!r}")
        self.network.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"].cpu())
        self.history, self.validation = state["history"], state["validation"]
        self.start_step = int(state["step"])

    # ------------------------------------------------------------------------------ train
    def solution(self) -> NeuralSolution:
        return NeuralSolution(self.network, fields=self.problem.fields, coords=self.problem.domain.coords,
                              grid=grid_of(self.problem.domain), backbone=self.backbone_name,
                              options=self.backbone_options, problem=self.problem,
                              metadata={"steps": self.start_step})

    def _validate(self, step: int):
        from pinr.api import compare

        if self.reference is None and self.validate_metrics is None:
            return None
        self.network.eval()
        if self.validate_metrics is not None:
            metrics = dict(self.validate_metrics(self.solution()) or {})
        else:
            metrics = compare(self.solution(), self.reference, problem=self.problem)
        self.network.train()
        self.validation["step"].append(step)
        for k, v in metrics.items():
            if isinstance(v, (int, float)):
                self.validation.setdefault(k, []).append(float(v))
        return metrics

    def run(self, *, until: int | None = None) -> NeuralSolution:
        """Train and return the solution; checkpoints go to ``out`` when given.

        ``until`` stops after that many steps (of ``steps``) and checkpoints, so that a later
        solver with ``resume=`` continues exactly where this one stopped.
        """
        self._build()
        if self.resume is not None:
            self._load(self.resume)
        stop = self.steps if until is None else min(int(until), self.steps)
        net, opt, sched = self.network, self.optimizer, self.scheduler
        names = [t.name for t in self.compiled.terms]
        last_good = None
        t0 = time.perf_counter()
        elapsed0 = self.history["seconds"][-1] if self.history["seconds"] else 0.0
        bar = tqdm(total=self.steps, initial=self.start_step, disable=not self.progress,
                   desc=f"{self.problem.name} [{self.backbone_name}/{self.engine.name}]", dynamic_ncols=True)
        try:
            for step in range(self.start_step, stop):
                net.on_step(step, self.steps)
                samples = self._sample(step)
                opt.zero_grad(set_to_none=True)
                if self._wants_points:
                    losses, per_point = self._loss_terms(samples, with_points=True)
                    for (pts, _), pl in zip(samples, per_point):
                        net.observe_point_losses(pts, pl)
                else:
                    losses = self._loss_terms(samples)
                total = losses.sum()
                total.backward()
                log_now = (step + 1) % self.log_every == 0 or step + 1 == self.steps or step == self.start_step
                if log_now or self.device.type == "cpu":
                    values = losses.detach().cpu().tolist()
                    if not all(math.isfinite(v) for v in values):
                        bad = [n for n, v in zip(names, values) if not math.isfinite(v)]
                        where = f"; the last good checkpoint (step {last_good}) is kept at {self.out / 'checkpoint.pt'}" \
                            if last_good is not None else ""
                        raise DivergenceError(
                            f"loss became non-finite at step {step + 1} in term(s) {bad}{where}. "
                            f"Lower the learning rate (now {self.lr:g}), use dtype='float64', or rescale the "
                            "problem (smaller data magnitudes, smaller omega0)")
                opt.step()
                sched.step()
                if log_now:
                    self.history["step"].append(step + 1)
                    self.history["loss"].append(float(sum(values)))
                    for n, v in zip(names, values):
                        self.history.setdefault(f"loss/{n}", []).append(v)
                    self.history["lr"].append(opt.param_groups[0]["lr"])
                    self.history["seconds"].append(elapsed0 + time.perf_counter() - t0)
                    post = {n: f"{v:.3e}" for n, v in zip(names, values)}
                    post["lr"] = f"{opt.param_groups[0]['lr']:.1e}"
                    bar.set_postfix(post, refresh=False)
                self.start_step = step + 1
                if self.validate_every and (step + 1) % self.validate_every == 0 and step + 1 < self.steps:
                    m = self._validate(step + 1)
                    if m:
                        bar.write(f"step {step + 1}: " + ", ".join(
                            f"{k}={v:.4g}" for k, v in m.items() if isinstance(v, float)))
                if self.checkpoint_every and (step + 1) % self.checkpoint_every == 0 and self.out is not None:
                    self.save_checkpoint(step + 1)
                    last_good = step + 1
                bar.update(1)
        finally:
            bar.close()
        finished = stop == self.steps
        if finished and self.lbfgs_steps > 0:
            self._lbfgs()
        self.seconds = elapsed0 + time.perf_counter() - t0
        if finished:
            self._validate(self.steps)
        if self.out is not None:
            self.save_checkpoint(self.start_step)
        sol = self.solution()
        sol.metadata.update({"seconds": self.seconds, "engine": self.engine.name})
        return sol

    def _lbfgs(self):
        """L-BFGS finish on one fixed batch of points (strong Wolfe line search)."""
        samples = self._sample()
        opt = torch.optim.LBFGS(self.network.parameters(), lr=1.0, max_iter=self.lbfgs_steps,
                                history_size=50, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = self._term_losses(samples).sum()
            loss.backward()
            return loss

        before = float(self._term_losses(samples).sum().detach())
        opt.step(closure)
        after = float(self._term_losses(samples).sum().detach())
        if not math.isfinite(after):
            raise DivergenceError("L-BFGS produced a non-finite loss; run without lbfgs_steps or with dtype='float64'")
        self.history.setdefault("lbfgs", []).append((before, after))
