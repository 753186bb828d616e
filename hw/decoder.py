"""Address decoder: routes each bus request to the target whose region holds it.

Misaligned addresses (SLVERR) and addresses outside every region (DECERR) are
answered here, without disturbing any target. Every response that carries an
error is also reported on `error`, with the request's absolute address, for the
error log. Requests reach a target with the region's base subtracted.

Adds one cycle: the request is registered before it is forwarded.
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import BUS_ADDR_WIDTH, ErrorCode

from .bus import BusRequest, BusResponse, BusTargetSignature, error_response

__all__ = ["BusDecoder", "ErrorEventSignature"]

ErrorEventSignature = wiring.Signature({
    "valid": Out(1), "code": Out(ErrorCode), "addr": Out(BUS_ADDR_WIDTH),
})


class BusDecoder(wiring.Component):
    """`regions` is a sequence of contract `Region`s; target i serves regions[i]."""

    def __init__(self, regions):
        self.regions = tuple(regions)
        for a in self.regions:
            for b in self.regions:
                if a is not b and a.base < b.base + b.size and b.base < a.base + a.size:
                    raise ValueError(f"regions {a.name} and {b.name} overlap")
        super().__init__({
            "bus": In(BusTargetSignature),
            "error": Out(ErrorEventSignature),
            **{f"t_{r.name.lower()}": Out(BusTargetSignature) for r in self.regions},
        })

    def target(self, region_name: str):
        return getattr(self, f"t_{region_name.lower()}")

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        req = Signal(BusRequest)
        resp = Signal(BusResponse)
        sel = Signal(range(len(self.regions) + 1))  # len(regions) = no target

        targets = [self.target(r.name) for r in self.regions]

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += bus.req.ready.eq(1)
                with m.If(bus.req.valid):
                    m.d.sync += req.eq(bus.req.p)
                    m.next = "DECODE"
            with m.State("DECODE"):
                with m.If(req.addr[:2] != 0):
                    m.d.sync += resp.eq(error_response(ErrorCode.BUS_MISALIGNED))
                    m.next = "RESPOND"
                with m.Else():
                    m.d.sync += resp.eq(error_response(ErrorCode.BUS_UNMAPPED))
                    m.next = "RESPOND"
                    for i, region in enumerate(self.regions):
                        hit = req.addr < region.base + region.size
                        if region.base:  # (a >= 0 is always true: lint flags it)
                            hit &= req.addr >= region.base
                        with m.If(hit):
                            m.d.sync += sel.eq(i)
                            m.next = "FORWARD"
            with m.State("FORWARD"):
                with m.Switch(sel):
                    for i, (region, t) in enumerate(zip(self.regions, targets, strict=True)):
                        with m.Case(i):
                            m.d.comb += [
                                t.req.valid.eq(1),
                                t.req.p.eq(req),
                                t.req.p.addr.eq(req.addr - region.base),
                            ]
                            with m.If(t.req.ready):
                                m.next = "WAIT"
            with m.State("WAIT"):
                with m.Switch(sel):
                    for i, t in enumerate(targets):
                        with m.Case(i):
                            m.d.comb += t.resp.ready.eq(1)
                            with m.If(t.resp.valid):
                                m.d.sync += resp.eq(t.resp.p)
                                m.next = "RESPOND"
            with m.State("RESPOND"):
                m.d.comb += [bus.resp.valid.eq(1), bus.resp.p.eq(resp)]
                with m.If(bus.resp.ready):
                    m.next = "IDLE"
                    m.d.comb += [
                        self.error.valid.eq(resp.error != ErrorCode.NONE),
                        self.error.code.eq(resp.error),
                        self.error.addr.eq(req.addr),
                    ]
        return m
