"""Golden model of what a layer program leaves in the chip's registers: the PERF_*
counters of a run (rmlora.contract.perf) and the ERR_ADDR of a program that stops.

A program's START zeroes every counter, so after a run each one counts that run alone;
the sums below are the per-vector formulas of chip.py, lora.py and xbar.py, each unit
counted as the RTL counts it (hw/sequencer.py, hw/xbar_controller.py, hw/lora_unit.py).
Equal with == to the Verilator build's, run to the end or stopped by each block
(tests/cosim/test_golden_bus_cosim.py).
"""

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.lora import LORA_DESC_BITS, LORA_SLOTS, LoraLayer
from rmlora.contract.neuron import NEURON_DESC_BITS
from rmlora.contract.packing import unpack_fields
from rmlora.contract.perf import PERF_REGISTERS
from rmlora.contract.sequencer import SEQ_RECORD_BITS
from rmlora.contract.xbar import XBAR_DESC_BITS
from rmlora.sw.formats.records import read_packed

from . import lora as glora
from . import xbar as gxbar
from .chip import (
    InputRefused,
    Program,
    cache_hits,
    fetch_check_cycles,
    fetched_neurons,
    record_cache_words,
    record_cycles,
    sequencer_cycles,
    vector_hits,
)

__all__ = ["run_perf", "stop_addr", "conversions"]

COUNTER_MASK = 0xFFFF_FFFF  # every counter is 32 bits and wraps


def run_perf(mem: bytes, program: Program, enabled: int, params: ChipParams
             ) -> dict[str, int]:
    """Every PERF_* register after one run of `program` (decode_program of `mem`, the
    SRAM its START saw). The crossbar controller is busy for each vector's MVM (results
    streamed to the sequencer; the descriptor fetched for the first vector only); the
    LoRA unit for each vector's pass plus the cycle the sequencer's x feeder lags it
    (timing.SEQ_X_FEED_LAG_CYCLES), and reads the SRAM only on a cache miss; a run makes
    no pulse. A program that stops counts its finished records and the part of the
    stopping record that ran (_stopped; _input_refused when program.error is the
    InputRefused the run raised). Not for a START refused at SEQ_PROG: that leaves
    every counter as it was."""
    p, error = params, program.error
    if error is not None and not program.records:
        raise ValueError("run_perf: a START refused at SEQ_PROG runs nothing")
    ran = [plan for plan in program.plans if plan[1] is not None]
    counts = dict.fromkeys(PERF_REGISTERS, 0)
    hits = cache_hits(program.records, ran, enabled, p)
    for i, (rec, (desc, layer, adapters), hit) in enumerate(zip(program.records, ran, hits,
                                                                 strict=False)):
        ranks = [ad.rank for s, ad in sorted(adapters.items()) if enabled >> s & 1]
        if isinstance(error, InputRefused) and i == error.layer:
            _input_refused(counts, desc, layer, ranks, hit, error.vector, p)
            break
        n = rec.vectors
        _add(counts, PERF_SEQ_CYCLES=sequencer_cycles(
                 rec, record_cycles(desc, layer, ranks, p, hit, n), p))
        _vectors(counts, desc, layer, ranks, hit, n, p)
    if (error is not None and error.layer < len(program.records)
            and not isinstance(error, InputRefused)):
        _stopped(counts, mem, program, enabled, p)
    return {name: value & COUNTER_MASK for name, value in counts.items()}


def _add(counts: dict[str, int], **more: int):
    for name, value in more.items():
        counts[name] += value


def conversions(desc: gxbar.Descriptor, p: ChipParams, vectors: int) -> dict[str, int]:
    """PERF_ADC and PERF_MVM of `vectors` MVMs: a bit plane per input bit (one in spike
    mode) on every tile, converted desc.reads times, each conversion converting the
    tile's columns."""
    n_rt = -(-desc.n_rows // p.macro_rows)
    return {"PERF_MVM": vectors * sum(gxbar.mvm_ops_per_macro(desc, p).values()),
            "PERF_ADC": vectors * desc.planes * desc.reads * n_rt * desc.n_cols}


def _vectors(counts: dict[str, int], desc, layer, ranks, hit: bool, n: int, p: ChipParams):
    """The units' counts of a record's first n vectors, each run whole."""
    per_vector = vector_hits(layer, ranks, p, hit, n)
    _add(counts,
         PERF_XB_CYCLES=sum(gxbar.mvm_cycles(desc, p, stream_p=True, fetch=v == 0)
                            for v in range(n)),
         PERF_LORA_CYCLES=sum(glora.cycles(layer, ranks, p, h)
                              + timing.SEQ_X_FEED_LAG_CYCLES for h in per_vector),
         PERF_SRAM_READS=sum(glora.sram_reads(layer, ranks, p, h) for h in per_vector),
         PERF_MACS=glora.macs(layer, ranks) * n,
         PERF_CACHE_READS=record_cache_words(layer, ranks, p, hit, n),
         **conversions(desc, p, n))


def _input_refused(counts: dict[str, int], desc, layer, ranks, hit: bool, vector: int,
                   p: ChipParams):
    """The counts of a record stopped at `vector` by an MVM that refused its inputs
    (XBAR_SPIKE_INPUT): its vectors before run whole, each followed by a VECTOR cycle;
    then that vector's MVM to its refusal (gxbar.spike_refused_cycles), and the cycle in
    which the sequencer sees it. No stats record, no END."""
    seq = timing.SEQ_RECORD_START_CYCLES
    if vector:
        seq += record_cycles(desc, layer, ranks, p, hit, vector) + timing.SEQ_VECTOR_CYCLES
        _vectors(counts, desc, layer, ranks, hit, vector, p)
    else:  # the record's fetches and checks (record_cycles' first term)
        seq += fetch_check_cycles(layer, p)
    refused = gxbar.spike_refused_cycles(desc, p, fetch=vector == 0)
    _add(counts, PERF_SEQ_CYCLES=seq + refused + timing.SEQ_HANDOFF_CYCLES,
         PERF_XB_CYCLES=refused)


def _stopped(counts: dict[str, int], mem: bytes, program: Program, enabled: int,
             p: ChipParams):
    """The stopping record's counts: the sequencer's cycles from NEXT to the state that
    stops it (CHECK_REC, CHECK, a LIF layer's CHECK_ND, or waiting on the refusing unit),
    the crossbar controller's fetch and check (it refused) or its first vector's whole MVM
    (the LoRA unit refused), and the LoRA unit's descriptor and entry fetches up to its
    refusal."""
    error = program.error
    rec = program.records[error.layer]
    rec_w, xd_w = p.words_for(SEQ_RECORD_BITS), p.words_for(XBAR_DESC_BITS)
    seq = timing.SEQ_RECORD_START_CYCLES + timing.fetch_cycles(rec_w) + timing.CHECK_CYCLES
    if error.code is ErrorCode.SEQ_SRAM_RANGE and (
            rec.xbar + xd_w > p.sram_depth
            or rec.lora + p.words_for(LORA_DESC_BITS) > p.sram_depth):  # CHECK_REC
        _add(counts, PERF_SEQ_CYCLES=seq)
        return
    seq += (timing.fetch_cycles(xd_w) + timing.fetch_cycles(timing.lora_desc_head_words(p))
            + timing.CHECK_CYCLES)  # CHECK
    if fetched_neurons(mem, rec, p) is not None:  # a LIF layer: FETCH_ND, CHECK_ND
        seq += timing.fetch_cycles(p.words_for(NEURON_DESC_BITS)) + timing.CHECK_CYCLES
    unit = error.code.name.split("_")[0]
    if unit == "SEQ":
        _add(counts, PERF_SEQ_CYCLES=seq)
        return
    if unit == "XBAR":
        xbar = (timing.fetch_cycles(xd_w, timing.XBAR_FETCH_SPACING)
                + timing.xbar_check_cycles())
        _add(counts, PERF_SEQ_CYCLES=seq + xbar + timing.SEQ_HANDOFF_CYCLES,
             PERF_XB_CYCLES=xbar)
        return
    desc = program.plans[error.layer][0]
    xbar = gxbar.mvm_cycles(desc, p, stream_p=True)
    entries, outside = _entry_fetches(mem, rec.lora, enabled, p)
    dw = p.words_for(LORA_DESC_BITS)
    lora = (timing.fetch_cycles(dw) * (1 + entries)
            + timing.LORA_NEXT_ENTRY_CYCLES * (entries + 1))  # to the last NEXT_ENTRY
    if error.code is not ErrorCode.LORA_SRAM_RANGE or outside is None:  # in CHECK
        lora += timing.LORA_CHECK_PRODUCTS_CYCLES + timing.CHECK_CYCLES
    _add(counts, PERF_SEQ_CYCLES=seq + xbar + lora + 2 * timing.SEQ_HANDOFF_CYCLES,
         PERF_XB_CYCLES=xbar, PERF_LORA_CYCLES=lora, PERF_SRAM_READS=dw * (1 + entries),
         **conversions(desc, p, 1))


def _entry_fetches(mem: bytes, lora: int, enabled: int, p: ChipParams
                   ) -> tuple[int, int | None]:
    """How the LoRA unit fetches the adapter entries of the layer at `lora`, the enabled
    ones lowest slot first: how many it fetched, and the first outside the SRAM (None:
    all fetched), where it refuses the layer."""
    dw = p.words_for(LORA_DESC_BITS)
    f = unpack_fields(LoraLayer, read_packed(mem, lora, LORA_DESC_BITS, p))
    fetched = 0
    for slot in range(LORA_SLOTS):
        entry = f[f"entry{slot}"]
        if enabled >> slot & 1 and entry:
            if entry + dw > p.sram_depth:
                return fetched, entry
            fetched += 1
    return fetched, None


def stop_addr(mem: bytes, prog_addr: int, program: Program, enabled: int,
              params: ChipParams) -> int:
    """ERR_ADDR the RTL logs for the program's error: the block that refuses logs the
    SRAM word it was given. The sequencer: SEQ_PROG at START, else the record it checks,
    or the word after the last record it ran when the next would leave the SRAM; the
    crossbar controller: the record's crossbar descriptor; the LoRA unit: the first
    enabled adapter entry (lowest slot) outside the SRAM, else its layer descriptor."""
    error, records = program.error, program.records
    if error is None:
        raise ValueError("stop_addr: the program runs to its last record")
    if not records:
        return prog_addr
    rec_w = params.words_for(SEQ_RECORD_BITS)
    if error.layer == len(records):
        return records[-1].addr + rec_w
    rec = records[error.layer]
    if error.code.name.startswith("XBAR_"):
        return rec.xbar
    if not error.code.name.startswith("LORA_"):
        return rec.addr
    if error.code is ErrorCode.LORA_SRAM_RANGE:
        outside = _entry_fetches(mem, rec.lora, enabled, params)[1]
        if outside is not None:
            return outside
    return rec.lora
