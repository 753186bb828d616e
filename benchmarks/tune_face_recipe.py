"""Choose the face pretraining recipe on validation splits, never on test images.

    python benchmarks/tune_face_recipe.py [--choices 8] [--seed 1] [--json out.json]

For each candidate recipe (optimiser settings and augmentation) and each of
``--choices`` random people choices (the sweep's draw, seed 1 by default so the
choices differ from the measuring sweep's, seed 0): the choice's 7 training images
per person are split again into 5 to train on and 2 to validate on
(``face._load_validation``'s split, with the candidate's augmentation), the
published Mixer is pretrained in float and its accuracy on the 2 validation images
and their augmented views is measured. The report is each candidate's mean and worst.
Only pretraining is tuned: the test accuracy misses of the sweeps were in float,
already before unlearning (README, face recipe).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from rmlora.sw.data.olivetti import Augmentation, load_olivetti, split_people
from rmlora.sw.learn.config import FlowConfig, StageConfig
from rmlora.sw.learn.evaluate import class_accuracy
from rmlora.sw.learn.loop import deterministic, train_stage
from rmlora.sw.learn.stages import imprint_head, pretrain, pretrain_backbone
from rmlora.sw.models.mixer import FaceMixer, MixerConfig
from rmlora.sw.tasks.face import (
    FACE,
    FACE_IMAGE_SIZE,
    TRAIN_IMAGES,
    VALIDATION_TRAIN_IMAGES,
    prepare_face,
)
from rmlora.sw.tasks.sweep import draw_choices

BASE = StageConfig(epochs=60, lr=0.005)
WIDER = Augmentation(max_shift=0.08, max_rotation_deg=12.0, brightness=0.2, noise_std=0.03)
ROUND_1 = {
    "published (60 ep, Adam 5e-3)": (BASE, Augmentation()),
    "weight decay 0.05": (dataclasses.replace(BASE, weight_decay=0.05), Augmentation()),
    "label smoothing 0.1": (dataclasses.replace(BASE, label_smoothing=0.1), Augmentation()),
    "wider augmentation": (BASE, WIDER),
    "120 epochs": (dataclasses.replace(BASE, epochs=120), Augmentation()),
    "smoothing + decay + wider aug": (
        dataclasses.replace(BASE, weight_decay=0.05, label_smoothing=0.1), WIDER),
}
ROUND_2 = {
    "published (60 ep, Adam 5e-3)": (BASE, Augmentation()),
    "60 views per image": (BASE, Augmentation(copies=60)),
    "Adam 2e-3, 120 epochs": (StageConfig(epochs=120, lr=0.002), Augmentation()),
    "batch 32": (dataclasses.replace(BASE, batch_size=32), Augmentation()),
    "smoothing 0.1 + decay 0.05": (
        dataclasses.replace(BASE, weight_decay=0.05, label_smoothing=0.1), Augmentation()),
}
ROUND_3 = {
    "60 views per image": (BASE, Augmentation(copies=60)),
    "90 views per image": (BASE, Augmentation(copies=90)),
    "60 views + smoothing 0.1 + decay 0.05": (
        dataclasses.replace(BASE, weight_decay=0.05, label_smoothing=0.1),
        Augmentation(copies=60)),
}
# Round 4: the Mixer's shape (a third element: MixerConfig fields other than the
# published ones), published recipe otherwise.
ROUND_4 = {
    "published shape (dim 20, hidden 32, depth 2)": (BASE, Augmentation(), {}),
    "dim 32, hidden 64": (BASE, Augmentation(), {"dim": 32, "hidden": 64}),
    "depth 3": (BASE, Augmentation(), {"depth": 3}),
}
# Round 5: the input resolution ("image_size": faces resized to 32x32 instead of 16).
ROUND_5 = {
    "16x16 faces (published)": (BASE, Augmentation(), {}),
    "32x32 faces": (BASE, Augmentation(), {"image_size": 32}),
}
# Round 6: a backbone stage first, trained on the faces of the people the choice
# leaves out ("background": their views per image; "backbone": its StageConfig),
# then the published pretraining (or the candidate's). Without a backbone the figures
# are round 1's published row (same code path).
BACKBONE = {"background": Augmentation(copies=10), "backbone": StageConfig(epochs=20, lr=0.005)}
ROUND_6 = {
    "backbone 10 views, 20 epochs": (BASE, Augmentation(), BACKBONE),
    "backbone 20 views, 40 epochs": (BASE, Augmentation(), {
        "background": Augmentation(copies=20), "backbone": StageConfig(epochs=40, lr=0.005)}),
    "backbone 10 views, 20 epochs; pretrain 30 epochs at 2e-3": (
        StageConfig(epochs=30, lr=0.002), Augmentation(), BACKBONE),
}
# Round 7: the backbone stage (round 6's choice) with round 2's and 3's best levers.
ROUND_7 = {
    "backbone + smoothing 0.1 + decay 0.05": (
        dataclasses.replace(BASE, weight_decay=0.05, label_smoothing=0.1), Augmentation(),
        BACKBONE),
    "backbone + 60 views per image": (BASE, Augmentation(copies=60), BACKBONE),
}
# Round 8: how the head starts and trains after the backbone ("imprint": the head's rows
# set to each person's mean feature direction at that length; "probe": a head-only stage
# first, then the candidate's pretraining, or none if its epochs are 0).
PROBE = StageConfig(epochs=60, lr=0.01)
ROUND_8 = {
    "backbone, random head (round 6)": (BASE, Augmentation(), BACKBONE),
    "linear probe only": (dataclasses.replace(BASE, epochs=0), Augmentation(),
                          {**BACKBONE, "probe": PROBE}),
    "probe 30 epochs, then 60 at 1e-3": (StageConfig(epochs=60, lr=0.001), Augmentation(),
                                         {**BACKBONE, "probe": StageConfig(epochs=30, lr=0.01)}),
    "imprint 2": (BASE, Augmentation(), {**BACKBONE, "imprint": 2.0}),
    "imprint 5": (BASE, Augmentation(), {**BACKBONE, "imprint": 5.0}),
    "imprint 10": (BASE, Augmentation(), {**BACKBONE, "imprint": 10.0}),
    "imprint 5, then 60 at 1e-3": (StageConfig(epochs=60, lr=0.001), Augmentation(),
                                   {**BACKBONE, "imprint": 5.0}),
}
# Round 9: mirrored training views (every second view flipped left-right) in the
# backbone's background, in pretraining, or both; held-out views are never mirrored.
MIRROR = Augmentation(mirror=True)
BACKBONE_MIRRORED = {**BACKBONE, "background": Augmentation(copies=10, mirror=True)}
ROUND_9 = {
    "backbone, random head (round 6)": (BASE, Augmentation(), BACKBONE),
    "mirrored pretraining views": (BASE, MIRROR, BACKBONE),
    "mirrored background views": (BASE, Augmentation(), BACKBONE_MIRRORED),
    "mirrored both": (BASE, MIRROR, BACKBONE_MIRRORED),
    "mirrored both, imprint 5": (BASE, MIRROR, {**BACKBONE_MIRRORED, "imprint": 5.0}),
}
ROUNDS = {"1": ROUND_1, "2": ROUND_2, "3": ROUND_3, "4": ROUND_4, "5": ROUND_5, "6": ROUND_6,
          "7": ROUND_7, "8": ROUND_8, "9": ROUND_9}


def validate(stage: StageConfig, aug: Augmentation, roles, seed: int, faces,
             shape: dict | None = None) -> dict:
    images, labels = faces
    people = [int(p) for p in roles.classes] + [int(roles.learn)]
    train_idx, _ = split_people(labels, people, TRAIN_IMAGES, seed)
    shape = dict(shape or {})
    size = shape.pop("image_size", FACE_IMAGE_SIZE)
    background = shape.pop("background", None)
    head = {key: shape.pop(key, None) for key in ("backbone", "imprint", "probe")}
    classes, _, data = prepare_face(roles.classes, roles.forget, roles.learn, seed, aug=aug,
                                    faces=(images[train_idx], labels[train_idx]),
                                    n_train=VALIDATION_TRAIN_IMAGES, size=size,
                                    background=background, background_faces=faces)
    test, views = pretrained_accuracy(data, len(classes), stage, seed, shape, **head)
    return {"val_acc": test, "val_views_acc": views}


def pretrained_accuracy(data, n_people: int, stage: StageConfig, seed: int,
                        shape: dict | None = None,
                        backbone: StageConfig | None = None, imprint: float | None = None,
                        probe: StageConfig | None = None) -> tuple[float, float]:
    """Pretrain the face Mixer (``shape``: MixerConfig fields replacing the published
    ones) on ``data`` in float, after the backbone stage when the data has a background
    (``backbone``: its config, default the flow's; then ``imprint``: the head imprinted
    at that length, and ``probe``: a head-only stage); its accuracy on the test inputs
    and on the held-out views of the enrolled people."""
    with deterministic(seed, 1):
        torch.manual_seed(seed)
        model = (FACE.model(data.train_x, n_people + 1) if not shape else FaceMixer(
            MixerConfig(image_size=data.train_x.shape[-1], n_classes=n_people + 1, **shape)))
        if data.background_x is not None:
            pretrain_backbone(model, data, backbone or FlowConfig().backbone, seed)
            if imprint is not None:
                imprint_head(model, data, data.pretrain_classes, imprint)
            if probe is not None:
                rows = data.train_rows(data.pretrain_classes)
                train_stage("probe", model, [model.head.weight], data.train_x[rows],
                            data.train_y[rows], None, probe, seed)
        if stage.epochs:
            pretrain(model, data, stage, seed)
    enrolled = data.pretrain_classes
    return (class_accuracy(model, data.test_x, data.test_y, enrolled),
            class_accuracy(model, data.holdout_x, data.holdout_y, enrolled))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choices", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--round", choices=tuple(ROUNDS), default="1",
                        help="which set of candidates (README: face recipe)")
    args = parser.parse_args(argv)
    faces = load_olivetti()
    choices = draw_choices(FACE, args.choices, args.seed)
    out = {"seed": args.seed, "choices": [FACE.describe(o) for o, _ in choices],
           "candidates": {}}
    for name, (stage, aug, *shape) in ROUNDS[args.round].items():
        t0 = time.perf_counter()
        rows = [validate(stage, aug, roles, seed, faces, *shape) for roles, seed in choices]
        summary = {key: {"mean": float(np.mean([r[key] for r in rows])),
                         "worst": float(np.min([r[key] for r in rows])),
                         "per_choice": [r[key] for r in rows]} for key in rows[0]}
        out["candidates"][name] = summary
        print(f"{name:<32} val {summary['val_acc']['mean']:.3f} (worst "
              f"{summary['val_acc']['worst']:.3f})  views {summary['val_views_acc']['mean']:.3f}"
              f" (worst {summary['val_views_acc']['worst']:.3f})  "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
