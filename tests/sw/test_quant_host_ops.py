"""Fixed-point helpers and the integer host operations, against float references.

Tolerances here are quantisation steps, explained per test: these are the places
where integer arithmetic meets real numbers, not comparisons of two exact models."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.sw import quant
from rmlora.sw.compiler import host_ops


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-12, max_value=8000.0), st.booleans())
def test_multiplier_relative_error_is_below_one_mantissa_lsb(real, negative):
    real = -real if negative else real
    mult, shift = quant.quantize_multiplier(real)
    if mult == 0:  # below 2**-63 * 2**14: shift 63 cannot hold it
        assert abs(real) < 2.0**-48
        return
    assert abs(mult) < 2**15 and 0 <= shift <= 63
    assert abs(quant.multiplier_value(mult, shift) - real) <= abs(real) * 2.0**-15


def test_multiplier_refuses_what_a_right_shift_cannot_do():
    with pytest.raises(ValueError, match="too large"):
        quant.quantize_multiplier(2.0**15)
    with pytest.raises(ValueError, match="not finite"):
        quant.quantize_multiplier(float("nan"))
    assert quant.quantize_multiplier(0.0) == (0, 0)


def test_symmetric_quantisation_per_channel_and_bad_input():
    w = np.array([[0.5, -1.0], [0.0, 0.0], [2.0, 1.0]])
    scale = quant.symmetric_scale(w, axis=1)  # one scale per column
    assert np.allclose(scale, [2.0 / 127, 1.0 / 127])
    assert np.array_equal(quant.quantize(w, scale), [[32, -127], [0, 0], [127, 127]])
    assert quant.symmetric_scale(np.zeros(3)) == 1.0
    with pytest.raises(ValueError, match="NaN"):
        quant.symmetric_scale(np.array([1.0, np.nan]))


def test_isqrt_is_exact():
    v = np.array([0, 1, 2, 3, 4, 15, 16, 17, 2**40 - 1, 2**40, 2**51 + 12345], dtype=np.int64)
    r = host_ops.isqrt(v)
    assert np.all(r * r <= v) and np.all((r + 1) * (r + 1) > v)
    assert [math.isqrt(int(x)) for x in v] == r.tolist()


def test_rmsnorm_matches_torch_within_one_step():
    """int8 in, int8 out: within one output step of torch's RMSNorm on the same
    (dequantised) input; the integer RMS has 8 fractional bits and mult 15 bits."""
    rng = np.random.default_rng(0)
    x_q = rng.integers(-128, 128, (64, 20)).astype(np.int8)
    gamma = rng.uniform(0.5, 1.5, 20)
    in_scale, out_scale, eps = 0.05, 2.5 / 127, 1e-6
    q = host_ops.compile_rmsnorm(gamma, in_scale, out_scale, eps)
    got = host_ops.rmsnorm(x_q, q).astype(int)
    norm = torch.nn.RMSNorm(20, eps=eps)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor(gamma, dtype=torch.float32))
        ref = norm(torch.tensor(x_q * in_scale, dtype=torch.float32)).double().numpy() / out_scale
    want = np.clip(np.round(ref), -128, 127)
    assert np.max(np.abs(got - want)) <= 1
    assert np.mean(got == want) > 0.9


def test_rmsnorm_of_zeros_is_zero_not_a_division_by_zero():
    q = host_ops.compile_rmsnorm(np.ones(4), 0.1, 0.01, 1e-6)
    assert np.array_equal(host_ops.rmsnorm(np.zeros((2, 4), dtype=np.int8), q), np.zeros((2, 4)))


def test_add_and_mean_are_within_half_a_step_plus_multiplier_error():
    rng = np.random.default_rng(1)
    a, b = rng.integers(-128, 128, 500), rng.integers(-128, 128, 500)
    q = host_ops.compile_add(0.03, 0.011, 0.04)
    ref = (a * 0.03 + b * 0.011) / 0.04
    got = host_ops.add(a, b, q).astype(float)
    inside = np.abs(ref) < 127
    assert np.max(np.abs(got[inside] - ref[inside])) <= 0.5 + 1e-3
    x = rng.integers(-128, 128, (16, 20))
    qm = host_ops.compile_mean(16, 0.05, 0.02)
    refm = x.sum(axis=0) * 0.05 / 16 / 0.02
    assert np.max(np.abs(host_ops.mean(x, 0, qm) - np.clip(refm, -128, 127))) <= 0.5 + 1e-3


def test_gelu_lut_against_torch():
    lut = host_ops.gelu_lut(0.05, 0.04)
    x = (np.arange(256) - 128) * 0.05
    ref = torch.nn.functional.gelu(torch.tensor(x)).numpy() / 0.04
    assert np.max(np.abs(lut - np.clip(ref, -128, 127))) <= 0.5 + 1e-9
    assert lut.dtype == np.int8 and lut[128] == 0
