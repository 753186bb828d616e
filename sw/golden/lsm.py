"""Golden model of a liquid-state machine on the chip: integers only, batched.

Per step t of a sequence, for every utterance of the batch at once:

    xf  = [x_t ; s_{t-1}]                      int8 0/1 (s_{-1} = 0)
    p   = W xf                                 the crossbar's product, W = [W_in W_rec]
    c   = lora_layer(xf, p, reservoir, ...)    int8 current (act IDENTITY, adapters on)
    s_t, mem, count = lif_step(mem, count, c)  contract.neuron's update

then logits = lora_layer(count, W_r count, readout) (int8). p is the ideal integer
product: the analogue crossbar's ADC steps and noise are the chip's golden model's.
lif_step is contract.neuron.lif_update over arrays (tests/sw/test_lsm.py checks it
neuron by neuron with ==).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmlora.sw.formats.lsm import LsmNetwork
from rmlora.sw.formats.neuron import Neurons

from .lora import lora_layer
from .neuron import lif_update

__all__ = ["lif_step", "LsmRun", "run_lsm"]


def lif_step(mem: np.ndarray, count: np.ndarray, c: np.ndarray, neuron: dict
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sequencer's neuron update (golden.neuron.lif_update) with LsmNetwork.neuron's
    codes: (mem int16, count int8, current int8) -> (spike int8, mem after, count after)."""
    return lif_update(mem, count, c, Neurons(mem=0, count=0, **neuron))


@dataclass(frozen=True)
class LsmRun:
    """One batch through the network: int8 logits (batch, classes), spike counts
    (batch, neurons) and every step's spikes (batch, steps, neurons)."""

    logits: np.ndarray
    counts: np.ndarray
    spikes: np.ndarray


def run_lsm(net: LsmNetwork, x: np.ndarray, adapters: list[str] = ()) -> LsmRun:
    """The network on spike trains x (batch, steps, inputs) or flat (batch, steps *
    inputs) of 0/1, with the named adapters enabled."""
    x = np.asarray(x)
    x = x.reshape(len(x), net.steps, net.inputs).astype(np.int8)
    if np.any((x != 0) & (x != 1)):
        raise ValueError("LSM inputs are spikes: 0 or 1")
    slots = dict(enumerate(net.adapters.values()))
    enabled = net.enable_mask(list(adapters))
    w = net.reservoir_w.T.astype(np.float64)  # exact: |p| <= 512 * 128 < 2**53
    batch = len(x)
    mem = np.zeros((batch, net.neurons), dtype=np.int16)
    count = np.zeros((batch, net.neurons), dtype=np.int8)
    spike = np.zeros((batch, net.neurons), dtype=np.int8)
    spikes = []
    for t in range(net.steps):
        xf = np.concatenate([x[:, t], spike], axis=1)
        p = (xf.astype(np.float64) @ w).astype(np.int64)
        c = lora_layer(xf, p, net.reservoir, slots, enabled)
        spike, mem, count = lif_step(mem, count, c, net.neuron)
        spikes.append(spike)
    p = (count.astype(np.float64) @ net.readout_w.T.astype(np.float64)).astype(np.int64)
    logits = lora_layer(count, p, net.readout, {}, 0)
    return LsmRun(logits, count, np.stack(spikes, axis=1))
