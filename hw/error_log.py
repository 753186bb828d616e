"""Error log: keeps the first error since the host last cleared it, and a count.

The first error is the one worth debugging (later ones are often its
consequences), so ERR_CODE/ERR_ADDR are sticky until CTRL.CLEAR_ERR; ERR_COUNT
counts every error, saturating at 2**32 - 1. A clear and a new error in the same
cycle: the new error is kept.
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import BUS_ADDR_WIDTH, ErrorCode

from .decoder import ErrorEventSignature

__all__ = ["ErrorLog"]


class ErrorLog(wiring.Component):
    event: In(ErrorEventSignature)
    clear: In(1)
    code: Out(ErrorCode)
    addr: Out(BUS_ADDR_WIDTH)
    count: Out(32)

    def elaborate(self, platform):
        m = Module()
        with m.If(self.clear):
            m.d.sync += [self.code.eq(ErrorCode.NONE), self.addr.eq(0), self.count.eq(0)]
        with m.If(self.event.valid):
            with m.If(self.clear | (self.code == ErrorCode.NONE)):
                m.d.sync += [self.code.eq(self.event.code), self.addr.eq(self.event.addr)]
            with m.If(self.clear):
                m.d.sync += self.count.eq(1)
            with m.Elif(self.count != 0xFFFF_FFFF):
                m.d.sync += self.count.eq(self.count + 1)
        return m
