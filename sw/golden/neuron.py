"""Golden model of a layer of LIF neurons (rmlora.contract.neuron), bit-exact with the
sequencer's write-back (hw/neuron.py, hw/sequencer.py): the batched update and the
write-back of one vector into the SRAM rows of a batch of runs."""

import numpy as np

from rmlora.contract.neuron import COUNT_MAX, MEM_BITS, MEM_MAX, MEM_MIN
from rmlora.sw.formats.neuron import Neurons

__all__ = ["lif_update", "write_back"]


def lif_update(mem: np.ndarray, count: np.ndarray, current: np.ndarray, neurons: Neurons
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """contract.neuron.lif_update over arrays of any one shape: membranes (int16), counts
    (int8) and input currents (int8) -> spikes (int8 0/1), membranes and counts after."""
    v = np.asarray(mem, dtype=np.int64) * np.int64(neurons.decay_mult)
    if neurons.decay_shift:  # round half up, as contract.lora.round_half_up_shift
        v = (v + (np.int64(1) << np.int64(neurons.decay_shift - 1))) >> np.int64(
            neurons.decay_shift)
    v = np.clip(v + np.asarray(current, dtype=np.int64), MEM_MIN, MEM_MAX)
    spike = v > neurons.v_th
    k = np.minimum(np.asarray(count, dtype=np.int64) + spike, COUNT_MAX)
    return spike.astype(np.int8), np.where(spike, 0, v).astype(np.int16), k.astype(np.int8)


def write_back(rows, neurons: Neurons, current: np.ndarray, dst_byte: int, wb: int,
               first: bool):
    """The sequencer's write-back of one vector of a LIF layer into `rows` (golden.chip.Rows:
    the SRAM of each run): the state read (none at the pass's first vector: a new
    sequence), updated by the currents (B, n_out) int8, the spikes written at dst_byte
    and the state back."""
    n = current.shape[1]
    mem_at, count_at = neurons.mem * wb, neurons.count * wb
    if first:
        mem = np.zeros(current.shape, dtype=np.int16)
        count = np.zeros(current.shape, dtype=np.int8)
    else:
        mem = rows.get(mem_at, MEM_BITS // 8 * n).view("<i2")
        count = rows.get(count_at, n).view(np.int8)
    spike, mem, count = lif_update(mem, count, current, neurons)
    rows.put(dst_byte, spike.view(np.uint8))
    rows.put(mem_at, mem.astype("<i2").view(np.uint8))
    rows.put(count_at, count.view(np.uint8))
