"""Descriptor fetch: reads a record of consecutive SRAM words for the block that owns it.

Used by the crossbar controller (its descriptor), the LoRA unit (layer descriptor,
adapter entries and LUT) and the sequencer (layer record, crossbar descriptor, the
LoRA descriptor's first word), in place of a state machine of their own.

A `start` pulse takes `addr` and `n_words`; the words addr .. addr + n_words - 1 are
read through the `sram` read port (the owner routes it to its SRAM port while it
waits) and each is handed over on `words` with its index, in order, the cycle it
arrives. `words` has no backpressure (the SRAM word is there for one cycle): the
owner stores it, where it wants, the cycle it is valid.

Latency, with S = `spacing` (a read every S cycles) and cycle 0 the one after `start`:
read k is issued in cycle k*S, word k is valid on `words` in cycle k*S + 1, and
`done` is high in cycle n_words*S, the fetch's last: fetch_cycles(n_words, S) =
n_words*S + 1 cycles (rmlora.contract.timing). A `start` in the `done` cycle begins
the next fetch at once, so records can be fetched back to back.
"""

from amaranth import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams

from .sram_buffer import SramPortSignature

__all__ = ["DescriptorFetch", "fetched_word_layout"]


def fetched_word_layout(params: ChipParams, max_words: int) -> data.StructLayout:
    return data.StructLayout({
        "index": unsigned(max(1, (max_words - 1).bit_length())),  # word k of the record
        "data": unsigned(params.sram_width),
    })


class DescriptorFetch(wiring.Component):
    def __init__(self, params: ChipParams, max_words: int, spacing: int = 1):
        if max_words < 1 or spacing < 1:
            raise ValueError(f"max_words={max_words}, spacing={spacing}: must be >= 1")
        self.params, self.max_words, self.spacing = params, max_words, spacing
        super().__init__({
            "start": In(1),
            "addr": In(16),  # SRAM word address of the record
            "n_words": In(range(max_words + 1)),
            "busy": Out(1),
            "done": Out(1),
            "sram": Out(SramPortSignature(params.sram_addr_width, params.sram_width)),
            "words": Out(stream.Signature(fetched_word_layout(params, max_words),
                                          always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        S = self.spacing
        base = Signal(16)
        count = Signal.like(self.n_words)
        k = Signal(range(self.max_words + 1))  # the next word to read
        active = Signal()
        pending = Signal()  # a read was issued last cycle: its word is on r_data now

        if S > 1:
            phase = Signal(range(S))  # cycles since the last read slot
            at_slot, at_last = phase == 0, phase == S - 1
        else:  # every cycle is a read slot (and no zero-width phase in the Verilog)
            phase, at_slot, at_last = None, Const(1), Const(1)
        slot = active & at_slot  # a read is issued, or the fetch ends, in this cycle
        issue = slot & (k < count)
        m.d.comb += [
            self.busy.eq(active),
            self.done.eq(slot & (k == count)),
            self.sram.addr.eq(base + k),
            self.sram.r_en.eq(issue),
            self.words.valid.eq(pending),
            # k moved on to the next word after a read at spacing 1, not before the
            # word arrives at larger spacings
            self.words.p.index.eq(k - 1 if S == 1 else k),
            self.words.p.data.eq(self.sram.r_data),
        ]
        m.d.sync += pending.eq(issue)
        with m.If(active):
            if phase is not None:
                m.d.sync += phase.eq(Mux(at_last, 0, phase + 1))
            with m.If(at_last):
                m.d.sync += k.eq(k + 1)
        with m.If(self.done):
            m.d.sync += active.eq(0)
        with m.If(self.start):
            m.d.sync += [base.eq(self.addr), count.eq(self.n_words), k.eq(0), active.eq(1)]
            if phase is not None:
                m.d.sync += phase.eq(0)
        return m
