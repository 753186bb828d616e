"""The three comparisons of the published design, from activity the chip performed.

    training:    energy of one update's training, LoRA vs full fine-tuning (and retrain)
    deployment:  writing the update into the chip: adapter bytes into SRAM vs
                 reprogramming the crossbars by write-verify
    inference:   one input on the hybrid chip vs an all-digital chip of the same
                 process (weights read from SRAM once per layer pass, as the hybrid's
                 adapters are) and vs the analogue-only network

Every figure is count x table entry (rmlora.sw.cost.table); the counts come from the
flow (training steps and shapes actually run), the deploy reports and the macro
model (pulses and verify reads of write-verify actually run), and the chip's
per-layer stats and macro counters (one inference actually run).
"""

from __future__ import annotations

import math

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig
from rmlora.contract.params import BUS_DATA_WIDTH
from rmlora.contract.xbar import MacroOp

from .table import OpTable

__all__ = ["ADAM_OPS_PER_PARAM", "training_cost", "sram_write_cost", "reprogram_cost",
           "digital_weight_words", "hybrid_inference", "digital_inference", "fold",
           "update_folds"]

# torch.optim.Adam per parameter and step: m = b1 m + (1-b1) g (3), v = b2 v +
# (1-b2) g^2 (4), bias corrections m/c1, v/c2 (2), sqrt, + eps, divide, x lr, subtract (5).
ADAM_OPS_PER_PARAM = 14
BUS_WORD_BYTES = BUS_DATA_WIDTH // 8  # the host bus word (contract.params)


def _words(n_bytes: int, size: int) -> int:
    return -(-int(n_bytes) // size)


def fold(alternative_j: float, ours_j: float) -> float:
    """How many times less energy ours needs; the ratio of two positive energies."""
    if not (alternative_j > 0 and ours_j > 0):
        raise ValueError(f"fold of non-positive energies {alternative_j} / {ours_j}")
    return alternative_j / ours_j


def training_cost(stage: dict, table: OpTable) -> dict:
    """A training stage (StageCost.as_dict()) on a digital fp32 training engine.

    MACs = (forward + backward per sample) x sample passes; optimizer operations =
    ADAM_OPS_PER_PARAM x trainable parameters x steps."""
    forward = stage["analog_macs_per_sample"] + stage["digital_macs_per_sample"]
    macs = (forward + stage["backward_macs_per_sample"]) * stage["sample_passes"]
    optimizer_ops = ADAM_OPS_PER_PARAM * stage["trainable_params"] * stage["optimizer_steps"]
    return {
        "trainable_params": stage["trainable_params"],
        "macs": macs,
        "optimizer_ops": optimizer_ops,
        "energy_j": macs * table.fp32_mac_j + optimizer_ops * table.fp32_op_j,
    }


def sram_write_cost(n_bytes: int, params: ChipParams, table: OpTable) -> dict:
    """Bytes written into the SRAM buffer over the host bus: SRAM word writes, and bus
    time at the measured cycles per 32-bit word."""
    words = _words(n_bytes, params.sram_word_bytes)
    bus_words = _words(n_bytes, BUS_WORD_BYTES)
    return {
        "bytes": int(n_bytes),
        "sram_words": words,
        "energy_j": words * table.sram_word_j,
        "time_s": bus_words * table.bus_cycles_per_word * table.cycle_s,
    }


def reprogram_cost(report: dict, table: OpTable) -> dict:
    """Rewriting the crossbars by write-verify: a deploy report with the macro model's
    pulse and verify energies; time at the controller's cycles. The new layer
    descriptors (multipliers, gains) are a few SRAM words and are left out, as the
    LoRA update's entry pointers are."""
    return {
        "cells": report["cells"],
        "pulses": report["pulses"],
        "verify_reads": report["verify_reads"],
        "pulse_energy_j": report["pulse_j"],
        "verify_energy_j": report["verify_j"],
        "energy_j": report["pulse_j"] + report["verify_j"],
        "time_s": table.time_s(report["cycles"], {MacroOp.PULSE: report["pulses"],
                                                  MacroOp.VERIFY: report["verify_reads"]}),
    }


def digital_weight_words(n_in: int, n_out: int, vectors: int, buffer_words: int,
                         word_bytes: int) -> tuple[int, int]:
    """(SRAM words, buffer words) an all-digital chip reads for one layer pass's weights,
    with the hybrid's dataflow: read once into a local buffer of ``buffer_words`` words
    (the size of the LoRA unit's cache) when they fit, then read from it for every other
    vector; a layer that does not fit is read from the SRAM for every vector."""
    words = _words(n_in * n_out, word_bytes)
    if 0 < words <= buffer_words:
        return words, words * (vectors - 1)
    return words * vectors, 0


def hybrid_inference(activity: dict, cfg: MacroConfig, table: OpTable) -> dict:
    """One input on the hybrid chip, by component (J), and its latency (s).

    activity: per input, from the chip: adc_conversions and row_activations (macro
    counters), lora_macs, cycles, sram_words and cache_words (the sequencer's
    per-record stats)."""
    parts = {
        "adc": activity["adc_conversions"] * table.adc_j(cfg),
        "row_drive": activity["row_activations"] * table.row_drive_j(cfg),
        "cell_read": activity["row_activations"] * table.cell_read_j(cfg),
        "lora_macs": activity["lora_macs"] * table.mac_int8_j,
        "sram": activity["sram_words"] * table.sram_word_j,
        "cache": activity["cache_words"] * table.cache_word_j,
        "control": activity["cycles"] * table.control_cycle_j,
    }
    return {"energy_j": sum(parts.values()), "by_component_j": parts,
            "latency_s": table.time_s(activity["cycles"], {
                MacroOp.MVM: activity["mvm_ops"] + activity["empty_planes"]}),
            "sram_words": activity["sram_words"], "cache_words": activity["cache_words"]}


def digital_inference(weight_macs: int, lora_macs: int, sram_words: int, cache_words: int,
                      lanes: int, table: OpTable) -> dict:
    """The same network on an all-digital chip of the same process: every product an
    int8 MAC on ``lanes`` PEs (the LoRA unit's array), weights from SRAM and a local
    buffer; one cycle per ``lanes`` MACs plus one per SRAM word (no overlap assumed;
    buffer words feed the PEs in their MAC cycle)."""
    macs = weight_macs + lora_macs
    cycles = math.ceil(macs / lanes) + sram_words
    parts = {
        "macs": macs * table.mac_int8_j,
        "sram": sram_words * table.sram_word_j,
        "cache": cache_words * table.cache_word_j,
        "control": cycles * table.control_cycle_j,
    }
    return {"energy_j": sum(parts.values()), "by_component_j": parts,
            "latency_s": cycles * table.cycle_s, "sram_words": sram_words,
            "cache_words": cache_words, "macs": macs}


def update_folds(training: dict, deployment: dict) -> dict:
    """The folds of one update: training energy and trainable parameters (LoRA vs full
    fine-tune, and vs retraining when priced), deployment energy and time."""
    lora, full = training["lora"], training["full_finetune"]
    folds = {
        "training_fold": fold(full["energy_j"], lora["energy_j"]),
        "trainable_params_fold": fold(full["trainable_params"], lora["trainable_params"]),
        "deployment_fold": fold(deployment["full_finetune"]["energy_j"],
                                deployment["lora"]["energy_j"]),
        "deployment_time_fold": fold(deployment["full_finetune"]["time_s"],
                                     deployment["lora"]["time_s"]),
    }
    if "retrain" in training:
        folds["training_fold_vs_retrain"] = fold(training["retrain"]["energy_j"],
                                                 lora["energy_j"])
    return folds
