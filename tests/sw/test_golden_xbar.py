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
