"""FSDD speaker data: features, the per-speaker split by take, bad input."""

import numpy as np
import pytest
import torch

from rmlora.sw.data.fsdd import (
    FSDD_DIR,
    SPEAKERS,
    load_fsdd,
    log_mel_summary,
    make_speaker_split,
    mel_filterbank,
)
from rmlora.sw.data.olivetti import data_dir
from rmlora.sw.learn.config import StageConfig
from rmlora.sw.learn.stages import FlowData, _forget_objective

HAVE_FSDD = (data_dir() / FSDD_DIR).is_dir()
needs_fsdd = pytest.mark.skipif(not HAVE_FSDD, reason="FSDD recordings not in $RMLORA_DATA")


def synthetic_features(seed=0):
    """6 speakers x 10 digits x 50 takes of 64 features, speaker-dependent means."""
    rng = np.random.default_rng(seed)
    speaker = np.repeat(np.arange(6), 500)
    take = np.tile(np.arange(50), 60)
    feats = rng.standard_normal((3000, 64)).astype(np.float32) + speaker[:, None]
    return feats, speaker, np.tile(np.repeat(np.arange(10), 50), 6), take


def test_mel_filterbank_covers_the_spectrum_with_unit_peaks():
    fb = mel_filterbank(32, 256, 8000)
    assert fb.shape == (32, 129) and fb.min() >= 0
    # each triangle peaks at 1 between bins: at least half of it falls on a bin (the
    # lowest bands are narrower than the 31 Hz bin spacing)
    assert np.all(fb.max(axis=1) > 0.5) and np.all(fb.max(axis=1) <= 1.0)
    centres = fb.argmax(axis=1)
    assert np.all(np.diff(centres) >= 0)  # ordered low to high


def test_log_mel_summary_is_64_numbers_and_level_independent():
    t = np.arange(4000) / 8000
    tone = np.sin(2 * np.pi * 440 * t)
    f = log_mel_summary(tone)
    assert f.shape == (64,) and f.dtype == np.float32
    assert np.allclose(log_mel_summary(0.1 * tone), f, atol=1e-4)  # peak-normalised
    with pytest.raises(ValueError, match="8000 Hz"):
        log_mel_summary(tone, 16000)
    with pytest.raises(ValueError, match="mono"):
        log_mel_summary(np.zeros((10, 2)))


def test_split_is_by_take_disjoint_and_per_speaker_deterministic():
    feats, speaker, _, take = synthetic_features()
    a = make_speaker_split(feats, speaker, take, ["george", "lucas", "theo"], seed=3)
    b = make_speaker_split(feats, speaker, take, ["theo", "george"], seed=3)
    assert len(a.train_x) == 3 * 400 and len(a.test_x) == 3 * 100
    assert a.class_of == {"george": 0, "lucas": 1, "theo": 2}
    # a speaker's test utterances do not depend on the other speakers chosen
    theo_a = a.test_x[a.test_y == 2] * torch.from_numpy(a.std) + torch.from_numpy(a.mean)
    theo_b = b.test_x[b.test_y == 0] * torch.from_numpy(b.std) + torch.from_numpy(b.mean)
    assert torch.allclose(theo_a, theo_b, atol=1e-4)
    # standardisation fitted on the first speakers only
    c = make_speaker_split(feats, speaker, take, ["george", "lucas", "theo"], seed=3, fit_on=2)
    assert abs(float(c.train_x[c.train_y < 2].mean())) < 1e-4
    for names, match in [(["george", "george"], "distinct"), (["bob"], "choose from")]:
        with pytest.raises(ValueError, match=match):
            make_speaker_split(feats, speaker, take, names)


def test_relabel_objective_never_uses_the_forgotten_label():
    y = torch.tensor([0, 1, 2, 1, 1, 3] * 5)
    data = FlowData(torch.zeros(30, 4), y, torch.zeros(4, 4), torch.tensor([0, 1, 2, 3]),
                    torch.zeros(1, 4), torch.tensor([0]), forget_class=1, new_class=3)
    config = StageConfig(epochs=1, lr=0.1, forget_method="relabel")
    _, labels, weight = _forget_objective(data, config, seed=4)
    forgotten = (y[y != 3] == 1)
    assert set(labels[forgotten].tolist()) <= {0, 2} and 1 not in labels.tolist()
    assert torch.equal(weight, torch.ones(len(labels)))
    assert torch.equal(_forget_objective(data, config, seed=4)[1], labels)  # seeded
    with pytest.raises(ValueError, match="forget_method"):
        StageConfig(epochs=1, lr=0.1, forget_method="shuffle")


def test_missing_recordings_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="fsdd/recordings"):
        load_fsdd(tmp_path)


@needs_fsdd
def test_real_recordings_load():
    feats, speaker, digit, take = load_fsdd()
    assert feats.shape == (3000, 64) and np.all(np.isfinite(feats))
    assert np.bincount(speaker).tolist() == [500] * len(SPEAKERS)
    assert set(digit.tolist()) == set(range(10)) and set(take.tolist()) == set(range(50))
