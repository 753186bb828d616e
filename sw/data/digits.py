"""scikit-learn's bundled 8x8 digits (no download) for the image-generation task.

1,797 grey images, 8x8, 17 levels (0..16), ten classes: the class is the concept a
generator is prompted with. A style is a deterministic transform of an image.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import grey_dilation

from .checks import check_samples

__all__ = ["load_digit_images", "STYLES", "apply_style", "style_property"]


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) float32 in [0, 1], labels (1797,) int64)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    check_samples(digits.images, "scikit-learn's load_digits", (8, 8), "image")
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def _thick(images: np.ndarray) -> np.ndarray:
    """Strokes thickened: grey dilation over 2x2 (each pixel the brightest of its
    lower-right neighbourhood)."""
    return grey_dilation(images, size=(1, 2, 2))


def _invert(images: np.ndarray) -> np.ndarray:
    """White digits on black become black on white."""
    return 1.0 - images


STYLES = {"thick": _thick, "invert": _invert}


def apply_style(images: np.ndarray, style: str) -> np.ndarray:
    if style not in STYLES:
        raise ValueError(f"style {style!r}: choose one of {', '.join(STYLES)}")
    return STYLES[style](np.asarray(images, dtype=np.float32)).astype(np.float32)


def style_property(images: np.ndarray) -> np.ndarray:
    """Mean brightness per image: both styles raise it (thicker strokes, an inverted
    background), so one threshold between plain and styled real images judges it."""
    return np.asarray(images, dtype=np.float64).reshape(len(images), -1).mean(axis=1)
