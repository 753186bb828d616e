"""Arbiter on the SRAM buffer's host port: the bus window first, the bulk port after.

Both users make single-cycle accesses (one word read or written per cycle). The
window cannot wait (it issues its access in the cycle it takes the bus request,
and answers the next), so it has fixed priority and keeps its timing bit for bit.
The bulk port waits: `granted` says its access was taken this cycle.

Fairness: the window issues at most one SRAM access per bus transaction, and a
transaction spends at least five cycles in the AXI4-Lite bridge and the decoder
(hw/axi_lite.py, hw/decoder.py), so the bulk port gets at least four of every
five cycles while both are busy: it never starves and keeps 80% of its rate in
the worst case.

`r_data` goes to both users: each reads it the cycle after its own read, and a
read by the other user only changes it the cycle after that.
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams

from .sram_buffer import SramPortSignature

__all__ = ["SramArbiter", "SramRequestSignature"]


def SramRequestSignature(addr_width: int, data_width: int):
    """A SRAM port that may be refused a cycle: the access happens when `granted`."""
    members = dict(SramPortSignature(addr_width, data_width).members)
    return wiring.Signature({**members, "granted": In(1)})


class SramArbiter(wiring.Component):
    def __init__(self, params: ChipParams):
        self.params = p = params
        super().__init__({
            "window": In(SramPortSignature(p.sram_addr_width, p.sram_width)),
            "bulk": In(SramRequestSignature(p.sram_addr_width, p.sram_width)),
            "sram": Out(SramPortSignature(p.sram_addr_width, p.sram_width)),
        })

    def elaborate(self, platform):
        m = Module()
        window, bulk, sram = self.window, self.bulk, self.sram
        window_busy = window.r_en | window.w_en.any()
        m.d.comb += [
            window.r_data.eq(sram.r_data),
            bulk.r_data.eq(sram.r_data),
            bulk.granted.eq(~window_busy),
        ]
        with m.If(window_busy):
            m.d.comb += [sram.addr.eq(window.addr), sram.r_en.eq(window.r_en),
                         sram.w_en.eq(window.w_en), sram.w_data.eq(window.w_data)]
        with m.Else():
            m.d.comb += [sram.addr.eq(bulk.addr), sram.r_en.eq(bulk.r_en),
                         sram.w_en.eq(bulk.w_en), sram.w_data.eq(bulk.w_data)]
        return m
