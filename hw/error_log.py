"""Error log: keeps the first error since the host last cleared it, and a count.

The first error is the one worth debugging (later ones are often its
consequences), so ERR_CODE/ERR_ADDR are sticky until CTRL.CLEAR_ERR; ERR_COUNT
counts every error, saturating at 2**32 - 1. Several blocks report errors (the
bus decoder, the crossbar controller); when two report in the same cycle both
are counted and the lower-numbered source is the one kept. A clear and a new
error in the same cycle: the new error is kept.

An error is logged two cycles after its event, ERR_CODE, ERR_ADDR and ERR_COUNT
together: the events and the clear are registered as they arrive (issue 25: a
sequencer check, through a unit's START-time refusal onto its error port and this
log's source priority, was the whole chip's critical path on an ECP5), and the log acts
on the registered ones the cycle after, as it acted on the events themselves before.
So a clear clears what came before it, and an error in the clear's cycle is kept and
counted once. No one reads the log within two cycles of an event: a host read takes
at least five through the bus.
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
        events = []
        for i in range(self.n_sources):  # each source's event, a cycle later
            event, held = getattr(self, f"event{i}"), ErrorEventSignature.create(path=(f"held{i}",))
            m.d.sync += [held.valid.eq(event.valid), held.code.eq(event.code),
                         held.addr.eq(event.addr)]
            events.append(held)
        clear = Signal()
        m.d.sync += clear.eq(self.clear)
        n_new = Signal(range(self.n_sources + 1))
        m.d.comb += n_new.eq(sum(e.valid for e in events))
        total = self.count + n_new
        with m.If(clear):
            m.d.sync += [self.code.eq(ErrorCode.NONE), self.addr.eq(0), self.count.eq(n_new)]
        with m.Elif(n_new != 0):
            m.d.sync += self.count.eq(Mux(total > 0xFFFF_FFFF, 0xFFFF_FFFF, total))
        with m.If(clear | (self.code == ErrorCode.NONE)):
            for e in reversed(events):  # the last assignment wins: source 0 first
                with m.If(e.valid):
                    m.d.sync += [self.code.eq(e.code), self.addr.eq(e.addr)]
        return m
