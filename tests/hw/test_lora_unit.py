"""The LoRA unit under amaranth.sim: the testbench plays the SRAM buffer (image from
the golden model's place_layer), drives x and p and takes y, with random stalls."""

import random

import numpy as np
import pytest

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.lora import LORA_DESC_BITS, Activation
from rmlora.hw.lora_unit import LoraUnit
from rmlora.sw.formats.lora import place_layer
from rmlora.sw.golden import lora as golden

from .sim_helpers import run_sim

P = ChipParams(sram_depth=1024)
WB = P.sram_word_bytes
BASE = 8  # SRAM word of the layer descriptor


def shift_for(values, target=100):
    """The right shift that brings the largest |value| to about `target` (as a compiler's
    calibration would), so that the outputs are mostly in range, not all saturated."""
    peak = max(1, int(np.max(np.abs(values))))
    return max(0, int(np.ceil(np.log2(peak / target))))


def random_case(rng, n, m, ranks, act=Activation.IDENTITY):
    x = rng.integers(-128, 128, n).astype(np.int8)
    p = rng.integers(-2**16, 2**16, m).astype(np.int32)
    adapters, terms = {}, []
    for slot, r in ranks.items():
        a = rng.integers(-128, 128, (r, n)).astype(np.int8)
        b = rng.integers(-128, 128, (m, r)).astype(np.int8)
        q_mult = int(rng.integers(64, 256))
        h = x.astype(np.int64) @ a.T.astype(np.int64) * q_mult
        adapters[slot] = golden.Adapter(a, b, q_mult, shift_for(h), int(rng.integers(-300, 300)))
        q = golden.requantize(h, 1, adapters[slot].q_shift)
        terms.append(q.astype(np.int64) @ b.T.astype(np.int64) * adapters[slot].scale_mult)
    out_mult = int(rng.integers(64, 256))
    acc = p.astype(np.int64) * out_mult + sum(terms, np.zeros(m, dtype=np.int64))
    layer = golden.Layer(n, m, out_mult, shift_for(acc), act=act,
                         lut=rng.integers(-128, 128, 256) if act is Activation.LUT else None)
    return layer, adapters, x, p


def run_unit(layer, adapters, x, p, enabled, *, stall=0.0, seed=0, max_cycles=50_000,
             params=P):
    dut = LoraUnit(params)
    wb = params.sram_word_bytes
    image, desc = place_layer(layer, adapters, params, BASE)
    sram = bytearray(params.sram_bytes)
    sram[BASE * wb:BASE * wb + len(image)] = image
    rng = random.Random(seed)
    x_beats = [int.from_bytes(x[i:i + wb].tobytes().ljust(wb, b"\0"), "little")
               for i in range(0, len(x), wb)]
    p_vals, out = list(p), {"y": []}

    async def tb(ctx):
        ctx.set(dut.desc_addr, desc)
        ctx.set(dut.enable, enabled)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(max_cycles):
            ctx.set(dut.x.valid, bool(x_beats) and rng.random() >= stall)
            if x_beats:
                ctx.set(dut.x.p, x_beats[0])
            ctx.set(dut.p.valid, bool(p_vals) and rng.random() >= stall)
            if p_vals:
                ctx.set(dut.p.p, int(p_vals[0]))
            ctx.set(dut.y.ready, rng.random() >= stall)
            # sampled after every input is set: the unit's read enable depends on them
            r_en, addr = ctx.get(dut.sram.r_en), ctx.get(dut.sram.addr)
            x_take = ctx.get(dut.x.valid) and ctx.get(dut.x.ready)
            p_take = ctx.get(dut.p.valid) and ctx.get(dut.p.ready)
            if ctx.get(dut.y.valid) and ctx.get(dut.y.ready):
                out["y"].append(ctx.get(dut.y.p))
            await ctx.tick()
            if x_take:
                x_beats.pop(0)
            if p_take:
                p_vals.pop(0)
            if r_en:
                ctx.set(dut.sram.r_data, int.from_bytes(sram[addr * wb:(addr + 1) * wb], "little"))
            if not ctx.get(dut.busy):
                break
        else:
            raise AssertionError("the LoRA unit never finished")
        out.update(cycles=ctx.get(dut.perf_cycles), macs=ctx.get(dut.perf_macs),
                   refused=ctx.get(dut.refused), done=ctx.get(dut.done),
                   reads=ctx.get(dut.perf_sram_reads))

    run_sim(dut, tb)
    return out


@pytest.mark.parametrize("n, m, ranks, enabled", [
    (16, 8, {0: 8}, 0b1),
    (13, 5, {0: 3, 1: 16}, 0b11),
    (1, 9, {0: 1}, 0b1),
    (24, 1, {0: 6, 2: 8}, 0b101),
    (24, 7, {0: 6, 2: 8}, 0b100),
    (10, 6, {0: 4}, 0b0),
])
def test_layer_matches_golden(n, m, ranks, enabled):
    rng = np.random.default_rng(n * 100 + m)
    layer, adapters, x, p = random_case(rng, n, m, ranks)
    out = run_unit(layer, adapters, x, p, enabled)
    want = golden.lora_layer(x[None], p[None], layer, adapters, enabled)[0]
    assert out["done"] and not out["refused"]
    assert np.array_equal(np.array(out["y"], dtype=np.int8), want)
    assert np.mean(np.abs(want) < 127) > 0.5  # the case tests arithmetic, not saturation
    on = [ad.rank for s, ad in adapters.items() if enabled >> s & 1]
    assert out["macs"] == golden.macs(layer, on)
    assert out["cycles"] == golden.cycles(layer, on, P)


def test_random_stalls_on_every_stream():
    rng = np.random.default_rng(7)
    layer, adapters, x, p = random_case(rng, 21, 11, {1: 5, 3: 9})
    out = run_unit(layer, adapters, x, p, 0b1010, stall=0.4, seed=3)
    want = golden.lora_layer(x[None], p[None], layer, adapters, 0b1010)[0]
    assert np.array_equal(np.array(out["y"], dtype=np.int8), want)
    assert out["cycles"] > golden.cycles(layer, [5, 9], P)  # the stalls cost cycles


@pytest.mark.parametrize("act", [Activation.RELU, Activation.LUT])
def test_activations(act):
    rng = np.random.default_rng(int(act.value))
    layer, adapters, x, p = random_case(rng, 9, 12, {0: 4}, act)
    out = run_unit(layer, adapters, x, p, 0b1)
    want = golden.lora_layer(x[None], p[None], layer, adapters, 0b1)[0]
    assert np.array_equal(np.array(out["y"], dtype=np.int8), want)
    assert out["cycles"] == golden.cycles(layer, [4], P)


def test_disabled_adapter_and_zero_b_change_nothing():
    rng = np.random.default_rng(11)
    layer, adapters, x, p = random_case(rng, 12, 6, {0: 4, 2: 3})
    base = run_unit(layer, {0: adapters[0]}, x, p, 0b1)["y"]
    assert run_unit(layer, adapters, x, p, 0b1)["y"] == base  # slot 2 present, disabled
    zero_b = golden.Adapter(adapters[2].a, np.zeros_like(adapters[2].b), adapters[2].q_mult,
                            adapters[2].q_shift, adapters[2].scale_mult)
    assert run_unit(layer, {0: adapters[0], 2: zero_b}, x, p, 0b101)["y"] == base


@pytest.mark.parametrize("change, code", [
    ({"rank": 0}, ErrorCode.LORA_RANK_ZERO),
    ({"rank": 17}, ErrorCode.LORA_RANK_MAX),
    ({"n_in": 0}, ErrorCode.LORA_SHAPE),
    ({"n_out": 513}, ErrorCode.LORA_SHAPE),
    ({"a_addr": P.sram_depth - 1}, ErrorCode.LORA_SRAM_RANGE),  # rank 2: 1 word past
])
def test_bad_layers_are_refused(change, code):
    """Corrupt one field of the placed image (as a bad compiler or a bit flip would)."""
    from amaranth.lib import data

    from rmlora.contract.lora import AdapterEntry, LoraLayer

    rng = np.random.default_rng(0)
    layer, adapters, x, p = random_case(rng, 8, 4, {0: 2})
    image, desc = place_layer(layer, adapters, P, BASE)
    image = bytearray(image)
    dwb = LORA_DESC_BITS // 8  # bytes of the descriptor, and of the entry after it
    for raw_at, layout in ((0, LoraLayer), (dwb, AdapterEntry)):
        fields = data.Layout.cast(layout)
        value = int.from_bytes(image[raw_at:raw_at + dwb], "little")
        for name, new in change.items():
            if name in fields.members:
                f = fields[name]
                width = f.shape.width if hasattr(f.shape, "width") else int(f.shape)
                value &= ~(((1 << width) - 1) << f.offset)
                value |= new << f.offset
        image[raw_at:raw_at + dwb] = value.to_bytes(dwb, "little")
    dut_out = _run_image(bytes(image), x, p, 0b1)
    assert dut_out["refused"] and not dut_out["done"] and dut_out["y"] == []
    assert dut_out["error"] == code


def _run_image(image, x, p, enabled):
    """Run the unit on a raw image; capture the error code it reports."""
    dut = LoraUnit(P)
    sram = bytearray(P.sram_bytes)
    sram[BASE * WB:BASE * WB + len(image)] = image
    out = {"y": [], "error": None}

    async def tb(ctx):
        ctx.set(dut.desc_addr, BASE)
        ctx.set(dut.enable, enabled)
        ctx.set(dut.start, 1)
        ctx.set(dut.x.valid, 1)
        ctx.set(dut.p.valid, 1)
        ctx.set(dut.y.ready, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(500):
            r_en, addr = ctx.get(dut.sram.r_en), ctx.get(dut.sram.addr)
            if ctx.get(dut.error.valid):
                out["error"] = ErrorCode(ctx.get(dut.error.code))
            if ctx.get(dut.y.valid):
                out["y"].append(ctx.get(dut.y.p))
            await ctx.tick()
            if r_en:
                ctx.set(dut.sram.r_data, int.from_bytes(sram[addr * WB:(addr + 1) * WB], "little"))
            if not ctx.get(dut.busy):
                break
        out.update(refused=ctx.get(dut.refused), done=ctx.get(dut.done))

    run_sim(dut, tb)
    return out


@pytest.mark.parametrize("n, m, ranks", [(40, 20, {0: 16, 3: 3}), (16, 16, {1: 16})])
def test_sixteen_lanes(n, m, ranks):
    """P = 16 (128-bit SRAM words): the same results, one B word per row up to rank 16."""
    wide = ChipParams(sram_width=128, sram_depth=512)
    rng = np.random.default_rng(n)
    layer, adapters, x, p = random_case(rng, n, m, ranks)
    out = run_unit(layer, adapters, x, p, 0b1111, params=wide)
    want = golden.lora_layer(x[None], p[None], layer, adapters, 0b1111)[0]
    assert np.array_equal(np.array(out["y"], dtype=np.int8), want)
    assert out["cycles"] == golden.cycles(layer, list(ranks.values()), wide)
