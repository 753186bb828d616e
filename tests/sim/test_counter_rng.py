import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.sim.reram import GAUSS_TABLE, gaussian, hash_words, key_prefix, uniform
from rmlora.sim.reram.counter_rng import MASK64, _mix_int, mix_with


def _mix_reference(x: int) -> int:
    return _mix_int(x)


@given(st.integers(0, MASK64), st.lists(st.integers(0, 2**40), min_size=1, max_size=3))
@settings(max_examples=50, deadline=None)
def test_vector_hash_matches_python_int_reference(prefix, words):
    h = prefix
    for w in words:
        h = _mix_reference(h ^ w)
    assert int(hash_words(prefix, *words)[0]) == h


def test_hash_is_elementwise_whatever_the_array_shape():
    p = key_prefix(1, 2, 3)
    full = hash_words(p, np.arange(37)[:, None], np.arange(11)[None, :])
    assert full.shape == (37, 11)
    for i, j in [(0, 0), (5, 7), (36, 10)]:
        assert full[i, j] == hash_words(p, i, j)[0]
    assert np.array_equal(full[3:9, 2:5], hash_words(p, np.arange(3, 9)[:, None],
                                                     np.arange(2, 5)[None, :]))
    col_keys = hash_words(p, np.arange(11))
    assert np.array_equal(mix_with(col_keys[2:5], np.arange(4, dtype=np.uint64)[:, None]),
                          hash_words(p, np.arange(2, 5)[None, :], np.arange(4)[:, None]))


def test_distinct_keys_give_distinct_streams():
    a = hash_words(key_prefix(0, 0, 1), np.arange(1000))
    b = hash_words(key_prefix(0, 1, 1), np.arange(1000))
    c = hash_words(key_prefix(1, 0, 1), np.arange(1000))
    assert len(set(a.tolist()) | set(b.tolist()) | set(c.tolist())) == 3000


def test_gaussian_and_uniform_statistics():
    # 200k draws: standard errors of mean/std ~0.0022/0.0016, so 0.01 is > 4 sigma.
    h = hash_words(key_prefix(9, 9, 9), np.arange(200_000))
    z, u = gaussian(h), uniform(h)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(u.mean() - 0.5) < 0.01 and 0.0 <= u.min() and u.max() < 1.0
    # Table: unit variance by construction, symmetric, tails to ~3.5 sigma.
    assert abs(np.mean(GAUSS_TABLE**2) - 1.0) < 1e-12
    assert np.allclose(GAUSS_TABLE, -GAUSS_TABLE[::-1])
    assert 3.3 < GAUSS_TABLE[-1] < 3.7
