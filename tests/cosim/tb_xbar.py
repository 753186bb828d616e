"""cocotb testbench of the analogue path: crossbar controller + Python ReRAM macros.

Two MacroArrays with the same seed: one answers the chip's macro port (through
MacroPortDriver), the other runs under the golden model. Every result byte,
accumulator and performance counter of the RTL run is compared with `==`.
"""

import os

import cocotb
import numpy as np
from cocotb.triggers import Timer

from rmlora.contract import REG, ChipParams, ErrorCode
from rmlora.contract.xbar import XbarOp
from rmlora.sim.host_bus import CLOCK_PERIOD_NS, XBAR_PERF, start_chip
from rmlora.sim.macro_driver import MacroPortDriver
from rmlora.sim.reram import MacroArray, MacroConfig
from rmlora.sw.golden import xbar as golden

SEED = int(os.environ.get("RMLORA_SEED", "1"))
PARAMS = ChipParams()
WB = PARAMS.sram_word_bytes
DESC_AT = 0  # SRAM word address of the descriptor
PERF = XBAR_PERF


def macro_config(**overrides):
    return MacroConfig(rows=PARAMS.macro_rows, cols=PARAMS.macro_cols, **overrides)


class Bench:
    """The chip with macros attached, and a golden twin of those macros."""

    def __init__(self, bus, config: MacroConfig, seed: int):
        self.bus = bus
        self.chip_macros = MacroArray(PARAMS, config, seed)
        self.gold_macros = MacroArray(PARAMS, config, seed)
        self.driver = MacroPortDriver(bus.dut, self.chip_macros)

    async def run(self, desc: golden.Descriptor, poll_cycles: int = 200) -> dict:
        return await self.bus.run_xbar(desc, DESC_AT, poll_cycles)


async def start(dut, config=None, seed=SEED) -> Bench:
    bus = await start_chip(dut)
    return Bench(bus, config or macro_config(), seed)


def assert_counts(status: dict, counts: golden.XbarCounts):
    for k in PERF:
        assert status[k] == getattr(counts, k), f"{k}: RTL {status[k]}, golden {getattr(counts, k)}"


@cocotb.test(timeout_time=500, timeout_unit="ms")
async def write_verify_then_mvm(dut):
    """Program a block by write-verify, then run MVMs on it, extremes included."""
    rng = np.random.default_rng(SEED)
    bench = await start(dut)
    cfg = bench.chip_macros[0].config
    n_in, n_out, row0, col0 = 12, 10, 5, 3
    weights = rng.integers(-cfg.w_max, cfg.w_max + 1, (n_in, n_out))
    targets = bench.chip_macros[0].weight_to_target_code(weights)
    target_at, result_at = 8, 64
    await bench.bus.write_sram(target_at * WB, targets.astype(np.uint8).tobytes())
    desc = golden.Descriptor(XbarOp.PROGRAM, n_in, n_out, src=target_at, dst=result_at,
                             macro=0, row0=row0, col0=col0,
                             tolerance=cfg.verify_tolerance_codes, max_pulses=60)
    status = await bench.run(desc)
    want, failed, counts = golden.program(desc, targets, bench.gold_macros)
    got = np.frombuffer(await bench.bus.read_sram(result_at * WB, _round4(n_in * n_out)),
                        dtype=np.uint8)[:n_in * n_out].reshape(n_in, n_out)
    assert status["DONE"] and not status["ERROR"]
    assert np.array_equal(got, want), (got, want)
    assert await bench.bus.read_reg("XB_FAILED") == failed
    assert_counts(status, counts)
    assert np.array_equal(bench.chip_macros[0].conductance(), bench.gold_macros[0].conductance())

    x_at, acc_at = 200, 300
    inputs = np.concatenate([
        np.full((1, n_in), -128), np.full((1, n_in), 127), np.zeros((1, n_in)),
        rng.integers(-128, 128, (3, n_in))]).astype(np.int8)
    for gain in (0, 3):
        desc = golden.Descriptor(XbarOp.MVM, n_in, n_out, src=x_at, dst=acc_at,
                                 macro=0, row0=row0, col0=col0, gain_shift=gain)
        for x in inputs:
            await bench.bus.write_sram(x_at * WB, _pad4(x.tobytes()))
            status = await bench.run(desc)
            want, counts = golden.mvm(desc, x[None, :], bench.gold_macros)
            got = np.frombuffer(await bench.bus.read_sram(acc_at * WB, 4 * n_out), dtype="<i4")
            assert np.array_equal(got, want[0]), (x, got, want[0])
            assert_counts(status, counts)
            assert counts.cycles == golden.mvm_cycles(desc, PARAMS)
    ideal = inputs.astype(np.int64) @ weights
    dut._log.info("analogue vs ideal (gain 3, last input): %s vs %s", want[0], ideal[-1])


def program_two_by_two(bench, rng) -> tuple[int, int]:
    """Random weights of a layer of 2 x 2 tiles, put on macros 0-3 of the chip's and the
    golden model's macros alike (backdoor: the same state); its (n_in, n_out)."""
    R, C = PARAMS.macro_rows, PARAMS.macro_cols
    n_in, n_out = R + 37, C + 5
    w_max = bench.chip_macros[0].config.w_max
    weights = rng.integers(-w_max, w_max + 1, (n_in, n_out))
    for rt in range(2):
        for ct in range(2):
            tile = weights[rt * R:(rt + 1) * R, ct * C:(ct + 1) * C]
            for macros in (bench.chip_macros, bench.gold_macros):
                macros[rt * 2 + ct].program_statistical(tile)
    return n_in, n_out


async def run_and_compare(bench, desc, x) -> tuple[dict, np.ndarray]:
    """x written to the descriptor's src, the MVM run; its int32 results at dst and its
    counters equal the golden model's. Returns (status, the golden results)."""
    await bench.bus.write_sram(desc.src * WB, _pad4(x.tobytes()))
    status = await bench.run(desc)
    want, counts = golden.mvm(desc, x[None, :], bench.gold_macros)
    got = np.frombuffer(await bench.bus.read_sram(desc.dst * WB, 4 * desc.n_cols),
                        dtype="<i4")
    assert np.array_equal(got, want[0])
    assert_counts(status, counts)
    return status, want


@cocotb.test(timeout_time=500, timeout_unit="ms")
async def tiled_layer_over_four_macros(dut):
    """A layer larger than a macro (2 x 2 tiles) sums row tiles into one accumulator."""
    rng = np.random.default_rng(SEED + 1)
    bench = await start(dut)
    n_in, n_out = program_two_by_two(bench, rng)
    x_at, acc_at = 16, 64
    desc = golden.Descriptor(XbarOp.MVM, n_in, n_out, src=x_at, dst=acc_at, gain_shift=4)
    for _ in range(2):
        x = rng.integers(-128, 128, n_in).astype(np.int8)
        await run_and_compare(bench, desc, x)


@cocotb.test(timeout_time=500, timeout_unit="ms")
async def spike_mode_layer_over_four_macros(dut):
    """Spike mode (issue 21) on 2 x 2 tiles, two reads per plane, read noise on: the
    results and counters equal the golden model's, one plane converted per tile. Then an
    input of 2 in the second row tile: refused with XBAR_SPIKE_INPUT before any macro
    operation (the macro port saw no request, the results stay), and the controller runs
    the next command."""
    rng = np.random.default_rng(SEED + 3)
    bench = await start(dut, macro_config(read_noise_rel=0.01))
    n_in, n_out = program_two_by_two(bench, rng)
    x_at, acc_at = 16, 64
    desc = golden.Descriptor(XbarOp.MVM, n_in, n_out, src=x_at, dst=acc_at, gain_shift=4,
                             reads_log2=1, spikes=1)
    x = rng.integers(0, 2, n_in).astype(np.int8)
    status, want = await run_and_compare(bench, desc, x)
    assert status["DONE"] and not status["ERROR"]
    assert status["mvm"] == 4 * 2  # 4 tiles, one plane read twice
    assert np.array_equal(bench.chip_macros.mvm_ops, bench.gold_macros.mvm_ops)

    bad = x.copy()
    bad[PARAMS.macro_rows + 3] = 2  # in the second row tile
    requests = bench.driver.transactions
    await bench.bus.write_sram(x_at * WB, _pad4(bad.tobytes()))
    status = await bench.run(desc)
    assert status["ERROR"] and not status["DONE"]
    assert await bench.bus.read_reg("ERR_CODE") == ErrorCode.XBAR_SPIKE_INPUT.value
    assert await bench.bus.read_reg("ERR_ADDR") == DESC_AT
    assert (status["adc"], status["mvm"]) == (0, 0)
    assert status["cycles"] == golden.spike_refused_cycles(desc, PARAMS)
    assert bench.driver.transactions == requests
    assert np.array_equal(np.frombuffer(await bench.bus.read_sram(acc_at * WB, 4 * n_out),
                                        dtype="<i4"), want[0])
    await bench.bus.write_reg("CTRL", REG["CTRL"].pack(CLEAR_ERR=1))
    status, _ = await run_and_compare(bench, desc, x)
    assert status["DONE"] and not status["ERROR"]


@cocotb.test(timeout_time=500, timeout_unit="ms")
async def stuck_cells_are_reported_not_looped_on(dut):
    bench = await start(dut, macro_config(sa0_rate=0.05, sa1_rate=0.05), SEED + 2)
    cfg = bench.chip_macros[0].config
    n_in, n_out = 8, 8
    weights = np.random.default_rng(SEED + 2).integers(-cfg.w_max, cfg.w_max + 1, (n_in, n_out))
    targets = bench.chip_macros[0].weight_to_target_code(weights)
    await bench.bus.write_sram(8 * WB, targets.astype(np.uint8).tobytes())
    desc = golden.Descriptor(XbarOp.PROGRAM, n_in, n_out, src=8, dst=32, max_pulses=20,
                             tolerance=cfg.verify_tolerance_codes)
    status = await bench.run(desc)
    want, failed, counts = golden.program(desc, targets, bench.gold_macros)
    got = np.frombuffer(await bench.bus.read_sram(32 * WB, n_in * n_out), dtype=np.uint8)
    assert failed > 0, "the fault rates should have produced stuck cells"
    assert np.array_equal(got.reshape(n_in, n_out), want)
    assert await bench.bus.read_reg("XB_FAILED") == failed
    assert_counts(status, counts)


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def start_while_busy_is_refused_and_the_command_runs_on(dut):
    bench = await start(dut)
    cfg = bench.chip_macros[0].config
    targets = bench.chip_macros[0].weight_to_target_code(np.zeros((4, 4), dtype=int))
    await bench.bus.write_sram(8 * WB, targets.astype(np.uint8).tobytes())
    desc = golden.Descriptor(XbarOp.PROGRAM, 4, 4, src=8, dst=32,
                             tolerance=cfg.verify_tolerance_codes)
    await bench.bus.write_sram(DESC_AT * WB, desc.pack())
    await bench.bus.write_reg("XB_DESC", DESC_AT)
    await bench.bus.write_reg("XB_CTRL", REG["XB_CTRL"].pack(START=1))
    await bench.bus.write_reg("XB_CTRL", REG["XB_CTRL"].pack(START=1))  # while busy
    assert await bench.bus.read_reg("ERR_CODE") == ErrorCode.XBAR_BUSY.value
    while REG["XB_STATUS"].unpack(await bench.bus.read_reg("XB_STATUS"))["BUSY"]:
        await Timer(200 * CLOCK_PERIOD_NS, unit="ns")
    want, failed, _ = golden.program(desc, targets, bench.gold_macros)
    got = np.frombuffer(await bench.bus.read_sram(32 * WB, 16), dtype=np.uint8)
    assert np.array_equal(got.reshape(4, 4), want)


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def bad_descriptors_are_refused(dut):
    bench = await start(dut)
    R, n = PARAMS.macro_rows, PARAMS.n_macros
    cases = [
        golden.Descriptor(XbarOp.MVM, 0, 4, src=8, dst=16),
        golden.Descriptor(XbarOp.PROGRAM, 4, 0, src=8, dst=16),
        golden.Descriptor(XbarOp.MVM, 8, 8, src=8, dst=16, row0=R - 4),
        golden.Descriptor(XbarOp.MVM, R + 1, 8, src=8, dst=16, row0=1),
        golden.Descriptor(XbarOp.MVM, R * n + 1, 8, src=8, dst=16),
        golden.Descriptor(XbarOp.MVM, 8, 8, src=8, dst=16, macro=n),
        golden.Descriptor(XbarOp.PROGRAM, 4, 4, src=8, dst=16, max_pulses=0),
        golden.Descriptor(XbarOp.MVM, 16, 16, src=PARAMS.sram_depth - 1, dst=16),
        golden.Descriptor(XbarOp.PROGRAM, 16, 16, src=8, dst=PARAMS.sram_depth - 2),
    ]
    for desc in cases:
        code = golden.check(desc, PARAMS)
        assert code is not ErrorCode.NONE
        await bench.bus.write_reg("CTRL", REG["CTRL"].pack(CLEAR_ERR=1))
        status = await bench.run(desc)
        assert status["ERROR"] and not status["DONE"], desc
        assert await bench.bus.read_reg("ERR_CODE") == code.value, (desc, code)
        assert await bench.bus.read_reg("ERR_ADDR") == DESC_AT
        assert status["pulses"] == status["mvm"] == 0
    # the bad opcode (3) cannot be built with the enum: write its raw bits
    raw = bytearray(golden.Descriptor(XbarOp.MVM, 4, 4, src=8, dst=16).pack())
    raw[0] |= 3
    await bench.bus.write_reg("CTRL", REG["CTRL"].pack(CLEAR_ERR=1))
    await bench.bus.write_sram(DESC_AT * WB, bytes(raw))
    await bench.bus.write_reg("XB_CTRL", REG["XB_CTRL"].pack(START=1))
    await Timer(50 * CLOCK_PERIOD_NS, unit="ns")
    assert await bench.bus.read_reg("ERR_CODE") == ErrorCode.XBAR_OPCODE.value
    # and a good one still runs afterwards
    await bench.bus.write_sram(8 * WB, bytes(8))
    status = await bench.run(golden.Descriptor(XbarOp.MVM, 4, 4, src=8, dst=16))
    assert status["DONE"] and not status["ERROR"]


def _round4(n: int) -> int:
    return -(-n // 4) * 4


def _pad4(b: bytes) -> bytes:
    return b + bytes(_round4(len(b)) - len(b))
