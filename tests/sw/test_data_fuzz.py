"""Fuzzing the dataset readers: random cuts and byte changes of synthesised files give
either data that passes the checks or ``DatasetError`` naming the file, never another
exception type."""

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import savemat, wavfile

from rmlora.sw.data import DatasetError, load_olivetti
from rmlora.sw.data.fsdd import read_recording
from rmlora.sw.data.olivetti import OLIVETTI_FILE


def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    wave = (np.random.default_rng(0).standard_normal(1200) * 3000).astype(np.int16)
    wavfile.write(buffer, 8000, wave)
    return buffer.getvalue()


def _mat_bytes(compressed: bool) -> bytes:
    buffer = io.BytesIO()
    faces = np.random.default_rng(0).integers(0, 256, (4096, 400), dtype=np.uint8)
    savemat(buffer, {"faces": faces}, do_compression=compressed)
    return buffer.getvalue()


WAV = _wav_bytes()
MATS = {False: _mat_bytes(False), True: _mat_bytes(True)}


def _damage(data: bytes, cut: int | None, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data if cut is None else data[:cut])
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out)


damage = st.tuples(st.one_of(st.none(), st.integers(0, 4000)),
                   st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), max_size=4))
fuzz = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(damage)
def test_damaged_wav_read_or_refused(tmp_path, how):
    path = tmp_path / "4_jackson_7.wav"
    path.write_bytes(_damage(WAV, *how))
    try:
        wave = read_recording(path)
    except DatasetError as err:
        assert str(path) in str(err)
        return
    assert wave.ndim == 1 and wave.size >= 256


@fuzz
@given(st.booleans(), damage)
def test_damaged_mat_read_or_refused(tmp_path, compressed, how):
    path = tmp_path / OLIVETTI_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    cut, edits = how
    path.write_bytes(_damage(MATS[compressed], None if cut is None else cut * 50, edits))
    try:
        faces, _ = load_olivetti(tmp_path)
    except DatasetError as err:
        assert str(path) in str(err)
        return
    assert np.isfinite(faces).all()
