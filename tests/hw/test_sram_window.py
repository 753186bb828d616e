import random

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from rmlora.contract import AxiResp, ChipParams
from rmlora.hw.bus import BusTargetSignature
from rmlora.hw.sram_buffer import SramBuffer
from rmlora.hw.sram_window import SramWindow

from .sim_helpers import bus_access, run_sim


class WindowOnBuffer(wiring.Component):
    def __init__(self, params):
        self.params = params
        self.window = SramWindow(params)
        self.sram = SramBuffer(params)
        super().__init__({"bus": In(BusTargetSignature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.window, m.submodules.sram = self.window, self.sram
        wiring.connect(m, wiring.flipped(self.bus), self.window.bus)
        wiring.connect(m, self.window.sram, self.sram.host)
        return m


def test_lanes_and_byte_strobes_match_a_byte_array():
    for width in (32, 64, 128):
        params = ChipParams(sram_width=width, sram_depth=16)
        dut = WindowOnBuffer(params)
        rng = random.Random(width)
        ref = bytearray(params.sram_bytes)

        async def tb(ctx, dut=dut, rng=rng, ref=ref, params=params):
            for _ in range(80):
                addr = 4 * rng.randrange(params.sram_bytes // 4)
                if rng.random() < 0.6:
                    value, strobe = rng.getrandbits(32), rng.getrandbits(4)
                    _, resp, _ = await bus_access(ctx, dut.bus, addr, write=True,
                                                  wdata=value, wstrb=strobe)
                    for b in range(4):
                        if strobe >> b & 1:
                            ref[addr + b] = value >> 8 * b & 0xFF
                else:
                    rdata, resp, _ = await bus_access(ctx, dut.bus, addr)
                    assert rdata == int.from_bytes(ref[addr:addr + 4], "little"), hex(addr)
                assert resp == AxiResp.OKAY

        run_sim(dut, tb)
