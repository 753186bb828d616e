"""The LIF update block (hw/neuron.py) under amaranth.sim against the contract's reference,
contract.neuron.lif_update, lane by lane with ==: random membranes, counts, currents and
descriptors with their extremes (clamps, every decay shift, thresholds at the ends of
int16, counts saturating), the first step of a sequence, and its latency and hold."""

import numpy as np
import pytest

from rmlora.contract.neuron import COUNT_MAX, MEM_MAX, MEM_MIN, lif_update
from rmlora.hw.neuron import LifUpdate

from .sim_helpers import run_sim

LANES = 4  # the chip's: P/2 at 64-bit SRAM words


def _lanes(values, bits):
    """Lane values (signed or not) packed into one integer, lane 0 lowest."""
    return sum((int(v) & ((1 << bits) - 1)) << (bits * i) for i, v in enumerate(values))



async def _step(ctx, dut, desc, mem, count, current, first):
    """One step's inputs with `en` for a cycle."""
    for name, value in desc.items():
        ctx.set(getattr(dut.desc, name), value)
    ctx.set(dut.mem, _lanes(mem, 16))
    ctx.set(dut.count, _lanes(count, 8))
    ctx.set(dut.current, _lanes(current, 8))
    ctx.set(dut.first, first)
    ctx.set(dut.en, 1)
    await ctx.tick()

def _unpack(word, bits, signed):
    out = [(word >> (bits * i)) & ((1 << bits) - 1) for i in range(LANES)]
    return [v - (1 << bits) if signed and v >> (bits - 1) else v for v in out]


def random_steps(rng, n):
    """n steps of LANES neurons: (desc fields, mem, count, current, first)."""
    steps = []
    for i in range(n):
        shift = i % 16
        mult = int(rng.choice([0, 255, int(rng.integers(1, 255))]))
        v_th = int(rng.choice([MEM_MIN, MEM_MAX, 0, int(rng.integers(-200, 200))]))
        mem = rng.integers(MEM_MIN, MEM_MAX + 1, LANES)
        mem[rng.random(LANES) < 0.3] = rng.choice([MEM_MIN, MEM_MAX])
        count = rng.integers(-128, 128, LANES)  # any int8, as the SRAM may hold
        count[rng.random(LANES) < 0.3] = COUNT_MAX
        current = rng.integers(-128, 128, LANES)
        steps.append((dict(mem=0, count=0, v_th=v_th, decay_mult=mult, decay_shift=shift),
                      mem, count, current, bool(rng.random() < 0.2)))
    return steps


def run_block(steps, hold=False):
    """Each step's inputs with `en` for a cycle, then (hold) a cycle of other inputs without
    it; returns the outputs three cycles after each `en` (the block's latency) and after
    each held cycle."""
    dut = LifUpdate(LANES)
    got = []

    async def tb(ctx):
        for desc, mem, count, current, first in steps:
            await _step(ctx, dut, desc, mem, count, current, first)
            ctx.set(dut.en, 0)
            # latency 3: other inputs in the later stages' cycles do not reach the results
            ctx.set(dut.current, _lanes(np.asarray(current) // 2, 8))
            ctx.set(dut.mem, _lanes(np.zeros(LANES, dtype=int), 16))
            await ctx.tick()
            ctx.set(dut.count, _lanes(np.asarray(count) // 2, 8))
            ctx.set(dut.first, not first)
            await ctx.tick()
            outputs = [ctx.get(dut.spike), ctx.get(dut.mem_next),
                       ctx.get(dut.count_next)]
            if hold:  # other inputs without en: the results stay
                ctx.set(dut.current, _lanes(-np.asarray(current) - 1, 8))
                ctx.set(dut.first, not first)
                await ctx.tick()
                outputs += [ctx.get(dut.spike), ctx.get(dut.mem_next),
                            ctx.get(dut.count_next)]
            got.append(outputs)

    run_sim(dut, tb)
    return got


def reference(desc, mem, count, current, first):
    out = [lif_update(0 if first else int(m), 0 if first else int(k), int(c), desc)
           for m, k, c in zip(mem, count, current, strict=True)]
    return [[s for s, _, _ in out], [v for _, v, _ in out], [n for _, _, n in out]]


@pytest.mark.parametrize("seed", [0, 1])
def test_lanes_equal_the_reference(seed):
    steps = random_steps(np.random.default_rng(seed), 160)
    seen = set()
    for step, (spike, mem, count) in zip(steps, run_block(steps), strict=True):
        want = reference(*step)
        assert [_unpack(spike, 8, False), _unpack(mem, 16, True),
                _unpack(count, 8, True)] == want
        seen.update(v for v in want[1] if v in (MEM_MIN, MEM_MAX))
        seen.update("saturated" for s, k in zip(want[0], want[2], strict=True)
                    if s and k == COUNT_MAX)
    assert {MEM_MIN, MEM_MAX, "saturated"} <= seen  # the extremes were reached


def test_results_are_held_until_the_next_en():
    steps = random_steps(np.random.default_rng(5), 16)
    for out in run_block(steps, hold=True):
        assert out[:3] == out[3:]


def test_first_step_ignores_the_state():
    desc = dict(mem=0, count=0, v_th=5, decay_mult=255, decay_shift=0)
    mem = np.full(LANES, MEM_MAX)
    count = np.full(LANES, 100)
    current = np.arange(LANES) + 2  # 2..9: the lanes above v_th = 5 spike
    (spike, mem_next, count_next), = run_block([(desc, mem, count, current, True)])
    assert _unpack(spike, 8, False) == [int(c > 5) for c in current]
    assert _unpack(mem_next, 16, True) == [0 if c > 5 else int(c) for c in current]
    assert _unpack(count_next, 8, True) == [int(c > 5) for c in current]



def test_back_to_back_steps_as_the_sequencer_gives_them():
    """Two steps with `en` in consecutive cycles (the sequencer's LIF_UPDATE and
    LIF_UPDATE_HI): the first's results three cycles after its `en`, the second's the
    cycle after, each equal to the reference (each stage carries its own step's count)."""
    steps = random_steps(np.random.default_rng(9), 40)
    dut = LifUpdate(LANES)
    got = []

    async def tb(ctx):
        for a, b in zip(steps[::2], steps[1::2], strict=True):
            for step in (a, b):
                await _step(ctx, dut, *step)
            ctx.set(dut.en, 0)
            await ctx.tick()
            for _ in range(2):
                got.append([ctx.get(dut.spike), ctx.get(dut.mem_next),
                            ctx.get(dut.count_next)])
                await ctx.tick()

    # one descriptor for both steps of a pair, as in a layer's (v_th is read in R)
    steps = [(steps[i | 1][0], *step[1:]) for i, step in enumerate(steps)]
    run_sim(dut, tb)
    for step, (spike, mem, count) in zip(steps, got, strict=True):
        assert [_unpack(spike, 8, False), _unpack(mem, 16, True),
                _unpack(count, 8, True)] == reference(*step)
