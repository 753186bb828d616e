"""The transformer's integer host steps (compiler.transformer_ops, transformer_steps)
against the float operations they stand for.

Tolerances are the integer outputs' rounding plus the fixed-point constants': each
is stated where it is used. The residual stream is int16 (ops.RESIDUAL_BITS), what
enters a crossbar int8. The steps' table lookups and refusals are exact checks."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rmlora.sw.compiler import transformer_ops as ops
from rmlora.sw.compiler.steps import INPUT
from rmlora.sw.compiler.transformer_steps import COND, ConditionInput, UnpatchifyStep
from rmlora.sw.models.dit import LN_EPS, TinyDiT, unpatchify
from rmlora.sw.models.mixer import patchify


def _ints(rng, shape, spread=40, dtype=np.int8):
    info = np.iinfo(dtype)
    return np.clip(np.rint(rng.normal(0, spread, shape)), info.min, info.max).astype(dtype)


def _residual(rng, shape):
    return _ints(rng, shape, 6000, np.int16)


def test_adaln_is_layer_norm_with_each_rows_modulation():
    """int16 residual in, int8 out, within one output step of round(float / out_scale):
    the only errors are the integer RMS (of |C * deviation| ~ 2**17 here) and the
    multipliers' rounding (relative 2**-30)."""
    rng = np.random.default_rng(0)
    x_q, rows = _residual(rng, (12, 16, 32)), rng.integers(0, 5, 12)
    scale, shift = rng.normal(0, 0.5, (5, 32)), rng.normal(0, 0.5, (5, 32))
    s_in, s_out = 0.03 / 256, 0.025
    y = ops.adaln(x_q, rows, ops.compile_adaln(scale, shift, s_in, s_out, LN_EPS))
    x = torch.from_numpy(x_q * s_in)
    ref = (F.layer_norm(x, (32,), eps=LN_EPS).numpy() * (1 + scale[rows][:, None])
           + shift[rows][:, None]) / s_out
    ref = np.clip(np.floor(ref + 0.5), -128, 127)
    assert y.dtype == np.int8 and np.abs(y.astype(np.int64) - ref).max() <= 1
    assert np.mean(y == ref) > 0.95


def test_attention_is_softmax_attention_per_head():
    """The logits' 1/32 steps move each softmax weight by at most 1.6 %, and the
    output is rounded once: within 2 output steps of the float attention, most exact."""
    rng = np.random.default_rng(1)
    qkv_q = _ints(rng, (6, 16, 96), 50)
    s_qkv, s_out = 0.04, 0.02
    y = ops.attention(qkv_q, ops.compile_attention(4, 8, s_qkv, s_out))
    t = torch.from_numpy(qkv_q * s_qkv).reshape(6, 16, 3, 4, 8).permute(2, 0, 3, 1, 4)
    mixed = F.scaled_dot_product_attention(t[0], t[1], t[2])
    ref = np.clip(np.floor(mixed.transpose(1, 2).reshape(6, 16, 32).numpy() / s_out + 0.5),
                  -128, 127)
    assert y.shape == (6, 16, 32) and y.dtype == np.int8
    assert np.abs(y.astype(np.int64) - ref).max() <= 2
    assert np.mean(y == ref) > 0.8


def test_attention_of_equal_keys_is_the_mean_of_the_values():
    """All-zero queries give equal logits: every weight is the table's 2**16, exactly."""
    rng = np.random.default_rng(2)
    qkv_q = _ints(rng, (2, 16, 96))
    qkv_q[..., :32] = 0
    y = ops.attention(qkv_q, ops.compile_attention(4, 8, 0.05, 0.05))
    v = qkv_q[..., 64:].astype(np.int64)
    mean = np.floor(v.sum(axis=1, keepdims=True) / 16 + 0.5)  # out_mult / 2**shift = 1
    assert np.array_equal(y, np.broadcast_to(mean, y.shape).astype(np.int8))


def test_gated_and_table_adds_round_once_into_the_int16_residual():
    """int16 residual plus a gated int8 branch, and the embedding's int8 output plus the
    position table: one rounding each (the multipliers' error is relative 2**-30)."""
    rng = np.random.default_rng(3)
    x_q, a_q, rows = _residual(rng, (4, 16, 32)), _ints(rng, (4, 16, 32)), np.array([0, 2, 1, 2])
    gate = rng.normal(0, 0.7, (3, 32))
    s_x, s_out = 0.02 / 256, 0.025 / 256
    y = ops.gated_add(x_q, a_q, rows, ops.compile_gated_add(gate, s_x, 0.03, s_out))
    ref = np.floor((x_q * s_x + gate[rows][:, None] * a_q * 0.03) / s_out + 0.5)
    assert y.dtype == np.int16 and np.abs(y - np.clip(ref, -32768, 32767)).max() <= 1
    assert (np.abs(ref) > 32767).any()  # the residual saturates at int16, not wraps
    table = rng.normal(0, 1, (16, 32))
    x8 = _ints(rng, (4, 16, 32))
    z = ops.table_add(x8, ops.compile_table_add(table, 0.02, 0.03 / 256))
    ref = np.clip(np.floor((x8 * 0.02 + table) / (0.03 / 256) + 0.5), -32768, 32767)
    assert z.dtype == np.int16 and np.abs(z - ref).max() <= 1


def test_a_zero_gate_keeps_the_residual():
    rng = np.random.default_rng(4)
    x_q, a_q = _residual(rng, (3, 16, 32)), _ints(rng, (3, 16, 32))
    q = ops.compile_gated_add(np.zeros((1, 32)), 0.02, 0.5, 0.02)
    assert np.array_equal(ops.gated_add(x_q, a_q, np.zeros(3, int), q), x_q)


def test_condition_input_finds_each_rows_class_and_step():
    model = TinyDiT()
    features = model.conditioning_features().double().numpy()  # class-major
    step = ConditionInput(0.03, 8, 2, features)
    pixels = torch.randn(3, 64, generator=torch.Generator().manual_seed(0)).double()
    pairs = [(3, 0), (9, 19), (0, 7)]
    env = {INPUT: torch.cat([pixels, torch.from_numpy(features[[20 * c + t for c, t in pairs]])],
                            dim=1).numpy()}
    step.apply(env)
    assert env[COND].tolist() == [20 * c + t for c, t in pairs]
    images = pixels.reshape(3, 8, 8)
    assert np.array_equal(env["x"], np.clip(np.round(patchify(images, 2).numpy() / 0.03),
                                            -127, 127).astype(np.int8))


@pytest.mark.parametrize("edit, message", [
    (lambda x: x[:, :-1], "64 pixels and 18 conditioning features"),
    (lambda x: np.concatenate([x[:, :64], x[:, 64:] * 1.01], axis=1),
     "input 0 (2 in all): its class and step features match no"),
])
def test_condition_input_refuses_rows_it_has_no_conditioning_for(edit, message):
    features = TinyDiT().conditioning_features().double().numpy()
    x = np.concatenate([np.zeros((2, 64)), features[[5, 44]]], axis=1)
    with pytest.raises(ValueError, match=re.escape(message)):
        ConditionInput(0.03, 8, 2, features).apply({INPUT: edit(x)})


def test_unpatchify_step_is_the_models():
    tokens = np.arange(2 * 64, dtype=np.int8).reshape(2, 16, 4)
    env = {"x": tokens}
    UnpatchifyStep(8, 2).apply(env)
    expected = unpatchify(torch.from_numpy(tokens.astype(np.int64)), 2, 4).numpy()
    assert np.array_equal(env["x"][:, 0], expected)
