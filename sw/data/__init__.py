"""Datasets of the three tasks, read from the shared data directory ($RMLORA_DATA)."""

from rmlora.sw.data.checks import DatasetError
from rmlora.sw.data.fsdd import SPEAKERS, load_fsdd, make_speaker_split
from rmlora.sw.data.olivetti import (
    Augmentation,
    FaceSplit,
    augment,
    load_olivetti,
    make_face_split,
    resize,
    split_people,
)

__all__ = [
    "SPEAKERS",
    "DatasetError",
    "Augmentation",
    "FaceSplit",
    "augment",
    "load_fsdd",
    "load_olivetti",
    "make_speaker_split",
    "make_face_split",
    "resize",
    "split_people",
]
