"""Control/status register bank, generated from the contract's register table.

For each register of the table the bank has a port named after it in lower case:
- RO registers: an input the chip drives; the host reads it, a host write is
  refused with SLVERR (BUS_READ_ONLY).
- RW registers: an output holding what the host wrote (byte strobes honoured,
  reset value from the table); pulse fields are held for exactly one cycle.
  A register with fields stores only its field bits: reserved bits read 0.
- `<name>_read` (registers with `read_strobe`): high for the cycle in which the
  host's read is sampled.
Offsets inside the region with no register answer DECERR (BUS_UNMAPPED).
Latency: the response is valid the cycle after the request is taken.
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import BUS_DATA_WIDTH, Access, ErrorCode

from .bus import BusResponse, BusTargetSignature, error_response, ok_response

__all__ = ["CsrBank"]


def _port_name(reg) -> str:
    return reg.name.lower()


class CsrBank(wiring.Component):
    def __init__(self, registers):
        self.registers = tuple(registers)
        ports = {"bus": In(BusTargetSignature)}
        for reg in self.registers:
            direction = In if reg.access is Access.RO else Out
            ports[_port_name(reg)] = direction(BUS_DATA_WIDTH, init=reg.reset)
            if reg.read_strobe:
                ports[f"{_port_name(reg)}_read"] = Out(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        resp = Signal(BusResponse)
        pending = Signal()

        m.d.comb += [bus.req.ready.eq(~pending), bus.resp.valid.eq(pending), bus.resp.p.eq(resp)]
        with m.If(bus.resp.valid & bus.resp.ready):
            m.d.sync += pending.eq(0)

        # Pulse fields fall back to zero one cycle after they were written.
        for reg in self.registers:
            pulse_mask = sum(f.mask for f in reg.fields if f.pulse)
            if pulse_mask:
                storage = getattr(self, _port_name(reg))
                m.d.sync += storage.eq(storage & ~pulse_mask)

        req = bus.req.p
        with m.If(bus.req.valid & bus.req.ready):
            m.d.sync += [pending.eq(1), resp.eq(error_response(ErrorCode.BUS_UNMAPPED))]
            with m.Switch(req.addr):
                for reg in self.registers:
                    with m.Case(reg.offset):
                        self._access(m, reg, req, resp)
        return m

    def _access(self, m, reg, req, resp):
        value = getattr(self, _port_name(reg))
        with m.If(req.write):
            if reg.access is Access.RO:
                m.d.sync += resp.eq(error_response(ErrorCode.BUS_READ_ONLY))
            else:
                m.d.sync += resp.eq(ok_response())
                keep = reg.writable_mask
                for byte in range(BUS_DATA_WIDTH // 8):
                    lane = slice(8 * byte, 8 * byte + 8)
                    with m.If(req.wstrb[byte]):
                        m.d.sync += value[lane].eq(req.wdata[lane] & (keep >> 8 * byte) & 0xFF)
        with m.Else():
            m.d.sync += [resp.eq(ok_response()), resp.rdata.eq(value)]
            if reg.read_strobe:
                m.d.comb += getattr(self, f"{_port_name(reg)}_read").eq(1)
