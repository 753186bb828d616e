"""The compiler's SRAM image, read back with the contract's layouts only.

`run_from_sram` is a small sequencer that knows nothing of the compiler's data
structures: it follows SeqLayer records from a segment's program address, decodes
the crossbar descriptor, the LoRA layer descriptor, adapter entries, A, B and the
LUT from the SRAM bytes, and takes the weights from the write-verify plan's
blocks on the macros. Its outputs must equal the ideal runner's exactly.
"""

import numpy as np
import pytest
import torch
from amaranth.lib import data
from torch import nn

from rmlora.contract.image import NO_SLOT, SectionKind
from rmlora.contract.lora import LORA_SLOTS, AdapterEntry, LoraLayer
from rmlora.contract.sequencer import SeqLayer
from rmlora.contract.xbar import XbarDescriptor, XbarOp
from rmlora.sw.compiler import compile_model
from rmlora.sw.formats.image import parse_image
from rmlora.sw.formats.lora import Adapter, Layer
from rmlora.sw.golden.lora import lora_layer
from rmlora.sw.lora import inject_adapter
from rmlora.sw.models import FaceMixer
from rmlora.sw.runtime import ideal_segment_runner, run_network
from tests.sw.test_compiler import adapted_mlp, randomise_b
from tests.sw.test_compiler import data as inputs

DESC_BYTES = 16


def load_sram(compiled) -> bytes:
    wb = compiled.params.sram_word_bytes
    sram = bytearray(compiled.params.sram_bytes)
    for s in parse_image(compiled.image, compiled.params):
        sram[s.sram_word * wb: s.sram_word * wb + len(s.payload)] = s.payload
    return bytes(sram)


def decode(layout, sram: bytes, word: int, wb: int):
    at = word * wb
    return data.Layout.cast(layout).from_bits(int.from_bytes(sram[at:at + DESC_BYTES], "little"))


def read_rows(sram, word, rows, cols, wb):
    words = -(-cols // wb)
    raw = np.frombuffer(sram, dtype=np.int8, count=rows * words * wb, offset=word * wb)
    return raw.reshape(rows, words * wb)[:, :cols].copy()


def macro_weights(compiled) -> np.ndarray:
    p = compiled.params
    macros = np.zeros((p.n_macros, p.macro_rows, p.macro_cols), dtype=np.int64)
    for (desc, _), w in zip(compiled.plan, compiled.plan_weights, strict=True):
        macros[desc.macro, desc.row0:desc.row0 + desc.n_rows,
               desc.col0:desc.col0 + desc.n_cols] = w
    return macros


def crossbar_block(macros, desc, params) -> np.ndarray:
    """The layer's n_rows x n_cols weights as the MVM sees them (tile order of contract.xbar)."""
    rows, cols = params.macro_rows, params.macro_cols
    n_ct = -(-desc.n_cols // cols)
    block = np.zeros((desc.n_rows, desc.n_cols), dtype=np.int64)
    for r0 in range(0, desc.n_rows, rows):
        for c0 in range(0, desc.n_cols, cols):
            m = macros[desc.macro + r0 // rows * n_ct + c0 // cols]
            h, w = min(rows, desc.n_rows - r0), min(cols, desc.n_cols - c0)
            block[r0:r0 + h, c0:c0 + w] = m[desc.row0:desc.row0 + h, desc.col0:desc.col0 + w]
    return block


def sram_runner(compiled, enabled):
    sram, wb, p = load_sram(compiled), compiled.params.sram_word_bytes, compiled.params
    macros = macro_weights(compiled)

    def run(segment, x):
        vectors = {addr: x[:, v] for v, addr in enumerate(segment.inputs)}
        word, visited = segment.program, 0
        while True:
            rec = decode(SeqLayer, sram, word, wb)
            assert rec.stats == segment.records[visited].stats
            desc = decode(XbarDescriptor, sram, rec.xbar, wb)
            assert desc.op is XbarOp.MVM
            lora = decode(LoraLayer, sram, rec.lora, wb)
            block = crossbar_block(macros, desc, p)
            lut = read_rows(sram, lora.lut, 1, 256, wb)[0] if lora.lut else None
            layer = Layer(lora.n_in, lora.n_out, lora.out_mult, lora.out_shift, lora.act, lut)
            adapters = {}
            for slot in range(LORA_SLOTS):
                at = getattr(lora, f"entry{slot}")
                if at:
                    e = decode(AdapterEntry, sram, at, wb)
                    adapters[slot] = Adapter(read_rows(sram, e.a_addr, e.rank, lora.n_in, wb),
                                             read_rows(sram, e.b_addr, lora.n_out, e.rank, wb),
                                             e.q_mult, e.q_shift, e.scale_mult)
            for v in range(rec.vectors):  # the pass: strided inputs and outputs
                x_in = vectors[desc.src + v * rec.src_stride]
                p_sums = x_in.astype(np.int64) @ block
                vectors[rec.dst + v * rec.dst_stride] = lora_layer(x_in, p_sums, layer,
                                                                   adapters, enabled)
            visited += 1
            if rec.last:
                break
            word += p.words_for(128)
        assert visited == len(segment.records)
        return np.stack([vectors[a] for a in segment.outputs], axis=1)

    return run


def mixer():
    torch.manual_seed(0)
    model = FaceMixer()
    inject_adapter(model, "u", 4, 8.0, ["fc1", "head"], generator=torch.Generator().manual_seed(1))
    inject_adapter(model, "v", 2, 2.0, ["fc2"], generator=torch.Generator().manual_seed(2))
    randomise_b(model, 3)
    calib = np.random.default_rng(0).uniform(0, 1, (32, 16, 16)).astype(np.float32)
    return compile_model(model, calib), calib


def tiled():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(200, 100, bias=False), nn.GELU(),
                          nn.Linear(100, 10, bias=False))
    x = inputs(3, 64, (200,))
    return compile_model(model, x), x


@pytest.fixture(scope="module", params=["mlp", "mlp_reads", "mixer", "tiled"])
def case(request):
    if request.param.startswith("mlp"):
        x = inputs(0, 64)
        reads = {"0": 8, "4": 2} if request.param == "mlp_reads" else 1
        return compile_model(adapted_mlp(), x, reads=reads), x
    return mixer() if request.param == "mixer" else tiled()


def test_image_runs_from_the_sram_bytes_alone(case):
    compiled, x = case
    masks = {0, compiled.all_slots} | {1 << s for s in compiled.adapter_slots.values()}
    for mask in sorted(masks):
        want = run_network(compiled, x, ideal_segment_runner(compiled, mask))
        got = run_network(compiled, x, sram_runner(compiled, mask))
        assert np.array_equal(got, want)


def test_sections_decode_to_the_compiled_fields(case):
    compiled, _ = case
    p, wb = compiled.params, compiled.params.sram_word_bytes
    sram = load_sram(compiled)
    sections = parse_image(compiled.image, p)
    kinds = [s.kind for s in sections]
    assert kinds.count(SectionKind.ADAPTER) == len(compiled.adapter_slots)
    for s in sections:
        if s.kind is not SectionKind.ADAPTER:
            assert s.slot == NO_SLOT
        else:
            assert compiled.slot_regions[s.slot] == (s.sram_word, -(-len(s.payload) // wb))
    for layer in compiled.layers:
        d = decode(LoraLayer, sram, compiled.lora_layer_addrs[layer.name], wb)
        want = layer.layer
        assert (d.n_in, d.n_out, d.out_mult, d.out_shift, d.act) == (
            want.n_in, want.n_out, want.out_mult, want.out_shift, want.act)
        assert d.lut == compiled.lut_addrs.get(layer.name, 0)
        for slot in range(LORA_SLOTS):
            entry = getattr(d, f"entry{slot}")
            assert entry == compiled.entry_addrs.get((layer.name, slot), 0)
            if slot in layer.adapters:
                start, words = compiled.slot_regions[slot]
                e = decode(AdapterEntry, sram, entry, wb)
                ad = layer.adapters[slot]
                assert (e.rank, e.q_mult, e.q_shift, e.scale_mult) == (
                    ad.rank, ad.q_mult, ad.q_shift, ad.scale_mult)
                assert start <= entry and e.b_addr + ad.b.shape[0] * -(-ad.rank // wb) <= (
                    start + words)
                assert np.array_equal(read_rows(sram, e.a_addr, ad.rank, layer.n_in, wb), ad.a)
    for segment in compiled.segments:
        assert segment.program == segment.records[0].record
        for i, info in enumerate(segment.records):
            rec = decode(SeqLayer, sram, info.record, wb)
            assert (rec.xbar, rec.lora, rec.dst, rec.stats, rec.last, rec.vectors,
                    rec.src_stride, rec.dst_stride) == (
                info.xbar, compiled.lora_layer_addrs[info.layer], info.dst, info.stats,
                int(i == len(segment.records) - 1), info.vectors, info.src_stride,
                info.dst_stride)
            desc = decode(XbarDescriptor, sram, info.xbar, wb)
            layer = compiled.layer(info.layer)
            assert (desc.macro, desc.row0, desc.col0) == layer.placement
            assert (desc.n_rows, desc.n_cols, desc.src, desc.dst, desc.gain_shift,
                    desc.reads_log2) == (layer.n_in, layer.n_out, info.src, info.dst,
                                         layer.gain_shift, layer.reads_log2)


def test_buffers_stats_and_scratch_overlap_nothing(case):
    compiled, _ = case
    p = compiled.params
    wb = p.sram_word_bytes
    spans = {(s.sram_word, -(-len(s.payload) // wb)) for s in parse_image(compiled.image, p)}
    for segment in compiled.segments:
        for info in segment.records:
            spans |= {(src, -(-info.n_in // wb)) for src in info.srcs()}
            spans |= {(dst, -(-info.n_out // wb)) for dst in info.dsts()}
            spans.add((info.stats, p.words_for(128)))
    spans.add(compiled.scratch)
    owner = np.zeros(p.sram_depth, dtype=int)
    for start, words in spans:
        assert start >= 1 and start + words <= p.sram_depth
        owner[start:start + words] += 1
    assert owner.max() == 1
    assert compiled.scratch[1] >= 2 * max(d.n_rows * d.n_cols for d, _ in compiled.plan) // wb
