"""LIF update: one time step of `lanes` leaky integrate-and-fire neurons at once
(rmlora.contract.neuron.lif_update, lane by lane), for the sequencer's write-back of a
LIF layer, which gives it half a word of y at a time (P/2 lanes: the neurons of one SRAM
word of membranes) with their membranes and counts from the SRAM.

Per lane, with the layer's NeuronLayer descriptor `desc`:
    m, k = (0, 0) if first else (mem, count)
    v = clamp(round_half_up(m * decay_mult / 2**decay_shift) + current, int16)
    spike = v > v_th;  mem_next = 0 if spike else v;  count_next = min(k + spike, COUNT_MAX)

Latency 3, in three registered stages: the inputs are taken in a cycle with `en` high and
their leak (the multiply and the rounding shift) registered (L); the next cycle adds the
current and registers the sum, unclamped (S); the next clamps, compares and counts from
that sum and registers the results (R), held from then on until the results of the next
`en`. Registers, because the inputs come from the SRAM (the count word the cycle it
arrives) and the results go back to it (issue 25: no memory output feeds a multiplier);
three stages, because in one the sequencer alone placed and routed at 28.7 MHz (the
multiply, shift, add, clamp, compare and count in one cycle: 18 LUT levels, 36 carry
cells), and with the add, clamp, compare and count in one the whole chip at 44.78 MHz
(that stage its critical path: 9 LUT levels, 21 carry cells). Per lane a 16 x 8-bit
multiplier (decay_mult is unsigned) and a barrel shifter over the 25-bit rounded sum.
"""

from amaranth import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract.neuron import COUNT_MAX, MEM_BITS, MEM_MAX, MEM_MIN, NeuronLayer

__all__ = ["LifUpdate"]


class LifUpdate(wiring.Component):
    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({
            "en": In(1),
            "first": In(1),  # the pass's first vector: a new sequence, mem and count unused
            "desc": In(NeuronLayer),
            # lane i at bits [i w, (i + 1) w): plain vectors, not ArrayLayout ports, whose
            # per-lane wires (`count[0]`, ...) Yosys's ABC9 collides with its own bit names
            # (YosysHQ/yosys#4349: synth_ecp5 stopped on an assert in make fpga)
            "current": In(unsigned(8 * lanes)),  # y: int8 per neuron
            "mem": In(unsigned(MEM_BITS * lanes)),
            "count": In(unsigned(8 * lanes)),
            "spike": Out(unsigned(8 * lanes)),  # int8 0 or 1
            "mem_next": Out(unsigned(MEM_BITS * lanes)),
            "count_next": Out(unsigned(8 * lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        desc = self.desc
        second, third = Signal(), Signal()  # S, R take the stage before's values
        m.d.sync += [second.eq(self.en), third.eq(second)]
        # round half up: add half of the shift's LSB (nothing at shift 0), then shift
        half = ((Const(1, 16) << desc.decay_shift) >> 1)[:15]  # shifts 0..15: below 2**14
        for i in range(self.lanes):
            mem = self.mem.word_select(i, MEM_BITS).as_signed()
            count = Mux(self.first, 0, self.count.word_select(i, 8).as_signed())
            leaked = Signal(signed(MEM_BITS + 9), name=f"leaked_{i}")  # |m * 255| < 2**23
            current, held = Signal(signed(8), name=f"current_{i}"), Signal(
                signed(8), name=f"count_{i}")
            with m.If(self.en):  # L
                # `first` zeroes the leak, not the multiplier's input: the same (a zero
                # membrane's leak is zero: half < 2**decay_shift), and first's decode (the
                # sequencer's vector == 0) is then beside the multiply, not before it
                m.d.sync += [leaked.eq(Mux(self.first, 0,
                                           (mem * desc.decay_mult + half) >> desc.decay_shift)),
                             current.eq(self.current.word_select(i, 8).as_signed()),
                             held.eq(count)]
            # S: the sum registered unclamped (the whole chip's critical path was the add,
            # clamp, compare and count in one stage, at 44.78 MHz), and the count along
            v = Signal(signed(MEM_BITS + 10), name=f"v_{i}")
            held_s = Signal(signed(8), name=f"count_s_{i}")
            with m.If(second):
                m.d.sync += [v.eq(leaked + current), held_s.eq(held)]
            # R's comparisons side by side, not in series: the clamp's two and v_th's on
            # the unclamped sum, and the count's saturation as a compare of the held
            # count, not of a sum
            high, low = v > MEM_MAX, v < MEM_MIN
            clamped = Mux(high, MEM_MAX, Mux(low, MEM_MIN, v))
            spike = Mux(high, MEM_MAX > desc.v_th, Mux(low, MEM_MIN > desc.v_th, v > desc.v_th))
            with m.If(third):  # R
                m.d.sync += [
                    self.spike.word_select(i, 8).eq(spike),
                    self.mem_next.word_select(i, MEM_BITS).eq(Mux(spike, 0, clamped)),
                    self.count_next.word_select(i, 8).eq(
                        Mux(spike & (held_s != COUNT_MAX), held_s + 1, held_s)),
                ]
        return m
