"""Where checkpoints come from: a folder, Hugging Face hub revisions, any registered source."""

from .base import Checkpoint, FileCheckpoint, Source
from .folder import CheckpointFolder, TrainerCheckpoint, step_from_name
from .hub import PYTHIA_STEPS, HubCheckpoint, HubRevisions
from .loading import CheckpointError, load_state_dict
from .registry import SOURCES, as_source, register_source, source_for

__all__ = [
    "PYTHIA_STEPS",
    "SOURCES",
    "Checkpoint",
    "CheckpointError",
    "CheckpointFolder",
    "FileCheckpoint",
    "HubCheckpoint",
    "HubRevisions",
    "Source",
    "TrainerCheckpoint",
    "as_source",
    "load_state_dict",
    "register_source",
    "source_for",
    "step_from_name",
]
