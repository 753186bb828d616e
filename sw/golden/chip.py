"""Golden model of the whole chip running a layer program (hw/sequencer.py).

It reads the program, descriptors and adapters from a memory image exactly as the
RTL does (contract layouts, the same checks in the same order), then runs each
record batched over B independent copies of the SRAM: row b of `sram` is the
buffer as the b-th of B back-to-back runs of the program sees it. The crossbar
conversions get the operation indices those B sequential runs would give them, so
the outputs, the SeqStats records and the macros' counters equal a cosimulation
that runs the program B times.
"""

from dataclasses import replace

import numpy as np

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.lora import LORA_DESC_BITS, LoraLayer
from rmlora.contract.packing import pack_fields, unpack_fields
from rmlora.contract.sequencer import (
    SEQ_MAX_LAYERS,
    SEQ_RECORD_BITS,
    SEQ_STATS_BITS,
    SeqLayer,
    SeqStats,
)
from rmlora.contract.xbar import XBAR_DESC_BITS, XbarDescriptor, XbarOp
from rmlora.sw.formats.records import LayerStats, Record, read_packed

from . import lora as glora
from . import xbar as gxbar
from .macros import Macros

__all__ = ["ChipError", "read_program", "record_cycles", "record_sram_words", "cache_hits",
           "run_cycles", "run_program"]


class ChipError(RuntimeError):
    """The chip stopped the program: the ErrorCode it logged and the record it was on.
    (The runtime's refusals, rmlora.sw.runtime.refusals, are ChipErrors too, with code
    and layer None: the chip never saw the call.)"""

    def __init__(self, code: ErrorCode, layer: int, detail: str = ""):
        self.code, self.layer = code, layer
        super().__init__(f"layer program stopped at record {layer}: {code.name}: {code.text}"
                         + (f" ({detail})" if detail else ""))


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
        records.append(Record(addr, f["xbar"], f["lora"], f["dst"], f["stats"], bool(f["last"])))
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


def record_cycles(desc: gxbar.Descriptor, layer: glora.Layer, ranks: list[int],
                  params: ChipParams, hit: bool = False) -> int:
    """Cycles of one record as its SeqStats.cycles counts them, from the record's fetch
    to the end of y's write-back: fetches and checks, the MVM (+1: the cycle the
    sequencer sees it done), the LoRA unit (+2: the x feeder's first read is a cycle
    behind a stream that is always valid, and the cycle the sequencer sees it done),
    y's write-back, a word a cycle."""
    rec_w, xd_w = params.words_for(SEQ_RECORD_BITS), params.words_for(XBAR_DESC_BITS)
    fetch_and_check = (timing.fetch_cycles(rec_w) + timing.CHECK_CYCLES  # FETCH_REC, CHECK_REC
                       + timing.fetch_cycles(xd_w)  # FETCH_XD
                       + timing.fetch_cycles(timing.LORA_DESC_FIRST_WORDS)  # FETCH_LD
                       + timing.CHECK_CYCLES)
    write_y = -(-layer.n_out // params.sram_word_bytes)  # WRITE_Y: a word a cycle
    return (fetch_and_check
            + gxbar.mvm_cycles(desc, params, stream_p=True) + timing.SEQ_HANDOFF_CYCLES
            + glora.cycles(layer, ranks, params, hit) + timing.SEQ_X_FEED_LAG_CYCLES
            + timing.SEQ_HANDOFF_CYCLES + write_y)


def record_sram_words(desc: gxbar.Descriptor, layer: glora.Layer, ranks: list[int],
                      params: ChipParams, hit: bool = False) -> int:
    """SeqStats.sram of one record: the sequencer's fetches (record, crossbar descriptor,
    the LoRA descriptor's first word), the MVM's reads, the LoRA unit's reads (none on a
    cache hit), and y written (the LoRA unit's x comes from the sequencer's x buffer)."""
    wb = params.sram_word_bytes
    own = (params.words_for(SEQ_RECORD_BITS) + params.words_for(XBAR_DESC_BITS)
           + timing.LORA_DESC_FIRST_WORDS)
    return (own + gxbar.mvm_sram_reads(desc, params) + glora.sram_reads(layer, ranks, params, hit)
            + -(-layer.n_out // wb))


def cache_hits(records: list[Record], plans: list, enabled: int, params: ChipParams
               ) -> list[bool]:
    """Which records the LoRA unit runs from its adapter cache: the one before ran the same
    LoRA descriptor (a START flushes the cache) and its adapters fit (glora.caches)."""
    hits, tag = [], None
    for rec, (_, layer, adapters) in zip(records, plans, strict=False):
        hits.append(tag == rec.lora)
        on = [ad.rank for s, ad in sorted(adapters.items()) if enabled >> s & 1]
        tag = rec.lora if layer is not None and glora.caches(layer, on, params) else None
    return hits


def run_cycles(records: list[Record], stats: list[LayerStats], params: ChipParams) -> int:
    """PERF_SEQ_CYCLES of one run: each record's cycles, plus the cycle that starts it and
    the one that ends it, plus its stats write."""
    stats_w = params.words_for(SEQ_STATS_BITS)
    per_record = timing.SEQ_RECORD_START_CYCLES + timing.SEQ_RECORD_END_CYCLES  # NEXT, END
    return sum(st.cycles + per_record + (stats_w if rec.stats else 0)
               for rec, st in zip(records, stats, strict=True))


def run_program(sram: np.ndarray, prog_addr: int, enabled: int, macros: Macros
                ) -> list[LayerStats]:
    """Run the program at prog_addr on every row of `sram` ((B, sram_bytes) uint8, updated
    in place: outputs and stats records written); returns each record's stats."""
    p = macros.params
    if sram.ndim != 2 or sram.shape[1] != p.sram_bytes or sram.dtype != np.uint8:
        raise ValueError(f"sram must be (batch, {p.sram_bytes}) uint8, got {sram.shape} "
                         f"{sram.dtype}")
    batch = sram.shape[0]
    mem = sram[0].tobytes()
    records, error = read_program(mem, prog_addr, p)
    plans = []
    for i, rec in enumerate(records):
        code, plan = _check_record(mem, rec, enabled, p)
        if code is not ErrorCode.NONE:
            error = ChipError(code, i)
            if code.name.startswith("LORA_"):  # refused after its MVM ran
                plans.append((plan, None, None))
            break
        plans.append(plan)
    ran = [plan for plan in plans if plan[1] is not None]
    _check_not_self_modifying(records[:len(ran)], ran, p)
    hits = cache_hits(records, ran, enabled, p)
    per_run = np.zeros(p.n_macros, dtype=np.int64)  # conversions of one run, per macro
    offsets = []
    for desc, _, _ in plans:
        offsets.append(per_run.copy())
        for macro, ops in gxbar.mvm_ops_per_macro(desc, p).items():
            per_run[macro] += ops
    if error is not None:  # the chip stops in the first run: later runs never start
        for i, (desc, layer, adapters) in enumerate(plans):
            if layer is not None:
                _run_records(sram[:1], [records[i]], [desc], layer, adapters, enabled, macros,
                             [macros.mvm_ops[None, :] + offsets[i]], hits[i:i + 1])
        macros.mvm_ops += per_run
        raise error
    start = macros.mvm_ops[None, :] + np.arange(batch)[:, None] * per_run[None, :]
    stats = []
    for group in _independent_groups(records, plans):
        _, layer, adapters = plans[group[0]]
        stats += _run_records(sram, [records[i] for i in group],
                              [plans[i][0] for i in group], layer, adapters, enabled,
                              macros, [start + offsets[i] for i in group],
                              [hits[i] for i in group])
    macros.mvm_ops += batch * per_run
    return stats


def _independent_groups(records, plans) -> list[list[int]]:
    """Runs of consecutive records that apply one layer (same LoRA descriptor, same
    crossbar descriptor but for src/dst) to inputs none of them writes: each run is
    computed as one batch (a layer over many vectors), in the chip's order."""
    groups = []
    for i, (rec, (desc, _, _)) in enumerate(zip(records, plans, strict=True)):
        if groups:
            first = groups[-1][0]
            base = plans[first][0]
            same = (rec.lora == records[first].lora
                    and replace(desc, src=0, dst=0) == replace(base, src=0, dst=0))
            written = {records[j].dst for j in groups[-1]}
            if same and desc.src not in written:
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


def _check_record(mem, rec: Record, enabled: int, p: ChipParams):
    """The sequencer's, the crossbar controller's and the LoRA unit's checks, in order."""
    xd_w, dw = p.words_for(XBAR_DESC_BITS), p.words_for(LORA_DESC_BITS)
    if rec.xbar + xd_w > p.sram_depth or rec.lora + dw > p.sram_depth:
        return ErrorCode.SEQ_SRAM_RANGE, None
    op, desc = _descriptor(mem, rec.xbar, p)
    lf = unpack_fields(LoraLayer, read_packed(mem, rec.lora, LORA_DESC_BITS, p))
    if op != XbarOp.MVM.value or (desc.n_rows, desc.n_cols) != (lf["n_in"], lf["n_out"]):
        return ErrorCode.SEQ_SHAPE, None
    wb = p.sram_word_bytes
    if (rec.dst + -(-lf["n_out"] // wb) > p.sram_depth
            or (rec.stats and rec.stats + p.words_for(SEQ_STATS_BITS) > p.sram_depth)):
        return ErrorCode.SEQ_SRAM_RANGE, None
    code = gxbar.check(desc, p)
    if code is not ErrorCode.NONE:
        return code, None
    code, layer, adapters = glora.read_layer(mem, rec.lora, enabled, p)
    if code is not ErrorCode.NONE:
        return code, desc
    return ErrorCode.NONE, (desc, layer, adapters)


def _check_not_self_modifying(records, plans, p: ChipParams):
    """This model decodes the program once; refuse a program whose outputs overwrite it."""
    wb = p.sram_word_bytes
    reads = []  # (adapter entries, A, B and LUTs are the compiler's to keep apart)
    for rec in records:
        reads += [(rec.addr, p.words_for(SEQ_RECORD_BITS)), (rec.xbar, p.words_for(XBAR_DESC_BITS)),
                  (rec.lora, p.words_for(LORA_DESC_BITS))]
    for rec, (_, layer, _) in zip(records, plans, strict=True):
        writes = [(rec.dst, -(-layer.n_out // wb))]
        if rec.stats:
            writes.append((rec.stats, p.words_for(SEQ_STATS_BITS)))
        for w0, wn in writes:
            for r0, rn in reads:
                if w0 < r0 + rn and r0 < w0 + wn:
                    raise ValueError(f"record at word {rec.addr} writes words {w0}..{w0 + wn - 1}"
                                     f", over the program's own records or descriptors")


def _run_records(sram, recs, descs, layer, adapters, enabled, macros, op_starts, hits
                 ) -> list[LayerStats]:
    """One layer over the records' input vectors, all runs and records as one batch."""
    p = macros.params
    wb = p.sram_word_bytes
    batch, n = len(sram), descs[0].n_rows
    x = np.concatenate([sram[:, d.src * wb: d.src * wb + n] for d in descs]).view(np.int8)
    acc, counts = gxbar.mvm(descs[0], x, macros, op_start=np.concatenate(op_starts))
    y = glora.lora_layer(x, acc, layer, adapters, enabled).view(np.uint8)
    for k, rec in enumerate(recs):
        sram[:, rec.dst * wb: rec.dst * wb + layer.n_out] = y[k * batch:(k + 1) * batch]
    on = [ad.rank for s, ad in sorted(adapters.items()) if enabled >> s & 1]
    stats = []
    for rec, hit in zip(recs, hits, strict=True):
        st = LayerStats(cycles=record_cycles(descs[0], layer, on, p, hit),
                        adc=counts.adc // len(x), mvm=counts.mvm // len(x),
                        macs=glora.macs(layer, on),
                        sram=record_sram_words(descs[0], layer, on, p, hit),
                        cache=glora.cache_reads(layer, on, p, hit))
        value = pack_fields(SeqStats, vars(st), "stats field")
        raw = np.frombuffer(value.to_bytes(p.words_for(SEQ_STATS_BITS) * wb, "little"),
                            np.uint8)
        if rec.stats:
            sram[:, rec.stats * wb: rec.stats * wb + len(raw)] = raw
        stats.append(st)
    return stats
