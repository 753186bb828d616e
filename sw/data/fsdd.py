"""Free Spoken Digit Dataset (FSDD) for speaker authentication: the speaker is the label.

3,000 mono 8 kHz recordings ``{digit}_{speaker}_{take}.wav`` (6 speakers x 10 digits
x 50 takes), read from the shared data directory, never copied into the repository
(../shared/datasets/README.md).

Features (the host's front end, numpy/scipy only): a 32-band log-mel spectrogram
(256-sample frames, hop 128, a triangular mel filterbank on the power spectrum of
each peak-normalised recording), summarised over time by each band's mean and
standard deviation: 64 numbers per utterance, whatever its length. Speaker identity
lives in the spectral envelope (the mean) and its variability (the std); the digit
spoken changes mostly the order of frames, which the summary discards.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.io import wavfile

from .checks import DatasetError, check_samples
from .olivetti import data_dir

__all__ = ["SPEAKERS", "FSDD_DIR", "log_mel", "log_mel_summary", "load_fsdd", "LabelledSplit",
           "SpeakerSplit",
           "split_by_take", "make_speaker_split"]

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FSDD_DIR = Path("fsdd") / "recordings"
SAMPLE_RATE = 8000
N_FFT, HOP, N_MELS = 256, 128, 32
TAKES = 50
_NAME = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[^_]+)_(?P<take>[0-9]{1,6})")


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale
    (O'Shaughnessy's mel = 2595 log10(1 + f / 700))."""
    def to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def to_hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sample_rate / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)


_FILTERS = mel_filterbank(N_MELS, N_FFT, SAMPLE_RATE)


def log_mel(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(N_MELS, frames) log mel power of one peak-normalised recording: the front end
    of every speaker feature (the MLP's summary, the spiking network's windows)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"recordings must be {SAMPLE_RATE} Hz, got {sample_rate}")
    w = np.asarray(wave, dtype=np.float64)
    if w.ndim != 1 or w.size < N_FFT:
        raise ValueError(f"a recording must be mono with >= {N_FFT} samples, got {w.shape}")
    from scipy.signal import stft  # here: a second of start-up for every rmlora command

    w = w / (np.abs(w).max() + 1e-9)
    _, _, spec = stft(w, fs=sample_rate, nperseg=N_FFT, noverlap=N_FFT - HOP)
    return np.log(_FILTERS @ (np.abs(spec) ** 2) + 1e-6)


def log_mel_summary(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """64 features of one recording: per mel band the mean and std of log power."""
    spectrum = log_mel(wave, sample_rate)
    return np.concatenate([spectrum.mean(axis=1), spectrum.std(axis=1)]).astype(np.float32)


def load_fsdd(directory: str | os.PathLike | None = None,
              features: Callable[[np.ndarray], np.ndarray] = log_mel_summary,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features (3000, ...) float32, speaker index, digit, take) of every recording,
    in file-name order; speaker index into SPEAKERS. ``features``: one recording's
    samples -> its features, of one shape for all (default the 64 summary numbers).
    A recording that is misnamed,
    truncated, unreadable, not mono 8 kHz, non-finite or silent raises ``DatasetError``
    naming it."""
    path = data_dir(directory) / FSDD_DIR
    files = sorted(path.glob("*.wav")) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"FSDD recordings not found in {path}. Put the Free Spoken Digit Dataset's "
            f"recordings/*.wav there (or set RMLORA_DATA to the directory that holds "
            f"fsdd/recordings/).")
    feats, speakers, digits, takes = [], [], [], []
    for f in files:
        digit, speaker, take = _parse_name(f)
        feats.append(features(read_recording(f)))
        speakers.append(SPEAKERS.index(speaker))
        digits.append(digit)
        takes.append(take)
    return (np.stack(feats), np.array(speakers), np.array(digits), np.array(takes))


def _parse_name(path: Path) -> tuple[int, str, int]:
    """``{digit}_{speaker}_{take}.wav`` -> (digit, speaker, take), each checked."""
    name = _NAME.fullmatch(path.stem)
    if name is None or not int(name["take"]) < TAKES:
        raise DatasetError(f"{path}: not named {{digit 0-9}}_{{speaker}}_{{take 0-{TAKES - 1}}}"
                           f".wav")
    if name["speaker"] not in SPEAKERS:
        raise DatasetError(f"{path}: unknown speaker {name['speaker']!r} "
                           f"(known: {', '.join(SPEAKERS)})")
    return int(name["digit"]), name["speaker"], int(name["take"])


def _check_riff(path: Path, data: bytes) -> None:
    """The RIFF size and every chunk's size agree with the file's length.

    scipy reads a truncated recording without complaint (the data chunk just ends early),
    so a download cut short would become a shorter, different utterance."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise DatasetError(f"{path}: not a RIFF/WAVE file")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 != len(data):
        raise DatasetError(f"{path}: truncated or padded: the RIFF header says "
                           f"{riff_size + 8} bytes, the file has {len(data)}")
    pos, chunks = 12, []
    while pos < len(data):
        if pos + 8 > len(data):
            raise DatasetError(f"{path}: truncated chunk header at byte {pos}")
        chunk, size = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + size > len(data):
            raise DatasetError(f"{path}: truncated: chunk {chunk!r} at byte {pos} claims "
                               f"{size} bytes, {len(data) - pos - 8} remain")
        chunks.append(chunk)
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    for needed in (b"fmt ", b"data"):
        if needed not in chunks:
            raise DatasetError(f"{path}: no {needed.decode().strip()!r} chunk")


def read_recording(path: Path) -> np.ndarray:
    """One recording's samples, refused (``DatasetError`` naming the file) unless it is an
    intact mono 8 kHz WAV of at least one frame, finite and not constant (silence)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"{path}: cannot be read ({err})") from err
    _check_riff(path, data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", wavfile.WavFileWarning)  # e.g. EOF inside a chunk
            rate, wave = wavfile.read(io.BytesIO(data))
    # scipy's reader raises whatever the damage trips (ValueError, struct.error, a
    # WavFileWarning made an error above, ...): all mean "not a readable WAV" here.
    except Exception as err:
        raise DatasetError(f"{path}: not a readable WAV file ({type(err).__name__}: "
                           f"{err})") from err
    if rate != SAMPLE_RATE:
        raise DatasetError(f"{path}: sampled at {rate} Hz, not {SAMPLE_RATE}")
    if wave.ndim != 1:
        raise DatasetError(f"{path}: {wave.shape[1]} channels, not mono")
    if wave.size < N_FFT:
        raise DatasetError(f"{path}: {wave.size} samples, fewer than one {N_FFT}-sample frame")
    check_samples(wave[None], path, wave.shape, "recording")
    return wave


@dataclass(frozen=True)
class LabelledSplit:
    """The chosen speakers' utterances split by take, labelled by class (their order;
    ``class_of``). ``holdout_*`` are the test utterances again: the attack's
    non-members. What FlowData.from_split takes; each encoding adds its own fields."""

    class_of: dict[str, int]
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    holdout_x: torch.Tensor
    holdout_y: torch.Tensor


@dataclass(frozen=True)
class SpeakerSplit(LabelledSplit):
    """Standardised features of the chosen speakers (the MLP flow's)."""

    mean: np.ndarray  # the standardisation the host applies (from the training set)
    std: np.ndarray


def split_by_take(speaker: np.ndarray, take: np.ndarray, names: list[str], seed: int = 0,
                  test_takes: int = 10) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(training rows, test rows) per speaker of ``names``, in their order: per speaker
    a seeded set of ``test_takes`` take indices is held out (all ten digits of those
    takes), so no utterance is in both; the split of a speaker depends only on (seed,
    speaker)."""
    if len(set(names)) != len(names):
        raise ValueError(f"speakers must be distinct, got {names}")
    for name in names:
        if name not in SPEAKERS:
            raise ValueError(f"speaker {name!r}: choose from {', '.join(SPEAKERS)}")
    if not 0 < test_takes < TAKES:
        raise ValueError(f"test_takes must be in 1..{TAKES - 1}, got {test_takes}")
    train_rows, test_rows = [], []
    for name in names:
        s = SPEAKERS.index(name)
        held = np.random.default_rng([seed, s]).permutation(TAKES)[:test_takes]
        rows = np.flatnonzero(speaker == s)
        is_test = np.isin(take[rows], held)
        train_rows.append(rows[~is_test])
        test_rows.append(rows[is_test])
    return train_rows, test_rows


def make_speaker_split(features: np.ndarray, speaker: np.ndarray, take: np.ndarray,
                       names: list[str], seed: int = 0, test_takes: int = 10,
                       fit_on: int | None = None) -> SpeakerSplit:
    """The speakers split by take (split_by_take). The standardisation is fitted on the
    training utterances of the first ``fit_on`` speakers (default all): the
    pretrained ones, so the speaker learned later is not seen before its time."""
    train_rows, test_rows = split_by_take(speaker, take, names, seed, test_takes)
    train, test = np.concatenate(train_rows), np.concatenate(test_rows)
    class_of = {name: i for i, name in enumerate(names)}
    label = np.array([class_of[SPEAKERS[s]] for s in speaker[train]])
    test_label = np.array([class_of[SPEAKERS[s]] for s in speaker[test]])
    fit = np.concatenate(train_rows[:fit_on])
    mean = features[fit].mean(axis=0)
    std = features[fit].std(axis=0) + 1e-6
    x = torch.from_numpy(((features - mean) / std).astype(np.float32))
    test_x, test_y = x[test], torch.from_numpy(test_label)
    return SpeakerSplit(class_of, x[train], torch.from_numpy(label), test_x, test_y,
                        test_x.clone(), test_y.clone(), mean, std)
