"""The crossbar controller alone under amaranth.sim, on a small build (8x8 macros),
with the SRAM and the macros played by the testbench: the FSMs' results and
cycle counts against the golden model."""

from dataclasses import replace

import numpy as np
import pytest

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.xbar import INPUT_BITS, MacroOp, XbarOp
from rmlora.hw.xbar_controller import XbarController
from rmlora.sim.reram import MacroArray, MacroConfig
from rmlora.sw.golden import xbar as golden

from .sim_helpers import MacroResponder, run_sim

P = ChipParams(sram_depth=64, macro_rows=8, macro_cols=8, n_macros=4)
WB = P.sram_word_bytes
CFG = MacroConfig(rows=8, cols=8)


def run_controller(desc, sram_init: bytes, macros: MacroArray, max_cycles=200_000,
                   stream_p=False, p_stall=0.0):
    """Run one descriptor (placed at SRAM word 0); return (sram bytes, outputs, cycles).
    `stream_p`: results leave on the p stream, refused with probability `p_stall`."""
    return run_commands([(desc, sram_init)], macros, max_cycles, stream_p, p_stall)[0]


def run_commands(commands, macros: MacroArray, max_cycles=200_000, stream_p=False,
                 p_stall=0.0):
    """Run descriptors one after the other on one controller, each (desc, sram_init) with
    its descriptor at SRAM word 0 and its sram_init written over the SRAM before its
    START; per command (sram bytes after it, its outputs). The counters are cleared
    before each START."""
    dut = XbarController(P)
    stalls = np.random.default_rng(7)
    sram = bytearray(P.sram_bytes)
    results = []

    async def tb(ctx):
        ctx.set(dut.desc_addr, 0)
        ctx.set(dut.stream_p, stream_p)
        for desc, sram_init in commands:
            sram[:len(sram_init)] = sram_init
            sram[:16] = desc.pack()
            streamed, errors = [], []
            ctx.set(dut.clear_perf, 1)
            await ctx.tick()
            ctx.set(dut.clear_perf, 0)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            port = MacroResponder(dut, macros)
            for cycle in range(max_cycles):
                r_en, addr = ctx.get(dut.sram.r_en), ctx.get(dut.sram.addr)
                w_en, w_data = ctx.get(dut.sram.w_en), ctx.get(dut.sram.w_data)
                for b in range(WB):
                    if w_en >> b & 1:
                        sram[addr * WB + b] = w_data >> 8 * b & 0xFF
                port.step(ctx, cycle)
                if ctx.get(dut.error.valid):
                    errors.append(ErrorCode(ctx.get(dut.error.code)))
                p_ready = bool(stalls.random() >= p_stall)
                ctx.set(dut.p.ready, p_ready)
                if p_ready and ctx.get(dut.p.valid):
                    streamed.append(ctx.get(dut.p.p))
                await ctx.tick()
                if r_en:  # one-cycle read latency
                    word = int.from_bytes(sram[addr * WB:(addr + 1) * WB], "little")
                    ctx.set(dut.sram.r_data, word)
                if not ctx.get(dut.busy):
                    break
            else:
                raise AssertionError("controller never finished")
            results.append((bytes(sram), dict(
                failed=ctx.get(dut.failed), refused=ctx.get(dut.refused),
                done=ctx.get(dut.done), perf_cycles=ctx.get(dut.perf_cycles),
                pulses=ctx.get(dut.perf_pulses), adc=ctx.get(dut.perf_adc),
                mvm=ctx.get(dut.perf_mvm), p=streamed, errors=errors)))

    run_sim(dut, tb)
    return results


def twins(**cfg):
    config = MacroConfig(rows=8, cols=8, **cfg)
    return MacroArray(P, config, seed=3), MacroArray(P, config, seed=3)


def test_program_block_matches_golden():
    chip, gold = twins()
    w = np.random.default_rng(0).integers(-127, 128, (3, 4))
    targets = chip[1].weight_to_target_code(w)
    desc = golden.Descriptor(XbarOp.PROGRAM, 3, 4, src=4, dst=8, macro=1, row0=2, col0=3,
                             tolerance=CFG.verify_tolerance_codes, max_pulses=40)
    sram, out = run_controller(desc, bytes(4 * WB) + targets.astype(np.uint8).tobytes(), chip)
    want, failed, counts = golden.program(desc, targets, gold)
    got = np.frombuffer(sram[8 * WB: 8 * WB + 12], dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(got, want)
    assert (out["failed"], out["pulses"], out["perf_cycles"]) == (failed, counts.pulses,
                                                                   counts.cycles)
    assert out["done"] and not out["refused"]


@pytest.mark.parametrize("n_in, n_out, row0, col0", [(5, 3, 2, 1), (8, 8, 0, 0), (13, 11, 0, 0)])
def test_mvm_matches_golden(n_in, n_out, row0, col0):
    chip, gold = twins(read_noise_rel=0.01)
    rng = np.random.default_rng(n_in)
    w = rng.integers(-127, 128, (16, 16))
    for m in range(4):
        for arr in (chip, gold):
            tile = w[(m // 2) * 8:(m // 2) * 8 + 8, (m % 2) * 8:(m % 2) * 8 + 8]
            arr[m].program_statistical(tile)
    x = rng.integers(-128, 128, n_in).astype(np.int8)
    desc = golden.Descriptor(XbarOp.MVM, n_in, n_out, src=4, dst=8, row0=row0, col0=col0,
                             gain_shift=2)
    sram, out = run_controller(desc, bytes(4 * WB) + x.tobytes(), chip)
    want, counts = golden.mvm(desc, x[None, :], gold)
    got = np.frombuffer(sram[8 * WB: 8 * WB + 4 * n_out], dtype="<i4")
    assert np.array_equal(got, want[0])
    assert (out["perf_cycles"], out["adc"]) == (counts.cycles, counts.adc)


@pytest.mark.parametrize("p_stall", [0.0, 0.4])
def test_mvm_streams_results_in_sequencer_mode(p_stall):
    """stream_p: the same results leave on `p`, one a cycle, and the SRAM is untouched."""
    chip, gold = twins(read_noise_rel=0.01)
    rng = np.random.default_rng(5)
    for m in range(4):
        w = rng.integers(-127, 128, (8, 8))
        chip[m].program_statistical(w)
        gold[m].program_statistical(w)
    x = rng.integers(-128, 128, 13).astype(np.int8)
    desc = golden.Descriptor(XbarOp.MVM, 13, 11, src=4, dst=8, gain_shift=2)
    init = bytes(4 * WB) + x.tobytes()
    sram, out = run_controller(desc, init, chip, stream_p=True, p_stall=p_stall)
    want, counts = golden.mvm(desc, x[None, :], gold)
    assert out["p"] == want[0].tolist()
    assert sram == desc.pack() + init[16:] + bytes(len(sram) - len(init))
    if p_stall == 0.0:
        assert out["perf_cycles"] == golden.mvm_cycles(desc, P, stream_p=True)
    else:
        assert out["perf_cycles"] > golden.mvm_cycles(desc, P, stream_p=True)


@pytest.mark.parametrize("reads_log2", [1, 2, 3])
@pytest.mark.parametrize("stream_p", [False, True])
def test_mvm_with_repeated_reads_matches_golden(reads_log2, stream_p):
    """2**reads_log2 conversions per plane, read noise on: every conversion's code
    (keyed by its operation index, the issue order) is summed and the mean leaves, as
    the golden model has it; cycles, conversions and ADC counts n times one read's."""
    chip, gold = twins(read_noise_rel=0.01)
    rng = np.random.default_rng(11 + reads_log2)
    for m in range(4):
        w = rng.integers(-127, 128, (8, 8))
        chip[m].program_statistical(w)
        gold[m].program_statistical(w)
    x = rng.integers(-128, 128, (2, 13)).astype(np.int8)
    desc = golden.Descriptor(XbarOp.MVM, 13, 11, src=4, dst=8, gain_shift=3,
                             reads_log2=reads_log2)
    want, counts = golden.mvm(desc, x, gold)
    one_read = golden.mvm_cycles(replace(desc, reads_log2=0), P, stream_p=stream_p)
    for k in range(2):  # two commands in a row: the second's op indices follow the first's
        sram, out = run_controller(desc, bytes(4 * WB) + x[k].tobytes(), chip,
                                   stream_p=stream_p)
        got = out["p"] if stream_p else np.frombuffer(sram[8 * WB: 8 * WB + 44], dtype="<i4")
        assert np.array_equal(got, want[k])
        assert out["perf_cycles"] == golden.mvm_cycles(desc, P, stream_p=stream_p)
        assert (out["adc"], out["mvm"]) == (counts.adc // 2, counts.mvm // 2)
    # 4 tiles of 8 planes, each n reads of macro_op_cycles more than one read
    extra = 4 * INPUT_BITS * ((1 << reads_log2) - 1) * timing.macro_op_cycles(MacroOp.MVM)
    assert out["perf_cycles"] == one_read + extra
    assert np.array_equal(chip.mvm_ops, gold.mvm_ops)


def test_mvm_reads_above_gain_shift_refused():
    """reads_log2 > gain_shift: the mean would not be a shift; refused before any
    macro is touched, the same code from the RTL, the golden model and the host check
    (it comes after the macro range check and before the SRAM range check in both)."""
    chip, gold = twins()
    desc = golden.Descriptor(XbarOp.MVM, 8, 8, src=4, dst=8, gain_shift=1, reads_log2=2)
    assert golden.check(desc, P) is ErrorCode.XBAR_READS
    _, out = run_controller(desc, b"", chip)
    assert out["refused"] and not out["done"] and (out["adc"], out["mvm"]) == (0, 0)
    assert out["errors"] == [ErrorCode.XBAR_READS]
    with pytest.raises(ValueError, match="XBAR_READS"):
        golden.mvm(desc, np.zeros((1, 8), dtype=np.int8), gold)
    for other, code in ((replace(desc, src=P.sram_depth), ErrorCode.XBAR_READS),
                        (replace(desc, macro=P.n_macros), ErrorCode.XBAR_MACRO_RANGE)):
        assert golden.check(other, P) is code
        assert run_controller(other, b"", chip)[1]["errors"] == [code]
    ok = replace(desc, gain_shift=2)  # reads_log2 == gain_shift runs
    assert golden.check(ok, P) is ErrorCode.NONE
    assert golden.check(replace(desc, op=XbarOp.PROGRAM), P) is ErrorCode.NONE  # MVM only


def test_refused_descriptor_reports_and_returns_to_idle():
    chip, _ = twins()
    desc = golden.Descriptor(XbarOp.MVM, 8, 8, src=4, dst=8, row0=3)  # does not fit
    assert golden.check(desc, P) is ErrorCode.XBAR_TILE
    _, out = run_controller(desc, b"", chip)
    assert out["refused"] and not out["done"] and out["adc"] == 0
