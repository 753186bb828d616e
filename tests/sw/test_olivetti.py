"""Face data: the scikit-learn loading recipe, a fixed per-person split, seeded views."""

import numpy as np
import pytest
import torch

from rmlora.sw.data import Augmentation, augment, load_olivetti, make_face_split, split_people
from rmlora.sw.data.olivetti import data_dir, resize

HAVE_FACES = (data_dir() / "olivetti" / "olivettifaces.mat").is_file()
needs_faces = pytest.mark.skipif(not HAVE_FACES, reason="olivettifaces.mat not in $RMLORA_DATA")


def synthetic_faces(n_people=6, size=32, seed=0):
    """Per person a random template plus per-image noise, shaped like the Olivetti data."""
    rng = np.random.default_rng(seed)
    templates = rng.random((n_people, size, size), dtype=np.float32)
    images = np.repeat(templates, 10, axis=0)
    images += 0.05 * rng.standard_normal(images.shape).astype(np.float32)
    labels = np.arange(n_people * 10) // 10
    return np.clip(images, 0, 1), labels


def test_split_sizes_and_disjoint():
    _, labels = synthetic_faces()
    train, test = split_people(labels, [0, 3, 5], n_train=7, seed=1)
    assert len(train) == 21 and len(test) == 9
    assert not set(train) & set(test)
    assert all(np.sum(labels[train] == p) == 7 for p in (0, 3, 5))


def test_split_of_a_person_does_not_depend_on_the_others():
    _, labels = synthetic_faces()
    alone = split_people(labels, [3], seed=2)[1]
    together = split_people(labels, [0, 3, 5], seed=2)[1]
    assert set(alone) <= set(together)
    assert not np.array_equal(alone, split_people(labels, [3], seed=3)[1])


def test_face_split_shapes_classes_and_determinism():
    faces, labels = synthetic_faces()
    aug = Augmentation(copies=4)
    a = make_face_split(faces, labels, [4, 2, 0], seed=0, aug=aug, size=16)
    b = make_face_split(faces, labels, [4, 2, 0], seed=0, aug=aug, size=16)
    assert a.class_of == {4: 0, 2: 1, 0: 2} and a.person_of[1] == 2
    assert a.train_x.shape == (3 * 7 * 5, 16, 16) and a.test_x.shape == (9, 16, 16)
    assert a.holdout_x.shape == (9 * 4, 16, 16) and len(a.holdout_y) == 36
    assert int(a.train_clean.sum()) == 21
    assert torch.equal(a.train_y[:5], torch.zeros(5, dtype=torch.long))
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.holdout_x, b.holdout_x)
    c = make_face_split(faces, labels, [4, 2, 0], seed=1, aug=aug, size=16)
    assert not torch.equal(a.train_x, c.train_x)


def test_augmentation_shape_range_and_seed():
    images = torch.rand(3, 64, 64)
    aug = Augmentation(copies=5)
    views = augment(images, aug, torch.Generator().manual_seed(0))
    again = augment(images, aug, torch.Generator().manual_seed(0))
    assert views.shape == (15, 64, 64) and torch.equal(views, again)
    assert views.min() >= 0 and views.max() <= 1
    still = augment(images, Augmentation(1, 0, 0, 0, 0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(still, images, atol=1e-5, rtol=0)


def test_mirror_flips_every_second_training_view_and_no_held_out_view():
    faces, labels = synthetic_faces()
    plain = make_face_split(faces, labels, [4, 2], seed=0, aug=Augmentation(copies=4), size=16)
    mirrored = make_face_split(faces, labels, [4, 2], seed=0,
                               aug=Augmentation(copies=4, mirror=True), size=16)
    per_image = lambda split: split.train_x.reshape(-1, 5, 16, 16)  # noqa: E731
    a, b = per_image(plain), per_image(mirrored)
    # clean image, views 1 and 3 unchanged; views 2 and 4 mirrored (area resize commutes)
    assert torch.equal(a[:, [0, 1, 3]], b[:, [0, 1, 3]])
    torch.testing.assert_close(b[:, [2, 4]], a[:, [2, 4]].flip(-1), atol=1e-6, rtol=0)
    assert not torch.equal(a[:, 2], b[:, 2])
    assert torch.equal(plain.holdout_x, mirrored.holdout_x)


def test_bad_inputs_rejected():
    faces, labels = synthetic_faces()
    with pytest.raises(ValueError, match="person 99"):
        split_people(labels, [99])
    with pytest.raises(ValueError, match="distinct"):
        make_face_split(faces, labels, [1, 1])
    with pytest.raises(ValueError, match="copies"):
        Augmentation(copies=-1)


def test_missing_file_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="olivettifaces.mat"):
        load_olivetti(tmp_path)


@needs_faces
def test_real_faces_loaded_like_scikit_learn():
    faces, labels = load_olivetti()
    assert faces.shape == (400, 64, 64) and faces.dtype == np.float32
    assert faces.min() == 0.0 and faces.max() == 1.0
    assert labels[9] == 0 and labels[10] == 1 and labels[-1] == 39
    split = make_face_split(faces, labels, [0, 1], aug=Augmentation(copies=2))
    assert split.train_x.shape == (2 * 7 * 3, 16, 16)


def test_background_holds_every_image_of_the_other_people_only():
    from rmlora.sw.data.olivetti import make_background

    faces, labels = synthetic_faces(n_people=6, size=32)
    x, y = make_background(faces, labels, exclude=[4, 0, 2], seed=3,
                           aug=Augmentation(copies=2), size=16)
    assert x.shape == (3 * 10 * 3, 16, 16)  # people 1, 3, 5: 10 images, clean + 2 views
    assert y.tolist() == [0] * 30 + [1] * 30 + [2] * 30  # numbered in id order
    clean = resize(torch.from_numpy(faces[labels == 3]), 16)
    assert torch.equal(x[30:60:3], clean)  # every image of person 3, each before its views
    again = make_background(faces, labels, exclude=[0, 2, 4], seed=3,
                            aug=Augmentation(copies=2), size=16)
    assert torch.equal(x, again[0])
    assert make_background(faces, labels, exclude=list(range(6)), seed=3) is None
