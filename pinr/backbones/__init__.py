"""Backbones: INR architectures written from jet-aware primitives, in one registry.

The built-in backbones register themselves when this package is imported (their modules are
imported below, after the registry), so the registry never imports its entries.

Floor: backbones, beside geometry and render (imports derivatives and below; what they need from a
solution they take as a ``Network``)."""

from . import ff, finer, gauss, hashgrid, mlp, nerf, nex, ngp, pins, sape, scone, siren, wire  # noqa: E402,F401  (registration)
from .base import AbstractBackbone as AbstractBackbone
from .base import AdamPart as AdamPart
from .base import BackboneTraining as BackboneTraining
from .base import Network as Network
from .registry import available_backbones as available_backbones
from .registry import backbone_options as backbone_options
from .registry import backbone_training as backbone_training
from .registry import build_backbone as build_backbone
from .registry import register_backbone as register_backbone
