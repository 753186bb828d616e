"""Datasets of the three tasks, read from the shared data directory ($RMLORA_DATA)."""

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
    "Augmentation",
    "FaceSplit",
    "augment",
    "load_olivetti",
    "make_face_split",
    "resize",
    "split_people",
]
