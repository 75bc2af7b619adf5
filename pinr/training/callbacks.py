r"""Callbacks: the parts of the training loop, one job each.

Order matters and is the solver's: schedules first (they set up the step), then the divergence
guard (nothing is recorded or written after a non-finite step), then history, progress,
finishing work (L-BFGS), validation and checkpoints.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..errors import DivergenceError
from .loop import AbstractCallback, Loop, StepOutput
from .terms import term_losses

log = logging.getLogger(__name__)

__all__ = ["BackboneSchedule", "TimeWindow", "PointLosses", "DivergenceGuard", "History", "Progress",
           "TimeEstimate", "LBFGSFinish", "Validation", "Checkpoint", "TensorBoard", "is_log_step"]


def is_log_step(loop: Loop, every: int) -> bool:
    """Steps whose losses are read on the host: every ``every``-th, the first of a run and the last."""
    s = loop.state
    return s.step % every == 0 or s.step == s.total or s.step == loop.first_step + 1


class BackboneSchedule(AbstractCallback):
    """Hands the training progress to progressive backbones (PINs levels, SAPE masks)."""

    def on_step_begin(self, loop):
        loop.state.model.network.on_step(loop.state.step, loop.state.total)


class TimeWindow(AbstractCallback):
    r"""SIREN's time-window curriculum: terms sample :math:`[t_0, t_0 + w(t_1 - t_0)]` with
    :math:`w` growing linearly from ``start`` to 1 over the first ``fraction`` of the steps."""

    def __init__(self, fraction: float, start: float):
        self.fraction, self.start = float(fraction), float(start)

    def window(self, step: int, total: int) -> float:
        ramp = min(1.0, step / max(1.0, self.fraction * total))
        return self.start + (1.0 - self.start) * ramp

    def on_step_begin(self, loop):
        loop.state.window = self.window(loop.state.step, loop.state.total)

    def on_train_end(self, loop):
        loop.state.window = 1.0


class PointLosses(AbstractCallback):
    """Gives adaptive backbones (SAPE) the per-point squared residuals of each step."""

    def on_step_end(self, loop, out: StepOutput):
        net = loop.state.model.network
        for batch, values in zip(out.batches, out.per_point):
            net.observe_point_losses(batch.points, values)


class DivergenceGuard(AbstractCallback):
    """Stops the run with :class:`~pinr.errors.DivergenceError` when a loss is not finite, saying
    what to try (``advice``; by default for a first-order run at learning rate ``lr``).

    On the CPU every step is checked; on other devices a device-side flag collects every step
    and is read at the log steps (no host synchronisation per step)."""

    def __init__(self, log_every: int, lr: float | None = None, *, advice: str | None = None):
        self.log_every = int(log_every)
        self.advice = advice or (f"Lower the learning rate (now {lr:g}), use dtype='float64', or rescale the problem "
                                 "(smaller data magnitudes, smaller omega0)")
        self._flag = None

    def on_step_end(self, loop, out):
        ok = torch.isfinite(out.losses).all()
        self._flag = ok if self._flag is None else self._flag & ok
        if out.losses.device.type != "cpu" and not is_log_step(loop, self.log_every):
            return
        if bool(self._flag):
            return
        values = out.losses.cpu().tolist()
        bad = [n for n, v in zip(loop.names, values) if not math.isfinite(v)] or loop.names
        raise DivergenceError(f"loss became non-finite by step {loop.state.step} in term(s) {bad}. {self.advice}")


class History(AbstractCallback):
    """Records, at log steps, the total and per-term losses, the learning rate, the seconds and
    the trainable parameters' values (columns ``loss/NAME``, ``param/NAME``)."""

    def __init__(self, log_every: int):
        self.log_every = int(log_every)
        self.last: dict[str, float] = {}

    def on_step_end(self, loop, out):
        if not is_log_step(loop, self.log_every):
            return
        s, h = loop.state, loop.state.history
        values = out.losses.cpu().tolist()
        h["step"].append(s.step)
        h["loss"].append(float(sum(values)))
        for n, v in zip(loop.names, values):
            h.setdefault(f"loss/{n}", []).append(v)
        h["lr"].append(s.optimizer.param_groups[0]["lr"])
        h["seconds"].append(loop.elapsed())
        for k, v in s.model.parameters.floats().items():
            h.setdefault(f"param/{k}", []).append(v)
        self.last = dict(zip(loop.names, values))


class Progress(AbstractCallback):
    """A tqdm bar (steps, time estimate) with the last logged losses, rate and parameters;
    ``summary`` (what was chosen, and from where) is printed above it."""

    def __init__(self, desc: str, history: History, *, enabled: bool = True, summary: str | None = None):
        self.desc, self.history, self.enabled, self.summary = desc, history, enabled, summary
        self.bar = None
        self.extra: dict[str, str] = {}  #: figures other parts show next to the losses (e.g. rays/s)

    def on_train_begin(self, loop):
        if self.enabled and self.summary:
            tqdm.write(self.summary)
        self.bar = tqdm(total=loop.state.total, initial=loop.state.step, disable=not self.enabled, desc=self.desc,
                        dynamic_ncols=True)

    def on_step_end(self, loop, out):
        if self.history.last and is_log_step(loop, self.history.log_every):
            post = {n: f"{v:.3e}" for n, v in self.history.last.items()}
            post["lr"] = f"{loop.state.optimizer.param_groups[0]['lr']:.1e}"
            post.update({k: f"{v:.4g}" for k, v in loop.state.model.parameters.floats().items()})
            post.update(self.extra)
            self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def write(self, text: str):
        """A line above the bar (nothing when the bar is off)."""
        if self.enabled:
            tqdm.write(text)

    def close(self, loop):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TimeEstimate(AbstractCallback):
    """After ``after`` timed steps (the first, which warms up, not counted), says how long the
    rest of the run will take on this device, L-BFGS included; on a CPU a run longer than
    ``limit`` seconds is warned about, with the number of steps that fits. At a fifth of the run
    (or ``2 * after`` steps, whichever is later; two validations, if every tenth, fall inside) the
    rate is measured again over the steps since the first estimate, and a revised estimate is said
    when it differs by more than a quarter —
    runs whose first steps are not typical (a growing pool of points) get an honest figure. A run
    whose terms say for how many steps they cost more than later (``settle``: an occupancy grid
    refreshed in full and sampled everywhere until it prunes) measures its second rate over the
    ``max(after, steps / 20)`` steps after those, and only then warns."""

    def __init__(self, progress: Progress | None, *, after: int = 20, lbfgs_steps: int = 0, limit: float = 600.0,
                 settle: int = 0):
        self.progress, self.after, self.lbfgs, self.limit = progress, int(after), int(lbfgs_steps), float(limit)
        self.settle = max(0, int(settle))
        self._start = None
        self._first = None
        self.estimate: float | None = None  #: seconds the run is estimated to take, once known
        self.revised: float | None = None  #: the revised estimate, when one was said

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.write(text)
        else:
            log.info(text)

    def _second(self, loop) -> tuple[int, int]:
        """The steps (counted from the run's first) that open and close the second measurement."""
        total = loop.state.total - loop.first_step
        if self.settle:
            opens = max(self.after, self.settle) + 1
            return opens, opens + max(self.after, total // 20)
        return self.after + 1, max(2 * self.after, 2 * (total // 10)) + 1

    def on_step_end(self, loop, out):
        s = loop.state
        done = s.step - loop.first_step
        if done == 1:
            self._start = (time.perf_counter(), s.step)
        if self._start is None or s.step >= s.total:
            return
        opens, closes = self._second(loop)
        if done == opens:
            self._first = (time.perf_counter(), s.step)
        if done == self.after + 1:
            t0, step0 = self._start
            per_step = (time.perf_counter() - t0) / (s.step - step0)
            self.estimate = per_step * (s.total - s.step + 1.5 * self.lbfgs) + loop.elapsed()
            device = s.generator.device
            text = (f"estimated {_duration(self.estimate)} for {s.total} steps"
                    + (f" and {self.lbfgs} L-BFGS steps" if self.lbfgs else "") + f" on {device.type} "
                    f"({per_step * 1e3:.3g} ms/step)")
            self._say(text)
            if not self.settle:
                self._warn(loop, text, per_step)
        elif self._first is not None and self.revised is None and done == closes:
            t1, step1 = self._first
            per_step = (time.perf_counter() - t1) / (s.step - step1)
            estimate = per_step * (s.total - s.step + 1.5 * self.lbfgs) + loop.elapsed()
            text = f"estimated {_duration(self.estimate)} in all"
            if abs(estimate - self.estimate) > 0.25 * self.estimate:
                self.revised = self.estimate = estimate
                text = (f"revised estimate: {_duration(estimate)} in all ({per_step * 1e3:.3g} ms/step "
                        f"since step {step1})")
                self._say(text)
            if self.settle:
                self._warn(loop, text, per_step)

    def _warn(self, loop, text: str, per_step: float) -> None:
        """On a CPU, a run estimated past ``limit`` is warned about, with the steps that fit."""
        if loop.state.generator.device.type == "cpu" and self.estimate > self.limit:
            fits = max(1, int(loop.state.step + (self.limit - loop.elapsed()) / per_step - 1.5 * self.lbfgs))
            fits = min(fits, loop.state.total - 1)
            log.warning("%s: longer than %s on this CPU; steps=%d (--steps %d) fits, or run it on a GPU",
                        text, _duration(self.limit), fits, fits)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class LBFGSFinish(AbstractCallback):
    """After the last Adam step: up to ``steps`` L-BFGS iterations (strong Wolfe line search) on one
    fixed batch (none in a run of 0 steps), in rounds of ``every`` iterations, keeping the
    parameters that do best on a second, **held-out** batch drawn the same way.

    On a fixed batch L-BFGS can drive the loss on those points down while the answer between them
    gets worse: on the 1-D wave of the PINN suite it took the fixed batch's loss from 1.25 to 0.15
    and the rel. L2 error from 3.6e-3 to 1.3e-2. The held-out batch says when that starts. It is
    scored by each term's **median** point loss (weighted as in training), not the mean: near a
    singularity (the L-shape's re-entrant corner) a few held-out points carry most of the mean and
    rose while the answer improved tenfold. The round after which the score was lowest is kept
    (the Adam result when no round helped), and the finish stops after ``patience`` rounds without
    a new best, or at a non-finite score.

    ``history["lbfgs"]`` gets ``(fit loss before, fit loss after, held-out score before, held-out
    score after, iterations kept)``. Under a data-parallel strategy each rank fixes its own
    batches, and the closure's loss and gradients and the held-out scores are averaged over the
    ranks: L-BFGS on the union of the batches, the same iterates and the same choice on every
    rank."""

    def __init__(self, steps: int, *, every: int = 50, patience: int = 2):
        self.steps, self.every, self.patience = int(steps), max(1, int(every)), max(1, int(patience))

    def on_train_end(self, loop):
        if not loop.finished or self.steps <= 0 or loop.state.total == 0 or loop.state.history.get("lbfgs"):
            return
        s = loop.state
        batches = [t.sample(s.generator) for t in loop.terms]
        held = [t.sample(s.generator) for t in loop.terms]
        params = list(s.model.network.parameters()) + list(s.model.parameters.parameters())
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=self.every, history_size=50, line_search_fn="strong_wolfe")
        average = loop.strategy.average if loop.strategy is not None else (lambda _, loss: loss)

        def total(on):
            losses = term_losses(s.model, loop.terms, on)[0]
            return (losses if s.weights is None else losses * s.weights).sum()

        def measure(on) -> float:
            return float(average([], total(on).detach()))

        def held_out() -> float:  # the typical point's loss: robust to the few a singularity dominates
            per_point = term_losses(s.model, loop.terms, held)[1]  # detached
            typical = torch.stack([t.weight * p.median() for t, p in zip(loop.terms, per_point)])
            return float(average([], (typical if s.weights is None else typical * s.weights).sum()))

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = total(batches)
            loss.backward()
            return average(params, loss)

        fit_before, best = measure(batches), held_out()
        held_before, kept, done, stale = best, 0, 0, 0
        saved = [p.detach().clone() for p in params]
        while done < self.steps and stale < self.patience:
            opt.param_groups[0]["max_iter"] = min(self.every, self.steps - done)
            opt.step(closure)
            iterations = opt.state[params[0]].get("n_iter", 0)
            advanced, done = iterations > done, iterations
            now = held_out()
            if not math.isfinite(now):
                break
            if now < best:
                best, kept, stale = now, done, 0
                saved = [p.detach().clone() for p in params]
            else:
                stale += 1
            if not advanced:  # converged on the fixed batch: nothing more to gain
                break
        with torch.no_grad():
            for p, v in zip(params, saved):
                p.copy_(v)
        s.history.setdefault("lbfgs", []).append((fit_before, measure(batches), held_before, best, kept))
        s.seconds = loop.elapsed()


class Validation(AbstractCallback):
    """Scores the current solution every ``every`` steps and once at the end of the run
    (``score(solution) -> dict``); numbers go to ``state.validation`` and the progress bar."""

    def __init__(self, score, solution, every: int | None, progress: Progress | None = None):
        self.score, self.solution, self.every, self.progress = score, solution, every, progress

    def _run(self, loop):
        net = loop.state.model.network
        net.eval()
        try:
            metrics = dict(self.score(self.solution()) or {})
        finally:
            net.train()
        v = loop.state.validation
        v["step"].append(loop.state.step)
        for k, x in metrics.items():
            if x is None or isinstance(x, (int, float)):  # None: undefined here (e.g. the PSNR of a flat image)
                v.setdefault(k, [None] * (len(v["step"]) - 1)).append(None if x is None else float(x))
        return metrics

    def on_step_end(self, loop, out):
        s = loop.state
        if self.every and s.step % self.every == 0 and s.step < s.total:
            m = self._run(loop)
            if m and self.progress is not None:
                self.progress.write(f"step {s.step}: " + ", ".join(f"{k}={x:.4g}" for k, x in m.items()
                                                                 if isinstance(x, float)))

    def on_train_end(self, loop):
        if loop.finished and loop.state.validation["step"][-1:] != [loop.state.step]:
            self._run(loop)


class Checkpoint(AbstractCallback):
    """Writes ``path`` every ``every`` steps and when the run stops (finished or not); the
    parameters are checked first, so a checkpoint is never written with non-finite weights."""

    def __init__(self, path: Path, save, every: int | None):
        self.path, self.save, self.every = Path(path), save, every
        self.written: int | None = None  #: the step of the last checkpoint written

    def _write(self, loop):
        s = loop.state
        bad = [n for n, p in [*s.model.network.named_parameters(), *s.model.parameters.named_parameters()]
               if not torch.isfinite(p).all()]
        if bad:
            raise DivergenceError(f"non-finite weights ({bad[0]}, ...) at step {s.step}; the checkpoint at "
                                  f"{self.path} is kept from the last good step. Lower the learning rate")
        self.save(self.path)
        self.written = s.step

    def on_step_end(self, loop, out):
        if self.every and loop.state.step % self.every == 0:
            self._write(loop)

    def on_train_end(self, loop):
        self._write(loop)


class TensorBoard(AbstractCallback):
    """Writes the logged losses, the learning rate, the trainable parameters and the validation
    metrics as TensorBoard scalars into ``logdir`` (needs the ``tensorboard`` package:
    ``pip install tensorboard``; a one-line error says so when it is missing)."""

    @staticmethod
    def writer_type():
        """torch's ``SummaryWriter``; a one-line ``ValueError`` when tensorboard is not installed."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError("tensorboard=True needs the tensorboard package: pip install tensorboard") from None
        return SummaryWriter

    def __init__(self, logdir: Path, history: History):
        self.logdir, self.history, self._writer_type = Path(logdir), history, self.writer_type()
        self.writer = None
        self._validated = 0

    def on_train_begin(self, loop):
        self.writer = self._writer_type(log_dir=str(self.logdir))

    def on_step_end(self, loop, out):
        if not is_log_step(loop, self.history.log_every):
            return
        s = loop.state
        for name, value in self.history.last.items():
            self.writer.add_scalar(f"loss/{name}", value, s.step)
        self.writer.add_scalar("lr", s.optimizer.param_groups[0]["lr"], s.step)
        for name, value in s.model.parameters.floats().items():
            self.writer.add_scalar(f"param/{name}", value, s.step)
        v = s.validation
        for i in range(self._validated, len(v["step"])):
            for k, values in v.items():
                if k != "step" and len(values) == len(v["step"]) and values[i] is not None:
                    self.writer.add_scalar(f"validation/{k}", values[i], v["step"][i])
        self._validated = len(v["step"])

    def close(self, loop):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
