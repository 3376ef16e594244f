"""Classroom demos: small models trained for real, their checkpoints, their geometry.

Each demo trains a small model on a laptop CPU, saves checkpoints in the formats
:class:`~repscope.CheckpointFolder` reads, scans them, and returns a :class:`DemoRun` (its
trajectories, the training log, the folder). ``size="small"`` (or ``REPSCOPE_DEMO_SIZE=small``)
runs the test-sized version.

- :mod:`~repscope.demos.three_phases` — warmup collapse, entropy-seeking and
  compression-seeking in a tiny language model.
- :mod:`~repscope.demos.grokking` — modular addition: generalisation long after memorisation.
- :mod:`~repscope.demos.dse_dsmi` — DSE and DSMI on digits, with true and shuffled labels.
- :mod:`~repscope.demos.rich_lazy` — the same network from a low-rank and a high-rank start.
- :mod:`~repscope.demos.pythia` — Pythia revisions from the hub, or an offline stand-in.
- :mod:`~repscope.demos.trainer_run` — a real ``transformers.Trainer`` run in seconds, to try
  the path from your own run to the widget.
"""

from . import dse_dsmi, grokking, pythia, rich_lazy, three_phases, trainer_run
from ._run import SIZE_VARIABLE, DemoRun

#: The demos `repscope demo NAME` runs, by their one name (each module's ``NAME``; each has
#: ``run(size, *, seed, folder, progress) -> DemoRun``). A new demo: a module with ``NAME`` and
#: ``run``, added here.
DEMOS = {module.NAME: module for module in (three_phases, grokking, dse_dsmi, rich_lazy)}

__all__ = [
    "DEMOS",
    "SIZE_VARIABLE",
    "DemoRun",
    "dse_dsmi",
    "grokking",
    "pythia",
    "rich_lazy",
    "three_phases",
    "trainer_run",
]
