"""Olivetti faces (AT&T / ORL, Samaria & Harter 1994) for the face-recognition task.

The file is read from the shared data directory, never copied into the repository
(see ../shared/datasets/README.md). Loading follows scikit-learn's
``fetch_olivetti_faces`` exactly, so numbers are comparable with anything built on it.

The chip sees 16x16 images (4x4 patches of 16 pixels, the published MLP-Mixer input),
so every image is augmented at 64x64 (where a one-pixel shift is still small) and then
reduced to 16x16 by area averaging, which is a plain box filter the host can reproduce.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checks import DatasetError, check_samples
from .matfile import read_mat

N_PEOPLE = 40
IMAGES_PER_PERSON = 10
OLIVETTI_FILE = Path("olivetti") / "olivettifaces.mat"
# <repo>/sw/data/olivetti.py -> <repo>; the shared datasets sit beside the repository.
REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: the argument, else $RMLORA_DATA, else <repo>/../shared/datasets."""
    if path is not None:
        return Path(path)
    env = os.environ.get("RMLORA_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets"


def load_olivetti(
    directory: str | os.PathLike | None = None, allow_download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """All 400 faces as float32 (400, 64, 64) in [0, 1] and person ids int64 (400,).

    A file that cannot be read, or holds wrongly shaped, non-finite or constant images,
    raises ``DatasetError`` naming it.

    ``allow_download`` falls back to scikit-learn's downloader (only when sklearn is
    installed); it is off by default because these machines have no network.
    """
    path = data_dir(directory) / OLIVETTI_FILE
    if not path.is_file():
        if allow_download:
            return _download_with_sklearn()
        raise FileNotFoundError(
            f"Olivetti faces not found at {path}. Put scikit-learn's 'olivettifaces.mat' "
            f"there (or set RMLORA_DATA to the directory that holds olivetti/), or pass "
            f"allow_download=True with scikit-learn installed."
        )
    mat = _read_faces(path)
    faces = mat.T.astype(np.float32)
    faces -= faces.min()  # min-max over the whole array, as scikit-learn does
    faces /= faces.max()
    faces = faces.reshape(-1, 64, 64).transpose(0, 2, 1).copy()
    labels = np.arange(faces.shape[0], dtype=np.int64) // IMAGES_PER_PERSON
    return faces, labels


def _read_faces(path: Path) -> np.ndarray:
    """The (4096, 400) ``faces`` matrix of the .mat file, checked: one column per image,
    finite, no constant image (the min-max normalisation would divide by zero)."""
    contents = read_mat(path)
    if "faces" not in contents:
        raise DatasetError(f"{path}: no 'faces' variable (has {sorted(contents)})")
    mat = np.asarray(contents["faces"])
    expected = (64 * 64, N_PEOPLE * IMAGES_PER_PERSON)
    if mat.shape != expected:
        raise DatasetError(f"{path}: expected faces of shape {expected}, got {mat.shape}")
    check_samples(mat.T, path, (64 * 64,), "image")
    return mat


def _download_with_sklearn() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import fetch_olivetti_faces
    except ImportError as err:
        raise FileNotFoundError(
            "Olivetti faces missing and scikit-learn is not installed for the download"
        ) from err
    bunch = fetch_olivetti_faces(shuffle=False)
    check_samples(bunch.images, "scikit-learn's fetch_olivetti_faces", (64, 64), "image")
    return bunch.images.astype(np.float32), bunch.target.astype(np.int64)


@dataclass(frozen=True)
class Augmentation:
    """Random views of a face: what a camera in front of the chip would vary.

    Ranges are small on purpose: the Olivetti poses already vary, and large
    distortions of 16x16 faces would erase identity.
    """

    copies: int = 30
    max_shift: float = 0.06  # fraction of the image width (about 4 of 64 pixels)
    max_rotation_deg: float = 8.0
    brightness: float = 0.1  # gain drawn from [1 - b, 1 + b]
    noise_std: float = 0.02
    # Every second training view mirrored left-right (a face's mirror image is another
    # plausible face of the same person). Training views only: a camera does not
    # mirror, so held-out views (``augment``) never are. No random draw: the other
    # views are the same with and without it.
    mirror: bool = False

    def __post_init__(self):
        if self.copies < 0:
            raise ValueError(f"copies must be >= 0, got {self.copies}")
        for field in ("max_shift", "max_rotation_deg", "brightness", "noise_std"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")


def augment(images: torch.Tensor, aug: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """``aug.copies`` random views of every image, (N, H, W) -> (N * copies, H, W).

    Views of one image are consecutive. One affine warp per view (grid_sample, batched),
    then gain and additive Gaussian noise; all draws come from ``generator``.
    """
    n = images.shape[0] * aug.copies
    src = images.repeat_interleave(aug.copies, dim=0).unsqueeze(1)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(aug.max_rotation_deg)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * aug.max_shift * 2  # grid is [-1, 1]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(src.shape), align_corners=False)
    views = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * aug.brightness
    views = views * gain + torch.randn(views.shape, generator=generator) * aug.noise_std
    return views.squeeze(1).clamp(0.0, 1.0)


def with_views(images: torch.Tensor, aug: Augmentation, generator: torch.Generator
               ) -> torch.Tensor:
    """(N, H, W) -> (N * (copies + 1), H, W): every image, then its ``aug.copies`` views
    (with ``aug.mirror``, views 2, 4, ... of each image mirrored)."""
    n, h, w = images.shape
    views = augment(images, aug, generator).reshape(n, aug.copies, h, w)
    if aug.mirror:
        views[:, 1::2] = views[:, 1::2].flip(-1)
    return torch.cat([images.unsqueeze(1), views], 1).reshape(-1, h, w)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, H, W) -> (N, size, size) by area averaging (a box filter for integer factors)."""
    return F.interpolate(images.unsqueeze(1), size=(size, size), mode="area").squeeze(1)


@dataclass(frozen=True)
class FaceSplit:
    """Train/test tensors of a chosen set of people, labelled by class index.

    ``class_of`` maps person id -> class index (the order of ``people``). Training rows
    are, per image, the clean image followed by its augmented views; ``train_clean``
    marks the clean ones and ``train_source`` names the original image (0..399).
    ``holdout_x`` holds augmented views of the test images (same augmentation as
    training): non-members for the membership-inference attack.
    """

    class_of: dict[int, int]
    train_x: torch.Tensor
    train_y: torch.Tensor
    train_clean: torch.Tensor
    train_source: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    holdout_x: torch.Tensor
    holdout_y: torch.Tensor

    @property
    def person_of(self) -> dict[int, int]:
        return {c: p for p, c in self.class_of.items()}


def split_people(
    labels: np.ndarray, people: list[int], n_train: int = 7, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Image indices (train, test) with ``n_train`` images per person, fixed by ``seed``.

    The split of a person depends only on (seed, person id), not on which other
    people are selected, so a person's test images are the same in every experiment.
    """
    train, test = [], []
    for person in people:
        idx = np.flatnonzero(labels == person)
        if idx.size == 0:
            raise ValueError(f"person {person} not in the data (ids 0..{labels.max()})")
        if not 0 < n_train < idx.size:
            raise ValueError(f"n_train must be in 1..{idx.size - 1}, got {n_train}")
        order = np.random.default_rng([seed, person]).permutation(idx)
        train.append(np.sort(order[:n_train]))
        test.append(np.sort(order[n_train:]))
    return np.concatenate(train), np.concatenate(test)


def make_background(
    faces: np.ndarray,
    labels: np.ndarray,
    exclude: list[int],
    seed: int = 0,
    aug: Augmentation = Augmentation(copies=10),
    size: int = 16,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Every image of every person not in ``exclude``, each followed by its augmented
    views, resized; labels number those people 0.. in id order. None: nobody is left.

    These are the faces a backbone learns from: people the task never enrols, so no
    image of a chosen person (training, test or the one learned later) is among them.
    """
    people = sorted(set(labels.tolist()) - {int(p) for p in exclude})
    if not people:
        return None
    idx = np.flatnonzero(np.isin(labels, people))
    images = torch.from_numpy(faces[idx])
    y = torch.tensor([people.index(int(p)) for p in labels[idx]])
    # its own stream: the views do not depend on how the choice's split drew
    stream = np.random.SeedSequence([seed, 0xBAC]).generate_state(1)[0]
    gen = torch.Generator().manual_seed(int(stream))
    return resize(with_views(images, aug, gen), size), y.repeat_interleave(aug.copies + 1)


def make_face_split(
    faces: np.ndarray,
    labels: np.ndarray,
    people: list[int],
    seed: int = 0,
    n_train: int = 7,
    aug: Augmentation = Augmentation(),
    size: int = 16,
) -> FaceSplit:
    """Select ``people`` (class i = people[i]), split, augment training images, resize."""
    people = [int(p) for p in people]
    if len(set(people)) != len(people):
        raise ValueError(f"people must be distinct, got {people}")
    class_of = {p: i for i, p in enumerate(people)}
    train_idx, test_idx = split_people(labels, people, n_train, seed)
    images = torch.from_numpy(faces)
    to_class = torch.tensor([class_of[int(p)] for p in labels[train_idx]])
    test_class = torch.tensor([class_of[int(p)] for p in labels[test_idx]])
    gen = torch.Generator().manual_seed(seed)
    per = aug.copies + 1
    train = with_views(images[train_idx], aug, gen)
    holdout = augment(images[test_idx], aug, gen)
    return FaceSplit(
        class_of=class_of,
        train_x=resize(train, size),
        train_y=to_class.repeat_interleave(per),
        train_clean=(torch.arange(len(train_idx) * per) % per) == 0,
        train_source=torch.from_numpy(train_idx).repeat_interleave(per),
        test_x=resize(images[test_idx], size),
        test_y=test_class,
        holdout_x=resize(holdout, size),
        holdout_y=test_class.repeat_interleave(aug.copies),
    )
