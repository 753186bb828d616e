"""FSDD as spike trains: the input of the published speaker network (issue 21).

The published liquid-state machine (arXiv 2601.10037, the authors' speaker code) reads
T = 10 time windows of spikes, its 700 cochlea channels summed in bins of 5. FSDD has
no spikes, so the host encodes them from the speaker front end (fsdd.log_mel): each
utterance's 32-band log-mel spectrogram is cut into STEPS windows of (nearly) equal
length, each band's mean in a window is one value, and each value becomes LEVELS
binary channels by thresholds fitted on the enrolled speakers' training windows (each
band's own quantiles, so every channel fires on some training utterances):

- "one_hot" (the default): exactly one of the band's LEVELS channels fires, the
  quantile bin the value falls in (32 spikes every step);
- "thermometer": channel k fires when the value exceeds the band's (k+1)/(LEVELS+1)
  quantile (0..LEVELS channels on: the level as a spike count).

Measured on the integer network (enrolled speakers of the default roles, seeds 0-2,
30 epochs, no thinning), test accuracy: one-hot 0.992, 0.990, 0.994; thermometer
0.996, 0.982, 0.980; a delta code (per band an up and a down spike at each of 3
quantiles of the window-to-window change, 192 channels) 0.950, 0.936, 0.970: a
speaker is mostly their spectral envelope, which a change code drops. One-hot also
fixes the input's activity (32 of 160 channels), so the currents' range does not
depend on the utterance. Channels are band-major (band b's at b*LEVELS ...), padded
with silent channels to a multiple of INPUT_ALIGN.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from .fsdd import N_MELS, SPEAKERS, LabelledSplit, load_fsdd, log_mel, split_by_take

__all__ = ["STEPS", "LEVELS", "CODES", "INPUT_ALIGN", "log_mel_windows", "load_fsdd_windows",
           "level_thresholds", "encode_levels", "SpikeSplit", "make_spike_split"]

STEPS = 10  # time windows per utterance: the published T
LEVELS = 5  # channels per band: the published 5 bins
CODES = ("thermometer", "one_hot")
INPUT_ALIGN = 8  # input channels padded to whole bytes (8 spikes)


def log_mel_windows(wave: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """(steps, N_MELS) float32: each band's mean log-mel power in each of ``steps``
    consecutive windows of the recording's frames (np.array_split's near-equal cut; a
    recording of fewer frames than windows repeats frames)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    spectrum = log_mel(wave)
    frames = spectrum.shape[1]
    if frames < steps:
        spectrum = spectrum[:, np.arange(steps) * frames // steps]
    return np.stack([w.mean(axis=1) for w in np.array_split(spectrum, steps, axis=1)]
                    ).astype(np.float32)


def load_fsdd_windows(directory: str | os.PathLike | None = None, steps: int = STEPS
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """load_fsdd with log_mel_windows: (windows (3000, steps, 32), speaker, digit, take)."""
    return load_fsdd(directory, features=partial(log_mel_windows, steps=steps))


def _check_code(code: str, levels: int) -> None:
    if code not in CODES:
        raise ValueError(f"code {code!r}: choose from {', '.join(CODES)}")
    if not 2 <= levels <= 16:
        raise ValueError(f"levels must be in 2..16, got {levels}")


def level_thresholds(windows: np.ndarray, levels: int = LEVELS, code: str = "one_hot"
                     ) -> np.ndarray:
    """(bands, thresholds) per band from windows (..., bands): LEVELS quantiles at
    k/(LEVELS+1) for the thermometer code, LEVELS-1 at k/LEVELS (the bin edges) for
    one-hot."""
    _check_code(code, levels)
    values = np.asarray(windows, dtype=np.float64).reshape(-1, np.shape(windows)[-1])
    n = levels + 1 if code == "thermometer" else levels
    return np.quantile(values, np.arange(1, n) / n, axis=0).T.astype(np.float32)


def encode_levels(windows: np.ndarray, thresholds: np.ndarray, code: str = "one_hot"
                  ) -> np.ndarray:
    """(..., steps, channels) uint8 spikes of windows (..., steps, bands): LEVELS channels
    per band, band-major, then silent channels up to a multiple of INPUT_ALIGN."""
    windows = np.asarray(windows, dtype=np.float32)
    bands, n_thresholds = thresholds.shape
    if windows.shape[-1] != bands:
        raise ValueError(f"windows have {windows.shape[-1]} bands, thresholds {bands}")
    above = windows[..., None] > thresholds  # (..., bands, n_thresholds)
    if code == "thermometer":
        spikes = above
    elif code == "one_hot":
        spikes = above.sum(axis=-1)[..., None] == np.arange(n_thresholds + 1)
    else:
        _check_code(code, 2)
    spikes = spikes.reshape(*windows.shape[:-1], -1)
    pad = -spikes.shape[-1] % INPUT_ALIGN
    spikes = np.concatenate([spikes, np.zeros((*spikes.shape[:-1], pad), dtype=bool)], -1)
    return spikes.astype(np.uint8)


@dataclass(frozen=True)
class SpikeSplit(LabelledSplit):
    """Spike trains of the chosen speakers: x is (utterances, steps * channels) float32
    of 0/1, step-major (the flat rows the classifier pipeline carries;
    LiquidStateMachine reads them back as (steps, channels)); ``thresholds`` the
    encoding's, fitted on the enrolled speakers."""

    thresholds: np.ndarray
    code: str
    steps: int
    channels: int


def make_spike_split(windows: np.ndarray, speaker: np.ndarray, take: np.ndarray,
                     names: list[str], seed: int = 0, test_takes: int = 10,
                     fit_on: int | None = None, levels: int = LEVELS,
                     code: str = "one_hot") -> SpikeSplit:
    """The speakers split by take as the MLP flow splits them (fsdd.split_by_take); the
    thresholds fitted on the training windows of the first ``fit_on`` speakers (default
    all): the enrolled ones, so the speaker learned later is not seen before its time."""
    train_rows, test_rows = split_by_take(speaker, take, names, seed, test_takes)
    if windows.ndim != 3 or windows.shape[2] != N_MELS:
        raise ValueError(f"windows must be (utterances, steps, {N_MELS}), got {windows.shape}")
    thresholds = level_thresholds(windows[np.concatenate(train_rows[:fit_on])], levels, code)
    train, test = np.concatenate(train_rows), np.concatenate(test_rows)
    class_of = {name: i for i, name in enumerate(names)}

    def labels(rows):
        return torch.tensor([class_of[SPEAKERS[s]] for s in speaker[rows]])

    def spikes(rows):
        x = encode_levels(windows[rows], thresholds, code)
        return torch.from_numpy(x.reshape(len(rows), -1).astype(np.float32))

    test_x, test_y = spikes(test), labels(test)
    return SpikeSplit(class_of, spikes(train), labels(train), test_x, test_y, test_x.clone(),
                      test_y.clone(), thresholds, code, windows.shape[1],
                      encode_levels(windows[:1, :1], thresholds, code).shape[-1])
