"""The chip's activity for any network, from its layer shapes alone (issue 22).

    net = NetworkSpec(name, segments=((LayerPass("fc1", 768, 3072, vectors=64), ...), ...))
    counts = inference_counts(net, [AdapterSpec("lora", 4, ["fc1", "fc2"])], ChipParams())
    costs = inference_costs(net, adapters, params, table)

A network is what the chip runs per inference: segments (one layer program each, a
START apart: the adapter cache is flushed between them) of layer passes (one SeqLayer
record each: a weight matrix over ``vectors`` input vectors). The counts are the
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

from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace

from rmlora.contract import ChipParams
from rmlora.contract.lora import Activation
from rmlora.contract.macro import MacroConfig
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.contract.xbar import INPUT_BITS, XbarOp
from rmlora.sw.formats.lora import Layer, adapter_words
from rmlora.sw.formats.xbar import Descriptor, ceil_div
from rmlora.sw.golden import lora as glora
from rmlora.sw.golden import xbar as gxbar
from rmlora.sw.golden.chip import cache_hits, record_cache_words, record_cycles, record_sram_words
from rmlora.sw.golden.perf import conversions
from rmlora.sw.lora.model import matches_target

from .model import digital_inference, digital_weight_words, hybrid_inference
from .table import HOR14_PJ, OpTable, scale

__all__ = ["ActivityStats", "DEFAULT_ACTIVITY", "LayerPass", "AdapterSpec", "NetworkSpec",
           "inference_counts", "inference_costs", "adapter_bytes", "tiles"]


def _positive_int(where: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}={value!r}: must be an integer >= 1")
    return value


def _fraction(where: str, value) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}={value!r}: must be in [0, 1]")
    return value


@dataclass(frozen=True)
class ActivityStats:
    """The data-dependent part of the macros' activity, per scheduled bit plane.

    converted: the fraction of scheduled planes that drive a row and are converted (the
    rest are empty: no conversion, no ADC energy, the time slot kept); row_density: rows
    driven per scheduled plane and row of its tile (at most ``converted``)."""

    converted: float
    row_density: float
    source: str = "assumed"

    def __post_init__(self):
        _fraction("converted", self.converted)
        _fraction("row_density", self.row_density)
        if self.row_density > self.converted:
            raise ValueError(f"row_density={self.row_density}: a row is driven only on a "
                             f"converted plane, so at most converted={self.converted}")

    @classmethod
    def binary(cls, rate: float, rows: int) -> ActivityStats:
        """Binary (spike) inputs with this mean rate on a tile of ``rows`` rows: the input
        code 0 or 1 sets bit 0 only, so plane 0 drives the rows that spiked and the other
        INPUT_BITS - 1 planes are always empty (gated)."""
        _fraction("spike rate", rate)
        return cls((1.0 - (1.0 - rate) ** rows) / INPUT_BITS, rate / INPUT_BITS,
                   f"binary inputs, spike rate {rate:g}")

    @classmethod
    def measured(cls, activity: dict, counts: dict, source: str) -> ActivityStats:
        """The stats of a run: its macros' counters (``activity``: adc_conversions,
        adc_skipped, row_activations per input) over the schedule (``counts``:
        inference_counts). The converted fraction is taken over conversions, which the
        energy counts (over planes it differs a little where layers differ in width)."""
        scheduled = activity["adc_conversions"] + activity["adc_skipped"]
        return cls(activity["adc_conversions"] / scheduled,
                   activity["row_activations"] / counts["plane_rows"], source)


# Measured by `rmlora cost face|speaker|diffusion` (2026-12-01, 2-core AMD EPYC, defaults,
# seed 0, all adapters on, per test input): the converted fraction of the scheduled
# conversions, face 0.806, speaker 0.837, diffusion 0.856, and the row density, 0.273,
# 0.230, 0.237; their means here (calibration.measured_stats of each run).
DEFAULT_ACTIVITY = ActivityStats(0.833, 0.247, "mean of the face, speaker and diffusion "
                                 "flows' measured planes and rows (defaults, seed 0)")


@dataclass(frozen=True)
class LayerPass:
    """One record: weight matrix ``layer`` (n_in inputs on the crossbar's rows, n_out
    outputs) over ``vectors`` input vectors. lut: a LUT activation (the LoRA unit reads
    its 256-entry table); spike_rate: binary inputs at this rate (None: int8 inputs, the
    network's ActivityStats); host_macs: products of activations with activations after
    it (attention scores, neuron updates), which no crossbar holds: both chips compute
    them as int8 MACs (the same cost on both: it narrows the fold, and is never left out)."""

    layer: str
    n_in: int
    n_out: int
    vectors: int = 1
    lut: bool = False
    spike_rate: float | None = None
    host_macs: int = 0

    def __post_init__(self):
        for name in ("n_in", "n_out", "vectors"):
            _positive_int(f"{self.layer}.{name}", getattr(self, name))
        if self.spike_rate is not None:
            _fraction(f"{self.layer}.spike_rate", self.spike_rate)
        if self.host_macs < 0:
            raise ValueError(f"{self.layer}.host_macs={self.host_macs}: must be >= 0")

    @property
    def weights(self) -> int:
        return self.n_in * self.n_out


@dataclass(frozen=True)
class AdapterSpec:
    """A LoRA adapter as PEFT configures one: its rank, alpha and target modules (names,
    each matching a layer named so or ending in "." + it; or one regex string)."""

    name: str
    rank: int
    target_modules: tuple[str, ...] | str
    alpha: float = 1.0

    def __post_init__(self):
        _positive_int(f"adapter {self.name!r} rank", self.rank)
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if not self.target_modules:
            raise ValueError(f"adapter {self.name!r}: target_modules is empty")


@dataclass(frozen=True)
class NetworkSpec:
    """What the chip runs per inference: segments of layer passes, and the statistics
    of the data-dependent activity (``activity``)."""

    name: str
    segments: tuple[tuple[LayerPass, ...], ...]
    activity: ActivityStats = DEFAULT_ACTIVITY
    note: str = ""

    def __post_init__(self):
        if not self.segments or not all(self.segments):
            raise ValueError(f"{self.name}: a network needs segments of layer passes")
        shapes: dict[str, tuple[int, int]] = {}
        for lp in self.passes():
            if shapes.setdefault(lp.layer, (lp.n_in, lp.n_out)) != (lp.n_in, lp.n_out):
                raise ValueError(f"{self.name}: layer {lp.layer!r} appears with shapes "
                                 f"{shapes[lp.layer]} and {(lp.n_in, lp.n_out)}")

    def passes(self):
        return (lp for segment in self.segments for lp in segment)

    def shapes(self) -> dict[str, tuple[int, int]]:
        """Layer -> (n_in, n_out), in first-use order."""
        return {lp.layer: (lp.n_in, lp.n_out) for lp in self.passes()}

    @property
    def weights(self) -> int:
        return sum(n * m for n, m in self.shapes().values())

    @property
    def host_macs(self) -> int:
        return sum(lp.host_macs for lp in self.passes())

    def ranks(self, adapters: list[AdapterSpec]) -> dict[str, list[int]]:
        """Layer -> the ranks of the adapters on it (in the adapters' order); refuses an
        adapter that targets no layer or whose rank exceeds both of a layer's dimensions
        (a rank above one of them is legal, if wasteful: the speaker task's adapters of
        rank 8 sit on its 32 -> 6 head, as published)."""
        shapes, out = self.shapes(), {}
        for ad in adapters:
            hit = [name for name in shapes if matches_target(name, ad.target_modules)]
            if not hit:
                raise ValueError(f"adapter {ad.name!r}: target_modules {ad.target_modules!r} "
                                 f"match no layer of {self.name} ({', '.join(shapes)})")
            for name in hit:
                if ad.rank > max(shapes[name]):
                    raise ValueError(f"adapter {ad.name!r}: rank {ad.rank} exceeds layer "
                                     f"{name!r}'s dimensions {shapes[name]}")
                out.setdefault(name, []).append(ad.rank)
        return out


def _lora_layer(lp: LayerPass) -> Layer:
    """The LoRA unit's view of a layer: its shape and activation (the multipliers do not
    change any count)."""
    return Layer(lp.n_in, lp.n_out, 1, 0, Activation.LUT if lp.lut else Activation.IDENTITY)


def _descriptor(lp: LayerPass) -> Descriptor:
    return Descriptor(XbarOp.MVM, lp.n_in, lp.n_out, 0, 0)


def tiles(n_in: int, n_out: int, params: ChipParams) -> int:
    """Macros a layer occupies (row tiles x column tiles)."""
    return ceil_div(n_in, params.macro_rows) * ceil_div(n_out, params.macro_cols)


def _segment_hits(segment, ranks: dict[str, list[int]], params: ChipParams) -> list[bool]:
    """golden.chip.cache_hits of a segment: a record's first vector runs from the cache
    when the record before ran the same layer (its LoRA descriptor) and its adapters fit."""
    records = [SimpleNamespace(lora=lp.layer) for lp in segment]
    plans = [(None, _lora_layer(lp),
              {slot: SimpleNamespace(rank=r) for slot, r in enumerate(ranks.get(lp.layer, []))})
             for lp in segment]
    return cache_hits(records, plans, (1 << 16) - 1, params)


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
            plane_rows = v * INPUT_BITS * ceil_div(lp.n_out, p.macro_cols) * lp.n_in
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
            "tiles": sum(tiles(n, m, params) for n, m in net.shapes().values()),
            "weights": net.weights}
