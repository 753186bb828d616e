"""The LoRA unit under amaranth.sim: the testbench plays the SRAM buffer (image from
the golden model's place_layer), drives x and p and takes y, with random stalls."""

import random
from dataclasses import replace

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
             params=P, **stalls):
    """One START on a fresh unit."""
    return run_passes(layer, adapters, [x], [p], enabled, stall=stall, seed=seed,
                      max_cycles=max_cycles, params=params, **stalls)[0]


def run_passes(layer, adapters, xs, ps, enabled, *, stall=0.0, seed=0, max_cycles=50_000,
               params=P, flush_before=(), sram_writes=None, x_stall=None, p_stall=None,
               y_stall=None, gap=0):
    """One START per vector on one unit, as the sequencer runs a layer pass (`enabled`:
    one LORA_ENABLE mask, or one per run). The next START comes `gap` cycles after busy
    falls (0: in that very cycle, so the runs overlap: the last one's final words are
    still in the pipeline); gap=None waits for done, as the sequencer does. Before run k
    in `flush_before` cache_flush is pulsed for a cycle (of the gap); sram_writes maps
    k -> (byte, bytes) written into the SRAM before run k (and flushed, as the chip's host
    window does). x, p and y are one stream each over the whole pass, as in the chip.
    Returns each run's outputs (the pass's y in order, n_out a run), its counter
    increments from START to busy falling (a run's cycles: golden.cycles), `gap` (the
    cycles from busy falling to the next START), `refused`, and `done` as it stood before
    the next START (at the end for the last: the test waits for it). `stall` is the chance
    that a stream pauses in a cycle; x_stall, p_stall and y_stall set one stream's apart."""
    x_stall, p_stall, y_stall = (stall if s is None else s for s in (x_stall, p_stall, y_stall))
    dut = LoraUnit(params)
    wb = params.sram_word_bytes
    image, desc = place_layer(layer, adapters, params, BASE)
    sram = bytearray(params.sram_bytes)
    sram[BASE * wb:BASE * wb + len(image)] = image
    rng = random.Random(seed)
    results = []
    masks = enabled if isinstance(enabled, list) else [enabled] * len(xs)
    x_beats = [int.from_bytes(x[i:i + wb].tobytes().ljust(wb, b"\0"), "little")
               for x in xs for i in range(0, len(x), wb)]
    p_vals, ys = [int(v) for p in ps for v in p], []

    async def cycle(ctx):
        """One clock of the streams (x and p offered, y taken, with their pauses) and the
        SRAM (it answers the cycle after a read)."""
        ctx.set(dut.x.valid, bool(x_beats) and rng.random() >= x_stall)
        if x_beats:
            ctx.set(dut.x.p, x_beats[0])
        ctx.set(dut.p.valid, bool(p_vals) and rng.random() >= p_stall)
        if p_vals:
            ctx.set(dut.p.p, p_vals[0])
        ctx.set(dut.y.ready, rng.random() >= y_stall)
        # sampled after every input is set: the unit's read enable depends on them
        r_en, addr = ctx.get(dut.sram.r_en), ctx.get(dut.sram.addr)
        x_take = ctx.get(dut.x.valid) and ctx.get(dut.x.ready)
        p_take = ctx.get(dut.p.valid) and ctx.get(dut.p.ready)
        if ctx.get(dut.y.valid) and ctx.get(dut.y.ready):
            ys.append(ctx.get(dut.y.p))
        await ctx.tick()
        if x_take:
            x_beats.pop(0)
        if p_take:
            p_vals.pop(0)
        if r_en:
            ctx.set(dut.sram.r_data, int.from_bytes(sram[addr * wb:(addr + 1) * wb], "little"))

    def counters(ctx):
        return {k: ctx.get(getattr(dut, f"perf_{k}"))
                for k in ("cycles", "macs", "sram_reads", "cache_reads")}

    async def tb(ctx):
        waited = 0  # cycles since busy fell
        for k in range(len(xs)):
            if k in (sram_writes or {}):
                at, data = sram_writes[k]
                sram[at:at + len(data)] = data
            flush = k in flush_before or k in (sram_writes or {})
            if k or flush:
                least = max(int(flush), gap or 0)
                while waited < least or gap is None and k and not ctx.get(dut.done):
                    ctx.set(dut.cache_flush, flush and waited == 0)
                    await cycle(ctx)
                    ctx.set(dut.cache_flush, 0)
                    waited += 1
            if k:
                results[-1].update(done=ctx.get(dut.done), gap=waited)
            before = counters(ctx)
            ctx.set(dut.desc_addr, desc)
            ctx.set(dut.enable, masks[k])
            ctx.set(dut.start, 1)
            await cycle(ctx)
            ctx.set(dut.start, 0)
            for _ in range(max_cycles):
                if not ctx.get(dut.busy):
                    break
                await cycle(ctx)
            else:
                raise AssertionError("the LoRA unit never finished")
            results.append({k: v - before[k] for k, v in counters(ctx).items()}
                           | {"refused": ctx.get(dut.refused)})
            waited = 0
        for _ in range(max_cycles):  # the last run's outputs leave
            if ctx.get(dut.done) or ctx.get(dut.refused):
                break
            await cycle(ctx)
        results[-1].update(done=ctx.get(dut.done), gap=None)

    run_sim(dut, tb)
    at = 0
    for out in results:
        n = 0 if out["refused"] else layer.n_out
        out.update(y=ys[at:at + n], reads=out["sram_reads"])
        at += n
    assert at == len(ys), "more outputs than the runs make"
    return results


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


# The B phase's pipeline (issue 25) holds every stage while X waits for p or R for room
# in y: stalls on one stream at a time and on both, with rows of one word (back-to-back
# outputs) and of several (a stall in the middle of a row), all four slots, a LUT,
# no adapter enabled; then a layer pass (cache hits) with stalls.
@pytest.mark.parametrize("n, m, ranks, enabled, act", [
    (8, 17, {0: 5}, 0b1, Activation.IDENTITY),  # one word a row: an output a cycle
    (1, 3, {2: 1}, 0b100, Activation.RELU),  # one x word, one A word, one B word a row
    (19, 7, {0: 16, 1: 9, 2: 3, 3: 12}, 0b1111, Activation.IDENTITY),  # 2+2+1+2 words
    (11, 9, {0: 9, 3: 2}, 0b1001, Activation.LUT),
    (12, 6, {0: 4, 1: 7}, 0b0, Activation.RELU),  # slots present, none enabled
])
@pytest.mark.parametrize("p_stall, y_stall", [(0.5, 0.0), (0.0, 0.6), (0.3, 0.3)])
def test_pipeline_holds_on_every_stall(n, m, ranks, enabled, act, p_stall, y_stall):
    rng = np.random.default_rng(n * 31 + m)
    layer, adapters, x, p = random_case(rng, n, m, ranks, act)
    on = [ad.rank for s, ad in adapters.items() if enabled >> s & 1]
    out = run_unit(layer, adapters, x, p, enabled, seed=n + m, x_stall=0.0,
                   p_stall=p_stall, y_stall=y_stall)
    want = golden.lora_layer(x[None], p[None], layer, adapters, enabled)[0]
    assert out["done"] and not out["refused"]
    assert np.array_equal(np.array(out["y"], dtype=np.int8), want)
    assert out["macs"] == golden.macs(layer, on)
    assert out["sram_reads"] == golden.sram_reads(layer, on, P)
    # stalls never save a cycle (a y stall may cost none: y waits while a long row runs)
    assert out["cycles"] >= golden.cycles(layer, on, P)
    xs = [rng.integers(-128, 128, n).astype(np.int8) for _ in range(3)]
    ps = [rng.integers(-2**16, 2**16, m).astype(np.int32) for _ in range(3)]
    outs = run_passes(layer, adapters, xs, ps, enabled, seed=m, p_stall=p_stall,
                      y_stall=y_stall, x_stall=0.3)
    for k, (o, xk, pk) in enumerate(zip(outs, xs, ps, strict=True)):
        want = golden.lora_layer(xk[None], pk[None], layer, adapters, enabled)[0]
        assert np.array_equal(np.array(o["y"], dtype=np.int8), want), k
        assert o["macs"] == golden.macs(layer, on)
        hit = k > 0 and golden.caches(layer, on, P)
        assert o["sram_reads"] == golden.sram_reads(layer, on, P, hit)
        assert o["cache_reads"] == golden.cache_reads(layer, on, P, hit)


@pytest.mark.parametrize("act", [Activation.RELU, Activation.LUT, Activation.LIF])
def test_activations(act):
    rng = np.random.default_rng(int(act.value))
    layer, adapters, x, p = random_case(rng, 9, 12, {0: 4}, act)
    if act is Activation.LIF:  # lut names a neuron descriptor (the sequencer's): here one
        layer = replace(layer, neuron=0xFFFF)  # beyond the SRAM, which the unit never reads
    out = run_unit(layer, adapters, x, p, 0b1)
    want = golden.lora_layer(x[None], p[None], layer, adapters, 0b1)[0]
    assert np.array_equal(np.array(out["y"], dtype=np.int8), want)
    assert out["cycles"] == golden.cycles(layer, [4], P)
    assert out["sram_reads"] == golden.sram_reads(layer, [4], P)
    if act is Activation.LIF:  # y as IDENTITY, in as many cycles, no LUT loaded
        identity = replace(layer, act=Activation.IDENTITY, neuron=0)
        assert np.array_equal(want, golden.lora_layer(x[None], p[None], identity, adapters,
                                                      0b1)[0])
        assert out["cycles"] == golden.cycles(identity, [4], P)
        assert out["sram_reads"] == golden.sram_reads(identity, [4], P)


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


def _pass_case(seed, n, m, ranks, vectors, act=Activation.IDENTITY):
    rng = np.random.default_rng(seed)
    layer, adapters, x, p = random_case(rng, n, m, ranks, act)
    xs = [x] + [rng.integers(-128, 128, n).astype(np.int8) for _ in range(vectors - 1)]
    ps = [p] + [rng.integers(-2**16, 2**16, m).astype(np.int32) for _ in range(vectors - 1)]
    return layer, adapters, xs, ps


@pytest.mark.parametrize("n, m, ranks, enabled, act", [
    (20, 32, {0: 6, 1: 6, 3: 6}, 0b1011, Activation.LUT),  # a face token layer, three slots
    (13, 5, {0: 3, 1: 16, 2: 1, 3: 9}, 0b1111, Activation.RELU),  # all four slots, ragged
    (9, 12, {2: 4}, 0b0000, Activation.IDENTITY),  # no adapter on: the LUT-less descriptor
])
def test_layer_pass_reads_adapters_once(n, m, ranks, enabled, act):
    """A layer over several vectors: the first run reads A and B from the SRAM and fills the
    cache; the others read nothing from the SRAM, with the same outputs as the golden model,
    under random stalls on every stream, and exactly the counts it predicts."""
    layer, adapters, xs, ps = _pass_case(n + m, n, m, ranks, 4, act)
    outs = run_passes(layer, adapters, xs, ps, enabled, stall=0.3, seed=5)
    on = [ad.rank for s, ad in sorted(adapters.items()) if enabled >> s & 1]
    assert golden.caches(layer, on, P)
    for k, (out, x, p) in enumerate(zip(outs, xs, ps, strict=True)):
        want = golden.lora_layer(x[None], p[None], layer, adapters, enabled)[0]
        assert not out["refused"]
        assert np.array_equal(np.array(out["y"], dtype=np.int8), want), k
        assert out["sram_reads"] == golden.sram_reads(layer, on, P, hit=k > 0)
        assert out["cache_reads"] == golden.cache_reads(layer, on, P, hit=k > 0)
        assert out["macs"] == golden.macs(layer, on)
    assert outs[1]["sram_reads"] == 0 < outs[0]["sram_reads"]
    # each START came as busy fell, before the last run's outputs had left: done only at the end
    assert [o["done"] for o in outs] == [0, 0, 0, 1]


def test_layer_pass_cycles_without_stalls():
    layer, adapters, xs, ps = _pass_case(3, 24, 7, {0: 6, 2: 8}, 3, Activation.LUT)
    outs = run_passes(layer, adapters, xs, ps, 0b101)
    assert [o["cycles"] for o in outs] == [golden.cycles(layer, [6, 8], P, hit=k > 0)
                                           for k in range(3)]
    assert outs[1]["cycles"] < outs[0]["cycles"]


def test_flush_and_changed_adapters_are_read_again():
    """A flush, or a host write to the SRAM (which flushes), makes the next run read A and
    B again: after B is rewritten the outputs follow the new B, never the cached one."""
    layer, adapters, xs, ps = _pass_case(9, 16, 6, {1: 4}, 4)
    image, _ = place_layer(layer, adapters, P, BASE)
    new_b = golden.Adapter(adapters[1].a, -adapters[1].b.astype(np.int16).clip(-127, 127)
                           .astype(np.int8), adapters[1].q_mult, adapters[1].q_shift,
                           adapters[1].scale_mult)
    new_image, _ = place_layer(layer, {1: new_b}, P, BASE)
    assert new_image != image
    outs = run_passes(layer, adapters, xs, ps, 0b10, flush_before={2},
                      sram_writes={3: (BASE * WB, new_image)})
    hits = [False, True, False, False]
    for k, out in enumerate(outs):
        ads = {1: new_b} if k == 3 else adapters
        want = golden.lora_layer(xs[k][None], ps[k][None], layer, ads, 0b10)[0]
        assert np.array_equal(np.array(out["y"], dtype=np.int8), want), k
        assert out["sram_reads"] == golden.sram_reads(layer, [4], P, hit=hits[k]), k


def test_another_enable_mask_misses():
    """The cache belongs to one descriptor and one LORA_ENABLE: on one unit, a run with
    another mask reads the SRAM again (and caches for that mask), with the right outputs."""
    layer, adapters, xs, ps = _pass_case(4, 12, 10, {0: 3, 2: 5}, 5)
    masks = [0b101, 0b101, 0b001, 0b001, 0b101]
    outs = run_passes(layer, adapters, xs, ps, masks, stall=0.2, seed=2)
    assert [o["cache_reads"] > 0 for o in outs] == [False, True, False, True, False]
    for k, (out, mask) in enumerate(zip(outs, masks, strict=True)):
        want = golden.lora_layer(xs[k][None], ps[k][None], layer, adapters, mask)[0]
        assert np.array_equal(np.array(out["y"], dtype=np.int8), want), k
        on = [ad.rank for s, ad in sorted(adapters.items()) if mask >> s & 1]
        assert out["sram_reads"] == golden.sram_reads(layer, on, P, hit=k in (1, 3)), k


def test_without_cache_every_run_reads_the_sram():
    """lora_cache_words = 0 (the unit before the cache): every run fetches and reads."""
    plain = ChipParams(sram_depth=1024, lora_cache_words=0)
    layer, adapters, xs, ps = _pass_case(6, 10, 9, {0: 5}, 3, Activation.LUT)
    outs = run_passes(layer, adapters, xs, ps, 0b1, params=plain)
    assert not golden.caches(layer, [5], plain)
    for k, out in enumerate(outs):
        want = golden.lora_layer(xs[k][None], ps[k][None], layer, adapters, 0b1)[0]
        assert np.array_equal(np.array(out["y"], dtype=np.int8), want)
        assert out["sram_reads"] == golden.sram_reads(layer, [5], plain)
        # a miss taken as busy falls waits for the last run's words to leave the pipeline
        tail = golden.tail_left(outs[k - 1]["gap"]) if k else 0
        assert out["cycles"] == golden.cycles(layer, [5], plain, tail=tail)
        assert out["cache_reads"] == 0


def test_too_large_for_the_cache_reads_every_time():
    small = ChipParams(sram_depth=1024, lora_cache_words=16)
    layer, adapters, xs, ps = _pass_case(8, 24, 16, {0: 4}, 2)  # 12 + 16 words > 16
    assert not golden.caches(layer, [4], small)
    outs = run_passes(layer, adapters, xs, ps, 0b1, params=small)
    assert [o["sram_reads"] for o in outs] == [golden.sram_reads(layer, [4], small)] * 2


# Overlapped runs (issue 20): the next START is taken at the B phase's last issue, while that
# run's last words pass U..R and their y leave; a hit's A words follow them into the
# pipeline. Stalls on p and y (a y stall holds the last run's outputs and the A words
# behind them), all four slots, a LUT, no adapter; every y, every counter, and without
# stalls every run's cycles, against the golden model.
@pytest.mark.parametrize("n, m, ranks, enabled, act", [
    (8, 3, {1: 2}, 0b10, Activation.LUT),  # short runs: the A phase starts under the tail
    (19, 7, {0: 16, 1: 9, 2: 3, 3: 12}, 0b1111, Activation.RELU),  # four slots, ragged
    (16, 5, {2: 4}, 0b0000, Activation.IDENTITY),  # no adapter: x_IN under the tail
])
@pytest.mark.parametrize("p_stall, y_stall", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.7), (0.4, 0.4)])
def test_overlapped_runs(n, m, ranks, enabled, act, p_stall, y_stall):
    layer, adapters, xs, ps = _pass_case(n * m, n, m, ranks, 6, act)
    outs = run_passes(layer, adapters, xs, ps, enabled, seed=n, p_stall=p_stall,
                      y_stall=y_stall, x_stall=0.0)
    on = [ad.rank for s, ad in sorted(adapters.items()) if enabled >> s & 1]
    for k, (out, x, p) in enumerate(zip(outs, xs, ps, strict=True)):
        want = golden.lora_layer(x[None], p[None], layer, adapters, enabled)[0]
        assert not out["refused"]
        assert np.array_equal(np.array(out["y"], dtype=np.int8), want), k
        assert out["macs"] == golden.macs(layer, on)
        assert out["sram_reads"] == golden.sram_reads(layer, on, P, hit=k > 0)
        assert out["cache_reads"] == golden.cache_reads(layer, on, P, hit=k > 0)
        if p_stall == y_stall == 0:
            assert out["cycles"] == golden.cycles(layer, on, P, hit=k > 0)
    assert [o["done"] for o in outs] == [0] * 5 + [1]


def test_flush_between_overlapped_runs():
    """A flush in the cycle busy falls (the last run's words still in the pipeline) makes the
    next START a miss: it waits for those words (golden.tail_left), fetches and reads the
    SRAM again; the run after it hits again. Then runs one at a time, as the sequencer
    starts them (after done): the same cycles, no wait."""
    layer, adapters, xs, ps = _pass_case(12, 16, 9, {0: 3, 3: 5}, 4, Activation.LUT)
    outs = run_passes(layer, adapters, xs, ps, 0b1001, flush_before={2})
    hits = [False, True, False, True]
    assert [o["gap"] for o in outs] == [0, 1, 0, None]
    for k, out in enumerate(outs):
        want = golden.lora_layer(xs[k][None], ps[k][None], layer, adapters, 0b1001)[0]
        assert np.array_equal(np.array(out["y"], dtype=np.int8), want), k
        assert out["sram_reads"] == golden.sram_reads(layer, [3, 5], P, hit=hits[k]), k
        tail = golden.tail_left(outs[k - 1]["gap"]) if k else 0
        assert out["cycles"] == golden.cycles(layer, [3, 5], P, hit=hits[k], tail=tail), k
    # the flushed run did wait for the last run's words (SETTLE), beyond a plain miss
    assert outs[2]["cycles"] > golden.cycles(layer, [3, 5], P, hit=False)
    apart = run_passes(layer, adapters, xs, ps, 0b1001, flush_before={2}, gap=None)
    assert [o["done"] for o in apart] == [1] * 4
    assert [o["cycles"] for o in apart] == [golden.cycles(layer, [3, 5], P, hit=h)
                                            for h in hits]
