r"""Checkpoints: everything a run needs to continue exactly, written and read back.

Floor: training (it knows a :class:`~pinr.training.loop.TrainState` and the terms, nothing
above). A checkpoint holds the weights, the problem's trainable parameters, the optimiser and
its schedule, the sampling generator, the step, the history and validation, the balancing
weights, each term's pools and state, and what the run was trained with (backbone, its
options, steps, rate, seed, dtype); it loads with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..io import save_torch, saved_file
from .loop import TrainState

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "replanned"]

#: the format tag a checkpoint carries
FORMAT = "pinr-checkpoint-2"


def save_checkpoint(path, state: TrainState, terms, *, backbone: str, config, dtype: torch.dtype) -> Path:
    """Write ``state`` (trained on ``terms`` with ``backbone`` and the options ``config``, a
    :class:`~pinr.training.TrainConfig`) to ``path``, atomically."""
    return save_torch(path, {
        "format": FORMAT, "step": state.step, "seconds": state.seconds,
        "model": state.model.network.state_dict(), "parameters": state.model.parameters.state_dict(),
        "optimizer": state.optimizer.state_dict(), "scheduler": state.scheduler.state_dict(),
        "generator": state.generator.get_state(), "history": state.history, "validation": state.validation,
        "weights": state.weights,
        "pools": {t.name: t.sampler.state_dict() for t in terms if t.sampler is not None},
        "terms": {t.name: t.state_dict() for t in terms},
        "config": {"backbone": backbone, "backbone_options": dict(config.model.options or {}),
                   "steps": config.optim.steps, "lr": config.optim.lr, "seed": config.run.seed,
                   "dtype": str(dtype).replace("torch.", "")}})


def load_checkpoint(path, state: TrainState, terms, *, backbone: str, config, optimizer, device) -> None:
    """Continue ``state`` from the checkpoint at ``path`` (or a run directory holding
    ``checkpoint.pt``), trained on ``terms`` with ``backbone`` (another raises ``ValueError``);
    when ``config`` asks for another number of steps than the checkpoint's, the schedule of the
    rest is re-planned (:func:`replanned`) for the ``optimizer`` part."""
    path = saved_file(path, name="checkpoint.pt", missing="resume: no checkpoint at")
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001  (any unreadable file is a bad checkpoint)
        raise ValueError(f"resume: {path} is not a readable pinr checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200]})") from None
    if not isinstance(saved, dict) or "model" not in saved or "config" not in saved:
        raise ValueError(f"resume: {path} is not a pinr checkpoint")
    cfg = saved["config"]
    if cfg["backbone"] != backbone:
        raise ValueError(f"resume: checkpoint was trained with backbone {cfg['backbone']!r}, not {backbone!r}")
    state.model.network.load_state_dict(saved["model"])
    if "parameters" in saved:
        state.model.parameters.load_state_dict(saved["parameters"])
    state.optimizer.load_state_dict(saved["optimizer"])
    state.scheduler.load_state_dict(saved["scheduler"])
    step, steps = int(saved["step"]), config.optim.steps
    if cfg["steps"] != steps:
        state.scheduler = replanned(state.optimizer, step, cfg["steps"], config=config, optimizer=optimizer)
    state.generator.set_state(saved["generator"].cpu())
    state.weights = saved.get("weights")
    pools = saved.get("pools", {})
    for t in terms:
        if t.sampler is not None:
            t.sampler.load_state_dict(pools.get(t.name, {}), name=t.name)
    for t in terms:
        t.load_state_dict(saved.get("terms", {}).get(t.name, {}))
    state.history, state.validation = saved["history"], saved["validation"]
    state.step, state.total = step, steps
    state.seconds = float(saved.get("seconds", (state.history.get("seconds") or [0.0])[-1]))


def replanned(torch_optimizer, step: int, recorded: int, *, config, optimizer):
    r"""The schedule of a resumed run with another number of steps :math:`T'` (``config``'s)
    than the ``recorded`` ones: it goes on from the rate the run has reached, :math:`\eta_s`,
    held until the last ``decay`` of the new steps begin (if they have not), then a cosine to
    ``lr_min`` over the steps that remain,
    :math:`\eta_t = \eta_{min} + \tfrac12(\eta_s - \eta_{min})(1 + \cos\pi\tfrac{t - s'}{T' - s'})`
    — no jump in the learning rate (a finished run goes on at ``lr_min``). ``optimizer`` is the
    optimiser part (:mod:`pinr.training.optimizers`) whose schedule it is."""
    o = config.optim
    if o.steps <= step:
        raise ValueError(f"resume: the run is at step {step} of {recorded}; steps={o.steps} leaves nothing to "
                         f"train — give more than {step}")
    for group in torch_optimizer.param_groups:
        group.pop("initial_lr", None)  # the new schedule starts from the current rate
    flat = max(0, round(o.steps * (1 - o.decay)) - step)
    remaining = o.steps - step
    return optimizer.schedule(torch_optimizer, remaining, (remaining - flat) / remaining, min(o.lr_min, o.lr))
