"""The published speaker network: a liquid-state machine (LSM) of LIF neurons (issue 21).

arXiv 2601.10037's speaker task and its authors' code: input spikes x_t drive a
reservoir of leaky integrate-and-fire neurons through W_in, the reservoir's own spikes
of the last step come back through W_rec, and a linear readout of each neuron's mean
spike count names the speaker. Per step t (spikes and state zero before t = 0):

    mem_t   = mem_{t-1} * decay * (1 - s_{t-1}) + W_in x_t + W_rec s_{t-1}
    s_t     = mem_t > v_th
    logits  = readout(sum_t s_t / T)

Published: T = 10, v_th = 0.3, decay 0.5, all three matrices trained with a surrogate
gradient, LoRA (rank 8, alpha 16) on W_in and W_rec only. The layers are bias-free
named nn.Linear (``w_in``, ``w_rec``, ``readout``), so the flow's adapters target
them by name.

On the chip the reservoir is one crossbar layer over [x_t ; s_{t-1}] with weights
[W_in W_rec] whose int8 output is the neurons' input current, updated by the
sequencer's integer LIF rule (rmlora.contract.neuron). With ``neuron`` codes the
model computes what the chip computes, in float tensors: [W_in W_rec] and the readout
are rounded to int8 steps (one step for the two reservoir matrices, as the fused layer
has one scale), the current is rounded half up to an int8 code of V_TH / neuron.v_th
volts (clamped), the membrane is held in those codes and decays as
round_half_up(m * decay_mult / 2**decay_shift). The roundings pass gradients straight
through, so the network trains "within quantisation": its reservoir's spikes are the
integer form's (rmlora.sw.golden.lsm) but for the LoRA branch's int8 rounding and the
requantisation multiplier's 16 bits. Without ``neuron`` codes it is the published
float network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rmlora.contract.neuron import MEM_MAX, MEM_MIN
from rmlora.sw.lora import LoraLinear

__all__ = ["STEPS", "V_TH", "DECAY", "NEURONS", "LSM_LAYERS", "NeuronCodes", "CHIP_NEURON",
           "LiquidStateMachine", "lsm"]

STEPS, V_TH, DECAY = 10, 0.3, 0.5  # the published T, v_th and decay
NEURONS = 256  # [W_in W_rec] is 256 x 416: 8 macros of 128x128; 512 neurons would need 24
LSM_LAYERS = ("w_in", "w_rec")  # the published adapters' targets (not the readout)
# The surrogate gradient's slope: d spike / d mem ~ 1 / (1 + SLOPE |mem - v_th|)^2, the
# fast sigmoid of SuperSpike (Zenke & Ganguli, Neural Computation 2018). The published
# code's boxcar (1/(2 * 0.25) within 0.25 of v_th) trained to 0.988 where this reached
# 0.994 (float, one seed); the boxcar's zero gradient far from v_th never wakes a
# silent neuron.
SLOPE = 10.0
CURRENT_CODES = (-128, 127)  # the layer's int8 output is the current
WEIGHT_MAX = 127  # int8 weights, symmetric (rmlora.sw.quant.quantize)


@dataclass(frozen=True)
class NeuronCodes:
    """The chip's neuron as integers (contract.neuron.NeuronLayer's fields): v_th is
    the threshold in current codes, so one code is V_TH / v_th volts; the leak is
    decay_mult / 2**decay_shift."""

    v_th: int = 32
    decay_mult: int = 1
    decay_shift: int = 1

    def __post_init__(self):
        if not 1 <= self.v_th <= MEM_MAX:
            raise ValueError(f"v_th must be in 1..{MEM_MAX}, got {self.v_th}")
        if not 0 <= self.decay_mult <= 255:
            raise ValueError(f"decay_mult must be in 0..255, got {self.decay_mult}")
        if not 0 <= self.decay_shift <= 15:
            raise ValueError(f"decay_shift must be in 0..15, got {self.decay_shift}")

    @property
    def decay(self) -> float:
        return self.decay_mult / 2 ** self.decay_shift

    def desc(self) -> dict:
        """The fields contract.neuron.lif_update takes."""
        return {"v_th": self.v_th, "decay_mult": self.decay_mult,
                "decay_shift": self.decay_shift}


CHIP_NEURON = NeuronCodes()  # the default: decay 1/2 exact, currents in V_TH / 32 steps


class _Spike(torch.autograd.Function):
    """Heaviside step of (mem - v_th) in volts, fast-sigmoid surrogate gradient."""

    @staticmethod
    def forward(ctx, u: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(u)
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (u,) = ctx.saved_tensors
        return grad / (1 + SLOPE * u.abs()) ** 2


class _RoundHalfUp(torch.autograd.Function):
    """floor(x + 1/2), the chip's rounding; the gradient passes straight through."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.floor(x + 0.5)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class _Round(torch.autograd.Function):
    """Round half to even (quant.quantize's np.rint); the gradient passes through."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def _base(layer: nn.Module) -> nn.Linear:
    return layer.base_layer if isinstance(layer, LoraLinear) else layer


def int8_error(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """What rounding each matrix to int8 steps of one shared scale (max |w| / 127 over
    all of them, quant.symmetric_scale) adds to it; no gradient (straight through)."""
    step = max(w.detach().abs().max() for w in weights) / WEIGHT_MAX
    if step == 0:
        return [torch.zeros_like(w) for w in weights]
    return [(_Round.apply(w.detach() / step) * step - w.detach()) for w in weights]


class LiquidStateMachine(nn.Module):
    """n_in input channels (a multiple of 8, the chip's input alignment) -> ``neurons``
    LIF neurons over ``steps`` steps -> n_classes logits. Input: (batch, steps * n_in)
    flat rows, step-major (what the classifier pipeline carries), or (batch, steps,
    n_in)."""

    def __init__(self, n_in: int, n_classes: int, neurons: int = NEURONS, steps: int = STEPS,
                 v_th: float = V_TH, neuron: NeuronCodes | None = CHIP_NEURON):
        super().__init__()
        if n_in < 1 or n_in % 8 or n_classes < 2 or neurons < 1 or steps < 1:
            raise ValueError(f"bad LSM shape: n_in={n_in} (a multiple of 8), "
                             f"n_classes={n_classes}, neurons={neurons}, steps={steps}")
        if not v_th > 0:
            raise ValueError(f"v_th must be > 0, got {v_th}")
        self.n_in, self.neurons, self.steps, self.v_th = n_in, neurons, steps, v_th
        self.neuron = neuron
        # True on a chip's twin (rmlora.sw.learn.lsm_twin): the weights are the
        # effective weights read off the programmed crossbars, not rounded again
        self.measured = False
        self.w_in = nn.Linear(n_in, neurons, bias=False)
        self.w_rec = nn.Linear(neurons, neurons, bias=False)
        self.readout = nn.Linear(neurons, n_classes, bias=False)

    @property
    def current_lsb(self) -> float | None:
        """Volts of one current (and membrane) code; None for the float network."""
        return None if self.neuron is None else self.v_th / self.neuron.v_th

    def steps_of(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, steps, n_in) view of flat or stepped input."""
        if x.dim() == 2 and x.shape[1] == self.steps * self.n_in:
            return x.view(len(x), self.steps, self.n_in)
        if x.dim() == 3 and x.shape[1:] == (self.steps, self.n_in):
            return x
        raise ValueError(f"LSM input must be (batch, {self.steps * self.n_in}) or (batch, "
                         f"{self.steps}, {self.n_in}), got {tuple(x.shape)}")

    def _step(self, mem: torch.Tensor, current: torch.Tensor):
        """One LIF update of the membrane after the last reset: (spike, membrane)."""
        if self.neuron is None:
            v = mem * DECAY + current
            spike = _Spike.apply(v - self.v_th)
        else:
            lsb, codes = self.current_lsb, self.neuron
            c = _RoundHalfUp.apply(current / lsb).clamp(*CURRENT_CODES)
            v = (_RoundHalfUp.apply(mem * codes.decay) + c).clamp(MEM_MIN, MEM_MAX)
            spike = _Spike.apply((v - codes.v_th) * lsb)
        return spike, v * (1 - spike)

    def spikes(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, steps, neurons) spikes of the reservoir."""
        x = self.steps_of(x)
        mem = spike = x.new_zeros(len(x), self.neurons)
        if self.neuron is None or self.measured:
            err_in = err_rec = None
        else:  # the crossbar's int8 weights: the layers' own outputs plus the rounding
            err_in, err_rec = int8_error([_base(self.w_in).weight, _base(self.w_rec).weight])
        out = []
        for t in range(self.steps):
            current = self.w_in(x[:, t]) + self.w_rec(spike)
            if err_in is not None:
                current = current + F.linear(x[:, t], err_in) + F.linear(spike, err_rec)
            spike, mem = self._step(mem, current)
            out.append(spike)
        return torch.stack(out, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rate = self.spikes(x).mean(dim=1)
        logits = self.readout(rate)
        if self.neuron is not None and not self.measured:
            (err,) = int8_error([_base(self.readout).weight])
            logits = logits + F.linear(rate, err)
        return logits

    def reservoir_inputs(self, x: torch.Tensor, spikes: torch.Tensor | None = None
                         ) -> torch.Tensor:
        """(batch, steps, n_in + neurons): the chip reservoir layer's input vectors
        [x_t ; s_{t-1}] (s_{-1} = 0); ``spikes``: x's, if the caller has them already."""
        x = self.steps_of(x)
        if spikes is not None:
            s = spikes
        else:
            with torch.no_grad():
                s = self.spikes(x)
        return torch.cat([x, torch.cat([torch.zeros_like(s[:, :1]), s[:, :-1]], 1)], 2)


def lsm(train_x: torch.Tensor, n_classes: int, channels: int, neurons: int = NEURONS,
        neuron: NeuronCodes | None = CHIP_NEURON) -> LiquidStateMachine:
    """A fresh LSM for flat spike rows of ``channels`` per step (the model factory)."""
    if train_x.shape[1] % channels:
        raise ValueError(f"rows of {train_x.shape[1]} are not whole steps of {channels}")
    return LiquidStateMachine(channels, n_classes, neurons, train_x.shape[1] // channels,
                              neuron=neuron)
