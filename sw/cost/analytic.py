"""The chip's activity for any network, from its layer shapes alone (issue 22).

    counts = inference_counts(net, [AdapterSpec("lora", 4, 8.0, ["fc1", "fc2"])], ChipParams())
    costs = inference_costs(net, adapters, params, table)

A network is a NetworkSpec (sw.cost.spec): segments of layer passes. The counts are the
simulated chip's own quantities in its own units, computed by the golden model's
formulas, which the RTL's counters equal with ==: cycles and SRAM words per record
(golden.chip.record_cycles, record_sram_words, record_cache_words, cache_hits), LoRA
MACs (golden.lora.macs), bit planes and scheduled conversions (golden.xbar,
golden.perf.conversions). Nothing of them is copied here, so a change of the chip's
timing moves these counts with it.

Two counts depend on the data, not on the shapes: which bit planes drive no row (the
macro gates its ADCs on them) and how many rows the others drive. They come from
``ActivityStats``: measured on the simulated tasks (DEFAULT_ACTIVITY), taken from a
task's own run (``ActivityStats.measured``), or for binary spike inputs derived from
a spike rate (``ActivityStats.binary``). Every figure built on them says so.

The chip at a larger scale is the same design tiled: a layer wider than a macro spans
several (golden.xbar's tiling), a network with more tiles than one chip's macros spans
several chips. What is not modelled: moving activations between chips, and the limits
of this build that a larger one would lift (16 macros, 512 LoRA features, 64 KiB SRAM);
the counts extrapolate the same per-word and per-tile timing.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from rmlora.contract import ChipParams
from rmlora.contract.lora import Activation
from rmlora.contract.macro import MacroConfig
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.contract.xbar import XbarOp
from rmlora.sw.formats.lora import Layer, adapter_words
from rmlora.sw.formats.xbar import Descriptor, ceil_div, macro_tiles
from rmlora.sw.golden import lora as glora
from rmlora.sw.golden import xbar as gxbar
from rmlora.sw.golden.chip import cache_hits, record_cache_words, record_cycles, record_sram_words
from rmlora.sw.golden.perf import conversions

from .model import digital_inference, digital_weight_words, hybrid_inference
from .spec import ActivityStats, AdapterSpec, LayerPass, NetworkSpec
from .table import HOR14_PJ, OpTable, scale

__all__ = ["inference_counts", "inference_costs", "adapter_bytes"]


def _lora_layer(lp: LayerPass) -> Layer:
    """The LoRA unit's view of a layer: its shape and activation (the multipliers do not
    change any count)."""
    return Layer(lp.n_in, lp.n_out, 1, 0, Activation.LUT if lp.lut else Activation.IDENTITY)


def _descriptor(lp: LayerPass) -> Descriptor:
    """The pass's MVM descriptor: its shape and reads per plane (a gain shift that
    admits them: it changes no count). int8 inputs for spike inputs too (spikes = 0,
    as the compiler packs every descriptor; ActivityStats.binary counts their 7 empty
    planes): the counts below take the planes from the descriptor."""
    reads_log2 = lp.reads.bit_length() - 1
    return Descriptor(XbarOp.MVM, lp.n_in, lp.n_out, 0, 0, gain_shift=reads_log2,
                      reads_log2=reads_log2)


def _segment_hits(segment, ranks: dict[str, list[int]], params: ChipParams) -> list[bool]:
    """golden.chip.cache_hits of a segment: a record's first vector runs from the cache
    when the record before ran the same layer (its LoRA descriptor) and its adapters fit."""
    records = [SimpleNamespace(lora=lp.layer) for lp in segment]
    plans = [(None, _lora_layer(lp),
              {slot: SimpleNamespace(rank=r) for slot, r in enumerate(ranks.get(lp.layer, []))})
             for lp in segment]
    every_slot = (1 << max(map(len, ranks.values()), default=0)) - 1  # all of them enabled
    return cache_hits(records, plans, every_slot, params)


def inference_counts(net: NetworkSpec, adapters: list[AdapterSpec], params: ChipParams,
                     stats: ActivityStats | None = None,
                     digital_buffer_words: int | None = None) -> dict:
    """Per inference, in the units of measure_inference (learn.on_chip) and the chip's
    counters. Exact: cycles (SeqStats), sram_words (with each record's stats write),
    sram_reads, cache_words, lora_macs, analogue_macs, scheduled_conversions,
    scheduled_planes, plane_rows (rows times planes scheduled). From ``stats`` (default
    the network's): adc_conversions, adc_skipped, mvm_ops, empty_planes, row_activations.
    Also the all-digital chip's weight traffic (digital_sram_words, digital_buffer_words)
    and the spike-driven layers' share of it; its weight buffer holds
    ``digital_buffer_words`` (default: the LoRA unit's cache, params.lora_cache_words)."""
    return dict(_counts(net, tuple(adapters), params, stats or net.activity,
                        params.lora_cache_words if digital_buffer_words is None
                        else digital_buffer_words))


@cache
def _counts(net: NetworkSpec, adapters: tuple[AdapterSpec, ...], params: ChipParams,
            stats: ActivityStats, buffer_words: int) -> dict:
    """inference_counts, remembered: a sensitivity sweep reprices the same counts."""
    ranks = net.ranks(list(adapters))
    p, wb = params, params.sram_word_bytes
    stats_w = p.words_for(SEQ_STATS_BITS)
    c = dict.fromkeys(("cycles", "sram_words", "sram_reads", "cache_words", "lora_macs",
                       "analogue_macs", "scheduled_conversions", "scheduled_planes",
                       "plane_rows", "adc_conversions", "adc_skipped", "mvm_ops",
                       "empty_planes", "row_activations", "digital_sram_words",
                       "digital_buffer_words", "digital_weight_macs"), 0)
    for segment in net.segments:
        for lp, hit in zip(segment, _segment_hits(segment, ranks, p), strict=True):
            desc, layer, rk, v = _descriptor(lp), _lora_layer(lp), ranks.get(lp.layer, []), \
                lp.vectors
            sram = record_sram_words(desc, layer, rk, p, hit, v) + stats_w
            planes = v * sum(gxbar.mvm_ops_per_macro(desc, p).values())
            scheduled = conversions(desc, p, v)["PERF_ADC"]
            plane_rows = v * desc.planes * lp.reads * ceil_div(lp.n_out, p.macro_cols) * lp.n_in
            st = stats if lp.spike_rate is None else ActivityStats.binary(
                lp.spike_rate, min(lp.n_in, p.macro_rows))
            # the all-digital chip: every weight a MAC, weights once per pass when they fit
            # its buffer; on spike inputs it reads and adds only the rows that spiked
            density = 1.0 if lp.spike_rate is None else lp.spike_rate
            w_sram, w_buffer = digital_weight_words(lp.n_in, lp.n_out, v, buffer_words, wb)
            for key, value in (
                    ("cycles", record_cycles(desc, layer, rk, p, hit, v)),
                    ("sram_words", sram),
                    ("sram_reads", sram - v * ceil_div(lp.n_out, wb) - stats_w),
                    ("cache_words", record_cache_words(layer, rk, p, hit, v)),
                    ("lora_macs", glora.macs(layer, rk) * v),
                    ("analogue_macs", lp.weights * v),
                    ("scheduled_conversions", scheduled), ("scheduled_planes", planes),
                    ("plane_rows", plane_rows),
                    ("adc_conversions", scheduled * st.converted),
                    ("adc_skipped", scheduled * (1 - st.converted)),
                    ("mvm_ops", planes * st.converted),
                    ("empty_planes", planes * (1 - st.converted)),
                    ("row_activations", plane_rows * st.row_density),
                    ("digital_sram_words", w_sram * density),
                    ("digital_buffer_words", w_buffer * density),
                    ("digital_weight_macs", lp.weights * v * density)):
                c[key] += value
    return c | {"host_macs": net.host_macs, "activity_stats": vars(stats)}


def adapter_bytes(net: NetworkSpec, adapters: list[AdapterSpec], params: ChipParams) -> int:
    """SRAM bytes of the adapters' A and B as the compiler lays them out (rows on word
    boundaries, sw.formats.lora.adapter_words); the descriptors and entries are left
    out, as they are for a compiled update's section."""
    shapes, wb = net.shapes(), params.sram_word_bytes
    return wb * sum(sum(adapter_words(*shapes[name], r, wb))
                    for name, rks in net.ranks(adapters).items() for r in rks)


def inference_costs(net: NetworkSpec, adapters: list[AdapterSpec], params: ChipParams,
                    table: OpTable, stats: ActivityStats | None = None,
                    macro: MacroConfig | None = None,
                    digital_buffer_words: int | None = None) -> dict:
    """One inference on the hybrid chip and on the all-digital chip of the same node
    (model.hybrid_inference, model.digital_inference on inference_counts), each plus the
    host MACs; the digital chip's spike-driven accumulates cost an int32 add each
    ([Hor14], scaled like the table), not a MAC."""
    counts = inference_counts(net, adapters, params, stats, digital_buffer_words)
    cfg = macro or MacroConfig.for_chip(params)
    hybrid = hybrid_inference(counts, cfg, table)
    dense = counts["analogue_macs"] == counts["digital_weight_macs"]
    digital = digital_inference(counts["digital_weight_macs"], counts["lora_macs"],
                                counts["sram_words"] + round(counts["digital_sram_words"]),
                                counts["cache_words"] + round(counts["digital_buffer_words"]),
                                params.sram_word_bytes, table)
    if not dense:  # spike inputs: accumulates, not multiplies
        add_j = scale(HOR14_PJ["int32_add"], table.node_nm, table.vdd)
        saved = counts["digital_weight_macs"] * (table.mac_int8_j - add_j)
        digital["by_component_j"]["macs"] -= saved
        digital["energy_j"] -= saved
    host_j = net.host_macs * table.mac_int8_j
    for chip in (hybrid, digital):
        chip["by_component_j"]["host_macs"] = host_j
        chip["energy_j"] += host_j
    return {"counts": counts, "hybrid": hybrid, "digital": digital,
            "tiles": sum(macro_tiles(n, m, params) for n, m in net.shapes().values()),
            "weights": net.weights}
