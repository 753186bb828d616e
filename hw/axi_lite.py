"""AXI4-Lite subordinate: five AXI channels in, one internal bus transaction out.

AW, W and AR are each caught in a one-entry holding register, in any order and
in any cycle (AXI4-Lite lets W come before AW). When both halves of a write, or
a read, are held, the bridge issues one request on the internal bus, waits for
the target's response, and presents it on B or R until the manager takes it.
Reads and writes alternate when both are pending, so neither starves.

Latency with a one-cycle target and a manager that is always ready: a write
takes 4 cycles from AW/W handshake to B handshake, a read 4 cycles from AR to R.
Nothing waits on the manager except B/R, so a stalled manager never wedges the
chip; a synchronous reset drops a transaction in flight.
"""

from amaranth import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import BUS_ADDR_WIDTH, BUS_DATA_WIDTH, AxiResp

from .bus import BusTargetSignature

__all__ = ["AxiLiteSignature", "AxiLiteBridge"]


def AxiLiteSignature(addr_width: int = BUS_ADDR_WIDTH, data_width: int = BUS_DATA_WIDTH):
    """AXI4-Lite, seen from the manager. Names follow the AMBA spec (ARM IHI 0022)."""
    return wiring.Signature({
        "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_width), "wstrb": Out(data_width // 8),
        "wvalid": Out(1), "wready": In(1),
        "bresp": In(AxiResp), "bvalid": In(1), "bready": Out(1),
        "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
        "rdata": In(data_width), "rresp": In(AxiResp), "rvalid": In(1), "rready": Out(1),
    })


class AxiLiteBridge(wiring.Component):
    axi: In(AxiLiteSignature())
    bus: Out(BusTargetSignature)

    def elaborate(self, platform):
        m = Module()
        axi, bus = self.axi, self.bus

        aw_addr = Signal(BUS_ADDR_WIDTH)
        aw_full = Signal()
        w_data = Signal(BUS_DATA_WIDTH)
        w_strb = Signal(BUS_DATA_WIDTH // 8)
        w_full = Signal()
        ar_addr = Signal(BUS_ADDR_WIDTH)
        ar_full = Signal()
        read_first = Signal()  # round-robin: the next tie goes to the read
        rdata = Signal(BUS_DATA_WIDTH)
        resp = Signal(unsigned(2))

        # Holding registers: ready whenever empty.
        m.d.comb += [axi.awready.eq(~aw_full), axi.wready.eq(~w_full), axi.arready.eq(~ar_full)]
        with m.If(axi.awvalid & axi.awready):
            m.d.sync += [aw_addr.eq(axi.awaddr), aw_full.eq(1)]
        with m.If(axi.wvalid & axi.wready):
            m.d.sync += [w_data.eq(axi.wdata), w_strb.eq(axi.wstrb), w_full.eq(1)]
        with m.If(axi.arvalid & axi.arready):
            m.d.sync += [ar_addr.eq(axi.araddr), ar_full.eq(1)]

        write_ready = aw_full & w_full
        m.d.comb += [axi.rdata.eq(rdata), axi.rresp.eq(resp), axi.bresp.eq(resp)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(write_ready & ~(ar_full & read_first)):
                    m.next = "WRITE"
                with m.Elif(ar_full):
                    m.next = "READ"
            with m.State("WRITE"):
                m.d.comb += [
                    bus.req.valid.eq(1),
                    bus.req.p.addr.eq(aw_addr), bus.req.p.write.eq(1),
                    bus.req.p.wdata.eq(w_data), bus.req.p.wstrb.eq(w_strb),
                ]
                with m.If(bus.req.ready):
                    m.d.sync += [aw_full.eq(0), w_full.eq(0), read_first.eq(1)]
                    m.next = "WRITE_RESP"
            with m.State("WRITE_RESP"):
                m.d.comb += bus.resp.ready.eq(1)
                with m.If(bus.resp.valid):
                    m.d.sync += resp.eq(bus.resp.p.resp)
                    m.next = "B"
            with m.State("B"):
                m.d.comb += axi.bvalid.eq(1)
                with m.If(axi.bready):
                    m.next = "IDLE"
            with m.State("READ"):
                m.d.comb += [bus.req.valid.eq(1), bus.req.p.addr.eq(ar_addr)]
                with m.If(bus.req.ready):
                    m.d.sync += [ar_full.eq(0), read_first.eq(0)]
                    m.next = "READ_RESP"
            with m.State("READ_RESP"):
                m.d.comb += bus.resp.ready.eq(1)
                with m.If(bus.resp.valid):
                    m.d.sync += [resp.eq(bus.resp.p.resp), rdata.eq(bus.resp.p.rdata)]
                    m.next = "R"
            with m.State("R"):
                m.d.comb += axi.rvalid.eq(1)
                with m.If(axi.rready):
                    m.next = "IDLE"
        return m
