"""The analytic model against the simulated chip, on a task's own compiled network.

    spec, adapters = spec_from_compiled(compiled, ["forget", "learn"])
    report = calibrate(compiled, measured, table)   # measured: measure_inference(...)

The network's layer passes are read off the compiled program (its segments' records);
the analytic counts must then equal the chip's counters wherever the chip's schedule
fixes them (cycles, SRAM and cache words, MACs, scheduled planes and conversions), and
the energies must agree within CALIBRATION_TOLERANCE. Two energy errors are reported:
with the run's own plane and row statistics (only the data-independent counts and the
pricing can differ), and with DEFAULT_ACTIVITY, the statistics the projections to the
published networks use (the error a projection carries from them).
"""

from __future__ import annotations

from rmlora.sw.compiler import CompiledModel

from .analytic import inference_costs, inference_counts
from .spec import DEFAULT_ACTIVITY, ActivityStats, AdapterSpec, LayerPass, NetworkSpec
from .table import OpTable

__all__ = ["CALIBRATION_TOLERANCE", "EXACT_COUNTS", "spec_from_compiled", "calibrate"]

CALIBRATION_TOLERANCE = 0.05  # the issue's: energies within 5 %
# analytic count -> how the run reports it (a key of measure_inference, or a sum)
EXACT_COUNTS = {
    "cycles": ("cycles",),
    "sram_words": ("sram_words",),
    "sram_reads": ("sram_reads",),
    "cache_words": ("cache_words",),
    "lora_macs": ("lora_macs",),
    "analogue_macs": ("analogue_macs",),
    "scheduled_conversions": ("adc_conversions", "adc_skipped"),
    "scheduled_planes": ("mvm_ops", "empty_planes"),
}


def spec_from_compiled(compiled: CompiledModel, adapters: list[str]
                       ) -> tuple[NetworkSpec, list[AdapterSpec]]:
    """The compiled network's layer passes, segment by segment, and its enabled adapters
    (each targeting the layers that carry its slot) as AdapterSpecs."""
    segments = tuple(
        tuple(LayerPass(r.layer, r.n_in, r.n_out, r.vectors,
                        compiled.layer(r.layer).layer.act.name == "LUT",
                        reads=compiled.layer(r.layer).reads)
              for r in segment.records)
        for segment in compiled.segments)
    specs = []
    for name in adapters:
        slot = compiled.adapter_slots[name]
        on = [cl for cl in compiled.layers if slot in cl.adapters]
        ranks = {cl.adapters[slot].rank for cl in on}
        for rank in sorted(ranks):  # one spec per rank (an adapter may vary its rank)
            # alpha only scales an adapter's values, which no count depends on
            specs.append(AdapterSpec(f"{name}/r{rank}", rank, 1.0, tuple(
                cl.name for cl in on if cl.adapters[slot].rank == rank)))
    return NetworkSpec("compiled", segments), specs


def _rel(analytic: float, measured: float) -> float:
    return abs(analytic - measured) / abs(measured) if measured else float(analytic != 0)


def calibrate(compiled: CompiledModel, measured: dict, priced: dict, table: OpTable) -> dict:
    """The analytic model of ``compiled`` with the run's adapters against the run
    (measure_inference) and the flow's pricing of it (``priced``: its hybrid and
    digital dicts, flow._inference): every exact count side by side, and the relative
    energy errors with the run's own statistics and with DEFAULT_ACTIVITY.
    max_rel_error: the largest energy error with DEFAULT_ACTIVITY (what a projection
    carries); max_rel_error_own_stats: with the run's own."""
    spec, adapters = spec_from_compiled(compiled, measured["adapters"])
    p = compiled.params
    counts = inference_counts(spec, adapters, p)
    exact = {}
    for key, parts in EXACT_COUNTS.items():
        got = sum(measured[k] for k in parts)
        exact[key] = {"analytic": counts[key], "measured": got, "equal": counts[key] == got}
    # the all-digital chip's SRAM words: the same traffic plus its weights
    digital_words = counts["sram_words"] + counts["digital_sram_words"]
    exact["digital_sram_words"] = {"analytic": digital_words,
                                   "measured": priced["digital"]["sram_words"],
                                   "equal": digital_words == priced["digital"]["sram_words"]}
    own = ActivityStats.measured(measured, counts, "this run")
    truth = {"hybrid_j": priced["hybrid"]["energy_j"], "digital_j": priced["digital"]["energy_j"]}
    errors, energies = {}, {}
    for label, stats in (("own_stats", own), ("default_stats", DEFAULT_ACTIVITY)):
        costs = inference_costs(spec, adapters, p, table, stats, compiled.macro_config)
        energies[label] = {"hybrid_j": costs["hybrid"]["energy_j"],
                           "digital_j": costs["digital"]["energy_j"]}
        errors[label] = {k: _rel(energies[label][k], truth[k]) for k in truth}
    return {
        "exact": exact,
        "all_exact": all(e["equal"] for e in exact.values()),
        "measured_stats": vars(own),
        "energy_j": {"measured": truth} | energies,
        "rel_error": errors,
        "max_rel_error": max(errors["default_stats"].values()),
        "max_rel_error_own_stats": max(errors["own_stats"].values()),
        "tolerance": CALIBRATION_TOLERANCE,
    }
