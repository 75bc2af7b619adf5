"""The training engine's pieces: options (:mod:`.config`), terms (:mod:`.terms`), trainable
parameters (:mod:`.parameters`), adaptive sampling of residual points (:mod:`.sampling`), the
loop (:mod:`.loop`) and its callbacks (:mod:`.callbacks`).

Extension points, in DESIGN's terms:

- **a new loss** (a measurement operator, a regulariser, rendered pixels) is an
  :class:`~.terms.AbstractTerm`: ``sample(generator, window=) -> Batch`` and
  ``loss(model, batch) -> (scalar, per-point values)``;
- **a new training method** (loss balancing, resampling, a schedule) is an
  :class:`~.loop.AbstractCallback` with ``on_train_begin``, ``on_step_begin``, ``on_step_end``,
  ``on_train_end`` and ``close`` hooks, which read and change the :class:`~.loop.TrainState`;
- **a new option** belongs to one of the frozen groups of :class:`~.config.TrainConfig`.

Floor: training (imports the result type and below; never solvers, cases, run directories or the
api)."""

from .batch import Batch as Batch
from .callbacks import BackboneSchedule as BackboneSchedule
from .callbacks import Checkpoint as Checkpoint
from .callbacks import DivergenceGuard as DivergenceGuard
from .callbacks import History as History
from .callbacks import LBFGSFinish as LBFGSFinish
from .callbacks import PointLosses as PointLosses
from .callbacks import Progress as Progress
from .callbacks import TimeWindow as TimeWindow
from .callbacks import Validation as Validation
from .config import DeviceConfig as DeviceConfig
from .config import ModelConfig as ModelConfig
from .config import OptimConfig as OptimConfig
from .config import RunConfig as RunConfig
from .config import SamplingConfig as SamplingConfig
from .config import ScheduleConfig as ScheduleConfig
from .config import TrainConfig as TrainConfig
from .config import resolve as resolve
from .loop import AbstractCallback as AbstractCallback
from .loop import Loop as Loop
from .loop import StepOutput as StepOutput
from .loop import TrainState as TrainState
from .loop import lr_schedule as lr_schedule
from .loop import train_step as train_step
from .parameters import ParameterSet as ParameterSet
from .sampling import R3 as R3
from .sampling import RAD as RAD
from .sampling import RARD as RARD
from .sampling import AbstractSampling as AbstractSampling
from .sampling import AdaptiveSampling as AdaptiveSampling
from .sampling import Uniform as Uniform
from .terms import AbstractTerm as AbstractTerm
from .terms import Model as Model
from .terms import Observation as Observation
from .terms import Residual as Residual
from .terms import build_terms as build_terms
