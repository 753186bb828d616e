"""The crossbar golden model's spike mode (issue 21) on its own: exactness on ideal
macros, the counts and the cycle formula, the refusal of inputs other than 0 and 1,
and the descriptor bit (the RTL is compared with it in tests/hw/test_xbar_spikes.py)."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.xbar import INPUT_BITS, MacroOp, XbarOp
from rmlora.sim.reram import MacroArray, MacroConfig
from rmlora.sw.golden import xbar as golden
from rmlora.sw.golden.perf import conversions

P = ChipParams()
IDEAL = MacroConfig(read_noise_rel=0.0, drift_us_per_decade=0.0)
PLANE = timing.macro_op_cycles(MacroOp.MVM)


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 40), reads_log2=st.integers(0, 3),
       seed=st.integers(0, 2**16))
def test_ideal_macro_gives_the_exact_product_of_spikes(n_in, n_out, reads_log2, seed):
    """No noise, exact conductances, weights in multiples of 2**gain_shift whose sums the
    ADC holds (|sum| <= 40 * 3 < 128 codes): spike mode computes x . W exactly, the int8
    mode's result, with one plane per vector: 1/8 of its conversions, all counted."""
    rng = np.random.default_rng(seed)
    gain_shift = 3
    row0, col0 = int(rng.integers(0, 129 - n_in)), int(rng.integers(0, 129 - n_out))
    w = rng.integers(-3, 4, (n_in, n_out)) << gain_shift
    x = rng.integers(0, 2, (5, n_in)).astype(np.int8)
    spikes = golden.Descriptor(XbarOp.MVM, n_in, n_out, src=0, dst=0, row0=row0, col0=col0,
                               gain_shift=gain_shift, reads_log2=reads_log2, spikes=1)
    got = {}
    for desc in (spikes, replace(spikes, spikes=0)):
        macros = MacroArray(P, IDEAL, seed=seed)
        macros[0].program_ideal(w, row0, col0)
        got[desc.spikes] = golden.mvm(desc, x, macros), macros.activity()
    (acc, counts), activity = got[1]
    (int8_acc, int8_counts), _ = got[0]
    assert np.array_equal(acc, x.astype(np.int64) @ w) and np.array_equal(acc, int8_acc)
    reads = 1 << reads_log2
    assert (counts.mvm, counts.adc) == (5 * reads, 5 * reads * n_out)
    assert (int8_counts.mvm, int8_counts.adc) == (INPUT_BITS * counts.mvm,
                                                  INPUT_BITS * counts.adc)
    # what the macros converted and what they skipped (vectors with no spike) add up
    empty = int(np.count_nonzero(~x.any(axis=1))) * reads
    assert (activity["mvm_ops"], activity["empty_planes"]) == (counts.mvm - empty, empty)
    assert activity["adc_conversions"] + activity["adc_skipped"] == counts.adc


def test_a_tiled_layer_of_spikes_is_exact():
    """250 x 200 on 2 x 2 tiles of ideal cells (weights -1, 0, 1: a tile's column sums
    stay within the ADC's codes): exact, and the macros' operation counters advance by
    one plane per tile and vector."""
    rng = np.random.default_rng(3)
    w = rng.integers(-1, 2, (250, 200))
    macros = MacroArray(P, IDEAL, seed=3)
    R, C = P.macro_rows, P.macro_cols
    for rt in range(2):
        for ct in range(2):
            macros[rt * 2 + ct].program_ideal(w[rt * R:(rt + 1) * R, ct * C:(ct + 1) * C])
    x = rng.integers(0, 2, (4, 250)).astype(np.int8)
    desc = golden.Descriptor(XbarOp.MVM, 250, 200, src=0, dst=0, spikes=1)
    acc, _ = golden.mvm(desc, x, macros)
    assert np.array_equal(acc, x.astype(np.int64) @ w)
    assert list(macros.mvm_ops) == [4] * 4


def test_spike_mvm_cycles_by_hand():
    # one tile, 16 inputs: 7 prologue (fetch, CHECK_CODE, CHECK); 1 M_TILE, 16/8 + 1
    # M_LOAD, one plane (1 + L), 40/8 result words; no S_SCAN (one row tile)
    desc = golden.Descriptor(XbarOp.MVM, 16, 10, src=0, dst=0, spikes=1)
    assert golden.mvm_cycles(desc, P) == 7 + 1 + 3 + PLANE + 5
    assert golden.spike_refused_cycles(desc, P) == 7 + 1 + 3
    # 300 inputs on 3 row tiles: S_SCAN reads the 172 beyond the first, 22 words, first
    scan = timing.stream_read_cycles(-(-300 // 8) - 128 // 8)
    assert scan == 23
    desc = golden.Descriptor(XbarOp.MVM, 300, 200, src=0, dst=0, spikes=1)
    int8 = replace(desc, spikes=0)
    for stream_p in (False, True):
        for fetch in (False, True):
            saved = 6 * (INPUT_BITS - 1) * PLANE  # 6 tiles, 7 planes fewer each
            assert (golden.mvm_cycles(int8, P, stream_p, fetch)
                    - golden.mvm_cycles(desc, P, stream_p, fetch)) == saved - scan
    assert golden.spike_refused_cycles(desc, P) == 7 + scan + 1 + 17
    assert golden.spike_refused_cycles(desc, P, fetch=False) == 2 + scan + 1 + 17
    assert golden.mvm_sram_reads(desc, P) == golden.mvm_sram_reads(int8, P) + 22


def test_the_416_by_256_layer_in_both_modes():
    """The README's figures: a 416 x 256 layer (4 x 2 tiles: a build of 8 macros or more)
    takes 1,593 cycles with int8 inputs and 454 with spikes (results to the SRAM), 62
    when refused."""
    desc = golden.Descriptor(XbarOp.MVM, 416, 256, src=0, dst=0, spikes=1)
    int8 = replace(desc, spikes=0)
    assert golden.check(desc, ChipParams(n_macros=8)) is ErrorCode.NONE
    assert (golden.mvm_cycles(int8, P), golden.mvm_cycles(desc, P)) == (1593, 454)
    assert (golden.mvm_cycles(int8, P, stream_p=True),
            golden.mvm_cycles(desc, P, stream_p=True)) == (1721, 582)
    assert golden.mvm_ops_per_macro(desc, P) == {m: 1 for m in range(8)}
    # refused: the fetch and checks, S_SCAN (288 inputs, 36 words), M_TILE, the first load
    assert golden.spike_refused_cycles(desc, P) == 7 + 37 + 1 + 17 == 62


@pytest.mark.parametrize("reads_log2", [0, 3])
def test_conversions_count_one_plane(reads_log2):
    n = 1 << reads_log2
    desc = golden.Descriptor(XbarOp.MVM, 300, 200, src=0, dst=0, gain_shift=3,
                             reads_log2=reads_log2, spikes=1)
    assert conversions(desc, P, 3) == {"PERF_MVM": 3 * 6 * n, "PERF_ADC": 3 * n * 3 * 200}
    assert conversions(replace(desc, spikes=0), P, 3) == {
        "PERF_MVM": 3 * 6 * n * INPUT_BITS, "PERF_ADC": 3 * n * 3 * 200 * INPUT_BITS}


@pytest.mark.parametrize("value", [2, -1, -128, 127])
def test_inputs_other_than_0_and_1_are_refused(value):
    """refused_inputs names the vectors the chip refuses; mvm refuses a batch with one of
    them, naming the vector, the input and its value, and leaves the macros' counters as
    they were. int8 mode takes the same values."""
    macros = MacroArray(P, seed=0)
    desc = golden.Descriptor(XbarOp.MVM, 20, 4, src=0, dst=0, spikes=1)
    x = np.zeros((3, 20), dtype=np.int8)
    x[2, 13] = value
    assert list(golden.refused_inputs(desc, x)) == [False, False, True]
    assert not golden.refused_inputs(replace(desc, spikes=0), x).any()
    with pytest.raises(ValueError, match=f"XBAR_SPIKE_INPUT.*vector 2, input 13 is {value}"):
        golden.mvm(desc, x, macros)
    assert not macros.mvm_ops.any() and macros.activity()["empty_planes"] == 0
    golden.mvm(replace(desc, spikes=0), x, macros)  # int8 mode runs


def test_the_spikes_bit_is_bit_111_and_zero_by_default():
    """Appended after reads_log2: a descriptor without it packs to the bytes it packed to
    before (bit 111 clear); spikes = 1 sets that bit only; 2 does not fit."""
    desc = golden.Descriptor(XbarOp.MVM, 300, 200, src=5, dst=9, macro=1, gain_shift=3,
                             reads_log2=3)
    plain, spiking = (int.from_bytes(d.pack(), "little")
                      for d in (desc, replace(desc, spikes=1)))
    assert plain >> 111 == 0 and spiking == plain | 1 << 111
    with pytest.raises(ValueError, match="spikes=2"):
        replace(desc, spikes=2).pack()
