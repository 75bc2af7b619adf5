r"""Training options, grouped in small frozen configs.

Every field defaults to ``None``, meaning "not chosen here": a :class:`TrainConfig` stated by a
user is laid :meth:`~TrainConfig.over` the defaults of a catalogue case, and :func:`resolve`
fills what is still open — the learning rate from the backbone's own recommendation
(:func:`pinr.backbones.backbone_training`), the rest from :data:`DEFAULTS` — and records where each
choice came from. ``pr.solve(problem, steps=..., lr=...)`` is sugar:
:meth:`TrainConfig.from_options` sorts the flat keywords into the groups.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from .balancing import BALANCING

__all__ = ["ModelConfig", "OptimConfig", "SamplingConfig", "ScheduleConfig", "DeviceConfig", "RunConfig",
           "TrainConfig", "Resolved", "resolve", "DEFAULTS", "option_names"]


def _frozen_mapping(value):
    return None if value is None else MappingProxyType(dict(value))


@dataclass(frozen=True)
class ModelConfig:
    """The network: ``backbone`` name, its ``options``, the ``output_scale`` (a number or one
    per field) its outputs are multiplied by, and ``hard``: impose every value condition that can
    be imposed exactly in the form of the answer (:func:`pinr.symbolic.hard.harden`; conditions
    stated with ``hard=True`` always are), or with ``"initial"`` those on the initial slice only
    (their distance :math:`t - t_0` is smooth, a boundary's need not be). ``time_scale``: the
    network sees time as :math:`(t - t_{mid}) /` ``time_scale`` (:func:`~pinr.backbones.base.input_box`;
    None: the time interval's half-length, like every other axis). For a wave of speed :math:`c`
    across a space box of half-width :math:`L`, ``time_scale`` :math:`= L / c` shows the network the
    same frequencies in time as in space; :func:`pinr.training.auto.wave_time_scale` picks
    :math:`L / 2c` for a short time interval (measured better on the 2-D pulse)."""

    backbone: str | None = None
    options: Mapping | None = None
    output_scale: object = None
    hard: bool | str | None = None
    time_scale: float | None = None

    def __post_init__(self):
        if self.options is not None and not (isinstance(self.options, Mapping)
                                             and all(isinstance(k, str) for k in self.options)):
            raise TypeError(f"backbone_options must be a dict of option name -> value, such as {{'width': 64}}, "
                            f"got {type(self.options).__name__} {self.options!r:.80}")
        object.__setattr__(self, "options", _frozen_mapping(self.options))


@dataclass(frozen=True)
class OptimConfig:
    r"""``optimizer`` (:mod:`pinr.training.optimizers`): "adam" — Adam for ``steps`` steps with a
    cosine decay from ``lr`` to ``lr_min``, trainable problem parameters at ``parameter_lr`` (on
    their unconstrained value :math:`\theta`), then up to ``lbfgs_steps`` L-BFGS iterations on one
    fixed batch, kept as far as a held-out batch's loss improves
    (:class:`~pinr.training.callbacks.LBFGSFinish`); or "natural" — ``steps`` damped Gauss–Newton /
    energy natural-gradient steps (:mod:`pinr.training.natural`; no learning rate).
    ``balance`` weighs the terms (:mod:`pinr.training.balancing`: "gradnorm", "ntk",
    "self-adaptive" per-point weights, or "none" for the stated weights).
    ``decay`` is the fraction of the steps, at the end, over which the rate decays (1: the whole
    run; less: constant ``lr`` before, so a shorter run follows a longer one until its decay)."""

    optimizer: str | None = None
    steps: int | None = None
    lr: float | None = None
    lr_min: float | None = None
    parameter_lr: float | None = None
    lbfgs_steps: int | None = None
    balance: str | None = None
    decay: float | None = None


@dataclass(frozen=True)
class SamplingConfig:
    """``batch``: points per term per step, an int or a mapping term name → int (grid regions
    default to the full grid, observations to all their measurements up to the batch).
    ``sampling``: where the interior residual terms put their points — "uniform" (fresh each
    step), "rad", "rar-d", "r3" (adaptive, :mod:`pinr.training.sampling`), "fixed" (one draw for the
    whole run) or a rule object."""

    batch: object = None
    sampling: object = None

    def __post_init__(self):
        if isinstance(self.batch, Mapping):
            object.__setattr__(self, "batch", _frozen_mapping(self.batch))


@dataclass(frozen=True)
class ScheduleConfig:
    r"""Time-dependent problems: ``time_window`` (fraction of the steps over which the sampled
    time interval grows from ``time_window_start`` of it to all of it; 0 or None: off) and
    ``causal`` (:math:`\epsilon` of causal weighting over ``causal_chunks`` time bins of the
    interior terms); ``windows``: time marching — the interval cut into that many equal windows, each
    trained in turn (a share of the steps each) from where the one before ends
    (:mod:`pinr.solvers.marching`; 1: one network for the whole interval)."""

    time_window: float | None = None
    time_window_start: float | None = None
    causal: float | None = None
    causal_chunks: int | None = None
    windows: int | None = None


@dataclass(frozen=True)
class DeviceConfig:
    """Where and how: ``device`` ("auto": CUDA when available), ``dtype``, derivative ``engine``
    ("auto", "jet", "autograd", "func"), ``compile`` (``torch.compile`` the loss; a string is the mode),
    ``tf32``, ``threads`` (CPU threads for the run; None: torch's setting), ``memory_budget``
    (bytes or a size such as "2GiB" that grid batches and evaluation chunks are planned in;
    None: half the device's free memory, :mod:`pinr.memory`)."""

    device: object = None
    dtype: object = None
    engine: str | None = None
    compile: object = None
    tf32: bool | None = None
    threads: int | None = None
    memory_budget: object = None


@dataclass(frozen=True)
class RunConfig:
    """The run: ``seed``, ``progress`` bar, ``log_every`` steps, ``validate_every`` steps against
    the reference, ``checkpoint_every`` steps into ``out``, ``resume`` (a checkpoint or run
    directory to continue exactly) and ``tensorboard`` (write scalars to ``out/tensorboard``)."""

    seed: int | None = None
    progress: bool | None = None
    log_every: int | None = None
    validate_every: int | None = None
    checkpoint_every: int | None = None
    out: object = None
    resume: object = None
    tensorboard: bool | None = None


_GROUPS = {"model": ModelConfig, "optim": OptimConfig, "sampling": SamplingConfig, "schedule": ScheduleConfig,
           "device": DeviceConfig, "run": RunConfig}
#: flat keyword → (group, field); ``backbone_options`` is the flat name of ``model.options``
_FLAT = {("backbone_options" if (g, f.name) == ("model", "options") else f.name): (g, f.name)
         for g, cls in _GROUPS.items() for f in fields(cls)}


def option_names() -> list[str]:
    """The flat option names ``pr.solve`` accepts for the PINN solver."""
    return sorted(_FLAT)


@dataclass(frozen=True)
class TrainConfig:
    """All training options, by group; ``None`` fields are open."""

    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    run: RunConfig = field(default_factory=RunConfig)

    @classmethod
    def from_options(cls, **options) -> "TrainConfig":
        """Sort flat keywords (``steps=``, ``lr=``, ``backbone_options=``, ...) into the groups;
        an unknown name raises ``TypeError`` listing the valid ones."""
        unknown = sorted(set(options) - set(_FLAT))
        if unknown:
            raise TypeError(f"unknown training option(s) {', '.join(map(repr, unknown))}; valid: "
                            f"{', '.join(option_names())}")
        groups: dict[str, dict] = {g: {} for g in _GROUPS}
        for k, v in options.items():
            g, f = _FLAT[k]
            groups[g][f] = v
        return cls(**{g: _GROUPS[g](**kw) for g, kw in groups.items()})

    def replace(self, **groups) -> "TrainConfig":
        """A copy with whole groups replaced, e.g. ``config.replace(sampling=SamplingConfig(batch=512))``."""
        return replace(self, **groups)

    def over(self, under: "TrainConfig") -> "TrainConfig":
        """This config's chosen values, the open ones taken from ``under``."""
        out = {}
        for g in _GROUPS:
            a, b = getattr(self, g), getattr(under, g)
            out[g] = replace(b, **{f.name: getattr(a, f.name) for f in fields(a) if getattr(a, f.name) is not None})
        return TrainConfig(**out)

    def flat(self) -> dict:
        """The chosen options as flat keywords (the inverse of :meth:`from_options`)."""
        out = {}
        for k, (g, f) in _FLAT.items():
            v = getattr(getattr(self, g), f)
            if v is not None:
                out[k] = dict(v) if isinstance(v, Mapping) else v
        return out


#: What is still open after the user's options, the case's defaults and the backbone's
#: recommended learning rate.
DEFAULTS = TrainConfig(
    model=ModelConfig(backbone="siren", options={}, hard=False),
    optim=OptimConfig(optimizer="adam", steps=2000, lr_min=1e-6, parameter_lr=1e-2, lbfgs_steps=0, balance="none"),
    schedule=ScheduleConfig(time_window=0.0, time_window_start=0.1, causal=0.0, causal_chunks=16, windows=1),
    device=DeviceConfig(device="auto", dtype="float32", engine="auto", compile=False, tf32=False),
    run=RunConfig(seed=0, progress=True, log_every=10),
)
DEFAULT_BATCH = 4096
#: an L-BFGS finish the user did not ask for takes at most 1/LBFGS_SHARE of the steps they did
LBFGS_SHARE = 4


def _hardness(hard) -> str:
    return "on the initial slice" if hard == "initial" else "on" if hard else "off"


@dataclass(frozen=True)
class Resolved:
    """A complete :class:`TrainConfig` and, per option that was not the user's, where it came from."""

    config: TrainConfig
    sources: Mapping[str, str]

    def summary(self) -> str:
        """One line: backbone, steps and learning rate, each with its source."""
        c, s = self.config, self.sources
        line = (f"backbone {c.model.backbone} ({s.get('backbone', 'yours')}), {c.optim.steps} steps "
                f"({s.get('steps', 'yours')}), ")
        if c.optim.optimizer == "natural":
            line += (f"natural-gradient optimizer ({s.get('optimizer', 'yours')}), "
                     f"{c.device.dtype} ({s.get('dtype', 'yours')})")
        else:
            line += f"lr {c.optim.lr:g} ({s.get('lr', 'yours')})"
            if "optimizer" in s:
                line += f", optimizer {c.optim.optimizer} ({s['optimizer']})"
        if "omega0" in s:
            line += f"; omega0 {dict(c.model.options)['omega0']:g} ({s['omega0']})"
        if "time_scale" in s and c.model.time_scale is not None:
            line += f"; time scale {c.model.time_scale:g} ({s['time_scale']})"
        if "method" in s:
            b = c.sampling.batch
            points = "/".join(map(str, dict(b).values())) if isinstance(b, Mapping) else str(b)
            line += (f"; {points} points per term, balance {c.optim.balance}, {c.optim.lbfgs_steps} L-BFGS steps, "
                     f"hard value conditions {_hardness(c.model.hard)}"
                     + (f", {c.sampling.sampling} sampling" if c.sampling.sampling else "")
                     + (f", {c.device.threads} thread(s)" if c.device.threads else "") + f" ({s['method']})")
        return line


def resolve(problem, options: TrainConfig, case: TrainConfig | None = None, *,
            case_name: str | None = None, reasons: Mapping[str, str] | None = None) -> Resolved:
    """Lay ``options`` over the case's defaults and fill the rest; validate the result.

    A case's backbone options and learning rate are tuned for its backbone: when ``options``
    choose another backbone they are not inherited, and that backbone's recommended rate applies;
    for the same backbone, the user's backbone options update the case's key by key.
    ``reasons`` say why the case chose what it chose (defaults chosen for a stated problem,
    :func:`pinr.training.auto.choose`), keyed like the sources.
    """
    from pinr.backbones import backbone_training

    case = case or TrainConfig()
    label = f"problem {case_name!r}" if case_name else "the problem"
    reasons = dict(reasons or {})
    own = options.model.backbone
    if own is not None and own != case.model.backbone:  # the case's tuning belongs to its own backbone
        case = replace(case, model=replace(case.model, backbone=None, options=None),
                       optim=replace(case.optim, lr=None))
    if options.model.options is not None and case.model.options is not None:  # same backbone: options add up
        options = replace(options, model=replace(options.model, options={**case.model.options,
                                                                         **options.model.options}))
    merged = options.over(case)
    sources = {}
    for key, mine, theirs in (("backbone", options.model.backbone, case.model.backbone),
                              ("steps", options.optim.steps, case.optim.steps),
                              ("lr", options.optim.lr, case.optim.lr),
                              ("time_scale", options.model.time_scale, case.model.time_scale)):
        if mine is None and theirs is not None:
            sources[key] = reasons.get(key, label)
    mine = options.model.options or {}
    open_method = any(v is None for v in (options.sampling.batch, options.optim.balance, options.optim.lbfgs_steps,
                                           options.device.threads))
    for k, v in reasons.items():  # the rest of what the case chose for you, and why
        if (k == "omega0" and (case.model.backbone is None or "omega0" in mine) or k == "method" and not open_method
                or k == "hard" and options.model.hard is not None
                or k == "time_scale" and options.model.time_scale is not None
                or k == "optimizer" and options.optim.optimizer is not None
                or k == "dtype" and options.device.dtype is not None):
            continue
        if k not in ("backbone", "steps", "lr"):
            sources[k] = v
    full = merged.over(DEFAULTS)
    if full.optim.decay is None:  # each optimiser's own: Adam decays over the whole run, natural steps at the end
        from .optimizers import optimizer_kind

        full = replace(full, optim=replace(full.optim, decay=optimizer_kind(full.optim.optimizer).decay))
    if options.optim.steps is not None and options.optim.lbfgs_steps is None and full.optim.lbfgs_steps:
        # steps are the budget: a finish you did not ask for scales with the steps you did (2 steps, no finish)
        planned = full.optim.lbfgs_steps
        finish = min(planned, options.optim.steps // LBFGS_SHARE)
        if finish != planned:
            full = replace(full, optim=replace(full.optim, lbfgs_steps=finish))
            sources["lbfgs_steps"] = f"a quarter of your {options.optim.steps} steps (at most the defaults' {planned})"
    if full.optim.lr is None:
        rec = backbone_training(full.model.backbone)
        full = replace(full, optim=replace(full.optim, lr=rec.lr))
        sources["lr"] = f"backbone {full.model.backbone!r}: {rec.source}"
    for key in ("backbone", "steps"):
        if key not in sources and getattr(options.model if key == "backbone" else options.optim, key) is None:
            sources[key] = "pinr default"
    _validate(problem, full)
    return Resolved(full, MappingProxyType(sources))


def _validate(problem, c: TrainConfig) -> None:
    o, s, r = c.optim, c.schedule, c.run
    if not isinstance(o.steps, int) or o.steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {o.steps!r}")
    for name, v in (("lr", o.lr), ("parameter_lr", o.parameter_lr)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    if not (isinstance(o.lr_min, (int, float)) and o.lr_min >= 0):
        raise ValueError(f"lr_min must be a number >= 0, got {o.lr_min!r}")
    if not isinstance(o.lbfgs_steps, int) or o.lbfgs_steps < 0:
        raise ValueError(f"lbfgs_steps must be an integer >= 0, got {o.lbfgs_steps!r}")
    ts = c.model.time_scale
    if ts is not None:
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not (math.isfinite(ts) and ts > 0):
            raise ValueError(f"time_scale must be a positive number (the time the network sees as one unit), "
                             f"got {ts!r}")
        if problem.domain.time is None:
            raise ValueError("time_scale needs a time axis (space * pr.TimeInterval); drop it for this problem")
        if problem.domain.time_axis in problem.periodic_axes:
            raise ValueError("time_scale does not apply to a periodic time axis (the network sees its angle); drop it")
    if not (isinstance(c.model.hard, bool) or c.model.hard == "initial"):
        raise ValueError(f"hard must be True, False or 'initial' (the initial slice's value conditions only), got "
                         f"{c.model.hard!r}")
    if not (isinstance(o.decay, (int, float)) and 0 < o.decay <= 1):
        raise ValueError(f"decay is the fraction of the steps over which the rate decays, in (0, 1]; got {o.decay!r}")
    from .optimizers import optimizer_kind

    optimizer_kind(o.optimizer)
    if o.balance not in BALANCING:
        raise ValueError(f"balance must be one of {sorted(BALANCING)}, got {o.balance!r}")
    t = c.device.threads
    if t is not None and (not isinstance(t, int) or isinstance(t, bool) or t < 1):
        raise ValueError(f"threads must be a positive integer (CPU threads), got {t!r}")
    if (s.time_window or s.causal) and problem.domain.time is None:
        raise ValueError("time_window and causal weighting need a time axis (space * pr.TimeInterval)")
    if not 0 <= s.time_window <= 1:
        raise ValueError(f"time_window is the fraction of steps over which the window grows, in [0, 1] (0: off); "
                         f"got {s.time_window}")
    if not 0 < s.time_window_start <= 1:
        raise ValueError(f"time_window_start must be in (0, 1], got {s.time_window_start}")
    if not isinstance(s.windows, int) or isinstance(s.windows, bool) or s.windows < 1:
        raise ValueError(f"windows (time marching) must be a positive integer, got {s.windows!r}")
    if s.windows > 1 and problem.domain.time is None:
        raise ValueError("windows (time marching) needs a time axis (space * pr.TimeInterval); drop it for this "
                         "problem")
    if not s.causal >= 0:
        raise ValueError(f"causal (the epsilon of causal weighting) must be >= 0, got {s.causal}")
    if not isinstance(s.causal_chunks, int) or s.causal_chunks < 1:
        raise ValueError(f"causal_chunks must be a positive integer, got {s.causal_chunks!r}")
    if c.device.compile not in (False, True, "default", "reduce-overhead", "max-autotune"):
        raise ValueError(f"compile must be True/False or a torch.compile mode ('default', 'reduce-overhead' "
                         f"for CUDA graphs, 'max-autotune'), got {c.device.compile!r}")
    for name in ("log_every", "validate_every", "checkpoint_every"):
        v = getattr(r, name)
        if v is not None and (not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    from ..memory import parse_budget
    from .sampling import sampling_rule

    parse_budget(c.device.memory_budget)
    sampling_rule(c.sampling.sampling)
    b = c.sampling.batch
    if b is not None and not isinstance(b, Mapping) and (not isinstance(b, int) or isinstance(b, bool) or b < 1):
        raise ValueError(f"batch must be a positive integer or a mapping term name -> positive integer, got {b!r}")
    for name in ("out", "resume"):
        v = getattr(r, name)
        if v is not None and not isinstance(v, (str, os.PathLike)):
            raise TypeError(f"{name} must be a path, got {type(v).__name__}")
