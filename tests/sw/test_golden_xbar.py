"""The crossbar golden model on its own: exactness on ideal macros, batching,
descriptor checks and the cycle formula (the RTL is compared with it elsewhere)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.xbar import MACRO_LATENCY, MacroOp, XbarOp
from rmlora.sim.reram import MacroArray, MacroConfig, weight_to_target_us
from rmlora.sw.golden import xbar as golden

P = ChipParams()
IDEAL = MacroConfig(read_noise_rel=0.0, drift_us_per_decade=0.0)


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_ideal_macro_gives_the_exact_integer_matmul(n_in, n_out, seed):
    """No noise, exact conductances and no ADC clipping (|partial sum| <= 3 * 40 < 128):
    the chip computes x @ W exactly, whatever the shape and placement."""
    rng = np.random.default_rng(seed)
    macros = MacroArray(P, IDEAL, seed=seed)
    row0, col0 = int(rng.integers(0, 129 - n_in)), int(rng.integers(0, 129 - n_out))
    w = rng.integers(-3, 4, (n_in, n_out))
    macros[0].program_ideal(w, row0, col0)
    x = rng.integers(-128, 128, (5, n_in)).astype(np.int8)
    desc = golden.Descriptor(XbarOp.MVM, n_in, n_out, src=0, dst=0, row0=row0, col0=col0)
    acc, counts = golden.mvm(desc, x, macros)
    assert np.array_equal(acc, x.astype(np.int64) @ w)
    assert counts.adc == 5 * 8 * n_out and counts.mvm == 5 * 8


def test_batched_equals_one_input_at_a_time():
    rng = np.random.default_rng(0)
    twins = MacroArray(P, seed=4), MacroArray(P, seed=4)
    w = rng.integers(-127, 128, (P.macro_rows + 20, 30))
    for arr in twins:
        arr[0].program_statistical(w[:P.macro_rows])
        arr[1].program_statistical(w[P.macro_rows:])
    x = rng.integers(-128, 128, (6, w.shape[0])).astype(np.int8)
    desc = golden.Descriptor(XbarOp.MVM, w.shape[0], 30, src=0, dst=0, gain_shift=5)
    batched, _ = golden.mvm(desc, x, twins[0])
    single = np.concatenate([golden.mvm(desc, x[i:i + 1], twins[1])[0] for i in range(6)])
    assert np.array_equal(batched, single)
    assert np.array_equal(twins[0].mvm_ops, twins[1].mvm_ops)


def test_mvm_cycles_by_hand():
    # 1 + 2*2 + 1 + 1 prologue (fetch, CHECK_CODE, CHECK); one tile: 1 + (16/8 + 1)
    # + 8*(1 + L) + 40/8 words
    desc = golden.Descriptor(XbarOp.MVM, 16, 10, src=0, dst=0)
    want = 7 + 1 + 3 + 8 * (1 + MACRO_LATENCY[MacroOp.MVM]) + 5
    assert golden.mvm_cycles(desc, P) == want


@pytest.mark.parametrize("reads_log2", [0, 1, 2, 3])
def test_mvm_cycles_and_conversions_with_reads(reads_log2):
    """n = 2**reads_log2 reads per plane: the MVM part of each row tile takes n times
    as long (no cycle between reads but the macro operation's own), and every count of
    conversions is n times one read's."""
    from rmlora.sw.golden.perf import conversions

    n = 1 << reads_log2
    one = golden.Descriptor(XbarOp.MVM, 300, 200, src=0, dst=0, gain_shift=3)
    desc = golden.Descriptor(XbarOp.MVM, 300, 200, src=0, dst=0, gain_shift=3,
                             reads_log2=reads_log2)
    tiles = 3 * 2  # row tiles x column tiles
    extra = tiles * 8 * (n - 1) * (1 + MACRO_LATENCY[MacroOp.MVM])
    for stream_p in (False, True):
        assert golden.mvm_cycles(desc, P, stream_p) == golden.mvm_cycles(one, P, stream_p) + extra
    assert golden.mvm_ops_per_macro(desc, P) == {m: 8 * n for m in range(tiles)}
    assert conversions(desc, P, 3) == {"PERF_MVM": 3 * tiles * 8 * n,
                                       "PERF_ADC": 3 * 8 * n * 3 * 200}


def mvm_at_reads(config, seed, w, x, gain_shift, reads_log2):
    """x @ w on a macro programmed ideally with w, each plane read 2**reads_log2 times:
    (acc, counts, the macros)."""
    macros = MacroArray(P, config, seed=seed)
    macros[0].program_ideal(w)
    desc = golden.Descriptor(XbarOp.MVM, *w.shape, src=0, dst=0, gain_shift=gain_shift,
                             reads_log2=reads_log2)
    return (*golden.mvm(desc, x, macros), macros)


def test_ideal_macro_with_reads_is_still_exact():
    """No noise: every read of a plane gives the same code, so the mean of n is it:
    weights in multiples of 4 = 2**gain_shift (no rounding, |sums| <= 30 * 12 / 4 <
    128) give x @ W exactly; the result equals one read's, and the counts are 4x."""
    rng = np.random.default_rng(2)
    w = 4 * rng.integers(-3, 4, (30, 20))
    x = rng.integers(-128, 128, (4, 30)).astype(np.int8)
    got = {}
    for reads_log2 in (0, 2):
        *got[reads_log2], macros = mvm_at_reads(IDEAL, 2, w, x, 2, reads_log2)
        assert macros.mvm_ops[0] == 4 * 8 * (1 << reads_log2)
    (acc, counts), (one, one_counts) = got[2], got[0]
    assert np.array_equal(acc, x.astype(np.int64) @ w) and np.array_equal(acc, one)
    assert (counts.mvm, counts.adc) == (4 * one_counts.mvm, 4 * one_counts.adc)


def test_four_reads_halve_the_rms_error():
    """Where the analogue result meets the ideal one: ideally programmed cells (no
    programming error, drift or stuck cells), so the error against x @ W is read noise
    (1 % of each cell's G, independent per conversion) and ADC rounding. At gain shift
    3 the LSB is 8 weight units and the noise of a plane driving ~64 rows of ~G_mid
    cells ~17 units (about 2 LSB), so the noise dithers the rounding: each read's error
    is nearly independent of the next's, and the mean of 4 has half the std. The
    ratio's sampling error is under 1 % (2 x 12,800 errors, 128 columns x 100
    vectors); what keeps it from exactly 0.5 is the rounding's small correlation
    between reads of the same signal, a few per cent at this noise. So 0.5 +- 0.05."""
    config = MacroConfig(read_noise_rel=0.01, drift_us_per_decade=0.0, sa0_rate=0.0,
                         sa1_rate=0.0)
    rng = np.random.default_rng(9)
    w = rng.integers(-15, 16, (128, 128))  # small weights: no plane's sum reaches the clip
    x = rng.integers(-128, 128, (100, 128)).astype(np.int8)
    ideal = x.astype(np.int64) @ w
    rms = {}
    for reads_log2 in (0, 2):
        acc, _, _ = mvm_at_reads(config, 9, w, x, 3, reads_log2)
        rms[reads_log2] = float(np.sqrt(np.mean((acc - ideal).astype(np.float64) ** 2)))
    ratio = rms[2] / rms[0]
    print(f"RMS error: 1 read {rms[0]:.1f}, 4 reads {rms[2]:.1f}, ratio {ratio:.3f}")
    assert 0.45 < ratio < 0.55, rms


def test_program_converges_and_counts():
    macros = MacroArray(P, seed=5)
    cfg = macros[0].config
    w = np.random.default_rng(5).integers(-100, 101, (6, 7))
    targets = macros[0].weight_to_target_code(w)
    desc = golden.Descriptor(XbarOp.PROGRAM, 6, 7, src=0, dst=0, row0=3, col0=9,
                             tolerance=cfg.verify_tolerance_codes)
    result, failed, counts = golden.program(desc, targets, macros)
    assert failed == 0 and result.shape == (6, 7)
    assert counts.pulses == int(result.sum()) and counts.verify == counts.pulses + 42
    # A cell is accepted on one noisy verify read (1 % of G, up to 0.8 uS std), so its
    # true conductance is within the tolerance plus a few read-noise sigmas of target;
    # the noise table stops at about 3.5 sigma.
    true = macros[0].conductance()[3:9, 9:16]
    bound = cfg.verify_tolerance_us + 0.5 * cfg.verify_lsb_us + 3.6 * 0.01 * cfg.g_max_us
    assert np.max(np.abs(true - weight_to_target_us(cfg, w))) <= bound


@pytest.mark.parametrize("desc, code", [
    (golden.Descriptor(XbarOp.MVM, 0, 3, src=0, dst=0), ErrorCode.XBAR_EMPTY),
    (golden.Descriptor(XbarOp.MVM, 8, 8, src=0, dst=0, col0=121), ErrorCode.XBAR_TILE),
    (golden.Descriptor(XbarOp.MVM, 129, 8, src=0, dst=0, row0=1), ErrorCode.XBAR_TILE),
    (golden.Descriptor(XbarOp.MVM, 8, 129, src=0, dst=0, macro=3), ErrorCode.XBAR_MACRO_RANGE),
    (golden.Descriptor(XbarOp.PROGRAM, 8, 8, src=0, dst=0, macro=4), ErrorCode.XBAR_MACRO_RANGE),
    (golden.Descriptor(XbarOp.PROGRAM, 8, 8, src=0, dst=0, max_pulses=0),
     ErrorCode.XBAR_MAX_PULSES),
    (golden.Descriptor(XbarOp.MVM, 9, 8, src=P.sram_depth - 1, dst=0),
     ErrorCode.XBAR_SRAM_RANGE),
    (golden.Descriptor(XbarOp.MVM, 8, 8, src=0, dst=0), ErrorCode.NONE),
    (golden.Descriptor(XbarOp.MVM, 8, 8, src=0, dst=0, gain_shift=2, reads_log2=3),
     ErrorCode.XBAR_READS),
    (golden.Descriptor(XbarOp.MVM, 8, 8, src=0, dst=0, gain_shift=3, reads_log2=3),
     ErrorCode.NONE),
    # after the macro range, before the SRAM range (the RTL's order)
    (golden.Descriptor(XbarOp.MVM, 8, 129, src=0, dst=0, macro=3, reads_log2=1),
     ErrorCode.XBAR_MACRO_RANGE),
    (golden.Descriptor(XbarOp.MVM, 9, 8, src=P.sram_depth - 1, dst=0, reads_log2=1),
     ErrorCode.XBAR_READS),
    (golden.Descriptor(XbarOp.PROGRAM, 8, 8, src=0, dst=0, reads_log2=3), ErrorCode.NONE),
])
def test_descriptor_checks(desc, code):
    assert golden.check(desc, P) is code


def test_host_refuses_bad_input_with_a_clear_error():
    macros = MacroArray(P, seed=0)
    desc = golden.Descriptor(XbarOp.MVM, 4, 4, src=0, dst=0)
    with pytest.raises(ValueError, match=r"inputs shape \(2, 5\)"):
        golden.mvm(desc, np.zeros((2, 5), dtype=np.int8), macros)
    with pytest.raises(ValueError, match="int8"):
        golden.mvm(desc, np.full((1, 4), 200), macros)
    with pytest.raises(ValueError, match="XBAR_TILE"):
        golden.mvm(golden.Descriptor(XbarOp.MVM, 4, 4, src=0, dst=0, row0=126),
                   np.zeros((1, 4), dtype=np.int8), macros)
    with pytest.raises(ValueError, match="descriptor field out of range"):
        golden.Descriptor(XbarOp.MVM, 1 << 16, 4, src=0, dst=0).pack()
    with pytest.raises(ValueError, match="weight"):
        macros[0].weight_to_target_code(np.array([128]))
