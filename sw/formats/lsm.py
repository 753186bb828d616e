"""A liquid-state machine as the chip runs it: two LoRA-unit layers and a neuron.

The reservoir is one crossbar layer over [x_t ; s_{t-1}] (input spikes, then the
reservoir's spikes of the last step) with weights [W_in W_rec]; its int8 output is the
current of the LIF neurons (rmlora.contract.neuron, act IDENTITY then the sequencer's
update). Its adapters are the published pair (one on W_in, one on W_rec) as one fused
adapter each. The readout is a crossbar layer over the spike counts (int8, 0..T).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .lora import Adapter, Layer

__all__ = ["LsmNetwork"]


@dataclass(frozen=True)
class LsmNetwork:
    """The integers of one LSM. ``adapters`` by name in slot order (slot 0 first);
    ``neuron``: contract.neuron.NeuronLayer's v_th, decay_mult and decay_shift;
    ``inputs``: input channels (the first columns of ``reservoir_w``); ``scales``: the
    float scales the integers came from (weights, current, LoRA, logits), for reports."""

    inputs: int
    steps: int
    reservoir: Layer
    reservoir_w: np.ndarray  # (neurons, inputs + neurons) int8: [W_in W_rec]
    adapters: dict[str, Adapter]
    neuron: dict[str, int]
    readout: Layer
    readout_w: np.ndarray  # (classes, neurons) int8
    scales: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        neurons = self.reservoir.n_out
        if self.reservoir_w.shape != (neurons, self.inputs + neurons):
            raise ValueError(f"reservoir_w is {self.reservoir_w.shape}, needs ({neurons}, "
                             f"{self.inputs + neurons})")
        if self.readout_w.shape != (self.readout.n_out, neurons):
            raise ValueError(f"readout_w is {self.readout_w.shape}, needs "
                             f"({self.readout.n_out}, {neurons})")
        if set(self.neuron) != {"v_th", "decay_mult", "decay_shift"}:
            raise ValueError(f"neuron needs v_th, decay_mult, decay_shift, got {set(self.neuron)}")

    @property
    def neurons(self) -> int:
        return self.reservoir.n_out

    def enable_mask(self, names: list[str]) -> int:
        """The LORA_ENABLE bits of the named adapters (slot = position in ``adapters``)."""
        slots = list(self.adapters)
        unknown = [n for n in names if n not in slots]
        if unknown:
            raise KeyError(f"unknown adapters {unknown}; the network has {slots}")
        return sum(1 << slots.index(n) for n in names)
