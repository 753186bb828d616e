"""The golden model's batched LIF update (sw/golden/neuron.py) equals the contract's
reference, contract.neuron.lif_update, neuron by neuron with ==, over random states,
currents and descriptors with their extremes: clamped membranes, every decay shift, the
thresholds at the ends of int16, counts saturating at COUNT_MAX."""

import numpy as np
import pytest

from rmlora.contract.neuron import COUNT_MAX, MEM_MAX, MEM_MIN, lif_update
from rmlora.sw.formats.neuron import Neurons
from rmlora.sw.golden import neuron as gneuron


def cases(rng, n):
    """Membranes, counts and currents with their extremes mixed in."""
    mem = rng.integers(MEM_MIN, MEM_MAX + 1, n)
    mem[::7] = rng.choice([MEM_MIN, MEM_MAX, -1, 0, 1], len(mem[::7]))
    count = rng.integers(0, COUNT_MAX + 1, n)
    count[::5] = rng.choice([COUNT_MAX, COUNT_MAX - 1, 0], len(count[::5]))
    current = rng.integers(-128, 128, n)
    current[::3] = rng.choice([-128, 127, 0], len(current[::3]))
    return mem.astype(np.int16), count.astype(np.int8), current.astype(np.int8)


def descriptors(rng):
    for shift in range(16):
        for mult in (0, 1, 255, int(rng.integers(2, 255))):
            for v_th in (MEM_MIN, MEM_MAX, -1, 0, int(rng.integers(MEM_MIN, MEM_MAX + 1))):
                yield Neurons(mem=0, count=0, v_th=v_th, decay_mult=mult, decay_shift=shift)


def test_batched_update_equals_the_reference():
    rng = np.random.default_rng(21)
    seen = set()
    for nd in descriptors(rng):
        mem, count, current = cases(rng, 64)
        spike, mem_next, count_next = gneuron.lif_update(mem, count, current, nd)
        assert (spike.dtype, mem_next.dtype, count_next.dtype) == (np.int8, np.int16, np.int8)
        fields = vars(nd)
        want = [lif_update(int(m), int(k), int(c), fields)
                for m, k, c in zip(mem, count, current, strict=True)]
        assert [tuple(int(v) for v in got) for got in zip(spike, mem_next, count_next,
                                                           strict=True)] == want
        seen.update(("clamped high" if v == MEM_MAX else "clamped low" if v == MEM_MIN
                     else "saturated" if k == COUNT_MAX and s else None)
                    for s, v, k in want)
    assert {"clamped high", "clamped low", "saturated"} <= seen  # the extremes were reached


@pytest.mark.parametrize("shape", [(3, 10), (2, 4, 5)])
def test_any_batch_shape(shape):
    rng = np.random.default_rng(2)
    nd = Neurons(mem=0, count=0, v_th=30, decay_mult=200, decay_shift=8)
    mem, count, current = (a.reshape(shape) for a in cases(rng, int(np.prod(shape))))
    flat = gneuron.lif_update(mem.ravel(), count.ravel(), current.ravel(), nd)
    for got, want in zip(gneuron.lif_update(mem, count, current, nd), flat, strict=True):
        assert got.shape == shape and np.array_equal(got.ravel(), want)


def test_reset_after_a_spike_and_leak():
    nd = Neurons(mem=0, count=0, v_th=10, decay_mult=128, decay_shift=8)  # a leak of 1/2
    spike, mem, count = gneuron.lif_update(np.array([30, 21, -3], np.int16),
                                           np.array([4, COUNT_MAX, 0], np.int8),
                                           np.array([0, 1, 0], np.int8), nd)
    # 30/2 = 15 > 10: spike, reset; 21/2 = 10.5 rounds half up to 11, + 1 = 12: spike,
    # the count stays at COUNT_MAX; -3/2 = -1.5 rounds half up to -1
    assert spike.tolist() == [1, 1, 0] and mem.tolist() == [0, 0, -1]
    assert count.tolist() == [5, COUNT_MAX, 0]
