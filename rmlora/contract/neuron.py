"""Spiking layers: the leaky integrate-and-fire (LIF) neuron and its descriptor.

A layer whose LoRA layer descriptor has act = Activation.LIF is a layer of LIF
neurons (issue 21: the published speaker task's liquid-state machine). Its `lut`
field then holds the SRAM word address of a NeuronLayer descriptor instead of a LUT.
The LoRA unit computes the layer's int8 output as for IDENTITY: that output is the
neurons' input current c (one int8 per neuron, in the same units as v_th). The
sequencer, writing a vector's outputs back, updates the neurons instead of writing
c: for each output j of the layer pass's vector t (t = 0 for its first vector)

    m   = 0, k = 0                               if t = 0 (state of a new sequence)
        = mem[j], count[j]                       otherwise (read from the SRAM)
    v   = clamp(round_half_up(m * decay_mult / 2**decay_shift) + c[j], INT16)
    s   = 1 if v > v_th else 0                   the spike, written to dst as int8
    mem[j]   <- 0 if s else v                    reset to zero after a spike
    count[j] <- min(k + s, COUNT_MAX)            spike count, int8 0..COUNT_MAX

so mem holds the membrane after the reset of the step, and the published update
mem_t = mem_{t-1} * decay * (1 - spike_{t-1}) + I_t follows. A layer pass of T
vectors is T time steps of one sequence: vector t's input is read from src + t *
src_stride, its spikes go to dst + t * dst_stride, and a program that places step
t's spikes inside step t+1's input vector (dst = src + src_stride + offset) runs the
recurrence, since each vector's outputs are written before the next one is read.
The spikes of every step stay in the SRAM (the host reads them to compare or count
rates); the counts are the input of a readout layer (a later record reading
`count`). Crossbar inputs that are spikes take one bit plane (XbarDescriptor.spikes).

SRAM layout: mem is n_out int16 little-endian from word `mem` on; count is n_out
int8 from word `count` on (bytes after the last neuron in their word are not
touched).
"""

from amaranth import signed, unsigned
from amaranth.lib import data

from .lora import round_half_up_shift

__all__ = ["NeuronLayer", "NEURON_DESC_BITS", "MEM_BITS", "MEM_MIN", "MEM_MAX", "COUNT_MAX",
           "lif_update", "state_words"]

MEM_BITS = 16  # the membrane: int16 in the SRAM
MEM_MIN, MEM_MAX = -(1 << (MEM_BITS - 1)), (1 << (MEM_BITS - 1)) - 1
COUNT_MAX = 127  # counts stay valid int8 inputs of the readout's crossbar MVM


class NeuronLayer(data.Struct):
    mem: unsigned(16)  # SRAM word address of the membranes (int16 each)
    count: unsigned(16)  # SRAM word address of the spike counts (int8 each)
    v_th: signed(MEM_BITS)  # a neuron spikes when its membrane exceeds v_th
    decay_mult: unsigned(8)  # leak: m * decay_mult / 2**decay_shift, rounded half up
    decay_shift: unsigned(4)


NEURON_DESC_BITS = 64  # the descriptor takes 64 bits of SRAM (the layout is 60)


def state_words(n_out: int, word_bytes: int) -> tuple[int, int]:
    """SRAM words of a layer's membranes and of its spike counts (the layout above)."""
    return -(-(MEM_BITS // 8) * n_out // word_bytes), -(-n_out // word_bytes)


def lif_update(m: int, k: int, c: int, desc: dict) -> tuple[int, int, int]:
    """One neuron's step, for Python ints: (mem, count) before, current c -> (spike, mem
    after, count after). The reference the golden model's batched numpy form and the
    RTL are tested against; desc holds NeuronLayer's fields."""
    v = round_half_up_shift(m * desc["decay_mult"], desc["decay_shift"]) + c
    v = min(max(v, MEM_MIN), MEM_MAX)
    s = int(v > desc["v_th"])
    return s, 0 if s else v, min(k + s, COUNT_MAX)
