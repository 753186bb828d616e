"""Chip core: the SRAM buffer and the compute blocks around its core port.

    SramBuffer.host <- host_sram (the bus window)
    SramBuffer.core <-> Sequencer, which lends the port in time to:
        XbarController (MVM, PROGRAM) --p--> Sequencer --x, p--> LoraUnit --y--> Sequencer
    XbarController <-> macro_req / macro_resp (the analogue macros)

The sequencer starts the two units through their UnitSignature (hw/unit.py). The
blocks' other control and status signals (the sequencer's start, counters...) are
left to the chip top, which wires them to registers; a testbench drives them
directly.
"""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams
from rmlora.contract.xbar import macro_request_layout, macro_response_layout

from .lora_unit import LoraUnit
from .sequencer import Sequencer
from .sram_buffer import SramBuffer, SramPortSignature
from .unit import control
from .xbar_controller import XbarController

__all__ = ["ChipCore"]


class ChipCore(wiring.Component):
    def __init__(self, params: ChipParams = ChipParams(), sram_init=()):
        self.params = p = params
        self.sram = SramBuffer(p, init=sram_init)
        self.xbar = XbarController(p)
        self.lora = LoraUnit(p)
        self.seq = Sequencer(p)
        super().__init__({
            "host_sram": In(SramPortSignature(p.sram_addr_width, p.sram_width)),
            "macro_req": Out(stream.Signature(macro_request_layout(p))),
            "macro_resp": In(stream.Signature(macro_response_layout(p))),
        })

    def elaborate(self, platform):
        m = Module()
        sram, xbar, lora, seq = self.sram, self.xbar, self.lora, self.seq
        flush = Signal(name="lora_cache_flush")
        m.submodules.sram, m.submodules.xbar = sram, xbar
        m.submodules.lora, m.submodules.seq = lora, seq
        wiring.connect(m, wiring.flipped(self.host_sram), sram.host)
        wiring.connect(m, seq.sram, sram.core)
        wiring.connect(m, xbar.sram, seq.xbar_sram)
        wiring.connect(m, lora.sram, seq.lora_sram)
        wiring.connect(m, xbar.p, seq.xbar_p)
        wiring.connect(m, seq.lora_x, lora.x)
        wiring.connect(m, seq.lora_p, lora.p)
        wiring.connect(m, lora.y, seq.lora_y)
        wiring.connect(m, xbar.macro_req, wiring.flipped(self.macro_req))
        wiring.connect(m, wiring.flipped(self.macro_resp), xbar.macro_resp)
        wiring.connect(m, seq.xbar, control(xbar))
        wiring.connect(m, seq.lora, control(lora))
        m.d.comb += [
            xbar.stream_p.eq(seq.xbar_stream_p),
            xbar.reuse.eq(seq.xbar_reuse),
            xbar.src_offset.eq(seq.xbar_src_offset),
            seq.xbar_adc.eq(xbar.perf_adc),
            seq.xbar_mvm.eq(xbar.perf_mvm),
            seq.lora_macs.eq(lora.perf_macs),
            seq.lora_cache.eq(lora.perf_cache_reads),
            lora.cache_flush.eq(flush),
        ]
        # A program's START, and any host write to the SRAM, may change adapters: the
        # flush reaches the LoRA unit a cycle later, through a register (issue 25: the
        # bulk port's write enable, through the arbiter into the unit's hit check, was
        # the whole chip's critical path at 40.1 MHz). A LoRA START comes many cycles
        # after its program's START, so only a host write in the very cycle of a LoRA
        # START (a host writing adapters under a running program) is seen a cycle late:
        # the run then uses the cached words, as it would for a write a cycle later.
        m.d.sync += flush.eq(seq.clear_perf | self.host_sram.w_en.any())
        return m
