"""A layer of LIF neurons on the chip core under amaranth.sim (issue 21): a layer pass of
T vectors is T time steps of one sequence, each step's spikes written into the next
step's input vector (the recurrence), then a readout layer reads the spike counts. The
whole SRAM after the run (every step's spikes, the membranes, the counts, the readout's
outputs and SeqStats records), the cycles and the macros' counters equal the golden
chip's, and the spikes equal a step-by-step run of contract.neuron.lif_update. A LIF
record whose neuron state does not fit the SRAM or overlaps is refused before it writes."""

from dataclasses import dataclass, replace

import numpy as np
import pytest

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.lora import LORA_DESC_BITS, Activation
from rmlora.contract.neuron import NEURON_DESC_BITS, lif_update, state_words
from rmlora.contract.sequencer import SEQ_RECORD_BITS, SEQ_STATS_BITS
from rmlora.contract.xbar import XBAR_DESC_BITS, XbarOp
from rmlora.sim.reram import MacroArray, MacroConfig
from rmlora.sw.formats.lora import place_layer
from rmlora.sw.formats.neuron import Neurons, read_state
from rmlora.sw.formats.records import pack_record, read_stats
from rmlora.sw.golden import chip as gchip
from rmlora.sw.golden import lora as glora
from rmlora.sw.golden import xbar as gxbar
from rmlora.sw.golden.perf import run_perf

from .test_lora_unit import shift_for
from .test_sequencer import run_core

P64 = ChipParams(sram_depth=1024, macro_rows=16, macro_cols=16, n_macros=4)
P32 = ChipParams(sram_width=32, sram_depth=2048, macro_rows=16, macro_cols=16, n_macros=4)
PROG = 2
N_X = 6  # input spikes per time step
N_READOUT = 5


def twins(params, seed=4):
    rng = np.random.default_rng(seed)
    cfg = MacroConfig(rows=params.macro_rows, cols=params.macro_cols, read_noise_rel=0.01)
    pair = MacroArray(params, cfg, seed=seed), MacroArray(params, cfg, seed=seed)
    for m in range(params.n_macros):
        w = rng.integers(-127, 128, (params.macro_rows, params.macro_cols))
        for arr in pair:
            arr[m].program_statistical(w)
    return pair


@dataclass
class LifProgram:
    sram: bytes
    params: ChipParams
    n_out: int
    steps: int
    src: int  # vector t's input at src + t * stride: [x_t padded to words; spikes of t - 1]
    stride: int
    x_words: int
    neurons: Neurons
    neuron_at: int
    lora_at: int  # the LIF layer's LoRA descriptor
    readout_dst: int
    stats: list[int]  # each record's SeqStats word
    end: int  # the words the program, its data and its outputs take: 0 .. end - 1


def build_lif_program(params, rng, n_out, steps, repeat=1, macros=None, lif_at=(0, 0, 0),
                      readout_at=(2, 0, 0), spikes_at=None):
    """A LIF layer of n_out neurons over `steps` vectors whose input is N_X random input
    spikes and the last step's n_out spikes (dst = src + stride + x_words: inside the next
    vector), with an adapter in slot 0, in `repeat` records (each runs the sequence anew
    from its first step: the same spikes and state); then a readout layer reading the
    counts. The layers' crossbar blocks at (macro, row0, col0) lif_at and readout_at;
    their scales calibrated on `macros` (not changed; default: twins' weights). With
    `spikes_at` (a word) the spikes go there instead, a step's after the last's: no
    recurrence, each step's input only its input spikes."""
    wb = params.sram_word_bytes
    sram = bytearray(params.sram_bytes)
    rec_w = params.words_for(SEQ_RECORD_BITS)
    cursor = [PROG + (repeat + 1) * rec_w + 1]

    def alloc(words):
        at = cursor[0]
        cursor[0] += words + 1
        return at

    xd_w = params.words_for(XBAR_DESC_BITS)
    xbar_at = [alloc(xd_w), alloc(xd_w)]
    stats = [alloc(params.words_for(SEQ_STATS_BITS)) for _ in range(repeat + 1)]
    neuron_at = alloc(params.words_for(NEURON_DESC_BITS))
    x_words, s_words = -(-N_X // wb), -(-n_out // wb)
    stride = x_words + s_words
    src = alloc(stride * (steps + 1))  # the last step's spikes land in vector `steps`
    mem_w, count_w = state_words(n_out, wb)
    neurons = Neurons(mem=alloc(mem_w), count=alloc(count_w), v_th=int(rng.integers(10, 40)),
                      decay_mult=int(rng.integers(150, 256)), decay_shift=8)
    readout_dst = alloc(-(-N_READOUT // wb))
    for at, words in neurons.regions(n_out, params):  # a new sequence ignores what was there,
        sram[at * wb:(at + words) * wb] = rng.integers(0, 256, words * wb, np.uint8).tobytes()
    # and the bytes after the last neuron in their words are kept
    n_in = x_words * wb + n_out
    for t in range(steps):
        x = (rng.random(N_X) < 0.5).astype(np.int8)
        at = (src + t * stride) * wb
        sram[at:at + N_X] = x.tobytes()
    scratch = twins(params)[0] if macros is None else macros
    at = dict(zip(("macro", "row0", "col0"), lif_at, strict=True))
    desc = gxbar.Descriptor(XbarOp.MVM, n_in, n_out, src=src, dst=0, gain_shift=3, **at)
    probe = (rng.random((16, n_in)) < 0.5).astype(np.int8)
    p, _ = gxbar.mvm(desc, probe, scratch, op_start=np.zeros((16, params.n_macros), np.int64))
    a = rng.integers(-128, 128, (2, n_in)).astype(np.int8)
    b = rng.integers(-128, 128, (n_out, 2)).astype(np.int8)
    h = probe.astype(np.int64) @ a.T.astype(np.int64) * 100
    adapters = {0: glora.Adapter(a, b, 100, shift_for(h), int(rng.integers(-50, 50)))}
    layer = glora.Layer(n_in, n_out, 97, shift_for(p.astype(np.int64) * 97, target=100),
                        Activation.LIF, neuron=neuron_at)
    image, lora_at = place_layer(layer, adapters, params, cursor[0])
    cursor[0] += len(image) // wb + 1
    sram[lora_at * wb:lora_at * wb + len(image)] = image
    sram[neuron_at * wb:neuron_at * wb + NEURON_DESC_BITS // 8] = neurons.pack()
    sram[xbar_at[0] * wb:xbar_at[0] * wb + XBAR_DESC_BITS // 8] = desc.pack()
    for k in range(repeat):
        sram[(PROG + k * rec_w) * wb:(PROG + (k + 1) * rec_w) * wb] = pack_record(
            xbar_at[0], lora_at, src + stride + x_words if spikes_at is None else spikes_at,
            stats[k], vectors=steps, src_stride=stride,
            dst_stride=stride if spikes_at is None else s_words).ljust(rec_w * wb, b"\0")
    # the readout: counts (0..steps) in, N_READOUT outputs
    at = dict(zip(("macro", "row0", "col0"), readout_at, strict=True))
    rdesc = gxbar.Descriptor(XbarOp.MVM, n_out, N_READOUT, src=neurons.count, dst=0,
                             gain_shift=3, **at)
    rlayer = glora.Layer(n_out, N_READOUT, 97, 6, Activation.IDENTITY)
    image, r_at = place_layer(rlayer, {}, params, cursor[0])
    cursor[0] += len(image) // wb
    sram[r_at * wb:r_at * wb + len(image)] = image
    sram[xbar_at[1] * wb:xbar_at[1] * wb + XBAR_DESC_BITS // 8] = rdesc.pack()
    sram[(PROG + repeat * rec_w) * wb:(PROG + (repeat + 1) * rec_w) * wb] = pack_record(
        xbar_at[1], r_at, readout_dst, stats[repeat], last=True).ljust(rec_w * wb, b"\0")
    return LifProgram(bytes(sram), params, n_out, steps, src, stride, x_words, neurons,
                      neuron_at, lora_at, readout_dst, stats, cursor[0])


def run_both(prog: LifProgram, enabled=0b1):
    """RTL and golden chip on the same program: every SRAM byte, the records' stats, the
    cycles (PERF_SEQ_CYCLES too) and the macros' counters equal. Returns the SRAM after
    and the stats."""
    p = prog.params
    chip, gold = twins(p)
    got, out = run_core(prog.sram, enabled, chip, prog=PROG, params=p)
    want = np.frombuffer(prog.sram, dtype=np.uint8).copy()[None, :]
    stats = gchip.run_program(want, PROG, enabled, gold)
    n = len(stats)
    assert got == want[0].tobytes()
    assert [read_stats(got, prog.stats[k], p) for k in range(n)] == stats
    assert (out["done"], out["failed"], out["layer"], out["errors"]) == (1, 0, n, [])
    program = gchip.decode_program(prog.sram, PROG, enabled, p)
    assert out["cycles"] == gchip.run_cycles(program.records, stats, p)
    assert out["cycles"] == run_perf(prog.sram, program, enabled, p)["PERF_SEQ_CYCLES"]
    assert list(chip.mvm_ops) == list(gold.mvm_ops)
    return got, stats


def step_by_step(prog: LifProgram, repeat: int, enabled=0b1):
    """The spikes of each step, the membranes and the counts of the last of `repeat` runs
    of the sequence one time step at a time: contract.neuron.lif_update on Python ints,
    each step's input the program's input spikes and the step before's spikes (the
    currents from the golden models of the crossbar, its conversions in the chip's order,
    and of the LoRA unit)."""
    p, wb = prog.params, prog.params.sram_word_bytes
    _, gold = twins(p)
    desc, layer, adapters = gchip.decode_program(prog.sram, PROG, enabled, p).plans[0]
    fields = vars(prog.neurons)
    for _ in range(repeat):
        m, k, spikes = [0] * prog.n_out, [0] * prog.n_out, [[0] * prog.n_out]
        for t in range(prog.steps):
            at = (prog.src + t * prog.stride) * wb
            x = np.frombuffer(prog.sram[at:at + prog.x_words * wb], np.int8)
            x = np.concatenate([x, np.array(spikes[-1], np.int8)])[None, :]
            acc, _ = gxbar.mvm(desc, x, gold)
            c = glora.lora_layer(x, acc, layer, adapters, enabled)[0]
            step = [lif_update(m[j], k[j], int(c[j]), fields) for j in range(prog.n_out)]
            spikes.append([s for s, _, _ in step])
            m, k = [v for _, v, _ in step], [n for _, _, n in step]
    return spikes[1:], m, k


@pytest.mark.parametrize("params, n_out, steps, repeat", [
    (P64, 10, 6, 1),  # last output word: 2 neurons, one membrane word
    # last output word: 5 neurons, two membrane words; the sequence run twice (the second
    # record's first step must not see the first's last state, still in the sequencer)
    (P64, 13, 5, 2),
    (P32, 10, 6, 1),  # 32-bit words: the LoRA descriptor's head is two words, P/2 = 2
])
def test_lif_recurrence_equals_golden_and_the_reference(params, n_out, steps, repeat):
    rng = np.random.default_rng(n_out + steps + params.sram_width)
    prog = build_lif_program(params, rng, n_out, steps, repeat)
    got, stats = run_both(prog)
    wb = params.sram_word_bytes
    spikes, mem, count = step_by_step(prog, repeat)
    for t in range(steps):  # step t's spikes: in the next step's input, where y would go
        at = (prog.src + (t + 1) * prog.stride + prog.x_words) * wb
        assert list(np.frombuffer(got[at:at + n_out], np.int8)) == spikes[t], t
    got_mem, got_count = read_state(got, prog.neurons, n_out, params)
    assert list(got_mem) == mem and list(got_count) == count
    assert list(got_count) == list(np.sum(spikes, axis=0))
    # the test means something: neurons spike, some more than once, some never
    assert 0 < got_count.sum() and got_count.max() > 1 and got_count.min() == 0
    assert np.any(got_mem != 0)
    readout = np.frombuffer(got, np.int8)[prog.readout_dst * wb:][:N_READOUT]
    assert np.any(readout != 0)  # the readout read the counts (its bytes: golden's, above)
    # the LIF record's SRAM words and cycles beyond those of the same layer as IDENTITY:
    # the neuron descriptor's fetch and check; per step an update a word (three cycles:
    # its two halves into the neuron block and a wait for the first half's results), the
    # spikes written where y would go, the membranes and counts written, and read from
    # the second step on
    desc, layer, _ = gchip.decode_program(prog.sram, PROG, 0b1, params).plans[0]
    nd_w, y_w = params.words_for(NEURON_DESC_BITS), -(-n_out // wb)
    state_w = sum(state_words(n_out, wb))
    identity = glora.Layer(layer.n_in, layer.n_out, layer.out_mult, layer.out_shift)
    assert stats[0].sram == gchip.record_sram_words(desc, identity, [2], params,
                                                    vectors=steps) \
        + nd_w + steps * state_w + (steps - 1) * state_w
    assert stats[0].cycles == gchip.record_cycles(desc, identity, [2], params, vectors=steps) \
        + (nd_w + 1) + 1 + steps * (3 * y_w + state_w) + (steps - 1) * state_w


def test_lif_pass_without_recurrence_equals_golden():
    """Spikes written apart from the inputs: the golden chip computes the pass's currents
    as one batch and updates the neurons vector after vector; the RTL agrees."""
    params = P64
    prog = build_lif_program(params, np.random.default_rng(3), 12, 5, spikes_at=900)
    got, _ = run_both(prog)
    spikes = np.frombuffer(got, np.int8)[900 * 8:][:5 * 16].reshape(5, 16)[:, :12]
    counts = read_state(got, prog.neurons, 12, params)[1]
    assert np.array_equal(spikes.sum(axis=0), counts) and counts.max() > 1


def test_golden_chip_refuses_state_over_the_program():
    """The golden chip decodes a program once: membranes written over a later record's
    descriptor are refused (ValueError), as outputs over the program are."""
    prog = build_lif_program(P64, np.random.default_rng(4), 10, 2)
    records, _ = gchip.read_program(prog.sram, PROG, P64)
    sram = np.frombuffer(_with_neurons(prog, mem=records[1].lora), np.uint8).copy()[None, :]
    with pytest.raises(ValueError, match="over the program's own records or descriptors"):
        gchip.run_program(sram, PROG, 0b1, twins(P64)[1])


def test_lif_write_back_cycles():
    """The write-back of a vector of 256 LIF neurons at 64-bit words against a plain one:
    per output word an update (three cycles: the neuron block's two halves in, and a
    cycle for the first half's results through its three stages) and the spikes', two
    membrane and a count word written, and from the second vector on the three state
    words read."""
    assert gchip.write_back_cycles(glora.Layer(256, 256, 1, 0), P64) == 32
    layer = glora.Layer(256, 256, 1, 0, Activation.LIF)
    update, written, read = 3, 1 + 2 + 1, 2 + 1
    assert gchip.write_back_cycles(layer, P64, first=True) == 32 * (update + written)
    assert gchip.write_back_cycles(layer, P64) == 32 * (update + written + read)


def test_256_lif_neurons_on_the_rtl_against_identity():
    """The README's figures, measured on the RTL: a layer of 256 LIF neurons over two time
    steps (264 inputs, 128 x 128 macros) against the same record as IDENTITY (its y
    written back): 483 cycles more (the neuron descriptor's fetch and check, 3; the first
    step's write-back 32 words x 7 = 224 cycles against 32, the second's 32 x 10 = 320)
    and 289 SRAM words (the descriptor; 96 state words written at each step, 96 read at
    the second)."""
    params = ChipParams(sram_depth=4096, n_macros=8)
    prog = build_lif_program(params, np.random.default_rng(1), 256, 2, readout_at=(6, 0, 0))
    _, (lif, _) = run_both(prog)
    identity = _with_lut(prog, 0, Activation.IDENTITY)
    _, (plain, _) = run_both(replace(prog, sram=identity))
    fetch_check, first, second = 3, 32 * 7, 32 * 10
    assert (fetch_check + (first - 32) + (second - 32)) == 483
    assert (lif.cycles - plain.cycles, lif.sram - plain.sram) == (483, 289)
    assert (lif.adc, lif.macs, lif.cache) == (plain.adc, plain.macs, plain.cache)


def _with_neurons(prog: LifProgram, **change) -> bytes:
    """The program with its neuron descriptor's fields changed."""
    wb = prog.params.sram_word_bytes
    sram = bytearray(prog.sram)
    nd = Neurons(**{**vars(prog.neurons), **change})
    sram[prog.neuron_at * wb:prog.neuron_at * wb + NEURON_DESC_BITS // 8] = nd.pack()
    return bytes(sram)


def _with_lut(prog: LifProgram, lut: int, act=Activation.LIF) -> bytes:
    """The program with its LIF layer's neuron descriptor address (lut) or activation
    changed."""
    from rmlora.contract.lora import LoraLayer
    from rmlora.contract.packing import pack_fields, unpack_fields

    p, wb = prog.params, prog.params.sram_word_bytes
    sram = bytearray(prog.sram)
    dw = p.words_for(LORA_DESC_BITS)
    raw = int.from_bytes(sram[prog.lora_at * wb:(prog.lora_at + dw) * wb], "little")
    f = {**unpack_fields(LoraLayer, raw), "lut": lut, "act": act}
    sram[prog.lora_at * wb:prog.lora_at * wb + LORA_DESC_BITS // 8] = pack_fields(
        LoraLayer, f).to_bytes(LORA_DESC_BITS // 8, "little")
    return bytes(sram)


def _last_spikes(prog):
    return prog.src + prog.stride * prog.steps + prog.x_words


@pytest.mark.parametrize("corrupt, code", [
    (lambda g, d: _with_lut(g, d), ErrorCode.SEQ_SRAM_RANGE),  # descriptor: CHECK
    (lambda g, d: _with_neurons(g, mem=d - 1), ErrorCode.SEQ_SRAM_RANGE),  # CHECK_ND
    (lambda g, d: _with_neurons(g, count=d - 1), ErrorCode.SEQ_SRAM_RANGE),
    (lambda g, d: _with_neurons(g, count=g.neurons.mem + 1), ErrorCode.SEQ_NEURON_OVERLAP),
    (lambda g, d: _with_neurons(g, mem=g.src + g.stride + g.x_words),  # the first spikes
     ErrorCode.SEQ_NEURON_OVERLAP),
    (lambda g, d: _with_neurons(g, count=_last_spikes(g) - 1),  # the last spikes
     ErrorCode.SEQ_NEURON_OVERLAP),
])
def test_lif_record_with_bad_state_is_refused_before_it_writes(corrupt, code):
    """Neuron descriptor, membranes or counts beyond the SRAM, or membranes, counts and
    spikes overlapping: the record is refused at its checks, before its first MVM, with
    nothing written; the RTL's SRAM, error, cycles and counters equal the golden chip's."""
    params = P64
    prog = build_lif_program(params, np.random.default_rng(7), 10, 3)
    sram = corrupt(prog, params.sram_depth)
    chip, gold = twins(params)
    got, out = run_core(sram, 0b1, chip, prog=PROG, params=params)
    want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
    with pytest.raises(gchip.ChipError) as refused:
        gchip.run_program(want, PROG, 0b1, gold)
    assert (refused.value.code, refused.value.layer) == (code, 0)
    assert out["errors"] == [code]
    assert (out["done"], out["failed"], out["layer"]) == (0, 1, 0)
    assert got == sram == want[0].tobytes()  # nothing written
    assert list(chip.mvm_ops) == list(gold.mvm_ops) == [0] * params.n_macros
    program = gchip.decode_program(sram, PROG, 0b1, params)
    assert out["cycles"] == run_perf(sram, program, 0b1, params)["PERF_SEQ_CYCLES"]


def test_lora_descriptor_head_words():
    """The sequencer reads the LoRA descriptor's words up to lut's: at 32-bit words act
    and lut sit in the second word."""
    from rmlora.contract import timing

    assert [timing.lora_desc_head_words(ChipParams(sram_width=w)) for w in (32, 64, 128)] == \
        [2, 1, 1]
