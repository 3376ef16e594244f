"""Where checkpoints come from: a folder, Hugging Face hub revisions, a run in progress."""

from .base import Checkpoint, FileCheckpoint, Source
from .folder import CheckpointFolder, TrainerCheckpoint, step_from_name
from .hub import PYTHIA_STEPS, HubCheckpoint, HubRevisions
from .loading import CheckpointError, load_state_dict

__all__ = [
    "PYTHIA_STEPS",
    "Checkpoint",
    "CheckpointError",
    "CheckpointFolder",
    "FileCheckpoint",
    "HubCheckpoint",
    "HubRevisions",
    "Source",
    "TrainerCheckpoint",
    "load_state_dict",
    "step_from_name",
]
