r"""Derivative engines: compute derivative atoms of a network's outputs at points.

The engines compute the same quantities and are held equal in float64 by the tests:

- ``jet`` (default for built-in backbones): forward-mode Taylor propagation through the
  network (:mod:`pinr.derivatives.jet`); up to second order; the training backward is an
  ordinary first-order backward, so ``torch.compile`` applies.
- ``autograd`` (reference, fallback): nested reverse mode with a per-batch cache; any order,
  any ``nn.Module``.
- ``func`` (never chosen by ``auto``): :mod:`torch.func` transforms per point under ``vmap``
  (:mod:`pinr.derivatives.func`); a third check, and usable under a ``vmap`` over models.

Floor: derivatives (imports the compiler and below)."""

from .engines import ENGINES as ENGINES
from .engines import AbstractEngine as AbstractEngine
from .engines import AutogradEngine as AutogradEngine
from .engines import FuncEngine as FuncEngine
from .engines import JetEngine as JetEngine
from .engines import get_engine as get_engine
from .engines import select_engine as select_engine
