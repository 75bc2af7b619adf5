"""The benchmark wing: what ``pinr bench …`` and ``pinr validate`` measure, one module per job.

Floor: above the api (it may import the façade, :mod:`pinr`), below the cli; nothing in pinr's
library imports it. Speed and accuracy goals live here and in ``bench/`` scripts, never in tests.

- :mod:`~pinr.bench.steps` — one training step per case × derivative engine × (eager, compiled)
  (``pinr bench``);
- :mod:`~pinr.bench.sweep` — many models in one vmapped step against one after the other
  (``pinr bench sweep``);
- :mod:`~pinr.bench.suite_cases`, :mod:`~pinr.bench.suite`, :mod:`~pinr.bench.peers` — the PINN
  suite: its cases and references, its runner and table, and DeepXDE as a peer
  (``pinr bench suite pinn``);
- :mod:`~pinr.bench.quality` — image fitting by every backbone (``pinr bench quality``);
- :mod:`~pinr.bench.radiance` — radiance fields side by side (``pinr bench radiance``);
- :mod:`~pinr.bench.validate` — every catalogue problem × backbone against its reference
  (``pinr validate``).

Case catalogues (the step benchmark's cases, the suite's cases and peers) are
:class:`~pinr.catalogue.Catalogue`\\ s, the mechanism :mod:`pinr.problems` registers its problems with.
"""
