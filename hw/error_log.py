"""Error log: keeps the first error since the host last cleared it, and a count.

The first error is the one worth debugging (later ones are often its
consequences), so ERR_CODE/ERR_ADDR are sticky until CTRL.CLEAR_ERR; ERR_COUNT
counts every error, saturating at 2**32 - 1. Several blocks report errors (the
bus decoder, the crossbar controller); when two report in the same cycle both
are counted and the lower-numbered source is the one kept. A clear and a new
error in the same cycle: the new error is kept.

ERR_COUNT follows an error a cycle after ERR_CODE: the number of new errors is
registered before the 32-bit saturating add (issue 25: the units' refusals, then this
add, were the chip's critical path on an ECP5). A clear zeroes the count at once and
drops nothing: an error in the clear's cycle is added the cycle after.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import BUS_ADDR_WIDTH, ErrorCode

from .decoder import ErrorEventSignature

__all__ = ["ErrorLog"]


class ErrorLog(wiring.Component):
    def __init__(self, n_sources: int = 1):
        self.n_sources = n_sources
        super().__init__({
            **{f"event{i}": In(ErrorEventSignature) for i in range(n_sources)},
            "clear": In(1),
            "code": Out(ErrorCode),
            "addr": Out(BUS_ADDR_WIDTH),
            "count": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        events = [getattr(self, f"event{i}") for i in range(self.n_sources)]
        n_new = Signal(range(self.n_sources + 1))  # errors in the cycle before
        m.d.sync += n_new.eq(sum(e.valid for e in events))
        total = self.count + n_new
        with m.If(self.clear):
            m.d.sync += [self.code.eq(ErrorCode.NONE), self.addr.eq(0), self.count.eq(0)]
        with m.Elif(n_new != 0):
            m.d.sync += self.count.eq(Mux(total > 0xFFFF_FFFF, 0xFFFF_FFFF, total))
        with m.If(self.clear | (self.code == ErrorCode.NONE)):
            for e in reversed(events):  # the last assignment wins: source 0 first
                with m.If(e.valid):
                    m.d.sync += [self.code.eq(e.code), self.addr.eq(e.addr)]
        return m
