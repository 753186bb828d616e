"""The cost comparisons of one learning flow (any task): its stages' training
activity, its deployments and the chip's per-input activity -> the three folds.

    flow_costs(stage_costs, deployed, update_bytes, compiled, adapters) -> dict

Keys: training_fold, deployment_fold, inference_energy_fold (each > 0), the
published figure beside each (PUBLISHED), every energy and time behind them, and the
analytic model's calibration on this run (calibration.max_rel_error).
"""

from __future__ import annotations

from rmlora.sw.compiler import CompiledModel

from .calibration import calibrate
from .model import (
    digital_inference,
    digital_weight_words,
    fold,
    hybrid_inference,
    reprogram_cost,
    sram_write_cost,
    training_cost,
    update_folds,
)
from .table import OpTable, table_for

__all__ = ["PUBLISHED", "flow_costs", "digital_weight_traffic"]

# arXiv 2601.10037, abstract: "up to" these reductions against the alternatives.
PUBLISHED = {"training_fold": 147.76, "deployment_fold": 387.95,
             "inference_energy_fold": 48.44}


def digital_weight_traffic(compiled: CompiledModel) -> tuple[int, int]:
    """(SRAM words, buffer words) of one input's weights on the all-digital chip: each
    segment (one program run) applies each of its layers to its vectors in one pass."""
    sram = buffer = 0
    for segment in compiled.segments:
        for record in segment.records:
            cl = compiled.layer(record.layer)
            s, b = digital_weight_words(cl.n_in, cl.n_out, record.vectors,
                                        compiled.params.lora_cache_words,
                                        compiled.params.sram_word_bytes)
            sram, buffer = sram + s, buffer + b
    return sram, buffer


def _inference(compiled: CompiledModel, activity: dict, table: OpTable) -> dict:
    """The hybrid from its counters; the all-digital chip moves the same descriptors,
    activations, adapters and LUTs (the same counters) plus its weights."""
    hybrid = hybrid_inference(activity, compiled.macro_config, table)
    w_sram, w_buffer = digital_weight_traffic(compiled)
    digital = digital_inference(activity["analogue_macs"], activity["lora_macs"],
                                activity["sram_words"] + w_sram,
                                activity["cache_words"] + w_buffer,
                                compiled.params.sram_word_bytes, table)
    return {"activity": activity, "hybrid": hybrid, "digital": digital}


def flow_costs(stage_costs: dict, deployed: dict, update_bytes: int,
               compiled: CompiledModel, table: OpTable | None = None) -> dict:
    """stage_costs: StageCost dicts by stage (unlearn_lora, full_finetune, retrain);
    deployed: deploy reports (lora, full_finetune) and deployed["lora"]["inference"]
    (measure_inference with the adapters on, and analog_only); update_bytes: SRAM
    bytes the LoRA update writes (its adapter's section)."""
    table = table or table_for()
    training = {name: training_cost(stage_costs[key], table)
                for name, key in (("lora", "unlearn_lora"), ("full_finetune", "full_finetune"),
                                  ("retrain", "retrain")) if key in stage_costs}
    deployment = {"lora": sram_write_cost(update_bytes, compiled.params, table),
                  "full_finetune": reprogram_cost(deployed["full_finetune"], table)}
    measured = deployed["lora"]["inference"]
    inference = {"lora": _inference(compiled, measured["lora"], table),
                 "analog_only": _inference(compiled, measured["analog_only"], table)}
    lora = inference["lora"]
    # the analytic model (issue 22) on this network against this run: exact counts,
    # energies within the tolerance; max_rel_error over both adapter settings
    checks = {key: calibrate(compiled, measured[key], inference[key], table)
              for key in ("lora", "analog_only")}
    calibration = checks["lora"] | {
        "analog_only": checks["analog_only"],
        "max_rel_error": max(c["max_rel_error"] for c in checks.values()),
        "max_rel_error_own_stats": max(c["max_rel_error_own_stats"] for c in checks.values()),
        "all_exact": all(c["all_exact"] for c in checks.values())}
    # the chip's counters, all adapters on: SRAM core-port words and adapter-cache reads
    inference["sram_words_per_input"] = lora["hybrid"]["sram_words"]
    # of them reads (records, descriptors, entries, LUTs, x, A, B): less y and stats written
    inference["sram_reads_per_input"] = measured["lora"]["sram_reads"]
    inference["cache_words_per_input"] = lora["hybrid"]["cache_words"]
    # bit planes that drive no row: the macro gates its ADCs (the macros' count, mean per
    # input); the conversions, and their energy, this saves (already out of the hybrid's)
    skipped = measured["lora"]["adc_skipped"]
    inference["adc_skipped_per_input"] = skipped
    inference["adc_skipped_j"] = skipped * table.adc_j(compiled.macro_config)
    return {
        "table": {k: v for k, v in vars(table).items() if k != "macro"},
        "training": training,
        "deployment": deployment,
        "inference": inference,
        **update_folds(training, deployment),
        "inference_energy_fold": fold(lora["digital"]["energy_j"], lora["hybrid"]["energy_j"]),
        "inference_latency_fold": fold(lora["digital"]["latency_s"],
                                       lora["hybrid"]["latency_s"]),
        "lora_inference_overhead": fold(lora["hybrid"]["energy_j"],
                                        inference["analog_only"]["hybrid"]["energy_j"]),
        "published": PUBLISHED,
        "calibration": calibration,
    }
