"""SRAM layout and image: where every record, descriptor, table, adapter and vector lives.

Word 0 stays unused (address 0 means "none" for entry and stats pointers). Then,
one after another: the layer programs of all segments (one layer-pass record per
layer of a segment, over all the segment's vectors), one MVM crossbar descriptor
per record, one LoRA layer descriptor per layer, the LUTs, one region per adapter
slot (its entries, then A and B of every layer it targets, so deleting the adapter
zeroes exactly that region), the activation vectors of every segment (each its
own, starting on a word; a layer's vectors evenly spaced, as a pass reads and
writes them), one SeqStats record per layer record, and the rest of
the SRAM as scratch for the runtime (PROGRAM targets and pulse counts).

A layer of LIF neurons (act LIF) gets a NeuronLayer descriptor after the LUTs (in a
LUT section: it is what the layer descriptor's lut field points at). A spiking
segment (SpikingSegmentSpec) lays out its reservoir's steps + 1 input vectors
[x_t padded | s_{t-1}], S words apart, one after another: the reservoir's pass reads
vector t and writes its spikes at vector t + 1's recurrent part (dst = src + S +
the words of x_t), so vector 0's recurrent part is never written (zero: the host
writes whole vectors). Then the readout's output vector, and the neurons' membranes
and counts (the readout's input).
"""

from dataclasses import dataclass, field

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.image import SectionKind
from rmlora.contract.lora import LORA_DESC_BITS, LUT_ENTRIES, Activation
from rmlora.contract.neuron import NEURON_DESC_BITS, state_words
from rmlora.contract.sequencer import SEQ_RECORD_BITS, SEQ_STATS_BITS
from rmlora.contract.xbar import XBAR_DESC_BITS, XbarOp
from rmlora.sw.formats import xbar
from rmlora.sw.formats.image import ImageSection, build_image
from rmlora.sw.formats.lora import pack_entry, pack_layer, pack_lut, pack_rows
from rmlora.sw.formats.neuron import Neurons
from rmlora.sw.formats.records import pack_record

from .compiled import ChipLayer, RecordInfo, Segment
from .spec import SegmentSpec, SpikingSegmentSpec

__all__ = ["SramLayout", "lay_out"]

ADDRESS_LIMIT = 1 << 16  # descriptors hold 16-bit SRAM word addresses
LUT_BYTES = LUT_ENTRIES  # one int8 entry each


@dataclass
class SramLayout:
    image: bytes
    segments: list[Segment]
    slot_regions: dict[int, tuple[int, int]]
    lora_layer_addrs: dict[str, int]
    entry_addrs: dict[tuple[str, int], int]
    lut_addrs: dict[str, int]
    scratch: tuple[int, int]
    neurons: dict[str, Neurons] = field(default_factory=dict)  # LIF layer -> descriptor
    neuron_addrs: dict[str, int] = field(default_factory=dict)  # LIF layer -> its SRAM word


class _Cursor:
    def __init__(self):
        self.next = 1  # word 0 is "none"

    def take(self, words: int) -> int:
        addr, self.next = self.next, self.next + words
        return addr


def _buffers(spec: SegmentSpec, layers: dict[str, ChipLayer], cur: _Cursor, vec_words):
    """The segment's chain of layers and its vectors' addresses: vectors[0] are the
    inputs, vectors[i + 1] the outputs of chain[i] (the last ones the segment's); each
    list is evenly spaced, one vector's words after the other's, as a pass strides."""
    chain = [layers[name] for name in spec.layers]
    for a, b in zip(chain, chain[1:], strict=False):
        if a.n_out != b.n_in:
            raise ValueError(f"segment {spec.name!r}: {a.name!r} gives {a.n_out} outputs, "
                             f"{b.name!r} takes {b.n_in}")
    vectors = [[cur.take(vec_words(chain[0].n_in)) for _ in range(spec.vectors)]]
    for layer in chain:
        vectors.append([cur.take(vec_words(layer.n_out)) for _ in range(spec.vectors)])
    return chain, vectors


@dataclass(frozen=True)
class _Spiking:
    """A spiking segment's SRAM: the reservoir's input vectors (steps + 1, `stride` words
    apart), the words of x_t, the readout's output, the neurons' membranes and counts."""

    chain: list[ChipLayer]
    steps: list[int]
    stride: int
    x_words: int
    output: int
    mem: int
    count: int


def _spiking_buffers(spec: SpikingSegmentSpec, layers: dict[str, ChipLayer], cur: _Cursor,
                     vec_words, params: ChipParams) -> _Spiking:
    res, out = layers[spec.reservoir], layers[spec.readout]
    x_words = vec_words(spec.x_bytes)
    what = f"spiking segment {spec.name!r}"
    if res.layer.act is not Activation.LIF or res.neuron is None or not res.spikes:
        raise ValueError(f"{what}: reservoir {res.name!r} must be a spike-mode layer of LIF "
                         f"neurons (act LIF, spikes 1, its neuron codes)")
    if res.n_in != x_words * params.sram_word_bytes + res.n_out:
        raise ValueError(f"{what}: reservoir {res.name!r} takes {res.n_in} inputs; [x_t | "
                         f"s_t-1] is {x_words} words of x_t then {res.n_out} spikes")
    if out.n_in != res.n_out:
        raise ValueError(f"{what}: readout {out.name!r} takes {out.n_in} inputs, the "
                         f"reservoir has {res.n_out} neurons")
    if spec.steps < 1:
        raise ValueError(f"{what}: steps={spec.steps} must be >= 1")
    stride = vec_words(res.n_in)
    first = cur.take(stride * (spec.steps + 1))
    output = cur.take(vec_words(out.n_out))
    mem_w, count_w = state_words(res.n_out, params.sram_word_bytes)
    return _Spiking([res, out], [first + t * stride for t in range(spec.steps + 1)], stride,
                    x_words, output, cur.take(mem_w), cur.take(count_w))


def lay_out(layers: list[ChipLayer], specs: list[SegmentSpec | SpikingSegmentSpec],
            params: ChipParams, scratch_words: int) -> SramLayout:
    wb = params.sram_word_bytes
    rec_w, xbar_w = params.words_for(SEQ_RECORD_BITS), params.words_for(XBAR_DESC_BITS)
    desc_w, stats_w = params.words_for(LORA_DESC_BITS), params.words_for(SEQ_STATS_BITS)

    def vw(n_bytes: int) -> int:
        return params.words_for(8 * n_bytes)

    by_name = {layer.name: layer for layer in layers}
    n_records = sum(len(s.layers) for s in specs)  # one layer pass per layer of a segment
    cur = _Cursor()
    program_base, xbar_base = cur.take(n_records * rec_w), cur.take(n_records * xbar_w)
    lora_addrs = {layer.name: cur.take(desc_w) for layer in layers}
    lut_addrs = {layer.name: cur.take(vw(LUT_BYTES)) for layer in layers
                 if layer.layer.act is Activation.LUT}
    neuron_addrs = {layer.name: cur.take(params.words_for(NEURON_DESC_BITS)) for layer in layers
                    if layer.layer.act is Activation.LIF}
    slot_regions, entry_addrs, matrix_addrs = {}, {}, {}
    for slot in sorted({s for layer in layers for s in layer.adapters}):
        start = cur.next
        targets = [layer for layer in layers if slot in layer.adapters]
        for layer in targets:
            entry_addrs[layer.name, slot] = cur.take(desc_w)
        for layer in targets:
            rank = layer.adapters[slot].rank
            matrix_addrs[layer.name, slot] = (cur.take(rank * vw(layer.n_in)),
                                              cur.take(layer.n_out * vw(rank)))
        slot_regions[slot] = (start, cur.next - start)
    buffers = [_spiking_buffers(spec, by_name, cur, vw, params)
               if isinstance(spec, SpikingSegmentSpec) else _buffers(spec, by_name, cur, vw)
               for spec in specs]
    stats_base = cur.take(n_records * stats_w)
    free = params.sram_depth - cur.next
    if free < scratch_words or cur.next > ADDRESS_LIMIT:
        raise ValueError(f"image and buffers do not fit the SRAM: they take {cur.next} words "
                         f"and the runtime needs {scratch_words} words of scratch, the "
                         f"{params.sram_depth}-word SRAM leaves {max(free, 0)}")

    program, xbars, segments, k = bytearray(), bytearray(), [], 0
    neurons = {}

    def record(layer: ChipLayer, src: int, dst: int, vectors: int, src_stride: int,
               dst_stride: int, last: bool) -> RecordInfo:
        nonlocal program, xbars, k
        macro, row0, col0 = layer.placement
        desc = xbar.Descriptor(XbarOp.MVM, layer.n_in, layer.n_out, src, dst,
                               macro, row0, col0, layer.gain_shift,
                               reads_log2=layer.reads_log2, spikes=layer.spikes)
        code = xbar.check(desc, params)
        if code is not ErrorCode.NONE:
            raise ValueError(f"layer {layer.name!r}: MVM descriptor refused: "
                             f"{code.name} ({desc})")
        info = RecordInfo(layer.name, program_base + k * rec_w, stats_base + k * stats_w,
                          layer.n_in, layer.n_out, xbar_base + k * xbar_w, src, dst,
                          vectors, src_stride, dst_stride)
        packed = pack_record(info.xbar, lora_addrs[layer.name], info.dst, info.stats, last,
                             info.vectors, src_stride, dst_stride)
        program += packed.ljust(rec_w * wb, b"\0")
        xbars += desc.pack().ljust(xbar_w * wb, b"\0")
        k += 1
        return info

    for spec, buf in zip(specs, buffers, strict=True):
        if isinstance(spec, SpikingSegmentSpec):
            res, out = buf.chain
            neurons[res.name] = Neurons(buf.mem, buf.count, **res.neuron)
            infos = [record(res, buf.steps[0], buf.steps[1] + buf.x_words, spec.steps,
                            buf.stride, buf.stride, False),
                     record(out, buf.count, buf.output, 1, vw(out.n_in), vw(out.n_out), True)]
            segments.append(Segment(spec.name, infos[0].record, buf.steps[:-1], res.n_in,
                                    [buf.output], out.n_out, infos, list(spec.layers)))
            continue
        chain, vectors = buf
        infos = []
        for li, layer in enumerate(chain):
            srcs, dsts = vectors[li], vectors[li + 1]
            infos.append(record(layer, srcs[0], dsts[0], spec.vectors, vw(layer.n_in),
                                vw(layer.n_out), li == len(chain) - 1))
        segments.append(Segment(spec.name, infos[0].record, vectors[0], chain[0].n_in,
                                vectors[-1], chain[-1].n_out, infos, list(spec.layers)))
    missing = sorted(set(neuron_addrs) - set(neurons))
    if missing:
        raise ValueError(f"LIF layers {missing} are not the reservoir of a spiking segment: "
                         f"their neurons' state has no place")

    sections = [ImageSection(SectionKind.LAYER_PROGRAM, program_base, bytes(program)),
                ImageSection(SectionKind.XBAR, xbar_base, bytes(xbars))]
    descs = b"".join(
        pack_layer(layer.layer, lut_addrs.get(layer.name, neuron_addrs.get(layer.name, 0)),
                   {s: entry_addrs[layer.name, s] for s in layer.adapters}).ljust(desc_w * wb,
                                                                                  b"\0")
        for layer in layers)
    sections.append(ImageSection(SectionKind.LORA_LAYER, lora_addrs[layers[0].name], descs))
    if lut_addrs:
        luts = b"".join(pack_lut(by_name[name].layer.lut) for name in lut_addrs)
        sections.append(ImageSection(SectionKind.LUT, next(iter(lut_addrs.values())), luts))
    if neuron_addrs:  # what a LIF layer's lut field points at
        blob = b"".join(neurons[name].pack().ljust(params.words_for(NEURON_DESC_BITS) * wb,
                                                   b"\0") for name in neuron_addrs)
        sections.append(ImageSection(SectionKind.LUT, next(iter(neuron_addrs.values())), blob))
    for slot, (start, _) in slot_regions.items():
        targets = [layer for layer in layers if slot in layer.adapters]
        blob = b"".join(pack_entry(layer.adapters[slot], *matrix_addrs[layer.name, slot])
                        .ljust(desc_w * wb, b"\0") for layer in targets)
        for layer in targets:
            ad = layer.adapters[slot]
            blob += pack_rows(ad.a, wb) + pack_rows(ad.b, wb)
        sections.append(ImageSection(SectionKind.ADAPTER, start, blob, slot))
    return SramLayout(build_image(sections, params), segments, slot_regions, lora_addrs,
                      entry_addrs, lut_addrs, (cur.next, free), neurons, neuron_addrs)
