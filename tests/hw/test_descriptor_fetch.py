"""DescriptorFetch on a SRAM buffer: the words, in order, and exactly fetch_cycles."""

import pytest
from amaranth import Module
from amaranth.lib import wiring

from rmlora.contract import ChipParams
from rmlora.contract.timing import FETCH_SPACING, XBAR_FETCH_SPACING, fetch_cycles
from rmlora.hw.descriptor_fetch import DescriptorFetch
from rmlora.hw.sram_buffer import SramBuffer

from .sim_helpers import run_sim

PARAMS = ChipParams(sram_width=32, sram_depth=64)
INIT = [(0x1000 * k + 7 * k + 1) & 0xFFFF_FFFF for k in range(PARAMS.sram_depth)]


class FetchOnBuffer(wiring.Component):
    def __init__(self, max_words, spacing):
        self.sram = SramBuffer(PARAMS, init=INIT)
        self.fetch = DescriptorFetch(PARAMS, max_words, spacing)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.sram, m.submodules.fetch = self.sram, self.fetch
        wiring.connect(m, self.fetch.sram, self.sram.core)
        return m


def fetch_back_to_back(spacing, requests, max_words=8):
    """Start each (addr, n_words) in the cycle the previous one is done. Returns, per
    request, the cycles from its start to its done and the (index, word)s delivered."""
    top = FetchOnBuffer(max_words, spacing)
    dut = top.fetch
    out = []

    async def tb(ctx):
        pending = list(requests)
        addr, n = pending.pop(0)
        ctx.set(dut.addr, addr)
        ctx.set(dut.n_words, n)
        ctx.set(dut.start, 1)
        cycles, got = 0, []
        for _ in range(200):
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles += 1
            assert ctx.get(dut.busy)
            if ctx.get(dut.words.valid):
                got.append((ctx.get(dut.words.p.index), ctx.get(dut.words.p.data)))
            if ctx.get(dut.done):
                out.append((cycles, got))
                if not pending:
                    break
                addr, n = pending.pop(0)
                ctx.set(dut.addr, addr)
                ctx.set(dut.n_words, n)
                ctx.set(dut.start, 1)
                cycles, got = 0, []
        await ctx.tick()
        assert not ctx.get(dut.busy)

    run_sim(top, tb)
    return out


@pytest.mark.parametrize("spacing", [FETCH_SPACING, XBAR_FETCH_SPACING, 3])
def test_words_in_order_in_exactly_fetch_cycles(spacing):
    requests = [(5, 2), (40, 1), (0, 8), (63, 1), (17, 3)]
    out = fetch_back_to_back(spacing, requests)
    assert len(out) == len(requests)
    for (addr, n), (cycles, got) in zip(requests, out, strict=True):
        # counted from the start's cycle: the fetch itself is the cycles after it
        assert cycles == fetch_cycles(n, spacing)
        assert got == [(k, INIT[addr + k]) for k in range(n)]

