"""cocotb testbench of the LoRA unit on Verilator: random shapes (1xN, Nx1, rank 1,
the maximum rank, sizes not multiples of P), random adapter subsets, random stalls
on x, p and y; every output byte compared with `==` against the golden model."""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from rmlora.contract import ChipParams
from rmlora.contract.lora import LORA_MAX_RANK, LORA_SLOTS, Activation
from rmlora.sim.host_bus import CLOCK_PERIOD_NS
from rmlora.sim.streams import StreamSink, StreamSource, random_pauses
from rmlora.sw.formats.lora import place_layer
from rmlora.sw.golden import lora as golden
from tests.hw.test_lora_unit import random_case

SEED = int(os.environ.get("RMLORA_SEED", "1"))
N_CASES = int(os.environ.get("RMLORA_LORA_CASES", "24"))
P = ChipParams(sram_depth=1024)  # the build tests/cosim/test_lora_cosim.py writes
WB = P.sram_word_bytes
BASE = 8
COUNTS = ("cycles", "macs", "sram_reads", "cache_reads")


class LoraBench:
    def __init__(self, dut, stall: float, seed: int):
        self.dut = dut
        pauses = (lambda k: random_pauses(seed + k, stall)) if stall else (lambda k: None)
        self.x = StreamSource(dut, "x", dut.clk, pauses(1))
        self.p = StreamSource(dut, "p", dut.clk, pauses(2))
        self.y = StreamSink(dut, "y", dut.clk, pauses(3))

    async def load(self, word: int, image: bytes):
        dut = self.dut
        image = image + bytes(-len(image) % WB)
        for i in range(0, len(image), WB):
            dut.load__addr.value = word + i // WB
            dut.load__w_data.value = int.from_bytes(image[i:i + WB], "little")
            dut.load__w_en.value = (1 << WB) - 1
            await RisingEdge(dut.clk)
        dut.load__w_en.value = 0

    async def run(self, layer, adapters, x, p, enabled, max_cycles=200_000, load=True
                  ) -> dict:
        """One START; `load`: write the layer's image first (which flushes the cache)."""
        dut = self.dut
        image, desc = place_layer(layer, adapters, P, BASE)
        if load:
            await self.load(BASE, image)
        self.y.received.clear()
        self.x.send(int.from_bytes(x[i:i + WB].tobytes().ljust(WB, b"\0"), "little")
                    for i in range(0, len(x), WB))
        self.p.send(int(v) for v in p)
        before = {k: int(getattr(dut, f"perf_{k}").value) for k in COUNTS}
        dut.desc_addr.value = desc
        dut.enable.value = enabled
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        await RisingEdge(dut.clk)
        for _ in range(max_cycles // 100):  # done: its last outputs have left too
            if not dut.busy.value and (dut.done.value or dut.refused.value):
                break
            await ClockCycles(dut.clk, 100)
        else:
            raise AssertionError("the LoRA unit never finished")
        return {"y": np.array(self.y.received, dtype=np.int8), "done": int(dut.done.value),
                **{k: int(getattr(dut, f"perf_{k}").value) - v for k, v in before.items()}}

    async def run_pass(self, layer, adapters, xs, ps, enabled, max_cycles=200_000) -> list:
        """One START per vector, each as soon as busy is low (issue 20: the last run's
        final words are still in the pipeline, a hit's A words follow them), x and p
        queued for the whole pass; then wait for done. Each run's y (the pass's y in
        order, n_out a run) and counter increments, START to busy falling."""
        dut = self.dut
        image, desc = place_layer(layer, adapters, P, BASE)
        await self.load(BASE, image)
        self.y.received.clear()
        for x, p in zip(xs, ps, strict=True):
            self.x.send(int.from_bytes(x[i:i + WB].tobytes().ljust(WB, b"\0"), "little")
                        for i in range(0, len(x), WB))
            self.p.send(int(v) for v in p)
        dut.desc_addr.value = desc
        dut.enable.value = enabled
        runs = []
        for _ in xs:
            before = {k: int(getattr(dut, f"perf_{k}").value) for k in COUNTS}
            dut.start.value = 1
            await RisingEdge(dut.clk)
            dut.start.value = 0
            for _ in range(max_cycles):
                await RisingEdge(dut.clk)
                if not dut.busy.value:
                    break
            else:
                raise AssertionError("the LoRA unit never finished")
            runs.append({k: int(getattr(dut, f"perf_{k}").value) - v for k, v in before.items()}
                        | {"done": int(dut.done.value)})
        for _ in range(max_cycles):
            if dut.done.value:
                break
            await RisingEdge(dut.clk)
        y = np.array(self.y.received, dtype=np.int8)
        assert len(y) == layer.n_out * len(xs)
        for k, run in enumerate(runs):
            run["y"] = y[k * layer.n_out:(k + 1) * layer.n_out]
        return runs


async def start(dut, stall=0.0, seed=SEED) -> LoraBench:
    dut.rst.value = 1
    for name in ("start", "clear_perf", "cache_flush", "desc_addr", "enable", "load__addr",
                 "load__r_en", "load__w_en", "load__w_data"):
        getattr(dut, name).value = 0  # Icarus starts undriven inputs at Z
    cocotb.start_soon(Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start())
    bench = LoraBench(dut, stall, seed)
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    return bench


def random_shape(rng):
    kind = rng.integers(0, 5)
    if kind == 0:
        return 1, int(rng.integers(1, 40))  # 1 x N
    if kind == 1:
        return int(rng.integers(1, 40)), 1  # N x 1
    if kind == 2:
        return int(WB * rng.integers(1, 8)), int(WB * rng.integers(1, 8))  # multiples of P
    return int(rng.integers(1, 100)), int(rng.integers(1, 60))


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def random_layers_with_stalls(dut):
    rng = np.random.default_rng(SEED)
    bench = await start(dut, stall=0.3)
    for case in range(N_CASES):
        n, m = random_shape(rng)
        n_slots = int(rng.integers(1, LORA_SLOTS + 1))
        slots = rng.choice(LORA_SLOTS, n_slots, replace=False)
        ranks = {int(s): int(rng.choice([1, LORA_MAX_RANK, int(rng.integers(1, LORA_MAX_RANK))]))
                 for s in slots}
        act = [Activation.IDENTITY, Activation.RELU, Activation.LUT][case % 3]
        layer, adapters, x, p = random_case(rng, n, m, ranks, act)
        enabled = int(rng.integers(0, 1 << LORA_SLOTS))
        out = await bench.run(layer, adapters, x, p, enabled)
        want = golden.lora_layer(x[None], p[None], layer, adapters, enabled)[0]
        assert out["done"] and np.array_equal(out["y"], want), (case, n, m, ranks, enabled)
        on = [ad.rank for s, ad in adapters.items() if enabled >> s & 1]
        assert out["macs"] == golden.macs(layer, on)


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def cycles_without_stalls_match_the_formula(dut):
    rng = np.random.default_rng(SEED + 1)
    bench = await start(dut)
    for n, m, ranks in ((64, 64, {0: 8}), (33, 17, {1: 5, 2: 16}), (8, 8, {})):
        layer, adapters, x, p = random_case(rng, n, m, ranks)
        out = await bench.run(layer, adapters, x, p, 0b1111)
        assert np.array_equal(out["y"], golden.lora_layer(x[None], p[None], layer, adapters,
                                                          0b1111)[0])
        assert out["cycles"] == golden.cycles(layer, list(ranks.values()), P)


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def disabled_adapter_and_zero_b_add_nothing(dut):
    """Properties, over random layers: disabling an adapter gives exactly the layer
    without it; an adapter whose B is zero adds exactly zero."""
    rng = np.random.default_rng(SEED + 2)
    bench = await start(dut, stall=0.2, seed=SEED + 2)
    for _ in range(6):
        n, m = random_shape(rng)
        layer, adapters, x, p = random_case(rng, n, m, {0: 4, 1: 7})
        without = (await bench.run(layer, {0: adapters[0]}, x, p, 0b1))["y"]
        assert np.array_equal((await bench.run(layer, adapters, x, p, 0b01))["y"], without)
        zero_b = golden.Adapter(adapters[1].a, np.zeros_like(adapters[1].b), adapters[1].q_mult,
                                adapters[1].q_shift, adapters[1].scale_mult)
        out = await bench.run(layer, {0: adapters[0], 1: zero_b}, x, p, 0b11)
        assert np.array_equal(out["y"], without)


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def layer_passes_read_adapters_once(dut):
    """A layer over several vectors, loaded once: the first START reads A and B from the
    SRAM, the others from the cache (no SRAM word); ragged shapes, all four slots, random
    stalls on x, p and y; outputs and every counter equal the golden model's."""
    rng = np.random.default_rng(SEED + 3)
    bench = await start(dut, stall=0.3, seed=SEED + 3)
    for n, m, ranks in ((20, 32, {0: 6, 1: 6, 3: 6}), (13, 5, {0: 3, 1: 16, 2: 1, 3: 9}),
                        (32, 20, {2: 6})):
        layer, adapters, x, p = random_case(rng, n, m, ranks, Activation.LUT)
        enabled = sum(1 << s for s in ranks)
        on = [ad.rank for s, ad in sorted(adapters.items())]
        for k in range(4):
            if k:
                x = rng.integers(-128, 128, n).astype(np.int8)
                p = rng.integers(-2**16, 2**16, m).astype(np.int32)
            out = await bench.run(layer, adapters, x, p, enabled, load=k == 0)
            want = golden.lora_layer(x[None], p[None], layer, adapters, enabled)[0]
            assert out["done"] and np.array_equal(out["y"], want), (n, m, k)
            assert out["sram_reads"] == golden.sram_reads(layer, on, P, hit=k > 0), (n, m, k)
            assert out["cache_reads"] == golden.cache_reads(layer, on, P, hit=k > 0)
            assert out["macs"] == golden.macs(layer, on)


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def overlapped_runs(dut):
    """Layer passes with each START taken as busy falls (issue 20), under random stalls on
    x, p and y (a y stall holds the last run's outputs and the next run's A words behind
    them): every output and counter equal the golden model's."""
    rng = np.random.default_rng(SEED + 4)
    bench = await start(dut, stall=0.4, seed=SEED + 4)
    for n, m, ranks, act in ((8, 3, {1: 2}, Activation.LUT),
                             (19, 7, {0: 16, 1: 9, 2: 3, 3: 12}, Activation.RELU),
                             (16, 5, {}, Activation.IDENTITY)):
        layer, adapters, _, _ = random_case(rng, n, m, ranks, act)
        xs = [rng.integers(-128, 128, n).astype(np.int8) for _ in range(5)]
        ps = [rng.integers(-2**16, 2**16, m).astype(np.int32) for _ in range(5)]
        enabled = sum(1 << s for s in ranks)
        on = [ad.rank for s, ad in sorted(adapters.items())]
        runs = await bench.run_pass(layer, adapters, xs, ps, enabled)
        for k, (out, x, p) in enumerate(zip(runs, xs, ps, strict=True)):
            want = golden.lora_layer(x[None], p[None], layer, adapters, enabled)[0]
            assert np.array_equal(out["y"], want), (n, m, k)
            assert out["sram_reads"] == golden.sram_reads(layer, on, P, hit=k > 0), (n, m, k)
            assert out["cache_reads"] == golden.cache_reads(layer, on, P, hit=k > 0)
            assert out["macs"] == golden.macs(layer, on)


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def overlapped_cycles_match_the_formula(dut):
    """Without stalls, each START as busy falls: every run's cycles are golden.cycles, and
    done rises only after the last run (the others were overlapped by the next START)."""
    rng = np.random.default_rng(SEED + 5)
    bench = await start(dut)
    layer, adapters, _, _ = random_case(rng, 64, 64, {0: 8})
    xs = [rng.integers(-128, 128, 64).astype(np.int8) for _ in range(4)]
    ps = [rng.integers(-2**16, 2**16, 64).astype(np.int32) for _ in range(4)]
    runs = await bench.run_pass(layer, adapters, xs, ps, 0b1)
    assert [r["cycles"] for r in runs] == [golden.cycles(layer, [8], P, hit=k > 0)
                                          for k in range(4)]
    assert [r["done"] for r in runs] == [0, 0, 0, 0] and int(bench.dut.done.value)
    for out, x, p in zip(runs, xs, ps, strict=True):
        assert np.array_equal(out["y"], golden.lora_layer(x[None], p[None], layer, adapters,
                                                          0b1)[0])
