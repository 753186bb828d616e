"""The learning flow's models on the chip: deploy once, switch adapters, measure.

The pretrained weights are compiled and written into the crossbars once; the
adapters go to SRAM. Each stage of the flow is then an adapter set on the same
programmed chip: none (pretrained), the forget adapter (unlearned), forget plus
continual (continual). The baselines change the weights themselves, so each one
reprograms the pretrained chip's crossbars (counted: that is their hardware cost).

A chip configuration is wrapped as a torch classifier (``ChipClassifier``), so the
float flow's metrics (accuracies, membership attack) are computed by the same code
on the chip's logits.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.sim.reram import ACTIVITY_COUNTS
from rmlora.sw.compiler import CompiledModel, compile_model
from rmlora.sw.runtime import Chip, dequantize_logits, run_network
from rmlora.sw.runtime.infer import infer, run_recorded

from .evaluate import evaluate_model, predict
from .stages import FlowData

__all__ = ["ChipClassifier", "deploy", "reprogrammed", "measure_inference", "confusion",
           "measure_classifier", "chip_check", "programmed_conductances"]

EVAL_BATCH = 512  # images per chip call: the golden backend runs a batch at once


class ChipClassifier(nn.Module):
    """A compiled network on a chip with a fixed adapter set, as a torch classifier.

    forward(images) enables the adapters, runs the network (host steps and chip
    segments) and returns the int8 logits dequantized to float. The chip is noisy
    (read noise is drawn at every conversion), so each distinct image is measured
    once and remembered: every metric of a stage (accuracies, confusion, membership
    attack) sees the same measurement. ``inferences`` counts the images run."""

    def __init__(self, chip: Chip, compiled: CompiledModel, adapters: list[str]):
        super().__init__()
        self.chip, self.compiled, self.adapters = chip, compiled, list(adapters)
        self.measured: dict[bytes, np.ndarray] = {}
        self.inferences = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.detach().cpu().numpy()
        keys = [image.tobytes() for image in x]
        new = list(dict.fromkeys(k for k in keys if k not in self.measured))
        if new:
            index = {k: i for i, k in enumerate(keys)}
            batch = x[[index[k] for k in new]]
            self.chip.enable(self.adapters)
            y = run_network(self.compiled, batch,
                            lambda segment, v: self.chip.run(segment, v)[0])
            self.measured.update(zip(new, dequantize_logits(self.compiled, y), strict=True))
            self.inferences += len(new)
        return torch.from_numpy(np.stack([self.measured[k] for k in keys])).float()


def deploy(chip: Chip, compiled: CompiledModel) -> dict:
    """Write the weights (write-verify) and load the SRAM image; the deploy report with
    the programming energy the macro model computed for the pulses and verify reads."""
    before = chip.activity()
    report = chip.deploy(compiled.plan, scratch_word=compiled.scratch[0])
    after = chip.activity()
    chip.load(compiled.image, names=compiled.adapter_slots)
    return asdict(report) | {"image_bytes": len(compiled.image),
                             "pulse_j": after["pulse_j"] - before["pulse_j"],
                             "verify_j": after["verify_j"] - before["verify_j"]}


@contextmanager
def reprogrammed(compiled: CompiledModel, model: nn.Module, calib: torch.Tensor, seed: int,
                 reads: int | dict[str, int] = 1):
    """A baseline on hardware: the pretrained chip (golden, ``seed``, ``compiled``'s
    weights programmed), its crossbars rewritten with ``model`` compiled on ``calib``.
    Yields (chip, the baseline's CompiledModel, its deploy report), pulses counted
    from the pretrained conductances; reads: compile_model's, as the flow's network."""
    with Chip(compiled.params, "golden", compiled.macro_config, seed) as chip:
        chip.deploy(compiled.plan)
        base = compile_model(model, calib.numpy(), params=compiled.params,
                             macro_config=compiled.macro_config, reads=reads)
        yield chip, base, deploy(chip, base)


def measure_inference(chip: Chip, compiled: CompiledModel, images: np.ndarray,
                      adapters: list[str]) -> dict:
    """Per-input activity of the chip over a batch with these adapters: the macros'
    conversions, the empty planes they did not convert and active rows (counters, means
    over the batch), LoRA MACs, cycles, SRAM words (with the stats records' writes) and
    adapter-cache reads (per-record stats, the same for every input)."""
    chip.enable(adapters)
    before = chip.activity()
    _, rows = infer(chip, compiled, images)
    after = chip.activity()
    n = len(images)
    total = {name: after[name] - before[name] for name in
             ("adc_conversions", "adc_skipped", "mvm_ops", "empty_planes", "row_activations")}
    # the sequencer schedules the same planes for every input; which of them drive no
    # row, and so are not converted, and which rows are active depend on the data
    if (total["adc_conversions"] + total["adc_skipped"] != n * sum(r.adc for r in rows)
            or total["mvm_ops"] + total["empty_planes"] != n * sum(r.mvm for r in rows)):
        raise RuntimeError("the macros' conversions and skipped planes disagree with the "
                           "planes the sequencer's stats scheduled")
    per_input = {name: value / n for name, value in total.items()}  # means
    stats_words = compiled.params.words_for(SEQ_STATS_BITS)  # each record's stats write
    sram = sum(r.sram + r.records * stats_words for r in rows)
    # what the chip writes, from the program: each vector's y and each record's stats
    wb = compiled.params.sram_word_bytes
    writes = sum(rec.vectors * -(-rec.n_out // wb) + (stats_words if rec.stats else 0)
                 for segment in compiled.segments for rec in segment.records)
    return per_input | {
        "images": n, "adapters": list(adapters),
        "sram_words": sram, "sram_reads": sram - writes,
        "cache_words": sum(r.cache for r in rows),
        "lora_macs": sum(r.lora_macs for r in rows),
        "analogue_macs": sum(r.analogue_macs for r in rows),
        "cycles": sum(r.cycles for r in rows),
    }


def confusion(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_classes: int) -> list:
    """counts[true][predicted] over (x, y)."""
    pred = predict(model, x, EVAL_BATCH)
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y.numpy(), pred.numpy()), 1)
    return counts.tolist()


def measure_classifier(chip: Chip, compiled: CompiledModel, adapters: list[str],
                       data: FlowData, n_classes: int) -> dict:
    """The flow's metrics of one chip configuration, its test confusion, images run."""
    classifier = ChipClassifier(chip, compiled, adapters)
    metrics = evaluate_model(classifier, data)
    metrics["confusion"] = confusion(classifier, data.test_x, data.test_y, n_classes)
    metrics["inferences"] = classifier.inferences
    return metrics


def programmed_conductances(chip: Chip, compiled: CompiledModel) -> dict[str, np.ndarray]:
    """Target and programmed conductance (uS) of every weight cell, in plan order."""
    cfg = compiled.macro_config
    targets, programmed = [], []
    for (desc, _), w in zip(compiled.plan, compiled.plan_weights, strict=True):
        g = chip.conductance(desc.macro)
        rows, cols = slice(desc.row0, desc.row0 + desc.n_rows), slice(desc.col0,
                                                                      desc.col0 + desc.n_cols)
        programmed.append(g[rows, cols].ravel())
        targets.append(cfg.g_mid_us + np.asarray(w, dtype=np.float64).ravel() * cfg.g_unit_us)
    return {"target_us": np.concatenate(targets), "programmed_us": np.concatenate(programmed)}


def chip_check(compiled: CompiledModel, images: np.ndarray, adapters: list[str], seed: int,
               backend: str = "verilator", reference: str = "golden") -> dict:
    """Run ``images`` on a cosimulated chip and on the reference chip, both freshly
    deployed with the same seed and adapters; compare every record's output and
    SeqStats counters of every segment run and the logits with ==, and the macros'
    operation counts (the cost model's activity) likewise."""
    chips = [Chip(compiled.params, name, compiled.macro_config, seed)
             for name in (backend, reference)]
    try:
        results, activity = [], []
        for chip in chips:
            deploy(chip, compiled)
            chip.enable(adapters)
            results.append(run_recorded(chip, compiled, images))
            activity.append({k: chip.activity()[k] for k in ACTIVITY_COUNTS})
    finally:
        for chip in chips:
            chip.close()
    (logits, runs), (ref_logits, ref_runs) = results
    compared = differing = records = stats_differing = 0
    for run, ref in zip(runs, ref_runs, strict=True):
        if run.outputs.keys() != ref.outputs.keys() or run.stats.keys() != ref.stats.keys():
            raise RuntimeError("the two chips ran different records")
        for key, out in run.outputs.items():  # every vector's output
            compared += 1
            differing += not np.array_equal(out, ref.outputs[key])
        for key, st in run.stats.items():
            # each record's SeqStats (its pass): cycles, conversions, MACs, SRAM, cache reads
            records += 1
            stats_differing += st != ref.stats[key]
    logits_equal = bool(np.array_equal(logits, ref_logits))
    return {
        "backend": backend,
        "reference": reference,
        "images": int(len(images)),
        "adapters": list(adapters),
        "outputs_compared": compared,
        "outputs_differing": differing,
        "records_compared": records,
        "logits_equal": logits_equal,
        "stats_differing": stats_differing,
        "bit_exact": differing == 0 and logits_equal and stats_differing == 0,
        # the macros' operation counts (pulses, verify reads, conversions, active rows)
        "activity": activity[0],
        "activity_equal": activity[0] == activity[1],
    }
