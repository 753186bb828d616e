"""Face recognition task: Olivetti people -> FaceMixer -> the shared learning flow.

Classes are the pretrained people in the given order, then the person learned later
in the model's spare output (class ``len(people)``). The forgotten person is one of
the pretrained people.
"""

from __future__ import annotations

import os
import time

import numpy as np

from rmlora.sw.data.olivetti import (
    N_PEOPLE,
    Augmentation,
    FaceSplit,
    load_olivetti,
    make_face_split,
)
from rmlora.sw.learn.chip_flow import run_on_chip
from rmlora.sw.learn.config import FlowConfig
from rmlora.sw.learn.pipeline import run_flow
from rmlora.sw.learn.stages import FlowData, check_roles
from rmlora.sw.models.mixer import FaceMixer, MixerConfig


def face_flow_data(split: FaceSplit, forget: int, learn: int) -> FlowData:
    """Wrap a face split; ``forget`` and ``learn`` are person ids present in the split."""
    for role, person in (("forget", forget), ("learn", learn)):
        if person not in split.class_of:
            raise ValueError(f"{role}={person} is not among the people {list(split.class_of)}")
    return FlowData(
        train_x=split.train_x, train_y=split.train_y,
        test_x=split.test_x, test_y=split.test_y,
        holdout_x=split.holdout_x, holdout_y=split.holdout_y,
        forget_class=split.class_of[forget], new_class=split.class_of[learn],
    )


def prepare_face(
    people=range(5),
    forget: int = 1,
    learn: int = 5,
    seed: int = 0,
    aug: Augmentation | None = None,
    data_dir: str | os.PathLike | None = None,
    faces: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[int], FaceSplit, FlowData]:
    """Check the roles, load the faces and split them: (people, split, flow data)."""
    people = [int(p) for p in people]
    for person in people + [forget, learn]:
        if not 0 <= person < N_PEOPLE:
            raise ValueError(f"person {person}: Olivetti people are 0..{N_PEOPLE - 1}")
    check_roles(people, forget, learn, "people", "pretrained")
    images, labels = load_olivetti(data_dir) if faces is None else faces
    aug = Augmentation() if aug is None else aug
    split = make_face_split(images, labels, people + [learn], seed=seed, aug=aug)
    return people, split, face_flow_data(split, forget, learn)


def run_face_float(
    people=range(5),
    forget: int = 1,
    learn: int = 5,
    seed: int = 0,
    config: FlowConfig | None = None,
    aug: Augmentation | None = None,
    data_dir: str | os.PathLike | None = None,
    faces: tuple[np.ndarray, np.ndarray] | None = None,
    keep_models: bool = False,
    prepared: tuple[list[int], FaceSplit, FlowData] | None = None,
) -> dict:
    """Pretrain on ``people``, forget ``forget``, learn ``learn``; all in float.

    ``faces`` = (images (N, H, W), person ids) replaces the Olivetti file (tests pass
    small synthetic faces); ``prepared`` (from ``prepare_face``) skips loading. Returns
    the pipeline's metrics and costs plus the person-to-class mapping and the time
    spent preparing data.
    """
    config = FlowConfig(seed=seed) if config is None else config
    if config.seed != seed:
        raise ValueError(f"seed={seed} disagrees with config.seed={config.seed}")
    start = time.perf_counter()
    if prepared is None:
        prepared = prepare_face(people, forget, learn, seed, aug, data_dir, faces)
    people, split, data = prepared
    data_seconds = time.perf_counter() - start
    model_config = MixerConfig(image_size=split.train_x.shape[-1], n_classes=len(people) + 1)
    result = run_flow(data, lambda: FaceMixer(model_config), config, keep_models)
    result.update(
        task="face",
        people=people,
        forget_person=forget,
        learn_person=learn,
        class_of=split.class_of,
        data_seconds=data_seconds,
    )
    return result


# The face task's targets (issue 7), each (summary key, comparison, bound).
FACE_TARGETS = [
    ("pretrained.chip.test_acc", ">=", 0.95),
    ("unlearned.lora.forget_acc", "<=", 0.05),
    ("unlearned.lora.retain_drop", "<=", 0.02),
    ("continual.lora.new_acc", ">=", 0.9),
    ("continual.lora.old_acc", ">=", 0.93),
    ("continual.lora.forget_acc", "<=", 0.05),
    ("mia.lora_minus_retrain", "abs<=", 0.05),
    ("chip_check.bit_exact", "==", True),
    ("chip_check.activity_equal", "==", True),
]


def run_face(
    people=range(5),
    forget: int = 1,
    learn: int = 5,
    seed: int = 0,
    check_backend: str | None = "verilator",
    check_images: int = 20,
    config: FlowConfig | None = None,
    aug: Augmentation | None = None,
    data_dir: str | os.PathLike | None = None,
    faces: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = False,
) -> dict:
    """The face flow on the chip (chip_flow.run_on_chip); the summary."""
    config = FlowConfig(seed=seed, progress=progress) if config is None else config
    if config.seed != seed:
        raise ValueError(f"seed={seed} disagrees with config.seed={config.seed}")
    people, split, data = prepare_face(people, forget, learn, seed, aug, data_dir, faces)
    model_config = MixerConfig(image_size=split.train_x.shape[-1], n_classes=len(people) + 1)
    return run_on_chip("face", split.class_of, data, lambda: FaceMixer(model_config), config,
                       FACE_TARGETS, {"people": people, "forget": forget, "learn": learn},
                       check_backend, check_images, progress)
