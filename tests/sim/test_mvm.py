import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.sim.reram import GRID_PER_WEIGHT_UNIT, MacroConfig, ReramMacro, gaussian
from rmlora.sim.reram.counter_rng import mix_with

from .helpers import programmed_macro


@st.composite
def mvm_calls(draw):
    rows, cols = 64, 48
    row0 = draw(st.integers(0, rows - 1))
    n_rows = draw(st.integers(1, rows - row0))
    col0 = draw(st.integers(0, cols - 1))
    n_cols = draw(st.integers(1, cols - col0))
    b = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    planes = np.random.default_rng(seed).integers(0, 2, size=(b, n_rows))
    return planes, row0, col0, n_cols, draw(st.integers(0, 6)), draw(st.integers(0, 2**40))


MACRO, _ = programmed_macro()


@given(mvm_calls())
@settings(max_examples=60, deadline=None)
def test_batched_equals_one_plane_at_a_time(call):
    planes, row0, col0, n_cols, gain_shift, op = call
    batched = MACRO.mvm(planes, row0, col0, n_cols, gain_shift, op)
    assert batched.dtype == np.int32 and batched.shape == (len(planes), n_cols)
    single = np.concatenate([MACRO.mvm(planes[b:b + 1], row0, col0, n_cols, gain_shift, op + b)
                             for b in range(len(planes))])
    assert np.array_equal(batched, single)


@given(mvm_calls())
@settings(max_examples=20, deadline=None)
def test_explicit_op_index_array_equals_consecutive_ops(call):
    planes, row0, col0, n_cols, gain_shift, op = call
    ops = op + np.arange(len(planes), dtype=np.uint64)
    assert np.array_equal(MACRO.mvm(planes, row0, col0, n_cols, gain_shift, ops),
                          MACRO.mvm(planes, row0, col0, n_cols, gain_shift, op))
    shuffled = ops[::-1].copy()
    assert np.array_equal(MACRO.mvm(planes, row0, col0, n_cols, gain_shift, shuffled)[::-1],
                          MACRO.mvm(planes[::-1], row0, col0, n_cols, gain_shift, op))


@given(mvm_calls(), st.data())
@settings(max_examples=40, deadline=None)
def test_any_column_subset_gives_the_same_codes(call, data):
    planes, row0, col0, n_cols, gain_shift, op = call
    full = MACRO.mvm(planes, row0, col0, n_cols, gain_shift, op)
    c = data.draw(st.integers(0, n_cols - 1))
    k = data.draw(st.integers(1, n_cols - c))
    part = MACRO.mvm(planes, row0, col0 + c, k, gain_shift, op)
    assert np.array_equal(part, full[:, c:c + k])


def test_same_seed_same_codes_other_seed_other_codes():
    planes = np.random.default_rng(0).integers(0, 2, size=(20, 64))
    a = programmed_macro(seed=5)[0].mvm(planes, 0, 0, 48, 0, 100)
    b = programmed_macro(seed=5)[0].mvm(planes, 0, 0, 48, 0, 100)
    c = programmed_macro(seed=6)[0].mvm(planes, 0, 0, 48, 0, 100)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@given(st.integers(0, 2**32 - 1), st.integers(0, 5), st.integers(1, 128))
@settings(max_examples=40, deadline=None)
def test_ideal_programming_without_noise_is_the_integer_mvm(seed, gain_shift, n_rows):
    # Tolerance: none. On the g_unit/1024 grid an ideal cell is exactly w*1024 steps
    # from the reference and the ADC LSB is 1024 * 2**gain_shift steps, so the code is
    # rint(x.w / 2**gain_shift) exactly (ties to even, like np.rint).
    cfg = MacroConfig(read_noise_rel=0.0)
    macro = ReramMacro(cfg, seed=seed)
    rng = np.random.default_rng(seed)
    w = rng.integers(-cfg.w_max, cfg.w_max + 1, size=(cfg.rows, cfg.cols))
    macro.program_ideal(w)
    x = rng.integers(-1, 2, size=(1, n_rows))  # rows at -V_read, 0 V, +V_read
    codes = macro.mvm(x, 0, 0, cfg.cols, gain_shift, 0)
    expected = np.clip(np.rint(x @ w[:n_rows] / 2.0**gain_shift), cfg.adc_min, cfg.adc_max)
    assert np.array_equal(codes, expected)


def test_read_noise_statistics():
    # All weights 0 (G = G_mid = 50 uS), 64 active rows: noise std = 1% * sqrt(64) *
    # 50 uS = 4 uS = 16.9 ADC LSBs at gain_shift 0 (ADC rounding adds var 1/12, which
    # is negligible), clipping at 7.5 sigma is negligible. 4000 conversions: standard
    # error of the std is 1.1 %, so 5 % is a > 4 sigma bound; mean within 4 SE.
    cfg = MacroConfig(rows=64, cols=16)
    macro = ReramMacro(cfg, seed=11)
    macro.program_ideal(np.zeros((64, 16), dtype=int))
    codes = macro.mvm(np.ones((4000, 64), dtype=np.int8), 0, 0, 16, 0, 0).astype(float)
    expected = 0.01 * 8 * cfg.g_mid_us / cfg.g_unit_us
    assert abs(codes.std() / expected - 1) < 0.05
    assert abs(codes.mean()) < 4 * expected / np.sqrt(codes.size)
    # Different columns and conversions are uncorrelated (|r| < 4/sqrt(4000)).
    r = np.corrcoef(codes[:, 0], codes[:, 1])[0, 1]
    assert abs(r) < 4 / np.sqrt(4000)
    # A row driven at -V_read reads its cell just as noisily (same bound).
    negative = macro.mvm(-np.ones((4000, 64), dtype=np.int8), 0, 0, 16, 0, 4000)
    assert abs(negative.astype(float).std() / expected - 1) < 0.05


def test_ir_drop_attenuates_far_cells_more():
    cfg = MacroConfig(read_noise_rel=0.0, ir_drop_alpha=0.2)
    macro = ReramMacro(cfg)
    macro.program_ideal(np.full((cfg.rows, cfg.cols), 60))
    near = macro.mvm(np.eye(1, cfg.rows, 0, dtype=int), 0, 0, 1, 0, 0)[0, 0]
    far = macro.mvm(np.eye(1, cfg.rows, cfg.rows - 1, dtype=int), 0, cfg.cols - 1, 1, 0, 0)
    assert near == 60 and 45 < far[0, 0] < 55  # 60 * (1 - 0.2 * ~1.0) = 48


def test_counters_and_energy():
    macro, _ = programmed_macro()
    macro.reset_counters()
    planes = np.ones((3, 64), dtype=int)
    macro.mvm(planes, 0, 0, 5, 0, 0)
    k = macro.counters
    assert (k.mvm_ops, k["adc_conversions"], k.row_activations) == (3, 15, 192)
    assert k.energy_j > 0 and k.time_s > 0
    assert k.as_dict()["energy_by_op"]["adc"] > 0
    macro.reset_counters()
    assert macro.counters.mvm_ops == 0 and macro.counters.energy_j == 0.0


@pytest.mark.parametrize("planes, kwargs, match", [
    (np.zeros(64, dtype=int), {}, "2-D"),
    (np.zeros((0, 4), dtype=int), {}, "non-empty"),
    (np.full((1, 4), 2), {}, "only -1, 0 and 1"),
    (np.full((1, 4), -2), {}, "only -1, 0 and 1"),
    (np.zeros((1, 4)), {}, "dtype float64"),
    (np.zeros((1, 65), dtype=int), {}, "exceed"),
    (np.zeros((1, 4), dtype=int), {"row0": 61}, "exceed"),
    (np.zeros((1, 4), dtype=int), {"row0": -1}, "row0"),
    (np.zeros((1, 4), dtype=int), {"col0": 48}, "col0"),
    (np.zeros((1, 4), dtype=int), {"col0": 40, "n_cols": 9}, "n_cols"),
    (np.zeros((1, 4), dtype=int), {"n_cols": 0}, "n_cols"),
    (np.zeros((1, 4), dtype=int), {"gain_shift": 17}, "gain_shift"),
    (np.zeros((1, 4), dtype=int), {"gain_shift": 1.0}, "gain_shift"),
    (np.zeros((1, 4), dtype=int), {"op_index": -1}, "op_index"),
    (np.zeros((2, 4), dtype=int), {"op_index": np.array([1])}, "op_index"),
    (np.zeros((1, 4), dtype=int), {"op_index": np.array([-1])}, "op_index"),
    (np.zeros((1, 4), dtype=int), {"op_index": np.array([1.0])}, "op_index"),
])
def test_bad_mvm_arguments_name_the_problem(planes, kwargs, match):
    args = {"row0": 0, "col0": 0, "n_cols": 4, "gain_shift": 0, "op_index": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        MACRO.mvm(planes, **args)


@given(mvm_calls())
@settings(max_examples=30, deadline=None)
def test_an_empty_plane_is_exactly_zero_and_not_converted(call):
    """A plane that drives no row has codes 0 whatever the noise (no current): the macro
    gates its ADCs. The counters count those planes and the conversions they did not
    cost exactly, and the converted ones only as conversions."""
    planes, row0, col0, n_cols, gain_shift, op = call
    planes = planes.copy()
    planes[::2] = 0  # every other plane empty
    before = MACRO.counters.as_dict()
    codes = MACRO.mvm(planes, row0, col0, n_cols, gain_shift, op)
    after = MACRO.counters.as_dict()
    empty = ~planes.any(axis=1)
    assert np.all(codes[empty] == 0)
    assert after["empty_planes"] - before["empty_planes"] == int(empty.sum())
    assert after["adc_skipped"] - before["adc_skipped"] == int(empty.sum()) * n_cols
    assert after["adc_conversions"] - before["adc_conversions"] == int((~empty).sum()) * n_cols
    assert after["mvm_ops"] - before["mvm_ops"] == int((~empty).sum())


def numpy_codes(macro, planes, row0, col0, n_cols, gain_shift, ops):
    """The MVM's formula as plain numpy (the model before mvm_kernel, kept as the
    reference the compiled loop must equal bit for bit): two float64 products, the
    counter-based noise, rint, clip."""
    cfg = macro.config
    g = macro._mvm_arrays()[:, row0:row0 + planes.shape[1], col0:col0 + n_cols]
    pf = planes.astype(np.float64)
    signal = pf @ g[0]
    std = np.sqrt(np.abs(pf) @ g[1]) * cfg.read_noise_rel
    noise = gaussian(mix_with(macro._col_keys[col0:col0 + n_cols],
                              np.asarray(ops, dtype=np.uint64)[:, None]))
    codes = np.rint((signal + noise * std) / float(GRID_PER_WEIGHT_UNIT << gain_shift))
    return np.clip(codes, cfg.adc_min, cfg.adc_max).astype(np.int32)


@given(mvm_calls())
@settings(max_examples=60, deadline=None)
def test_compiled_mvm_equals_the_numpy_formula(call):
    planes, row0, col0, n_cols, gain_shift, op = call
    signs = np.random.default_rng(op).choice([-1, 1], size=planes.shape)
    planes = planes * signs  # rows at -V_read too
    ops = op + np.arange(len(planes), dtype=np.uint64)
    assert np.array_equal(MACRO.mvm(planes, row0, col0, n_cols, gain_shift, op),
                          numpy_codes(MACRO, planes, row0, col0, n_cols, gain_shift, ops))


def sign_magnitude_planes(x, bits):
    """(B * bits, n_rows): plane p of vector k at row k * bits + p."""
    mag = np.abs(x)[:, None, :] >> np.arange(bits)[None, :, None] & 1
    return (mag * np.where(x < 0, -1, 1)[:, None, :]).reshape(-1, x.shape[1])


@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.integers(1, 40), st.integers(1, 300),
       st.integers(0, 63), st.integers(0, 47), st.integers(0, 6))
@settings(max_examples=40, deadline=None)
def test_bitserial_equals_its_planes_one_call_each(seed, bits, n_rows, batch, row0, col0,
                                                   gain_shift):
    rng = np.random.default_rng(seed)
    row0, n_cols = min(row0, 64 - n_rows), int(rng.integers(1, 48 - col0 + 1))
    lim = (1 << bits) - 1
    x = rng.integers(-lim, lim + 1, size=(batch, n_rows)) * (rng.random((batch, 1)) < 0.9)
    starts = rng.integers(0, 2**40, size=batch).astype(np.uint64)
    a, b = programmed_macro(seed=3)[0], programmed_macro(seed=3)[0]
    codes = a.mvm_bitserial(x, row0, col0, n_cols, gain_shift, starts, bits)
    planes = sign_magnitude_planes(x, bits)
    ops = (starts[:, None] + np.arange(bits, dtype=np.uint64)).reshape(-1)
    want = np.concatenate([b.mvm(planes[k:k + 1], row0, col0, n_cols, gain_shift, ops[k:k + 1])
                           for k in range(len(planes))])
    assert np.array_equal(codes.reshape(-1, n_cols), want)
    counts = ("mvm_ops", "adc_conversions", "row_activations", "empty_planes", "adc_skipped")
    assert {k: a.counters[k] for k in counts} == {k: b.counters[k] for k in counts}


@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 4, 8]), st.integers(1, 8),
       st.integers(1, 40), st.integers(1, 40), st.integers(0, 6))
@settings(max_examples=30, deadline=None)
def test_bitserial_reads_sum_one_mvm_per_conversion(seed, reads, bits, n_rows, batch,
                                                    gain_shift):
    """reads=n: each plane's entry is the sum of n conversions, read r of plane p keyed
    by op_start + p * n + r; equal to one `mvm` call per conversion with that index,
    summed, and so are the counters (an empty plane is n empty operations)."""
    rng = np.random.default_rng(seed)
    row0, col0 = int(rng.integers(0, 64 - n_rows + 1)), int(rng.integers(0, 48))
    n_cols = int(rng.integers(1, 48 - col0 + 1))
    lim = (1 << bits) - 1
    x = rng.integers(-lim, lim + 1, size=(batch, n_rows)) * (rng.random((batch, 1)) < 0.8)
    starts = rng.integers(0, 2**40, size=batch).astype(np.uint64)
    a, b = programmed_macro(seed=5)[0], programmed_macro(seed=5)[0]
    codes = a.mvm_bitserial(x, row0, col0, n_cols, gain_shift, starts, bits, reads)
    assert codes.dtype == np.int32 and codes.shape == (batch, bits, n_cols)
    planes = sign_magnitude_planes(x, bits)  # plane p of vector k at row k * bits + p
    want = np.zeros((batch * bits, n_cols), dtype=np.int64)
    for k in range(batch):
        for p in range(bits):
            for r in range(reads):
                op = starts[k] + np.uint64(p * reads + r)
                want[k * bits + p] += b.mvm(planes[k * bits + p][None], row0, col0, n_cols,
                                            gain_shift, op)[0]
    assert np.array_equal(codes.reshape(-1, n_cols), want)
    counts = ("mvm_ops", "adc_conversions", "row_activations", "empty_planes", "adc_skipped")
    assert {k: a.counters[k] for k in counts} == {k: b.counters[k] for k in counts}


def test_bitserial_reads_are_distinct_conversions():
    """All-ones inputs drive the same rows on every plane, so 4 planes of one read are
    conversions 0..3 of one drive; 2 planes of two reads sum pairs of them (plane p:
    2p and 2p + 1), each with its own noise, not one read doubled."""
    macro = programmed_macro(seed=5)[0]
    start = np.zeros(1, dtype=np.uint64)
    one = macro.mvm_bitserial(np.full((1, 64), 15), 0, 0, 48, 0, start, 4)[0]
    two = macro.mvm_bitserial(np.full((1, 64), 3), 0, 0, 48, 0, start, 2, 2)[0]
    assert np.array_equal(two, one[0::2] + one[1::2])
    assert not np.array_equal(two, 2 * one[:2])


@pytest.mark.parametrize("bad, message", [
    (dict(x=np.array([[256]])), "x: values must be in"),
    (dict(x=np.zeros((2, 70), dtype=int)), "x: must be"),
    (dict(x=np.array([[1.5]])), "x: must be integers"),
    (dict(op_start=np.zeros(3, dtype=np.uint64)), "op_start has shape"),
    (dict(bits=0), "bits"),
    (dict(reads=0), "reads"),
    (dict(reads=257), "reads"),
])
def test_bitserial_refuses_bad_arguments(bad, message):
    args = dict(x=np.ones((2, 4), dtype=int), row0=0, col0=0, n_cols=8, gain_shift=0,
                op_start=np.zeros(2, dtype=np.uint64), bits=8) | bad
    with pytest.raises(ValueError, match=message):
        MACRO.mvm_bitserial(**args)
