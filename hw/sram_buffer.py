"""SRAM buffer: the chip's one on-die memory for adapters, descriptors and activations.

A dual-port SRAM, as on-die buffers of this size are built: the `host` port
serves the bus window, the `core` port the chip's compute blocks. Each port
reads and writes whole words with byte enables, like a compiled SRAM macro.

Timing per port: the address is sampled on the clock edge when `r_en` is high
and the word appears on `r_data` the cycle after (one-cycle latency); `r_data`
holds until the next read. A read and a write of the same address in the same
cycle read the old word (read-first). When both ports write the same byte in
the same cycle the core port wins.
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams

__all__ = ["SramPortSignature", "SramBuffer"]


def SramPortSignature(addr_width: int, data_width: int):
    """A SRAM port seen from the block that uses it."""
    return wiring.Signature({
        "addr": Out(addr_width),
        "r_en": Out(1),
        "r_data": In(data_width),
        "w_en": Out(data_width // 8),  # one enable per byte
        "w_data": Out(data_width),
    })


class SramBuffer(wiring.Component):
    PORTS = ("host", "core")

    def __init__(self, params: ChipParams, init=()):
        self.params = params
        self._init = init
        sig = SramPortSignature(params.sram_addr_width, params.sram_width)
        super().__init__({name: In(sig) for name in self.PORTS})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.mem = mem = Memory(shape=p.sram_width, depth=p.sram_depth, init=self._init)
        # Write ports in PORTS order: on a same-byte collision the later (core) wins.
        for name in self.PORTS:
            port = getattr(self, name)
            wp = mem.write_port(granularity=8)
            rp = mem.read_port()
            m.d.comb += [
                wp.addr.eq(port.addr), wp.en.eq(port.w_en), wp.data.eq(port.w_data),
                rp.addr.eq(port.addr), rp.en.eq(port.r_en), port.r_data.eq(rp.data),
            ]
        return m
