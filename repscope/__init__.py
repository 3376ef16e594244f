"""repscope: watch the spectral geometry of neural-network representations change over training."""

from . import geometry
from ._validation import DegenerateInputWarning, RepscopeWarning
from .catalog import StoreCatalog, open
from .live import LiveRun
from .phases import Phase, detect_phases
from .probe import Probe, ProbeError
from .reading import RunReader
from .sources import CheckpointError, CheckpointFolder, HubRevisions
from .store import Store, StoreError
from .trajectory import Trajectory

__version__ = "0.1.0.dev0"

__all__ = [
    "CheckpointError",
    "CheckpointFolder",
    "DegenerateInputWarning",
    "HubRevisions",
    "LiveRun",
    "Phase",
    "Probe",
    "ProbeError",
    "RepscopeWarning",
    "RunReader",
    "Store",
    "StoreCatalog",
    "StoreError",
    "Trajectory",
    "__version__",
    "detect_phases",
    "geometry",
    "open",
]
