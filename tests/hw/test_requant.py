"""The requantiser of the LoRA unit against the golden model's, on the cases that
matter: exact ties (round half up), saturation at both ends, shift 0, large values."""

import numpy as np
from amaranth import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from rmlora.contract.lora import LORA_ACC_BITS, LORA_H_BITS, MULT_BITS
from rmlora.hw.lora_unit import requant
from rmlora.sw.golden.lora import requantize


class Requant(wiring.Component):
    def __init__(self, width: int = LORA_ACC_BITS):
        super().__init__({"value": In(signed(width)), "mult": In(signed(MULT_BITS)),
                          "shift": In(unsigned(6)), "out": Out(signed(8))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.out.eq(requant(m, self.value, self.mult, self.shift))
        return m


CASES = [
    # (value, mult, shift, expected): ties round up, towards +inf
    (5, 1, 1, 3), (-5, 1, 1, -2), (3, 1, 1, 2), (-3, 1, 1, -1), (1, 1, 1, 1), (-1, 1, 1, 0),
    (10, 1, 2, 3), (-10, 1, 2, -2), (6, 1, 2, 2), (-6, 1, 2, -1),
    (127, 1, 0, 127), (128, 1, 0, 127), (-128, 1, 0, -128), (-129, 1, 0, -128),
    (2**40, 32767, 20, 127), (-(2**40), 32767, 20, -128), (255, 1, 1, 127), (-257, 1, 1, -128),
    (1000, -3, 5, -94), (12345, 77, 13, 116),
]


def test_ties_saturation_and_edges():
    dut = Requant()
    rng = np.random.default_rng(0)
    randoms = [(int(v), int(mu), int(s), None) for v, mu, s in zip(
        rng.integers(-2**31, 2**31, 300), rng.integers(-2**15, 2**15, 300),
        rng.integers(0, 48, 300), strict=True)]

    async def tb(ctx):
        for value, mult, shift, expected in CASES + randoms:
            ctx.set(dut.value, value)
            ctx.set(dut.mult, mult)
            ctx.set(dut.shift, shift)
            got = ctx.get(dut.out)
            golden = int(requantize(np.array([value]), mult, shift)[0])
            assert got == golden, (value, mult, shift, got, golden)
            if expected is not None:
                assert got == expected, (value, mult, shift, got, expected)

    sim = Simulator(dut)  # combinational: no clock
    sim.add_testbench(tb)
    sim.run()


def test_narrow_values_at_every_shift():
    """The datapath's own widths (h: LORA_H_BITS; acc: LORA_ACC_BITS with mult 1, as the
    B phase calls it): every shift 0..63, including those at and past the product's width,
    where the result is 0; values at the bounds of the width."""
    rng = np.random.default_rng(1)
    for width, mults in ((LORA_H_BITS, [1, -1, 32767, -32768, 12345]), (LORA_ACC_BITS, [1])):
        dut = Requant(width)
        top = (1 << (width - 1)) - 1
        values = [0, 1, -1, top, -top - 1, *map(int, rng.integers(-top - 1, top, 40))]

        async def tb(ctx, dut=dut, values=values, mults=mults, width=width):
            for value in values:
                for mult in mults:
                    for shift in range(64):
                        ctx.set(dut.value, value)
                        ctx.set(dut.mult, mult)
                        ctx.set(dut.shift, shift)
                        want = int(requantize(np.array([value]), mult, shift)[0])
                        assert ctx.get(dut.out) == want, (width, value, mult, shift)

        sim = Simulator(dut)
        sim.add_testbench(tb)
        sim.run()
