"""Bus window onto the SRAM buffer's host port.

A 32-bit bus word is one lane of a (wider) SRAM word: byte address a selects SRAM
word a // (width/8) and lane (a // 4) % lanes, so consecutive bus words fill a
SRAM word from its least significant lane up (little-endian, like the C view of
the window). Writes use the SRAM's byte enables, so no read-modify-write.

The decoder only forwards addresses inside the window, so every access here is
legal. Latency: the response is valid the cycle after the request, for reads
too (the SRAM's output register is the one cycle).
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import BUS_DATA_WIDTH, ChipParams

from .bus import BusResponse, BusTargetSignature, ok_response
from .sram_buffer import SramPortSignature

__all__ = ["SramWindow"]


class SramWindow(wiring.Component):
    def __init__(self, params: ChipParams):
        self.params = params
        super().__init__({
            "bus": In(BusTargetSignature),
            "sram": Out(SramPortSignature(params.sram_addr_width, params.sram_width)),
        })

    def elaborate(self, platform):
        m = Module()
        p, bus, sram = self.params, self.bus, self.sram
        lane_bits = (p.sram_lanes - 1).bit_length()
        word_shift = 2 + lane_bits

        lane = Signal(range(p.sram_lanes))
        req = bus.req.p
        resp = Signal(BusResponse)
        m.d.comb += [
            sram.addr.eq(req.addr[word_shift:]),
            resp.eq(ok_response()),
            resp.rdata.eq(sram.r_data.word_select(lane, BUS_DATA_WIDTH)),
            bus.resp.p.eq(resp),
            sram.w_data.eq(req.wdata.replicate(p.sram_lanes)),  # w_en picks the lane
        ]

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += bus.req.ready.eq(1)
                with m.If(bus.req.valid):
                    if lane_bits:
                        m.d.sync += lane.eq(req.addr[2:word_shift])
                    with m.If(req.write):
                        # Byte enables of the addressed lane only.
                        m.d.comb += sram.w_en.eq(req.wstrb << (req.addr[2:word_shift] * 4)
                                                 if lane_bits else req.wstrb)
                    with m.Else():
                        m.d.comb += sram.r_en.eq(1)
                    m.next = "RESPOND"
            with m.State("RESPOND"):
                m.d.comb += bus.resp.valid.eq(1)
                with m.If(bus.resp.ready):
                    m.next = "IDLE"
        return m
