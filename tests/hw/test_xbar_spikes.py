"""The crossbar controller's spike mode (issue 21) under amaranth.sim, on the small
build of test_xbar_controller (8x8 macros, 64-bit SRAM words): one bit plane driven and
converted, x . W exactly for x of 0 and 1, and inputs of other values refused before
any macro operation; results, cycles and every counter against the golden model."""

from dataclasses import replace

import numpy as np
import pytest

from rmlora.contract import ErrorCode, timing
from rmlora.contract.xbar import INPUT_BITS, MacroOp, XbarOp
from rmlora.sim.reram import MacroArray, MacroConfig
from rmlora.sw.golden import xbar as golden

from .test_xbar_controller import WB, P, run_commands, run_controller, twins

SRC, DST = 4, 12  # SRAM words of the inputs and the results
IDEAL = MacroConfig(rows=8, cols=8, read_noise_rel=0.0, drift_us_per_decade=0.0)
ACTIVITY = ("mvm_ops", "adc_conversions", "empty_planes", "adc_skipped", "row_activations")


def programmed(config: MacroConfig, w: np.ndarray, ideal: bool = False):
    """Two macro arrays with the same seed, the 16x16 weights w on their 2x2 tiles."""
    pair = MacroArray(P, config, seed=3), MacroArray(P, config, seed=3)
    for m in range(P.n_macros):
        tile = w[(m // 2) * 8:(m // 2) * 8 + 8, (m % 2) * 8:(m % 2) * 8 + 8]
        for arr in pair:
            (arr[m].program_ideal if ideal else arr[m].program_statistical)(tile)
    return pair


def activity(macros: MacroArray) -> dict:
    return {k: v for k, v in macros.activity().items() if k in ACTIVITY}


def tiles(desc) -> int:
    return -(-desc.n_rows // P.macro_rows) * -(-desc.n_cols // P.macro_cols)


# (n_rows, n_cols, row0, col0, macro): one tile placed inside a macro, a whole macro,
# 2 x 2 tiles, 4 row tiles of one column (the last of 6 rows), 2 column tiles
SHAPES = [(5, 3, 2, 1, 3), (8, 8, 0, 0, 0), (13, 11, 0, 0, 0), (30, 8, 0, 0, 0),
          (7, 16, 0, 0, 2)]


@pytest.mark.parametrize("n_rows, n_cols, row0, col0, macro", SHAPES)
@pytest.mark.parametrize("reads_log2", [0, 2])
def test_spike_mvm_matches_golden(n_rows, n_cols, row0, col0, macro, reads_log2):
    """Read noise on, two commands in a row: every result, the cycles, PERF_ADC,
    PERF_MVM, the macros' operation indices and their activity counters (conversions,
    empty planes and the conversions they skipped, rows driven) equal the golden
    model's; one plane per tile, each read 2**reads_log2 times."""
    rng = np.random.default_rng(n_rows * 31 + reads_log2)
    chip, gold = programmed(MacroConfig(rows=8, cols=8, read_noise_rel=0.01),
                            rng.integers(-127, 128, (16, 16)))
    x = rng.integers(0, 2, (2, n_rows)).astype(np.int8)
    x[1, :] = 0  # an empty plane: asked for, not converted
    desc = golden.Descriptor(XbarOp.MVM, n_rows, n_cols, src=SRC, dst=DST, macro=macro,
                             row0=row0, col0=col0, gain_shift=3, reads_log2=reads_log2,
                             spikes=1)
    want, counts = golden.mvm(desc, x, gold)
    runs = run_commands([(desc, bytes(SRC * WB) + x[k].tobytes()) for k in range(2)], chip)
    reads = 1 << reads_log2
    for k, (sram, out) in enumerate(runs):
        got = np.frombuffer(sram[DST * WB: DST * WB + 4 * n_cols], dtype="<i4")
        assert np.array_equal(got, want[k])
        assert out["done"] and not out["refused"] and out["errors"] == []
        assert out["perf_cycles"] == golden.mvm_cycles(desc, P)
        assert (out["adc"], out["mvm"]) == (counts.adc // 2, counts.mvm // 2)
        assert out["mvm"] == tiles(desc) * reads  # one plane per tile, not INPUT_BITS
    assert counts.cycles == 2 * golden.mvm_cycles(desc, P)
    assert np.array_equal(chip.mvm_ops, gold.mvm_ops)
    assert activity(chip) == activity(gold)
    # a tile's plane is empty where no input of its row tile spiked (all of x[1])
    empty = sum(not x[k, r:r + 8].any() for k in range(2) for r in range(0, n_rows, 8))
    assert activity(chip)["empty_planes"] == empty * -(-n_cols // 8) * reads


@pytest.mark.parametrize("p_stall", [0.0, 0.4])
def test_spike_mvm_streams_results_in_sequencer_mode(p_stall):
    """stream_p, 2 x 2 tiles: the results leave on `p` (refused at random with
    probability p_stall); the cycles are the golden count when `p` is always ready."""
    rng = np.random.default_rng(17)
    chip, gold = programmed(MacroConfig(rows=8, cols=8, read_noise_rel=0.01),
                            rng.integers(-127, 128, (16, 16)))
    x = rng.integers(0, 2, 13).astype(np.int8)
    desc = golden.Descriptor(XbarOp.MVM, 13, 11, src=SRC, dst=DST, gain_shift=2, spikes=1)
    want, _ = golden.mvm(desc, x[None, :], gold)
    init = bytes(SRC * WB) + x.tobytes()
    sram, out = run_controller(desc, init, chip, stream_p=True, p_stall=p_stall)
    assert out["p"] == want[0].tolist()
    assert sram == desc.pack() + init[16:] + bytes(len(sram) - len(init))
    cycles = golden.mvm_cycles(desc, P, stream_p=True)
    assert out["perf_cycles"] == cycles if p_stall == 0.0 else out["perf_cycles"] > cycles


@pytest.mark.parametrize("reads_log2", [0, 1, 3])
def test_spike_mvm_is_the_exact_product_in_a_plane_s_time(reads_log2):
    """Ideal cells, weights that the ADC takes exactly (multiples of 2**gain_shift, sums
    within its range): spike mode computes x . W exactly, the int8 mode's result for the
    same x, in INPUT_BITS - 1 planes' conversions fewer per tile, less the S_SCAN read of
    the inputs beyond the first row tile."""
    gain_shift = 3
    rng = np.random.default_rng(reads_log2)
    w = rng.integers(-15, 16, (16, 16)) << gain_shift  # |8 rows' sum| <= 120 codes
    chip, _ = programmed(IDEAL, w, ideal=True)
    x = rng.integers(0, 2, 13).astype(np.int8)
    spikes = golden.Descriptor(XbarOp.MVM, 13, 11, src=SRC, dst=DST, gain_shift=gain_shift,
                               reads_log2=reads_log2, spikes=1)
    int8 = replace(spikes, spikes=0)
    init = bytes(SRC * WB) + x.tobytes()
    (s_sram, s_out), (i_sram, i_out) = run_commands([(spikes, init), (int8, init)], chip)
    result = slice(DST * WB, DST * WB + 44)
    assert np.array_equal(np.frombuffer(s_sram[result], dtype="<i4"),
                          x.astype(np.int64) @ w[:13, :11])
    assert s_sram[result] == i_sram[result]
    saved = tiles(spikes) * (INPUT_BITS - 1) * (1 << reads_log2) * \
        timing.macro_op_cycles(MacroOp.MVM)
    scan = timing.spike_scan_cycles(-(-13 // WB) - P.macro_rows // WB)
    assert i_out["perf_cycles"] - s_out["perf_cycles"] == saved - scan
    assert i_out["mvm"] == INPUT_BITS * s_out["mvm"]


# where a bad input sits: the first input; the last of the first row tile (checked as it
# is loaded); the first of the next row tile and the layer's last input (read by S_SCAN)
POSITIONS = [0, 7, 8, 29]


@pytest.mark.parametrize("value", [2, -1, -128, 127])
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("stream_p", [False, True])
def test_a_spike_input_neither_0_nor_1_is_refused_before_any_macro_request(
        value, position, stream_p):
    """A 30-input layer on 4 row tiles: wherever the bad input is, the MVM is refused with
    XBAR_SPIKE_INPUT at the end of its first load (the golden cycles), before any macro
    request (no conversion counted, the macros' operation counters untouched) and
    before any result is written or sent; the golden model refuses it too. The
    controller is idle after it, and the next command runs."""
    chip, gold = twins(read_noise_rel=0.01)
    rng = np.random.default_rng(position)
    x = rng.integers(0, 2, 30).astype(np.int8)
    x[position] = value
    desc = golden.Descriptor(XbarOp.MVM, 30, 8, src=SRC, dst=DST, gain_shift=2, spikes=1)
    init = bytes(SRC * WB) + x.tobytes()
    init += bytes(DST * WB - len(init)) + bytes(range(1, 33))  # dst, not to be written
    good = x.copy()
    good[position] = 1
    good_init = init[:SRC * WB] + good.tobytes() + init[SRC * WB + 30:]
    (sram, out), (after_sram, after) = run_commands([(desc, init), (desc, good_init)], chip,
                                                    stream_p=stream_p)
    assert out["errors"] == [ErrorCode.XBAR_SPIKE_INPUT]
    assert out["refused"] and not out["done"]
    assert out["perf_cycles"] == golden.spike_refused_cycles(desc, P)
    assert (out["adc"], out["mvm"], out["p"]) == (0, 0, [])
    assert sram == desc.pack() + init[16:] + bytes(len(sram) - len(init))
    with pytest.raises(ValueError, match=f"XBAR_SPIKE_INPUT.*input {position} is {value}"):
        golden.mvm(desc, x[None, :], gold)
    assert list(gold.mvm_ops) == [0] * P.n_macros
    # the refusal left nothing behind: the next command equals a first one
    want, counts = golden.mvm(desc, good[None, :], gold)
    got = after["p"] if stream_p else np.frombuffer(after_sram[DST * WB: DST * WB + 32],
                                                    dtype="<i4")
    assert np.array_equal(got, want[0])
    assert after["done"] and not after["refused"] and after["errors"] == []
    assert after["perf_cycles"] == golden.mvm_cycles(desc, P, stream_p=stream_p)
    assert after["adc"] == counts.adc
    assert np.array_equal(chip.mvm_ops, gold.mvm_ops)


def test_bytes_after_the_inputs_are_not_checked():
    """A 13-input layer on 2 row tiles: the bytes after each tile's inputs in their SRAM
    word (the first tile's is full; the second ends at byte 5 of its word) may hold
    anything; the MVM runs on the 13 inputs, and so does one that is checked by its
    first load only (5 inputs, one tile)."""
    chip, gold = twins(read_noise_rel=0.01)
    x = np.random.default_rng(2).integers(0, 2, 13).astype(np.int8)
    tail = bytes([2, 0x80, 0xFF])
    for n in (13, 5):
        desc = golden.Descriptor(XbarOp.MVM, n, 4, src=SRC, dst=DST, gain_shift=2, spikes=1)
        init = bytes(SRC * WB) + x[:n].tobytes() + tail
        sram, out = run_controller(desc, init, chip)
        want, _ = golden.mvm(desc, x[None, :n], gold)
        assert out["done"] and out["errors"] == []
        assert np.array_equal(np.frombuffer(sram[DST * WB: DST * WB + 16], dtype="<i4"),
                              want[0])
