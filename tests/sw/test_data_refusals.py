"""Dataset readers refuse bad files up front with ``DatasetError`` naming the file and
the reason (issue 19). Every file here is synthesised in tmp_path; no real data copied."""

import struct

import numpy as np
import pytest
from scipy.io import savemat, wavfile

from rmlora.sw.data import DatasetError, load_fsdd, load_olivetti
from rmlora.sw.data.fsdd import FSDD_DIR, read_recording
from rmlora.sw.data.olivetti import OLIVETTI_FILE


def _faces(seed=0) -> np.ndarray:
    """A stand-in for the real file: uint8 (4096, 400), one column per image."""
    return np.random.default_rng(seed).integers(0, 256, (4096, 400), dtype=np.uint8)


def _write_mat(tmp_path, faces=None, compressed=False):
    path = tmp_path / OLIVETTI_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {"faces": _faces() if faces is None else faces},
            do_compression=compressed)
    return path


def test_synthetic_faces_load(tmp_path):
    _write_mat(tmp_path)
    faces, labels = load_olivetti(tmp_path)
    assert faces.shape == (400, 64, 64) and faces.min() == 0 and faces.max() == 1
    assert labels[-1] == 39


def _nan_faces():
    faces = _faces().astype(np.float64)
    faces[:, 7] = np.nan
    return faces


def _constant_image():
    faces = _faces()
    faces[:, 3] = 17
    return faces


@pytest.mark.parametrize("faces, reason", [
    (_nan_faces(), "NaN"),
    (np.full((4096, 400), np.nan), "NaN"),
    (_constant_image(), "constant"),
    (np.zeros((4096, 400), np.uint8), "constant"),
    (_faces()[:, :399], "shape"),
    (_faces().reshape(64, 64, 400), "shape"),
    (np.array([["a"] * 400] * 4096), "not real numbers"),
])
def test_bad_faces_refused_naming_the_file(tmp_path, faces, reason):
    path = _write_mat(tmp_path, faces)
    with pytest.raises(DatasetError, match=reason) as err:
        load_olivetti(tmp_path)
    assert str(path) in str(err.value)


def _bad_type_code(data):
    """The faces' data sub-element (after flags, dims and name) gets type code 21: scipy
    1.17 indexes a 20-entry table with it and crashes the process (segmentation fault)."""
    assert struct.unpack_from("<I", data, 184)[0] == 2  # miUINT8
    return data[:184] + struct.pack("<I", 21) + data[188:]


@pytest.mark.parametrize("damage, compressed, reason", [
    (lambda data: data[: len(data) // 2], False, "truncated"),
    (lambda data: data[: len(data) // 2], True, "truncated"),
    (lambda data: bytes(range(256)) * 8, False, "no MATLAB v5 header"),
    (lambda data: b"", False, "no MATLAB v5 header"),
    (lambda data: data[:200] + bytes(b ^ 0xFF for b in data[200:400]) + data[400:], True,
     "damaged compressed MATLAB element"),
    (_bad_type_code, False, "unknown MATLAB data type 21"),
])
def test_corrupt_mat_refused_naming_the_file(tmp_path, damage, compressed, reason):
    path = _write_mat(tmp_path, compressed=compressed)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DatasetError, match=reason) as err:
        load_olivetti(tmp_path)
    assert str(path) in str(err.value)


def test_mat_without_faces_refused(tmp_path):
    path = tmp_path / OLIVETTI_FILE
    path.parent.mkdir(parents=True)
    savemat(str(path), {"images": _faces()})
    with pytest.raises(DatasetError, match="no 'faces' variable"):
        load_olivetti(tmp_path)


def _wave(seed=0, n=2000) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 3000).astype(np.int16)


def _recordings(tmp_path, names=("3_george_0.wav", "5_theo_12.wav")):
    directory = tmp_path / FSDD_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        wavfile.write(directory / name, 8000, _wave(i))
    return directory


def test_synthetic_recordings_load(tmp_path):
    _recordings(tmp_path)
    feats, speakers, digits, takes = load_fsdd(tmp_path)
    assert feats.shape == (2, 64) and np.isfinite(feats).all()
    assert list(digits) == [3, 5] and list(takes) == [0, 12] and list(speakers) == [0, 4]


def _truncate(data):
    return data[:-100]


def _cut_in_header(data):
    return data[:30]


def _bigger_data_chunk(data):
    """The RIFF size patched to match, but the data chunk claims more than is there."""
    data = bytearray(data[:-100])
    data[4:8] = struct.pack("<I", len(data) - 8)
    return bytes(data)


def _trailing_bytes(data):
    return data + b"\0" * 10


def _not_riff(data):
    return b"RIFX" + data[4:]


@pytest.mark.parametrize("damage, reason", [
    (_truncate, "truncated"),
    (_cut_in_header, "truncated"),
    (_bigger_data_chunk, "truncated: chunk b'data'"),
    (_trailing_bytes, "padded"),
    (_not_riff, "not a RIFF"),
    (lambda data: b"", "not a RIFF"),
])
def test_damaged_wav_refused_naming_the_file(tmp_path, damage, reason):
    directory = _recordings(tmp_path)
    path = directory / "5_theo_12.wav"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DatasetError, match=reason) as err:
        load_fsdd(tmp_path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("rate, wave, reason", [
    (16000, _wave(), "16000 Hz"),
    (8000, np.stack([_wave(), _wave(1)], axis=1), "2 channels"),
    (8000, _wave(n=100), "fewer than one 256-sample frame"),
    (8000, np.zeros(2000, np.int16), "constant"),
    (8000, np.full(2000, np.nan, np.float32), "NaN"),
])
def test_unusable_recording_refused(tmp_path, rate, wave, reason):
    path = tmp_path / "1_lucas_4.wav"
    wavfile.write(path, rate, wave)
    with pytest.raises(DatasetError, match=reason) as err:
        read_recording(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("name, reason", [
    ("3_bob_0.wav", "unknown speaker 'bob'"),
    ("3_george.wav", "not named"),
    ("x_george_0.wav", "not named"),
    ("3_george_50.wav", "not named"),
    ("12_george_0.wav", "not named"),
    ("\u00b3_george_0.wav", "not named"),  # str.isdigit() says yes, int() says no
])
def test_misnamed_recording_refused(tmp_path, name, reason):
    _recordings(tmp_path, names=("0_george_0.wav", name))
    with pytest.raises(DatasetError, match=reason) as err:
        load_fsdd(tmp_path)
    assert name in str(err.value)
