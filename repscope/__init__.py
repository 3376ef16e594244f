"""repscope: watch the spectral geometry of neural-network representations change over training."""

from . import geometry
from ._validation import DegenerateInputWarning, RepscopeWarning

__version__ = "0.1.0.dev0"

__all__ = ["DegenerateInputWarning", "RepscopeWarning", "__version__", "geometry"]
