"""Free-running 64-bit cycle counter with a consistent two-word read.

Reading the low word (`latch` high) copies the high word of the same cycle into
`hi`, so the host reads CYCLE_LO then CYCLE_HI and gets one 64-bit value even
when the low word wraps between the two bus reads.
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CycleCounter"]


class CycleCounter(wiring.Component):
    latch: In(1)
    lo: Out(32)
    hi: Out(32)

    def elaborate(self, platform):
        m = Module()
        count = Signal(64)
        m.d.sync += count.eq(count + 1)
        m.d.comb += self.lo.eq(count[:32])
        with m.If(self.latch):
            m.d.sync += self.hi.eq(count[32:])
        return m
