import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.sim.reram import (
    CellStatics,
    MacroConfig,
    Polarity,
    ReramMacro,
    weight_to_target_code,
    write_verify_cell,
)

SMALL = MacroConfig(rows=16, cols=16)


def _interior_targets(cfg, n, seed):
    # Interior weights: at the window's edges the verify code saturates (0 or 255),
    # so the tolerance band there is one-sided; those cells are tested separately.
    w = np.random.default_rng(seed).integers(-cfg.w_max + 8, cfg.w_max - 7, size=n)
    return weight_to_target_code(cfg, w)


def test_write_verify_converges_in_5_to_20_pulses_typically():
    # 128 fresh cells, random interior targets. Expectations from [Wan22] ED Fig. 3f:
    # typical 5-20 pulses. Bounds: median and mean in [5, 20], >= 80 % of cells in
    # [3, 25] (some targets lie next to the initial state and need few pulses).
    macro = ReramMacro(SMALL, seed=2)
    targets = _interior_targets(SMALL, 128, seed=2)
    tol = SMALL.verify_tolerance_codes
    res = [write_verify_cell(macro, i // 16, i % 16, int(t)) for i, t in enumerate(targets)]
    pulses = np.array([r.pulses for r in res])
    assert all(r.converged for r in res)
    assert all(abs(r.final_code - t) <= tol for r, t in zip(res, targets, strict=True))
    assert 5 <= np.median(pulses) <= 20 and 5 <= pulses.mean() <= 20
    assert np.mean((pulses >= 3) & (pulses <= 25)) >= 0.8
    assert macro.counters.pulses == pulses.sum()
    assert macro.counters.verify_reads == sum(r.verify_reads for r in res)
    # Landing error: band of +-(tol + 0.5) LSB = 1.06 uS plus verify noise (1 % of G,
    # <= 0.8 uS) at the accepting read: |error| < 3.5 uS covers > 4 sigma of noise.
    g = macro.conductance().reshape(-1)[:128]
    target_us = SMALL.g_min_us + targets * SMALL.verify_lsb_us
    assert np.max(np.abs(g - target_us)) < 3.5


def test_stuck_cells_never_move_and_never_converge():
    cfg = MacroConfig(rows=16, cols=16, sa0_rate=0.1, sa1_rate=0.1)
    macro = ReramMacro(cfg, seed=4)
    stuck = macro.statics.stuck
    sa0 = np.argwhere(stuck == CellStatics.SA0)
    sa1 = np.argwhere(stuck == CellStatics.SA1)
    assert len(sa0) > 5 and len(sa1) > 5  # 10 % of 256 each: ~26 expected
    before = macro.conductance()
    assert np.all(before[stuck == CellStatics.SA0] == cfg.g_min_us)
    assert np.all(before[stuck == CellStatics.SA1] == cfg.g_max_us)
    top, bottom = weight_to_target_code(cfg, 100), weight_to_target_code(cfg, -100)
    for (r, c), target in [(sa0[0], top), (sa1[0], bottom)]:
        res = write_verify_cell(macro, int(r), int(c), target, max_pulses=30)
        assert not res.converged and res.pulses == 30
    macro.pulse(sa0[:, 0], sa0[:, 1], Polarity.SET, 15, 15)
    macro.program_statistical(np.full((16, 16), 50))
    after = macro.conductance()
    assert np.array_equal(after[stuck != 0], before[stuck != 0])


def test_programming_order_does_not_change_any_cell():
    cells = [(r, c) for r in range(4) for c in range(6)]
    codes = _interior_targets(SMALL, 24, seed=3)
    targets = {cell: int(t) for cell, t in zip(cells, codes, strict=True)}
    results = []
    for order in (cells, cells[::-1], sorted(cells, key=lambda rc: (rc[1], -rc[0]))):
        macro = ReramMacro(SMALL, seed=9, macro_id=1)
        res = {cell: write_verify_cell(macro, *cell, targets[cell]) for cell in order}
        results.append((macro.conductance(), res))
    for g, res in results[1:]:
        assert np.array_equal(g, results[0][0]) and res == results[0][1]


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_vectorised_pulse_and_verify_equal_cell_by_cell(seed):
    rng = np.random.default_rng(seed)
    cfg = MacroConfig(rows=8, cols=8, program_error_std_us=3.0, sa0_rate=0.05)
    rows, cols = np.divmod(rng.permutation(64)[:10], 8)
    pol, amp, wid = (rng.integers(0, hi, size=10) for hi in (2, 16, 16))
    a, b = ReramMacro(cfg, seed=seed), ReramMacro(cfg, seed=seed)
    for _ in range(3):
        codes = a.verify_read(rows, cols)
        a.pulse(rows, cols, pol, amp, wid)
        for i in range(10):
            assert b.verify_read(int(rows[i]), int(cols[i])) == codes[i]
            b.pulse(int(rows[i]), int(cols[i]), Polarity(pol[i]), int(amp[i]), int(wid[i]))
    assert np.array_equal(a.conductance(), b.conductance())
    assert a.counters.pulses == b.counters.pulses == 30


def test_statistical_programming_residual_and_program_error():
    cfg = MacroConfig(program_error_std_us=0.0)
    w = np.random.default_rng(0).integers(-cfg.w_max, cfg.w_max + 1, size=(128, 128))
    target = cfg.g_mid_us + w * cfg.g_unit_us
    band = (cfg.verify_tolerance_codes + 0.5) * cfg.verify_lsb_us
    macro = ReramMacro(cfg, seed=1)
    macro.program_statistical(w)
    err = macro.conductance() - target
    assert np.abs(err).max() <= band
    # Uniform residual: std band/sqrt(3); 16384 cells give a standard error ~0.7 %.
    assert abs(err.std() / (band / np.sqrt(3)) - 1) < 0.03
    assert macro.counters.cells_programmed_statistical == w.size
    noisy = ReramMacro(MacroConfig(program_error_std_us=5.0), seed=1)
    noisy.program_statistical(w)
    err = noisy.conductance() - target
    # Clipping at g_floor/g_ceiling touches only the far tails (>3 sigma): 3 % bound.
    expected = np.sqrt(5.0**2 + band**2 / 3)
    assert abs(err.std() / expected - 1) < 0.03


def test_drift_grows_with_log_time_and_keeps_its_direction():
    cfg = MacroConfig(read_noise_rel=0.0, drift_us_per_decade=0.5)
    macro = ReramMacro(cfg, seed=12)
    macro.program_ideal(np.zeros((128, 128), dtype=int))
    g0 = macro.conductance()
    shifts = []
    for t in (9.0, 99.0, 9999.0):  # 1, 2 and 4 decades of log10(1 + t / 1 s)
        macro.set_time(t)
        shifts.append(macro.conductance() - g0)
    # std of the shift = 0.5 uS * decades; 16384 cells, standard error ~0.6 %: 3 % bound.
    for shift, decades in zip(shifts, (1, 2, 4), strict=True):
        assert abs(shift.std() / (0.5 * decades) - 1) < 0.03
    assert np.array_equal(np.sign(shifts[0]), np.sign(shifts[2]))
    macro.set_time(5.0)  # any time after the last programming can be queried
    assert np.allclose(macro.conductance() - g0, shifts[0] * np.log10(6.0), atol=1e-12)
    macro.program_ideal(np.zeros((4, 4), dtype=int))
    with pytest.raises(ValueError, match="seconds"):
        macro.set_time(4.0)


def test_same_seed_same_device_other_seed_other_device():
    a, b, c = (ReramMacro(SMALL, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.conductance(), b.conductance())
    assert not np.array_equal(a.conductance(), c.conductance())
    assert not np.array_equal(a.conductance(), ReramMacro(SMALL, seed=1, macro_id=1)
                              .conductance())


@pytest.mark.parametrize("call, match", [
    (lambda m: m.pulse(16, 0, 1, 0, 0), "row"),
    (lambda m: m.pulse(0, -1, 1, 0, 0), "col"),
    (lambda m: m.pulse(0, 0, 2, 0, 0), "polarity"),
    (lambda m: m.pulse(0, 0, 1, 16, 0), "amplitude"),
    (lambda m: m.pulse(0, 0, 1, 0, 16), "width"),
    (lambda m: m.pulse([0, 0], [1, 1], 1, 0, 0), "twice"),
    (lambda m: m.verify_read(0.0, 0), "row"),
    (lambda m: m.program_ideal(np.full((2, 2), 128)), "weights"),
    (lambda m: m.program_ideal(np.zeros((2, 2))), "weights"),
    (lambda m: m.program_statistical(np.zeros(4, dtype=int)), "2-D"),
    (lambda m: m.program_statistical(np.zeros((4, 4), dtype=int), row0=13), "fit"),
    (lambda m: m.program_ideal(np.zeros((4, 4), dtype=int), col0=16), "col0"),
    (lambda m: m.weight_to_target_code(-128), "weight"),
    (lambda m: m.set_time(float("nan")), "seconds"),
])
def test_bad_programming_arguments_name_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call(ReramMacro(SMALL))


@pytest.mark.parametrize("kwargs, match", [
    ({"rows": 0}, "rows"), ({"cols": 5000}, "cols"), ({"g_max_us": 10.0}, "g_max_us"),
    ({"weight_bits": 8.0}, "weight_bits"), ({"read_noise_rel": -0.1}, "read_noise_rel"),
    ({"sa0_rate": 0.6, "sa1_rate": 0.5}, "sa1_rate"), ({"adc_bits": 1}, "adc_bits"),
    ({"verify_tolerance_us": 0.01}, "verify_tolerance_us"),
])
def test_config_errors_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MacroConfig(**kwargs)


def test_weight_mapping_helpers():
    cfg = MacroConfig()
    assert cfg.w_max == 127 and cfg.g_mid_us == 50.0
    assert weight_to_target_code(cfg, 0) == 128  # 30 uS / (60/255 uS) = 127.5 -> 128
    assert weight_to_target_code(cfg, -127) == 0 and weight_to_target_code(cfg, 127) == 255
    assert cfg.verify_tolerance_codes == 4  # 1.0 uS / 0.235 uS
