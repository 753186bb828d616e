"""FPGA pin wrapper: a block's narrow ports on pins, its wide ones through scan chains.

The chip top has 1,746 port bits; an ECP5 package has at most 365 I/Os. For place
and route (rmlora.hw.fpga) the named ports (`pinned`, e.g. the AXI4-Lite control
bus and irq) stay on pins and every other port bit goes through one of two shift
registers, a few pins in all:

    scan_in -> [input chain: one FF per input bit, each drives the block's input]
    [output chain: one FF per output bit] -> scan_out
    scan_shift:   both chains move one bit (input chain towards its last bit, output
                  chain towards bit 0, which is scan_out)
    scan_capture: the output chain loads every output bit of the block (wins over
                  scan_shift)

So every input comes from a flip-flop and every output ends in one: the block's
logic is all observable (nothing is optimised away) and the scanned ports' timing
boundary is registered, as a block beside it on a real die would see it. The pinned
ports are wired straight through: registering them would change their handshakes.

Cost: one FF per scanned input bit (a clock enable, no LUT), one FF and one LUT
(the capture/shift mux) per scanned output bit. No latency is added on the pins;
this is a measuring harness, not a way to run the chip.
"""

from amaranth import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ScanWrapper"]


class ScanWrapper(wiring.Component):
    def __init__(self, block: wiring.Component, pinned=()):
        self.block, self.pinned = block, tuple(pinned)
        missing = [name for name in self.pinned if name not in block.signature.members]
        if missing:
            raise ValueError(f"pinned ports {missing} are not ports of {type(block).__name__}")
        super().__init__({
            **{name: block.signature.members[name] for name in self.pinned},
            "scan_in": In(1), "scan_shift": In(1), "scan_capture": In(1), "scan_out": Out(1),
        })
        inputs, outputs = [], []
        for path, member, value in block.signature.flatten(block):
            if path[0] not in self.pinned:
                (inputs if member.flow == In else outputs).append(Value.cast(value))
        self.scanned_inputs = Cat(*inputs)
        self.scanned_outputs = Cat(*outputs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = self.block
        for name in self.pinned:
            inner = getattr(self.block, name)
            if self.signature.members[name].is_port:
                flow = self.signature.members[name].flow
                if flow == In:
                    m.d.comb += inner.eq(getattr(self, name))
                else:
                    m.d.comb += getattr(self, name).eq(inner)
            else:
                wiring.connect(m, wiring.flipped(getattr(self, name)), inner)

        n_in, n_out = len(self.scanned_inputs), len(self.scanned_outputs)
        in_chain = Signal(max(1, n_in))
        out_chain = Signal(max(1, n_out))
        with m.If(self.scan_shift):
            m.d.sync += in_chain.eq(Cat(self.scan_in, in_chain[:-1]))
        if n_in:
            m.d.comb += self.scanned_inputs.eq(in_chain)
        with m.If(self.scan_capture):
            m.d.sync += out_chain.eq(self.scanned_outputs)
        with m.Elif(self.scan_shift):
            m.d.sync += out_chain.eq(out_chain >> 1)
        m.d.comb += self.scan_out.eq(out_chain[0])
        return m
