"""The chip core (SRAM, sequencer, crossbar controller, LoRA unit) under amaranth.sim
running layer programs, the macros played by the testbench: the whole SRAM after a
run, the per-layer statistics and the cycle counts against the golden chip model."""

import numpy as np
import pytest

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.lora import Activation
from rmlora.contract.perf import PERF_COUNTERS
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.contract.xbar import INPUT_BITS, XbarOp
from rmlora.hw.core import ChipCore
from rmlora.sim.reram import MacroArray, MacroConfig
from rmlora.sw.formats.lora import place_layer
from rmlora.sw.formats.records import pack_record, read_stats
from rmlora.sw.golden import chip as gchip
from rmlora.sw.golden import lora as glora
from rmlora.sw.golden import xbar as gxbar

from .sim_helpers import MacroResponder, run_sim
from .test_lora_unit import shift_for

P = ChipParams(sram_depth=1024, macro_rows=16, macro_cols=16, n_macros=4)
WB = P.sram_word_bytes
CFG = MacroConfig(rows=16, cols=16, read_noise_rel=0.01)
PROG, X, STATS = 2, 40, 60
SW = P.words_for(SEQ_STATS_BITS)  # words of a SeqStats record
# (MVM descriptor fields, activation, adapter ranks by slot): three layers, 12 -> 20 -> 10 -> 6,
# on two column tiles, two row tiles, and a block beside the first layer on macro 1
LAYERS = [
    (dict(n_rows=12, n_cols=20, macro=0, row0=2, col0=0), Activation.RELU, {0: 3, 2: 5}),
    (dict(n_rows=20, n_cols=10, macro=2, row0=0, col0=3), Activation.LUT, {2: 4}),
    (dict(n_rows=10, n_cols=6, macro=1, row0=2, col0=5), Activation.IDENTITY, {}),
]


def twins(seed=4):
    rng = np.random.default_rng(seed)
    pair = MacroArray(P, CFG, seed=seed), MacroArray(P, CFG, seed=seed)
    for m in range(P.n_macros):
        w = rng.integers(-127, 128, (16, 16))
        for arr in pair:
            arr[m].program_statistical(w)
    return pair


def build_program(rng, enabled, layers=LAYERS, stats=True):
    """SRAM image of a layer program over LAYERS with random adapters, scales chosen
    (on a scratch copy of the macros) so that outputs are mostly in range."""
    sram = bytearray(P.sram_bytes)
    scratch, _ = twins()
    x = rng.integers(-128, 128, layers[0][0]["n_rows"]).astype(np.int8)
    sram[X * WB: X * WB + len(x)] = x.tobytes()
    src, base = X, 100
    for i, (fields, act, ranks) in enumerate(layers):
        dst = X + 4 * (i + 1)
        desc = gxbar.Descriptor(XbarOp.MVM, src=src, dst=dst, gain_shift=3, **fields)
        p, _ = gxbar.mvm(desc, x[None, :], scratch)
        adapters = {}
        for slot, r in ranks.items():
            a = rng.integers(-128, 128, (r, desc.n_rows)).astype(np.int8)
            b = rng.integers(-128, 128, (desc.n_cols, r)).astype(np.int8)
            h = x.astype(np.int64) @ a.T.astype(np.int64) * 100
            adapters[slot] = glora.Adapter(a, b, 100, shift_for(h), int(rng.integers(-50, 50)))
        layer = glora.Layer(desc.n_rows, desc.n_cols, 97, shift_for(p.astype(np.int64) * 97),
                            act, rng.integers(-128, 128, 256) if act is Activation.LUT else None)
        image, lora_addr = place_layer(layer, adapters, P, base)
        sram[base * WB: base * WB + len(image)] = image
        base += len(image) // WB + 1
        xbar_addr = 16 + 2 * i
        sram[xbar_addr * WB: xbar_addr * WB + 16] = desc.pack()
        rec = pack_record(xbar_addr, lora_addr, dst, STATS + SW * i if stats else 0,
                                last=i == len(layers) - 1)
        sram[(PROG + 2 * i) * WB: (PROG + 2 * i + 2) * WB] = rec
        x = glora.lora_layer(x[None, :], p, layer, adapters, enabled)[0]
        src = dst
    return bytes(sram)


def run_core(sram: bytes, enabled: int, macros: MacroArray, prog=PROG, max_cycles=60_000,
             restart_at=None, params=P):
    """Run the program; returns (SRAM bytes after the run, status dict). restart_at: the
    cycle at which the host tries to START the sequencer again (the crossbar: a cycle later)."""
    wb = params.sram_word_bytes
    dut = ChipCore(params, sram_init=[int.from_bytes(sram[i:i + wb], "little")
                                      for i in range(0, len(sram), wb)])
    seq, out, errors = dut.seq, {}, []

    async def tb(ctx):
        ctx.set(dut.lora.enable, enabled)
        ctx.set(seq.prog_addr, prog)
        ctx.set(seq.start, 1)
        await ctx.tick()
        ctx.set(seq.start, 0)
        port = MacroResponder(dut, macros)
        for cycle in range(max_cycles):
            ctx.set(seq.start, cycle == restart_at)
            ctx.set(seq.host_xbar_start, restart_at is not None and cycle == restart_at + 1)
            for unit in (dut.xbar, dut.lora, seq):
                if ctx.get(unit.error.valid):
                    errors.append(ErrorCode(ctx.get(unit.error.code)))
            port.step(ctx, cycle)
            await ctx.tick()
            if not ctx.get(seq.busy):
                break
        else:
            raise AssertionError("sequencer never finished")
        out.update(done=ctx.get(seq.done), failed=ctx.get(seq.failed), irq=ctx.get(seq.irq),
                   layer=ctx.get(seq.layer), cycles=ctx.get(seq.perf_cycles), errors=errors)
        out["perf"] = {c.register: ctx.get(getattr({"seq": seq, "xbar": dut.xbar,
                                                     "lora": dut.lora}[c.block], c.port))
                       for c in PERF_COUNTERS}  # the PERF_* registers' counters
        words = []
        for addr in range(params.sram_depth):  # read the buffer back through the host port
            ctx.set(dut.host_sram.addr, addr)
            ctx.set(dut.host_sram.r_en, 1)
            await ctx.tick()
            words.append(ctx.get(dut.host_sram.r_data))
        out["sram"] = b"".join(w.to_bytes(wb, "little") for w in words)

    run_sim(dut, tb)
    return out["sram"], out


@pytest.mark.parametrize("enabled", [0b0101, 0b0100, 0b0000])
def test_program_matches_golden_chip(enabled):
    chip, gold = twins()
    sram = build_program(np.random.default_rng(enabled), enabled)
    got, out = run_core(sram, enabled, chip)
    want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
    stats = gchip.run_program(want, PROG, enabled, gold)
    assert got == want[0].tobytes()  # outputs and SeqStats records, every byte
    assert [read_stats(got, STATS + SW * i, P) for i in range(3)] == stats
    assert (out["done"], out["failed"], out["irq"], out["layer"]) == (1, 0, 1, 3)
    assert out["errors"] == []
    assert list(chip.mvm_ops) == list(gold.mvm_ops)
    records, _ = gchip.read_program(sram, PROG, P)
    assert out["cycles"] == gchip.run_cycles(records, stats, P)


def _patch(sram: bytes, word: int, blob: bytes) -> bytes:
    out = bytearray(sram)
    out[word * WB: word * WB + len(blob)] = blob
    return bytes(out)


def _mismatched_shape(sram):  # record 1's crossbar descriptor: 20 -> 9, its LoRA layer 20 -> 10
    desc = gxbar.Descriptor(XbarOp.MVM, 20, 9, src=X + 4, dst=0, macro=2, col0=3, gain_shift=3)
    return _patch(sram, 18, desc.pack())


def _bad_macro(sram):  # record 2's layer on a macro the chip lacks
    desc = gxbar.Descriptor(XbarOp.MVM, 10, 6, src=X + 8, dst=0, macro=5, row0=2, col0=5)
    return _patch(sram, 20, desc.pack())


def _rank_zero(sram):  # record 0's slot-0 adapter entry says rank 0
    entry = int.from_bytes(sram[102 * WB: 104 * WB], "little") & ~0x1F  # after the layer's
    return _patch(sram, 102, entry.to_bytes(2 * WB, "little"))  # descriptor at word 100


def _runs_off_the_end(sram):  # record 2's stats address: beyond the buffer
    records, _ = gchip.read_program(sram, PROG, P)
    last = records[2]
    return _patch(sram, last.addr, pack_record(last.xbar, last.lora, last.dst,
                                                     P.sram_depth - 1, last=True))


@pytest.mark.parametrize("corrupt, code, layer", [
    (_mismatched_shape, ErrorCode.SEQ_SHAPE, 1),
    (_bad_macro, ErrorCode.XBAR_MACRO_RANGE, 2),
    (_rank_zero, ErrorCode.LORA_RANK_ZERO, 0),
    (_runs_off_the_end, ErrorCode.SEQ_SRAM_RANGE, 2),
])
def test_refused_record_stops_the_program_like_the_golden_chip(corrupt, code, layer):
    """The program stops at the bad record with its unit's code, the records before it
    done; the SRAM and the macros' counters equal the golden chip's."""
    chip, gold = twins()
    sram = corrupt(build_program(np.random.default_rng(1), 0b0101))
    got, out = run_core(sram, 0b0101, chip)
    want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
    with pytest.raises(gchip.ChipError) as refused:
        gchip.run_program(want, PROG, 0b0101, gold)
    assert (refused.value.code, refused.value.layer) == (code, layer)
    assert out["errors"] == [code]
    assert (out["done"], out["failed"], out["irq"], out["layer"]) == (0, 1, 1, layer)
    assert got == want[0].tobytes()
    assert list(chip.mvm_ops) == list(gold.mvm_ops)


def test_start_while_running_is_refused_and_the_program_completes():
    """A sequencer START and a host crossbar START during a program are logged as
    SEQ_BUSY and ignored: the run's outputs are those of an undisturbed run."""
    chip, gold = twins()
    sram = build_program(np.random.default_rng(9), 0b0101)
    got, out = run_core(sram, 0b0101, chip, restart_at=300)
    want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
    gchip.run_program(want, PROG, 0b0101, gold)
    assert out["errors"] == [ErrorCode.SEQ_BUSY, ErrorCode.SEQ_BUSY]
    assert (out["done"], out["failed"], out["layer"]) == (1, 0, 3)
    assert got == want[0].tobytes()


def build_pass_program(rng, enabled, vectors=3, passes=False, layers=None, xs=None):
    """Two layers, each applied to `vectors` vectors, layer-major as the compiler orders
    them: one record per vector, or (`passes`) one layer-pass record per layer. The first
    layer has adapters in all four slots and a LUT. xs: the first layer's inputs
    (vectors, n_rows) int8 (default random)."""
    layers = layers or [
        (dict(n_rows=12, n_cols=10, macro=0, row0=1, col0=2), Activation.LUT,
         {0: 3, 1: 2, 2: 5, 3: 1}),
        (dict(n_rows=10, n_cols=6, macro=1, row0=0, col0=0), Activation.RELU, {1: 4})]
    sram = bytearray(P.sram_bytes)
    scratch, _ = twins()
    n0 = layers[0][0]["n_rows"]
    if xs is None:
        xs = rng.integers(-128, 128, (vectors, n0)).astype(np.int8)
    srcs = [40 + max(2, -(-n0 // WB)) * v for v in range(vectors)]  # 2 words, or more
    for v, src in enumerate(srcs):
        sram[src * WB: src * WB + n0] = xs[v].tobytes()
    base, k, x = 200, 0, xs
    n_records = len(layers) * (1 if passes else vectors)
    for i, (fields, act, ranks) in enumerate(layers):
        out0, stride = (90, 2) if i % 2 == 0 else (130, 1)  # vectors' outputs, words apart
        dsts = [out0 + stride * v for v in range(vectors)]
        descs = [gxbar.Descriptor(XbarOp.MVM, src=s, dst=d, gain_shift=3, **fields)
                 for s, d in zip(srcs, dsts, strict=True)]
        p, _ = gxbar.mvm(descs[0], x, scratch)
        adapters = {}
        for slot, r in ranks.items():
            a = rng.integers(-128, 128, (r, fields["n_rows"])).astype(np.int8)
            b = rng.integers(-128, 128, (fields["n_cols"], r)).astype(np.int8)
            h = x.astype(np.int64) @ a.T.astype(np.int64) * 100
            adapters[slot] = glora.Adapter(a, b, 100, shift_for(h), int(rng.integers(-50, 50)))
        layer = glora.Layer(fields["n_rows"], fields["n_cols"], 97,
                            shift_for(p.astype(np.int64) * 97), act,
                            rng.integers(-128, 128, 256) if act is Activation.LUT else None)
        image, lora_addr = place_layer(layer, adapters, P, base)
        sram[base * WB: base * WB + len(image)] = image
        base += len(image) // WB + 1
        if passes:  # one record, its descriptor at the first vector's input
            src_stride = srcs[1] - srcs[0] if vectors > 1 else 0
            records = [(descs[0], dsts[0], dict(vectors=vectors, src_stride=src_stride,
                                                dst_stride=stride))]
        else:
            records = [(desc, dst, {}) for desc, dst in zip(descs, dsts, strict=True)]
        for desc, dst, pass_fields in records:
            xbar_addr = 24 + 2 * k  # after the program's records (at most 8: words 2..17)
            sram[xbar_addr * WB: xbar_addr * WB + 16] = desc.pack()
            rec = pack_record(xbar_addr, lora_addr, dst, 64 + SW * k,
                              last=k == n_records - 1, **pass_fields)
            sram[(PROG + 2 * k) * WB: (PROG + 2 * k + 2) * WB] = rec
            k += 1
        x = glora.lora_layer(x, p, layer, adapters, enabled)
        srcs = dsts
    return bytes(sram)


def run_and_compare(sram, enabled, n_records):
    """Run on the RTL and the golden chip: every SRAM byte, every record's stats, the
    cycles and the macros' conversion counters equal. Returns the stats."""
    chip, gold = twins()
    got, out = run_core(sram, enabled, chip)
    want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
    stats = gchip.run_program(want, PROG, enabled, gold)
    assert got == want[0].tobytes()
    assert [read_stats(got, 64 + SW * k, P) for k in range(n_records)] == stats
    assert (out["done"], out["failed"], out["layer"], out["errors"]) == (1, 0, n_records, [])
    records, _ = gchip.read_program(sram, PROG, P)
    assert out["cycles"] == gchip.run_cycles(records, stats, P)
    assert list(chip.mvm_ops) == list(gold.mvm_ops)
    return stats


@pytest.mark.parametrize("enabled", [0b1111, 0b0010])
def test_layer_passes_read_adapters_once(enabled):
    """A layer over three vectors, a record each: the first record reads its adapters and
    the LUT from the SRAM, the next two from the LoRA unit's cache; SRAM, stats (their
    SRAM words and cache reads too), cycles and the macros' counters equal the golden
    chip's."""
    sram = build_pass_program(np.random.default_rng(enabled), enabled)
    stats = run_and_compare(sram, enabled, 6)
    assert [st.cache > 0 for st in stats] == [False, True, True] * 2
    assert stats[1].sram < stats[0].sram and stats[1].cycles < stats[0].cycles


@pytest.mark.parametrize("enabled, vectors", [(0b1111, 3), (0b0010, 4), (0b1001, 1)])
def test_a_layer_pass_record_equals_a_record_per_vector(enabled, vectors):
    """One record per layer over all its vectors (strided inputs and outputs) writes the
    same outputs as a record per vector, bit for bit, and equals the golden chip in every
    byte, stat, cycle and counter; it reads the record, its descriptors and writes its
    stats once, so it moves fewer SRAM words and takes fewer cycles."""
    rng = np.random.default_rng(10 + vectors)
    passes = build_pass_program(rng, enabled, vectors, passes=True)
    per_vector = build_pass_program(np.random.default_rng(10 + vectors), enabled, vectors)
    pass_stats = run_and_compare(passes, enabled, 2)
    vector_stats = run_and_compare(per_vector, enabled, 2 * vectors)
    got = {}
    for name, sram in (("pass", passes), ("vector", per_vector)):
        want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
        gchip.run_program(want, PROG, enabled, twins()[1])
        got[name] = [want[0, w * WB:(w + 1) * WB].tobytes() for w in range(90, 140)]
    assert got["pass"] == got["vector"]  # every vector's output of both layers
    for layer in range(2):
        mine = pass_stats[layer]
        theirs = vector_stats[layer * vectors:(layer + 1) * vectors]
        assert mine.adc == sum(st.adc for st in theirs)
        assert mine.macs == sum(st.macs for st in theirs)
        assert mine.cache == sum(st.cache for st in theirs)
        if vectors > 1:
            assert mine.sram < sum(st.sram for st in theirs)
            assert mine.cycles < sum(st.cycles for st in theirs)


def _pass_record(sram, k, **change):
    records, _ = gchip.read_program(sram, PROG, P)
    rec = records[k]
    fields = dict(xbar=rec.xbar, lora=rec.lora, dst=rec.dst, stats=rec.stats, last=rec.last,
                  vectors=rec.vectors, src_stride=rec.src_stride, dst_stride=rec.dst_stride)
    return _patch(sram, rec.addr, pack_record(**(fields | change)))


@pytest.mark.parametrize("change, code", [
    (dict(vectors=0), ErrorCode.SEQ_VECTORS),
    (dict(dst_stride=P.sram_depth // 2), ErrorCode.SEQ_SRAM_RANGE),  # the last output
    (dict(src_stride=P.sram_depth // 2), ErrorCode.SEQ_SRAM_RANGE),  # the last input
])
def test_a_pass_that_does_not_fit_is_refused_before_any_vector(change, code):
    """A record with no vectors, or whose last vector's input or output would run off the
    buffer, is refused at its check: nothing of it is written, like the golden chip."""
    chip, gold = twins()
    sram = _pass_record(build_pass_program(np.random.default_rng(3), 0b1111, 3, passes=True),
                        1, **change)
    got, out = run_core(sram, 0b1111, chip)
    want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
    with pytest.raises(gchip.ChipError) as refused:
        gchip.run_program(want, PROG, 0b1111, gold)
    assert (refused.value.code, refused.value.layer) == (code, 1)
    assert out["errors"] == [code]
    assert (out["done"], out["failed"], out["layer"]) == (0, 1, 1)
    assert got == want[0].tobytes()
    assert list(chip.mvm_ops) == list(gold.mvm_ops)


def test_a_pass_whose_vectors_read_earlier_outputs_runs_them_in_order():
    """A 10 -> 10 layer whose vector v reads what vector v - 1 wrote (dst = src + stride,
    both strides 2 words): a recurrence in one record. The RTL runs the vectors in order;
    the golden chip splits its batch where a vector reads an earlier one's output, and
    the two agree in every byte, stat, cycle and counter."""
    layers = [(dict(n_rows=10, n_cols=10, macro=0, row0=0, col0=0), Activation.RELU,
               {0: 2, 3: 3})]
    sram = bytearray(build_pass_program(np.random.default_rng(21), 0b1001, 4, passes=True,
                                        layers=layers))
    rec = gchip.read_program(bytes(sram), PROG, P)[0][0]
    xd = gxbar.Descriptor(XbarOp.MVM, 10, 10, src=40, dst=0, gain_shift=3)
    sram[rec.xbar * WB: rec.xbar * WB + 16] = xd.pack()
    chained = pack_record(rec.xbar, rec.lora, 42, rec.stats, True, vectors=4, src_stride=2,
                          dst_stride=2)  # vector v: input at 40 + 2v, output at 42 + 2v
    sram[rec.addr * WB: rec.addr * WB + len(chained)] = chained
    stats = run_and_compare(bytes(sram), 0b1001, 1)
    assert stats[0].adc == 4 * INPUT_BITS * 10  # 4 vectors, every plane, 10 columns


def test_golden_chip_on_a_window_equals_the_whole_sram():
    # The golden backend copies per run only the bytes that differ between runs
    # (gchip.run_window); on that window the batch computes the same bytes and stats.
    sram = build_program(np.random.default_rng(9), 0b0101)
    image = np.frombuffer(sram, dtype=np.uint8)
    batch = np.repeat(image[None, :], 3, axis=0)
    batch[1:, X * WB: X * WB + 16] = np.random.default_rng(1).integers(0, 256, (2, 16))
    whole = batch.copy()
    stats = gchip.run_program(whole, PROG, 0b0101, twins()[1])
    program = gchip.decode_program(sram, PROG, 0b0101, P)
    lo, hi = gchip.run_window(program, P, [(X * WB, 16)])
    assert 0 < hi - lo < P.sram_bytes
    window = batch[:, lo:hi].copy()
    assert gchip.run_program(window, PROG, 0b0101, twins()[1], lo, program) == stats
    assert np.array_equal(window, whole[:, lo:hi])
    assert np.array_equal(whole[:, :lo], batch[:, :lo])
    assert np.array_equal(whole[:, hi:], batch[:, hi:])
    with pytest.raises(ValueError, match="outside the window"):
        gchip.run_program(batch[:, lo + WB:hi].copy(), PROG, 0b0101, twins()[1], lo + WB,
                          program)
