"""Golden model of the whole chip running a layer program (hw/sequencer.py).

It reads the program, descriptors and adapters from a memory image exactly as the
RTL does (contract layouts, the same checks in the same order), then runs each
record batched over B independent copies of the SRAM: row b of `sram` is the
buffer as the b-th of B back-to-back runs of the program sees it. The crossbar
conversions get the operation indices those B sequential runs would give them, so
the outputs, the SeqStats records and the macros' counters equal a cosimulation
that runs the program B times.
"""

from dataclasses import dataclass, field, replace

import numpy as np

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.lora import LORA_DESC_BITS, Activation, LoraLayer
from rmlora.contract.neuron import NEURON_DESC_BITS, state_words
from rmlora.contract.packing import pack_fields, unpack_fields
from rmlora.contract.sequencer import (
    SEQ_MAX_LAYERS,
    SEQ_RECORD_BITS,
    SEQ_STATS_BITS,
    SeqLayer,
    SeqStats,
)
from rmlora.contract.xbar import XBAR_DESC_BITS, XbarDescriptor, XbarOp
from rmlora.sw.formats.neuron import Neurons, read_neurons
from rmlora.sw.formats.records import LayerStats, Record, read_packed, strided

from . import lora as glora
from . import neuron as gneuron
from . import xbar as gxbar
from .macros import Macros

__all__ = ["ChipError", "InputRefused", "Program", "Rows", "cache_hits", "decode_program",
           "fetch_check_cycles", "fetched_neurons", "read_program", "record_cache_words",
           "record_cycles", "record_sram_words", "run_cycles", "run_program", "run_window",
           "sequencer_cycles", "vector_hits", "write_back_cycles"]


class ChipError(RuntimeError):
    """The chip stopped the program: the ErrorCode it logged and the record it was on.
    (The runtime's refusals, rmlora.sw.runtime.refusals, are ChipErrors too, with code
    and layer None: the chip never saw the call.)"""

    def __init__(self, code: ErrorCode, layer: int, detail: str = ""):
        self.code, self.layer, self.detail = code, layer, detail
        super().__init__(f"layer program stopped at record {layer}: {code.name}: {code.text}"
                         + (f" ({detail})" if detail else ""))

    def __reduce__(self):  # picklable whole: a cosimulation sends it to the host
        return type(self), (self.code, self.layer, self.detail)


class InputRefused(ChipError):
    """The chip stopped the program as it ran: the crossbar controller refused vector
    `vector` of record `layer` for its inputs (XBAR_SPIKE_INPUT: a spike-mode MVM's input
    other than 0 and 1), in run `run` of the batch. The runs before it ran whole, that
    run up to the vector, and the later ones never started."""

    def __init__(self, code: ErrorCode, layer: int, vector: int, run: int = 0):
        self.vector, self.run = vector, run
        super().__init__(code, layer, f"vector {vector} of run {run}")

    def __reduce__(self):
        return type(self), (self.code, self.layer, self.vector, self.run)


def read_program(mem: bytes, prog_addr: int, params: ChipParams
                 ) -> tuple[list[Record], ChipError | None]:
    """The records from prog_addr to the first `last`, and the ChipError the sequencer
    stops with if it runs off the SRAM before (after running the records before)."""
    rec_w = params.words_for(SEQ_RECORD_BITS)
    records, addr = [], prog_addr
    while True:
        if addr + rec_w > params.sram_depth:
            return records, ChipError(ErrorCode.SEQ_SRAM_RANGE, len(records),
                                      f"record at word {addr}")
        f = unpack_fields(SeqLayer, read_packed(mem, addr, SEQ_RECORD_BITS, params))
        records.append(Record(addr, f["xbar"], f["lora"], f["dst"], f["stats"], bool(f["last"]),
                              f["vectors"], f["src_stride"], f["dst_stride"]))
        if f["last"]:
            return records, None
        if len(records) >= SEQ_MAX_LAYERS:
            raise ValueError(f"layer program at word {prog_addr} has no last record within "
                             f"{SEQ_MAX_LAYERS} records")
        addr += rec_w


def _descriptor(mem: bytes, word: int, params: ChipParams) -> tuple[int, gxbar.Descriptor]:
    f = unpack_fields(XbarDescriptor, read_packed(mem, word, XBAR_DESC_BITS, params))
    op = f.pop("op")
    return op, gxbar.Descriptor(XbarOp(op) if op in (0, 1) else XbarOp.MVM, **f)


def vector_hits(layer: glora.Layer, ranks: list[int], params: ChipParams, hit: bool,
                 vectors: int) -> list[bool]:
    """Which vectors of a pass the LoRA unit runs from its cache: the first if the record
    before left it valid (`hit`), the others if the adapters fit it."""
    return [hit] + [glora.caches(layer, ranks, params)] * (vectors - 1)


def _write_back_words(layer: glora.Layer, params: ChipParams, first: bool) -> int:
    """SRAM words of one vector's write-back: y's words; for a LIF layer the spikes', and
    the membranes and counts written, and read but at the pass's first vector."""
    y_w = -(-layer.n_out // params.sram_word_bytes)
    if layer.act is not Activation.LIF:
        return y_w
    state_w = sum(state_words(layer.n_out, params.sram_word_bytes))
    return y_w + state_w * (1 if first else 2)


def write_back_cycles(layer: glora.Layer, params: ChipParams, first: bool = False) -> int:
    """Cycles of one vector's write-back, a SRAM word a cycle: WRITE_Y; for a LIF layer
    (the pass's first vector reads no state) its words and per output word LIF_UPDATE."""
    words = _write_back_words(layer, params, first)
    if layer.act is not Activation.LIF:
        return words
    y_w = -(-layer.n_out // params.sram_word_bytes)
    return words * timing.SEQ_STATE_WORD_CYCLES + y_w * timing.SEQ_LIF_UPDATE_CYCLES


def fetch_check_cycles(layer: glora.Layer, params: ChipParams) -> int:
    """A record's fetches and checks, before its first MVM starts: FETCH_REC, CHECK_REC,
    FETCH_XD, FETCH_LD, CHECK, and a LIF layer's FETCH_ND, CHECK_ND."""
    rec_w, xd_w = params.words_for(SEQ_RECORD_BITS), params.words_for(XBAR_DESC_BITS)
    cycles = (timing.fetch_cycles(rec_w) + timing.CHECK_CYCLES + timing.fetch_cycles(xd_w)
              + timing.fetch_cycles(timing.lora_desc_head_words(params)) + timing.CHECK_CYCLES)
    if layer.act is Activation.LIF:
        cycles += timing.fetch_cycles(params.words_for(NEURON_DESC_BITS)) + timing.CHECK_CYCLES
    return cycles


def record_cycles(desc: gxbar.Descriptor, layer: glora.Layer, ranks: list[int],
                  params: ChipParams, hit: bool = False, vectors: int = 1) -> int:
    """Cycles of one record (a pass over `vectors` vectors) as its SeqStats.cycles counts
    them, from the record's fetch to the end of the last y's write-back: fetches and
    checks (a LIF layer's neuron descriptor too: FETCH_ND, CHECK_ND); per vector the MVM
    (+1: the cycle the sequencer sees it done; from the second vector on the controller
    reuses its descriptor), the LoRA unit (its busy cycles, then its last outputs leave
    until done, timing.LORA_DONE_LAG_CYCLES, which grows with the unit's pipeline: a cycle
    more since its operand stage, issue 25; +2: the x feeder's first read is a cycle
    behind a stream that is always valid, and the cycle the sequencer sees it done), the
    write-back (write_back_cycles); a cycle between vectors."""
    per_vector = [gxbar.mvm_cycles(desc, params, stream_p=True, fetch=v == 0)
                  + timing.SEQ_HANDOFF_CYCLES + glora.cycles(layer, ranks, params, h)
                  + timing.LORA_DONE_LAG_CYCLES + timing.SEQ_X_FEED_LAG_CYCLES
                  + timing.SEQ_HANDOFF_CYCLES + write_back_cycles(layer, params, v == 0)
                  for v, h in enumerate(vector_hits(layer, ranks, params, hit, vectors))]
    return (fetch_check_cycles(layer, params) + sum(per_vector)
            + timing.SEQ_VECTOR_CYCLES * (vectors - 1))


def record_sram_words(desc: gxbar.Descriptor, layer: glora.Layer, ranks: list[int],
                      params: ChipParams, hit: bool = False, vectors: int = 1) -> int:
    """SeqStats.sram of one record: the sequencer's fetches (record, crossbar descriptor,
    the LoRA descriptor's head, a LIF layer's neuron descriptor), once per pass; per
    vector the MVM's reads (the descriptor for the first only), the LoRA unit's reads
    (none on a cache hit), and the write-back's words (the LoRA unit's x comes from the
    sequencer's x buffer)."""
    own = (params.words_for(SEQ_RECORD_BITS) + params.words_for(XBAR_DESC_BITS)
           + timing.lora_desc_head_words(params))
    if layer.act is Activation.LIF:
        own += params.words_for(NEURON_DESC_BITS)
    return own + sum(gxbar.mvm_sram_reads(desc, params, fetch=v == 0)
                     + glora.sram_reads(layer, ranks, params, h)
                     + _write_back_words(layer, params, v == 0)
                     for v, h in enumerate(vector_hits(layer, ranks, params, hit, vectors)))


def record_cache_words(layer: glora.Layer, ranks: list[int], params: ChipParams,
                       hit: bool = False, vectors: int = 1) -> int:
    """SeqStats.cache of one record: a pass over A and B per vector run from the cache."""
    return sum(glora.cache_reads(layer, ranks, params, h)
               for h in vector_hits(layer, ranks, params, hit, vectors))


def cache_hits(records: list[Record], plans: list, enabled: int, params: ChipParams
               ) -> list[bool]:
    """Which records' first vectors the LoRA unit runs from its adapter cache: the record
    before ran the same LoRA descriptor (a START flushes the cache) and its adapters fit
    (glora.caches). A pass's later vectors hit whenever they fit."""
    hits, tag = [], None
    for rec, (_, layer, adapters) in zip(records, plans, strict=False):
        hits.append(tag == rec.lora)
        on = [ad.rank for s, ad in sorted(adapters.items()) if enabled >> s & 1]
        tag = rec.lora if layer is not None and glora.caches(layer, on, params) else None
    return hits


def sequencer_cycles(rec: Record, cycles: int, params: ChipParams) -> int:
    """PERF_SEQ_CYCLES of one record whose SeqStats.cycles is `cycles`: plus the cycle that
    starts it and the one that ends it (NEXT, END), plus its stats write."""
    stats_w = params.words_for(SEQ_STATS_BITS) if rec.stats else 0
    return cycles + timing.SEQ_RECORD_START_CYCLES + timing.SEQ_RECORD_END_CYCLES + stats_w


def run_cycles(records: list[Record], stats: list[LayerStats], params: ChipParams) -> int:
    """PERF_SEQ_CYCLES of one run: every record's sequencer_cycles."""
    return sum(sequencer_cycles(rec, st.cycles, params)
               for rec, st in zip(records, stats, strict=True))


@dataclass
class Program:
    """A layer program as the sequencer sees it before it runs: its records, each one's
    checked (crossbar descriptor, LoRA layer, adapters) plan, the ChipError it stops
    with (None: it runs to its last record), and the neuron descriptors of its LIF
    layers by record index."""

    records: list[Record]
    plans: list
    error: ChipError | None
    neurons: dict[int, Neurons] = field(default_factory=dict)


def decode_program(mem: bytes, prog_addr: int, enabled: int, params: ChipParams) -> Program:
    """The program at prog_addr in `mem` (the whole SRAM), decoded and checked."""
    records, error = read_program(mem, prog_addr, params)
    plans, neurons = [], {}
    for i, rec in enumerate(records):
        code, plan = _check_record(mem, rec, enabled, params)
        if code is not ErrorCode.NONE:
            error = ChipError(code, i)
            if code.name.startswith("LORA_"):  # refused after its first vector's MVM ran
                plans.append((plan, None, None))
            break
        plans.append(plan)
        if plan[1].act is Activation.LIF:
            neurons[i] = read_neurons(mem, plan[1].neuron, params)
    return Program(records, plans, error, neurons)


def run_program(sram: np.ndarray, prog_addr: int, enabled: int, macros: Macros,
                base: int = 0, program: Program | None = None) -> list[LayerStats]:
    """Run the program at prog_addr on every row of `sram` ((B, n) uint8, updated in
    place: outputs and stats records written); returns each record's stats.

    By default a row is the whole SRAM and the program is read from the first. Given
    the `program` (decode_program of the SRAM as the first run sees it, the same
    prog_addr and enabled), a row may hold only bytes base..base + n, which must cover
    every byte a run reads as a vector's input or writes (`run_window` gives them): the
    part of the SRAM that differs between runs, so a batch does not copy the rest B
    times."""
    p = macros.params
    if sram.ndim != 2 or sram.dtype != np.uint8 or (
            sram.shape[1] != p.sram_bytes if program is None
            else not 0 <= base <= base + sram.shape[1] <= p.sram_bytes):
        raise ValueError(f"sram must be (batch, {p.sram_bytes}) uint8 (or a window of it from "
                         f"byte base={base} with the program given), got {sram.shape} "
                         f"{sram.dtype}")
    batch = sram.shape[0]
    rows = Rows(sram, base)
    if program is None:
        program = decode_program(sram[0].tobytes(), prog_addr, enabled, p)
    records, plans, error = program.records, program.plans, program.error
    ran = [plan for plan in plans if plan[1] is not None]
    _check_not_self_modifying(records[:len(ran)], ran, program.neurons, p)
    hits = cache_hits(records, ran, enabled, p)
    per_run = np.zeros(p.n_macros, dtype=np.int64)  # conversions of one run, per macro
    offsets = []  # per record: each of its vectors' first conversion on each macro
    for rec, (desc, layer, _) in zip(records, plans, strict=False):
        per_vector = np.zeros(p.n_macros, dtype=np.int64)
        for macro, ops in gxbar.mvm_ops_per_macro(desc, p).items():
            per_vector[macro] = ops
        vectors = rec.vectors if layer is not None else 1
        offsets.append([per_run + v * per_vector for v in range(vectors)])
        per_run = per_run + vectors * per_vector
    if error is not None:  # the chip stops in the first run: later runs never start
        _run_passes(Rows(sram[:1], base), records[:len(ran)], ran, program.neurons, enabled,
                    macros, [[macros.mvm_ops[None, :] + o for o in offs] for offs in offsets],
                    hits)
        macros.mvm_ops += per_run
        raise error
    if batch > 1 and any(desc.spikes for desc, _, _ in plans):
        # Whether a spike-mode MVM refuses its inputs depends on them (an earlier record
        # may have written them): the runs one at a time, so that the chip stops in the
        # first refused run, the runs before it whole, none after it started.
        for b in range(batch):
            try:
                stats = run_program(sram[b:b + 1], prog_addr, enabled, macros, base, program)
            except InputRefused as refused:
                refused.run = b
                raise
        return stats
    start = macros.mvm_ops[None, :] + np.arange(batch)[:, None] * per_run[None, :]
    try:
        stats = _run_passes(rows, records, plans, program.neurons, enabled, macros,
                            [[start + o for o in offs] for offs in offsets], hits)
    except InputRefused as refused:  # one run (above): the conversions before the vector
        macros.mvm_ops += offsets[refused.layer][refused.vector]
        raise
    macros.mvm_ops += batch * per_run
    return stats


def _vector_items(records, plans) -> list[tuple[int, int, gxbar.Descriptor, int]]:
    """(record index, vector index, the vector's MVM descriptor, its dst word) of every
    vector the records run, in the chip's order."""
    return [(i, v, replace(desc, src=src), dst)
            for i, (rec, (desc, _, _)) in enumerate(zip(records, plans, strict=True))
            for v, (src, dst) in enumerate(zip(strided(desc.src, rec.src_stride, rec.vectors),
                                               rec.dsts(), strict=True))]


def _writes(layer: glora.Layer, neurons: Neurons | None, dst: int, p: ChipParams
            ) -> list[tuple[int, int]]:
    """(first word, words) a vector's write-back writes: y, or a LIF layer's spikes and
    state."""
    spans = [(dst, -(-layer.n_out // p.sram_word_bytes))]
    return spans + (neurons.regions(layer.n_out, p) if neurons is not None else [])


def _independent_groups(records, plans, neurons, items, p: ChipParams) -> list[list[int]]:
    """Runs of consecutive vectors of one layer (same LoRA descriptor, same crossbar
    descriptor but for src/dst) whose inputs none of them writes: each run is computed
    as one batch (a layer over many vectors), in the chip's order."""
    wb = p.sram_word_bytes
    groups, written = [], []
    for k, (i, _, desc, dst) in enumerate(items):
        writes = _writes(plans[i][1], neurons.get(i), dst, p)
        if groups:
            first_i, _, first_desc, _ = items[groups[-1][0]]
            same = (records[i].lora == records[first_i].lora
                    and replace(desc, src=0, dst=0) == replace(first_desc, src=0, dst=0))
            n_w = -(-desc.n_rows // wb)
            reads_written = any(desc.src < w0 + wn and w0 < desc.src + n_w for w0, wn in written)
            if same and not reads_written:
                groups[-1].append(k)
                written += writes
                continue
        groups.append([k])
        written = list(writes)
    return groups


def _head_check(mem, rec: Record, p: ChipParams):
    """The sequencer's CHECK_REC and CHECK: (code, crossbar descriptor, LoRA layer fields)."""
    xd_w, dw = p.words_for(XBAR_DESC_BITS), p.words_for(LORA_DESC_BITS)
    if rec.xbar + xd_w > p.sram_depth or rec.lora + dw > p.sram_depth:
        return ErrorCode.SEQ_SRAM_RANGE, None, None
    op, desc = _descriptor(mem, rec.xbar, p)
    lf = unpack_fields(LoraLayer, read_packed(mem, rec.lora, LORA_DESC_BITS, p))
    if op != XbarOp.MVM.value or (desc.n_rows, desc.n_cols) != (lf["n_in"], lf["n_out"]):
        return ErrorCode.SEQ_SHAPE, None, None
    if rec.vectors == 0:
        return ErrorCode.SEQ_VECTORS, None, None
    wb = p.sram_word_bytes
    last = rec.vectors - 1
    if (rec.dst + last * rec.dst_stride + -(-lf["n_out"] // wb) > p.sram_depth
            or desc.src + last * rec.src_stride + -(-lf["n_in"] // wb) > p.sram_depth
            or (rec.stats and rec.stats + p.words_for(SEQ_STATS_BITS) > p.sram_depth)
            or (lf["act"] == Activation.LIF.value
                and lf["lut"] + p.words_for(NEURON_DESC_BITS) > p.sram_depth)):
        return ErrorCode.SEQ_SRAM_RANGE, None, None
    return ErrorCode.NONE, desc, lf


def fetched_neurons(mem: bytes, rec: Record, p: ChipParams) -> Neurons | None:
    """The NeuronLayer descriptor the sequencer fetches for a record (FETCH_ND, then
    CHECK_ND): a LIF layer's whose record passed CHECK; else None."""
    code, _, lf = _head_check(mem, rec, p)
    if code is not ErrorCode.NONE or lf["act"] != Activation.LIF.value:
        return None
    return read_neurons(mem, lf["lut"], p)


def _neuron_check(rec: Record, n_out: int, neurons: Neurons, p: ChipParams) -> ErrorCode:
    """CHECK_ND: a LIF layer's membranes and counts fit the SRAM and overlap neither each
    other nor the pass's outputs (the span from the first vector's to the last's)."""
    (mem, mem_w), (count, count_w) = neurons.regions(n_out, p)
    if mem + mem_w > p.sram_depth or count + count_w > p.sram_depth:
        return ErrorCode.SEQ_SRAM_RANGE
    spikes = (rec.dst, rec.dst + (rec.vectors - 1) * rec.dst_stride + count_w)
    spans = [spikes, (mem, mem + mem_w), (count, count + count_w)]
    if any(a0 < b1 and b0 < a1 for k, (a0, a1) in enumerate(spans) for b0, b1 in spans[k + 1:]):
        return ErrorCode.SEQ_NEURON_OVERLAP
    return ErrorCode.NONE


def _check_record(mem, rec: Record, enabled: int, p: ChipParams):
    """The sequencer's, the crossbar controller's and the LoRA unit's checks, in order."""
    code, desc, lf = _head_check(mem, rec, p)
    if code is not ErrorCode.NONE:
        return code, None
    if lf["act"] == Activation.LIF.value:
        code = _neuron_check(rec, lf["n_out"], read_neurons(mem, lf["lut"], p), p)
        if code is not ErrorCode.NONE:
            return code, None
    code = gxbar.check(desc, p)
    if code is not ErrorCode.NONE:
        return code, None
    code, layer, adapters = glora.read_layer(mem, rec.lora, enabled, p)
    if code is not ErrorCode.NONE:
        return code, desc
    return ErrorCode.NONE, (desc, layer, adapters)


def _check_not_self_modifying(records, plans, neurons, p: ChipParams):
    """This model decodes the program once; refuse a program whose outputs overwrite it."""
    reads = []  # (adapter entries, A, B and LUTs are the compiler's to keep apart)
    for i, (rec, (_, layer, _)) in enumerate(zip(records, plans, strict=True)):
        reads += [(rec.addr, p.words_for(SEQ_RECORD_BITS)), (rec.xbar, p.words_for(XBAR_DESC_BITS)),
                  (rec.lora, p.words_for(LORA_DESC_BITS))]
        if i in neurons:
            reads.append((layer.neuron, p.words_for(NEURON_DESC_BITS)))
    for i, (rec, (_, layer, _)) in enumerate(zip(records, plans, strict=True)):
        writes = [w for dst in rec.dsts() for w in _writes(layer, neurons.get(i), dst, p)]
        if rec.stats:
            writes.append((rec.stats, p.words_for(SEQ_STATS_BITS)))
        for w0, wn in writes:
            for r0, rn in reads:
                if w0 < r0 + rn and r0 < w0 + wn:
                    raise ValueError(f"record at word {rec.addr} writes words {w0}..{w0 + wn - 1}"
                                     f", over the program's own records or descriptors")


class Rows:
    """Bytes base..base + n of each run's SRAM ((B, n) uint8), addressed by SRAM byte;
    an access outside them is a caller's bug."""

    def __init__(self, sram: np.ndarray, base: int):
        self.sram, self.base = sram, base

    def _span(self, byte0: int, n: int) -> slice:
        lo = byte0 - self.base
        if not 0 <= lo <= lo + n <= self.sram.shape[1]:
            raise ValueError(f"bytes {byte0}..{byte0 + n - 1} are outside the window of "
                             f"bytes {self.base}..{self.base + self.sram.shape[1] - 1}")
        return slice(lo, lo + n)

    def get(self, byte0: int, n: int) -> np.ndarray:
        return self.sram[:, self._span(byte0, n)]

    def put(self, byte0: int, values: np.ndarray):
        self.sram[:, self._span(byte0, values.shape[-1])] = values


def run_window(program: Program, params: ChipParams, ranges: list[tuple[int, int]]
               ) -> tuple[int, int]:
    """Bytes [lo, hi) of the SRAM that differ between runs of the program: the given
    (byte, length) ranges (the host's inputs and the outputs it reads back) and every
    vector's input, output and stats record; the whole SRAM if the program stops."""
    if program.error is not None:
        return 0, params.sram_bytes
    wb = params.sram_word_bytes
    spans = list(ranges)
    for i, (rec, (desc, layer, _)) in enumerate(zip(program.records, program.plans,
                                                    strict=True)):
        spans += [(src * wb, layer.n_in) for src in strided(desc.src, rec.src_stride, rec.vectors)]
        spans += [(dst * wb, layer.n_out) for dst in rec.dsts()]
        if i in program.neurons:
            spans += [(w * wb, n * wb) for w, n in program.neurons[i].regions(layer.n_out,
                                                                              params)]
        if rec.stats:
            spans.append((rec.stats * wb, params.words_for(SEQ_STATS_BITS) * wb))
    return min(b for b, _ in spans), max(b + n for b, n in spans)


def _run_passes(rows: Rows, records, plans, neurons, enabled, macros, op_starts, hits
                ) -> list[LayerStats]:
    """Every vector of the records, batched over runs and over the vectors of a layer
    that do not read each other's outputs; op_starts[i][v]: (B, n_macros) first conversion
    indices of record i's vector v. Writes outputs (a LIF layer's: its neurons updated in
    the vectors' order, neurons[i]) and stats records; returns the stats."""
    p = macros.params
    wb = p.sram_word_bytes
    batch = len(rows.sram)
    items = _vector_items(records, plans)
    stats = {}
    for group in _independent_groups(records, plans, neurons, items, p):
        _, layer, adapters = plans[items[group[0]][0]]
        descs = [items[k][2] for k in group]
        n = descs[0].n_rows
        x = np.concatenate([rows.get(d.src * wb, n) for d in descs]).view(np.int8)
        starts = np.concatenate([op_starts[items[k][0]][items[k][1]] for k in group])
        refused = np.flatnonzero(gxbar.refused_inputs(descs[0], x))
        stop = None
        if refused.size:  # one run (run_program runs spike-mode MVMs run by run)
            i, v, _, _ = items[group[refused[0]]]
            stop = InputRefused(ErrorCode.XBAR_SPIKE_INPUT, i, v)
            group, x, starts = (group[:refused[0]], x[:refused[0]], starts[:refused[0]])
            if not group:
                raise stop
        acc, counts = gxbar.mvm(descs[0], x, macros, op_start=starts)
        y = glora.lora_layer(x, acc, layer, adapters, enabled).view(np.uint8)
        per_vector = counts.adc // len(x), counts.mvm // len(x)  # one vector's conversions
        for j, k in enumerate(group):
            i, v, _, dst = items[k]
            if i in neurons:
                gneuron.write_back(rows, neurons[i], y[j * batch:(j + 1) * batch].view(np.int8),
                                   dst * wb, wb, first=v == 0)
            else:
                rows.put(dst * wb, y[j * batch:(j + 1) * batch])
            if v == records[i].vectors - 1:  # the pass is done: its stats record
                stats[i] = _write_stats(rows, records[i], plans[i], enabled, hits[i],
                                        per_vector, p)
        if stop is not None:
            raise stop
    return [stats[i] for i in range(len(records))]


def _write_stats(rows: Rows, rec: Record, plan, enabled: int, hit: bool, per_vector, p: ChipParams
                 ) -> LayerStats:
    """The record's SeqStats (its whole pass), written to its stats words if it has any."""
    desc, layer, adapters = plan
    on = [ad.rank for s, ad in sorted(adapters.items()) if enabled >> s & 1]
    v = rec.vectors
    st = LayerStats(cycles=record_cycles(desc, layer, on, p, hit, v),
                    adc=per_vector[0] * v, mvm=per_vector[1] * v, macs=glora.macs(layer, on) * v,
                    sram=record_sram_words(desc, layer, on, p, hit, v),
                    cache=record_cache_words(layer, on, p, hit, v))
    if rec.stats:
        wb = p.sram_word_bytes
        value = pack_fields(SeqStats, vars(st), "stats field")
        raw = np.frombuffer(value.to_bytes(p.words_for(SEQ_STATS_BITS) * wb, "little"),
                            np.uint8)
        rows.put(rec.stats * wb, raw)
    return st
