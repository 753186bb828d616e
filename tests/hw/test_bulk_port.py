"""The bulk port (hw/bulk_port.py) and the host-port arbiter under amaranth.sim.

The bench is the chip's host side of the SRAM: the bulk port and the bus window
share the SRAM buffer's host port through the arbiter, and the bulk port's
refusals go to an error log. Every word is compared with `==` against a byte
array that models the SRAM.
"""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from rmlora.contract import AxiResp, ChipParams, ErrorCode
from rmlora.contract.bulk_port import AxiBurst, bulk_beat_bytes, bulk_refusal
from rmlora.hw.bulk_port import BulkPort, bulk_axi_signature
from rmlora.hw.bus import BusTargetSignature
from rmlora.hw.core import ChipCore
from rmlora.hw.error_log import ErrorLog
from rmlora.hw.sram_arbiter import SramArbiter
from rmlora.hw.sram_buffer import SramBuffer
from rmlora.hw.sram_window import SramWindow

from .axi4_manager import Axi4Manager
from .sim_helpers import bus_access, run_sim


class HostSide(wiring.Component):
    """Bulk port and bus window on one SRAM buffer, refusals in an error log."""

    def __init__(self, params):
        self.params = params
        self.port, self.window = BulkPort(params), SramWindow(params)
        self.arbiter, self.sram = SramArbiter(params), SramBuffer(params)
        self.errors = ErrorLog(n_sources=2)
        super().__init__({"axi": In(bulk_axi_signature(params)),
                          "bus": In(BusTargetSignature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.port, m.submodules.window = self.port, self.window
        m.submodules.arbiter, m.submodules.sram = self.arbiter, self.sram
        m.submodules.errors = self.errors
        wiring.connect(m, wiring.flipped(self.axi), self.port.axi)
        wiring.connect(m, wiring.flipped(self.bus), self.window.bus)
        wiring.connect(m, self.port.sram, self.arbiter.bulk)
        wiring.connect(m, self.window.sram, self.arbiter.window)
        wiring.connect(m, self.arbiter.sram, self.sram.host)
        wiring.connect(m, self.port.write_error, self.errors.event0)
        wiring.connect(m, self.port.read_error, self.errors.event1)
        return m


def apply_strobes(ref: bytearray, addr: int, data: bytes, strobes, beat: int):
    for k in range(len(data) // beat):
        for b in range(beat):
            if strobes is None or strobes[k] >> b & 1:
                ref[addr + k * beat + b] = data[k * beat + b]


@pytest.mark.parametrize("width", [32, 64, 128])
def test_bursts_of_every_length_and_strobe_match_a_byte_array(width):
    params = ChipParams(sram_width=width, sram_depth=1024)
    beat = bulk_beat_bytes(params)
    dut = HostSide(params)
    rng = random.Random(width)
    ref = bytearray(params.sram_bytes)

    async def tb(ctx):
        axi = Axi4Manager(dut.axi, beat, rng, pause=0.3)
        for n in (1, 2, 3, 7, 16, 255, 256, *(rng.randrange(1, 64) for _ in range(8))):
            n = min(n, 4096 // beat)
            page = rng.randrange(params.sram_bytes // 4096) * 4096
            addr = page + beat * rng.randrange(4096 // beat - n + 1)
            data = rng.randbytes(n * beat)
            strobes = [rng.getrandbits(beat) for _ in range(n)] if rng.random() < 0.5 else None
            awid = rng.randrange(16)
            assert await axi.write(ctx, addr, data, strobes, awid=awid) == (awid, AxiResp.OKAY)
            apply_strobes(ref, addr, data, strobes, beat)
            got, answers = await axi.read(ctx, addr, n, arid=awid ^ 5)
            assert got == bytes(ref[addr:addr + n * beat])
            assert answers == [(awid ^ 5, AxiResp.OKAY)] * n
        assert ctx.get(dut.errors.count) == 0

    run_sim(dut, tb)


def test_one_beat_per_cycle_and_backpressure_loses_nothing():
    """A manager that keeps up moves a 256-beat burst in about 256 cycles each way;
    with RREADY low half the time, every word still arrives, in order."""
    params = ChipParams(sram_depth=4096)
    beat = bulk_beat_bytes(params)
    dut = HostSide(params)
    rng = random.Random(3)
    data = rng.randbytes(256 * beat)

    ticks = [0]

    async def count(ctx):
        async for _ in ctx.tick():
            ticks[0] += 1

    async def tb(ctx):
        axi = Axi4Manager(dut.axi, beat, rng)
        t0 = ticks[0]
        await axi.write(ctx, 0, data)
        t1 = ticks[0]
        got, _ = await axi.read(ctx, 0, 256)
        t2 = ticks[0]
        assert got == data
        # AW, 256 beats, B; AR, two cycles of read latency, 256 beats
        assert (t1 - t0, t2 - t1) == (1 + 256 + 1, 1 + 2 + 256)
        axi.pause = 0.5
        got, _ = await axi.read(ctx, 0, 256)
        assert got == data

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(count)
    sim.add_testbench(tb)
    sim.run()


REFUSALS = [  # (what, addr, beats, size offset from the full size, burst)
    ("FIXED burst", 0, 4, 0, AxiBurst.FIXED),
    ("WRAP burst", 0, 4, 0, AxiBurst.WRAP),
    ("narrow size", 0, 4, -1, AxiBurst.INCR),
    ("unaligned start", 4, 4, 0, AxiBurst.INCR),
    ("crosses 4 KiB", 4096 - 16, 4, 0, AxiBurst.INCR),
    ("past the end", None, 2, 0, AxiBurst.INCR),
    ("starts past the end", "beyond", 1, 0, AxiBurst.INCR),
]


@pytest.mark.parametrize("what,addr,beats,dsize,burst", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refused_burst_writes_nothing_and_is_logged(what, addr, beats, dsize, burst):
    params = ChipParams(sram_depth=1024)
    beat = bulk_beat_bytes(params)
    size = beat.bit_length() - 1 + dsize
    if addr is None:
        addr = params.sram_bytes - beat  # the second beat would be past the end
    elif addr == "beyond":
        addr = params.sram_bytes
    want = bulk_refusal(params, addr, beats, size, burst)
    assert want != ErrorCode.NONE
    dut = HostSide(params)
    rng = random.Random(7)
    before = rng.randbytes(params.sram_bytes)

    async def tb(ctx):
        axi = Axi4Manager(dut.axi, beat, rng, pause=0.2)
        chunk = 256 * beat
        for at in range(0, params.sram_bytes, chunk):
            await axi.write(ctx, at, before[at:at + chunk])
        bid, bresp = await axi.write(ctx, addr, bytes([0xA5]) * beats * beat, awid=9,
                                     size=size, burst=burst, beats=beats)
        assert (bid, bresp) == (9, want.axi_resp)
        assert (ctx.get(dut.errors.code), ctx.get(dut.errors.addr)) == (want, addr)
        data, answers = await axi.read(ctx, addr, beats, arid=3, size=size, burst=burst)
        assert data == bytes(beats * beat) and answers == [(3, want.axi_resp)] * beats
        assert ctx.get(dut.errors.count) == 2
        # nothing was written; the port works again
        for at in range(0, params.sram_bytes, chunk):
            got, _ = await axi.read(ctx, at, 256)
            assert got == before[at:at + chunk]

    run_sim(dut, tb)


def test_bus_window_and_bulk_port_side_by_side():
    """Window accesses (own words, and reads of a fixed area) while bulk bursts run:
    neither corrupts the other, and the bulk port is only delayed."""
    params = ChipParams(sram_depth=1024)
    beat = bulk_beat_bytes(params)
    dut = HostSide(params)
    rng = random.Random(11)
    ref = bytearray(params.sram_bytes)
    fixed = range(0, 1024)  # the window reads these bytes, the bulk port leaves them
    lite_words = range(1024, 2048, 4)  # the window writes these words
    lite_written = {}
    done = []

    async def bulk(ctx):
        axi = Axi4Manager(dut.axi, beat, rng, pause=0.2)
        await axi.write(ctx, 0, bytes(range(256)) * 4)
        ref[fixed.start:fixed.stop] = bytes(range(256)) * 4
        done.append("fixed")
        for _ in range(12):
            n = rng.randrange(1, 64)
            lo, hi = rng.choice(((2048, 4096), (4096, 8192)))  # inside one 4 KiB page
            addr = lo + beat * rng.randrange((hi - lo) // beat - n + 1)
            data = rng.randbytes(n * beat)
            await axi.write(ctx, addr, data)
            ref[addr:addr + len(data)] = data
            got, _ = await axi.read(ctx, addr, n)
            assert got == data
        done.append("bulk")

    async def window(ctx):
        while "fixed" not in done:
            await ctx.tick()
        while "bulk" not in done:
            addr = rng.choice(lite_words)
            if rng.random() < 0.5:
                value = rng.getrandbits(32)
                _, resp, _ = await bus_access(ctx, dut.bus, addr, write=True, wdata=value)
                lite_written[addr] = value
            else:
                addr = 4 * rng.randrange(len(fixed) // 4)
                rdata, resp, _ = await bus_access(ctx, dut.bus, addr)
                assert rdata == int.from_bytes(ref[addr:addr + 4], "little")
            assert resp == AxiResp.OKAY
        for addr, value in lite_written.items():
            ref[addr:addr + 4] = value.to_bytes(4, "little")
        axi = Axi4Manager(dut.axi, beat, rng)
        for at in range(0, params.sram_bytes, 256 * beat):
            got, _ = await axi.read(ctx, at, 256)
            assert got == bytes(ref[at:at + 256 * beat])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bulk)
    sim.add_testbench(window)
    sim.run()


class CoreWithBulkPort(wiring.Component):
    """The chip core with the bulk port and window on its host port, as in the chip top."""

    def __init__(self, params):
        self.params = params
        self.port, self.window = BulkPort(params), SramWindow(params)
        self.arbiter, self.core = SramArbiter(params), ChipCore(params)
        super().__init__({"axi": In(bulk_axi_signature(params)),
                          "cache_flush": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.port, m.submodules.window = self.port, self.window
        m.submodules.arbiter, m.submodules.core = self.arbiter, self.core
        wiring.connect(m, wiring.flipped(self.axi), self.port.axi)
        wiring.connect(m, self.port.sram, self.arbiter.bulk)
        wiring.connect(m, self.window.sram, self.arbiter.window)
        wiring.connect(m, self.arbiter.sram, self.core.host_sram)
        m.d.comb += self.cache_flush.eq(self.core.lora.cache_flush)
        return m


def test_a_bulk_write_flushes_the_adapter_cache_and_a_read_does_not():
    params = ChipParams(sram_depth=256, macro_rows=8, macro_cols=8, lora_cache_words=16)
    beat = bulk_beat_bytes(params)
    dut = CoreWithBulkPort(params)
    flushes = []

    async def watch(ctx):
        async for _, _, flush in ctx.tick().sample(dut.cache_flush):
            flushes.append(flush)

    async def tb(ctx):
        axi = Axi4Manager(dut.axi, beat)
        await axi.read(ctx, 0, 4)
        assert not any(flushes)
        await axi.write(ctx, 0, bytes(4 * beat))
        assert sum(flushes) == 4  # one flush per beat written
        await axi.write(ctx, 0, bytes(beat), strobes=[0])  # writes no byte: no flush
        assert sum(flushes) == 4

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(watch)
    sim.add_testbench(tb)
    sim.run()
