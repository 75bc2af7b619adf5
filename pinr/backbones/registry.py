"""The backbone registry: a dict, a decorator, a builder, a listing and each backbone's training settings."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from .base import AbstractBackbone, BackboneTraining

__all__ = ["register_backbone", "build_backbone", "available_backbones", "backbone_options", "backbone_training"]

_BACKBONES: dict[str, type[nn.Module]] = {}


def registrar(table: dict, kind: str, name: str) -> Callable[[type], type]:
    """Class decorator registering a class under ``name`` in ``table`` (a registry of ``kind``,
    as errors name it); the class learns its ``registry_name``."""

    def deco(cls):
        if name in table and table[name] is not cls:
            raise ValueError(f"{kind} {name!r} is already registered to {table[name].__name__}")
        table[name] = cls
        cls.registry_name = name
        return cls

    return deco


def register_backbone(name: str) -> Callable[[type], type]:
    """Class decorator registering a backbone under ``name``."""
    return registrar(_BACKBONES, "backbone", name)


def available_backbones() -> list[str]:
    """Names of the registered backbones, sorted."""
    return sorted(_BACKBONES)


def backbone_options(name: str) -> dict[str, object]:
    """Keyword options of backbone ``name`` with their defaults."""
    cls = _lookup(name)
    sig = inspect.signature(cls.__init__)
    return {k: p.default for k, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def backbone_training(name: str) -> BackboneTraining:
    """Recommended training settings of backbone ``name``: its class's ``training``.

    Unknown names raise ``ValueError`` listing the registered ones; a registered class that is
    not an :class:`~pinr.backbones.AbstractBackbone` states none and raises ``TypeError``.
    """
    cls = _lookup(name)
    if not issubclass(cls, AbstractBackbone):
        raise TypeError(f"backbone {name!r} ({cls.__name__}) is not an AbstractBackbone, so it states no training "
                        "settings; subclass pinr.backbones.AbstractBackbone and declare recommended = "
                        "BackboneTraining(lr=..., source=...)")
    return cls.recommended


def build_backbone(name: str, in_features: int, out_features: int, **options) -> nn.Module:
    """Build backbone ``name`` mapping ``(N, in_features)`` to ``(N, out_features)``.

    Unknown names raise ``ValueError`` listing the registered ones; unknown options raise
    ``TypeError`` listing the backbone's options.
    """
    cls = _lookup(name)
    valid = backbone_options(name)
    bad = sorted(set(options) - set(valid))
    if bad:
        raise TypeError(f"backbone {name!r} has no option {', '.join(map(repr, bad))}; its options are "
                        + ", ".join(f"{k}={v!r}" for k, v in valid.items()))
    if not isinstance(in_features, int) or in_features < 1 or not isinstance(out_features, int) or out_features < 1:
        raise ValueError(f"in_features and out_features must be positive integers, got {in_features}, {out_features}")
    return cls(in_features, out_features, **options)


def _lookup(name: str) -> type:
    if name not in _BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; available backbones: {', '.join(sorted(_BACKBONES))}")
    return _BACKBONES[name]
