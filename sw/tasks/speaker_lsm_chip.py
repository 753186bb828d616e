"""Speaker authentication with the published spiking network on the chip (issue 21):
`rmlora speaker --model lsm`, task ``speaker_lsm``.

The speakers, split and roles are the MLP flow's (speaker.py); the utterances are
spike trains (rmlora.sw.data.fsdd_spikes: 10 windows of 32 log-mel bands, each band
one-hot over 5 quantile levels, 160 channels), the network the published liquid-state
machine (rmlora.sw.models.lsm, 256 LIF neurons) trained by speaker_lsm's recipe. The
shared pipeline runs it like every classifier: pretrain, deploy, unlearn, learn anew,
the baselines, every stage on the golden chip, the chip check on Verilator (every
step's spikes are record outputs, compared with ==), cost and report.

Two things differ from the MLP flow:
- the restore stage is LsmRestore (rmlora.sw.learn.lsm_restore): its compensation
  adapter is trained on the chip's twin (the weights read back through the deployed
  crossbars), not fitted layer by layer;
- the evaluator also records the reservoir's spike rate per step on the chip, at every
  stage, for the report's plot (a second pass over the test utterances: the chip's
  read noise is drawn again, so these spikes are a fresh measurement, not the ones
  behind the accuracies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rmlora.sw.compiler import CompiledModel
from rmlora.sw.compiler.lsm_chip import RESERVOIR
from rmlora.sw.cost import OpTable
from rmlora.sw.cost.model import digital_inference, fold
from rmlora.sw.data.fsdd import FSDD_DIR
from rmlora.sw.learn.chip_flow import ClassifierEvaluator
from rmlora.sw.learn.lsm_restore import LsmRestore
from rmlora.sw.models.lsm import STEPS, lsm
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.infer import run_recorded

from .classifier import ClassifierTask, Roles
from .classifier_summary import classifier_summary
from .registry import register
from .speaker import SPEAKER_ROSTER
from .speaker_lsm import lsm_config, prepare_speaker_spikes
from .targets import ClassifierTargets, at_least, at_most
from .task import Run

__all__ = ["SPEAKER_LSM", "LSM_CHIP_TARGETS", "LsmEvaluator", "LsmSpeakerTask",
           "reservoir_spike_rates", "event_driven_digital"]

# Issue 21's targets, on the golden chip (kept speakers may lose 2 points)
LSM_CHIP_TARGETS = ClassifierTargets(
    pretrained_acc=at_least(0.97), forget_acc=at_most(0.05), retain_drop=at_most(0.02),
    new_acc=at_least(0.9), old_acc=at_least(0.95), continual_forget_acc=at_most(0.05))


def reservoir_spike_rates(chip: Chip, compiled: CompiledModel, x: np.ndarray) -> list[float]:
    """The reservoir's spike rate at each step (mean over neurons and inputs) of flat
    spike rows ``x`` on ``chip`` with its enabled adapters: every step's spikes are a
    record output of the LIF layer pass (run_recorded keeps them)."""
    _, runs = run_recorded(chip, compiled, x)
    outputs = runs[0].outputs
    steps = sorted(t for layer, t in outputs if layer == RESERVOIR)
    return [round(float(outputs[RESERVOIR, t].mean()), 4) for t in steps]


def event_driven_digital(summary: dict, compiled: CompiledModel, stage: str) -> dict:
    """One input on an all-digital chip that, unlike the cost model's (which reads and
    multiplies every weight of every step, the hybrid's dataflow), reads only the
    reservoir weight rows whose input spiked and adds them (priced as int8 MACs, which
    flatters the hybrid a little), from ``stage``'s spike rates on the chip; the readout
    is an ordinary layer. Activations, adapters and descriptors move as on the hybrid
    (its counters). With the hybrid's energy and the fold against it."""
    cost, s = summary["cost"], summary["spiking"]
    table = OpTable(**cost["table"])
    lora = cost["inference"]["lora"]
    act = lora["activity"]
    rates = s["reservoir_rate"][stage]
    # step t reads x_t and s_{t-1}: the last step's spikes drive no row
    rows = sum(s["input_rate"]) * s["channels"] + sum(rates[:-1]) * s["neurons"]
    reservoir, readout = compiled.layers
    wb = compiled.params.sram_word_bytes
    words = rows * -(-reservoir.n_out // wb) + -(-readout.n_in * readout.n_out // wb)
    digital = digital_inference(round(rows * reservoir.n_out) + readout.n_in * readout.n_out,
                                act["lora_macs"], round(act["sram_words"] + words),
                                act["cache_words"], wb, table)
    hybrid_j = lora["hybrid"]["energy_j"]
    return {"stage": stage, "active_rows_per_input": round(rows, 1),
            "energy_j": digital["energy_j"], "by_component_j": digital["by_component_j"],
            "hybrid_j": hybrid_j, "fold": fold(digital["energy_j"], hybrid_j),
            "dense_fold": fold(lora["digital"]["energy_j"], hybrid_j)}


class LsmEvaluator(ClassifierEvaluator):
    """The classifier's metrics, plus the reservoir's spike rate per step per stage."""

    def __init__(self, data):
        super().__init__(data)
        self.spike_rates: dict[str, list[float]] = {}

    def measure(self, stage, chip, compiled, adapters):
        super().measure(stage, chip, compiled, adapters)
        if stage in ClassifierTask.stages:  # the LoRA stages, not the baselines
            chip.enable(adapters)
            self.spike_rates[stage] = reservoir_spike_rates(chip, compiled,
                                                            self.data.test_x.numpy())


@dataclass(frozen=True)
class LsmSpeakerTask(ClassifierTask):
    """A classifier task whose network is an LSM: LsmRestore restores, LsmEvaluator
    measures, and the summary carries the spike rates (``spiking``)."""

    report: ClassVar[str] = "classifier"
    # the robustness sweep fits restore.Restore's per-layer compensation, which the
    # LSM's fused reservoir does not have (its LsmRestore trains one instead)
    robustness: ClassVar[bool] = False

    def restore_stage(self, prepared, calib, seed: int, reads):
        return LsmRestore(calib, seed, prepared[2], reads=reads)

    def evaluator(self, prepared, config, trained, calib) -> LsmEvaluator:
        return LsmEvaluator(prepared[2])

    def summarize(self, run: Run) -> dict:
        summary = classifier_summary(run, self.name, self.roster.noun)
        data = run.prepared[2]
        x = data.test_x.numpy().reshape(len(data.test_x), STEPS, -1)
        summary["spiking"] = {
            "steps": STEPS, "channels": int(x.shape[2]),
            "neurons": int(run.compiled.layers[0].n_out),
            "input_rate": [round(float(r), 4) for r in x.mean(axis=(0, 2))],
            "reservoir_rate": run.evaluator.spike_rates}
        # the cost's inference ran with every adapter on: the last stage's spikes
        summary["spiking"]["event_driven_digital"] = event_driven_digital(
            summary, run.compiled, self.stages[-1])
        return summary


def _load(roles: Roles, seed: int, source=None):
    speakers, split, data = prepare_speaker_spikes(roles.classes, roles.forget, roles.learn,
                                                   seed, windows=source)
    return speakers, split.class_of, data


SPEAKER_LSM = register(LsmSpeakerTask(
    name="speaker_lsm", help="the speaker flow with the published spiking network (LSM)",
    order=2, command="speaker", variant="lsm", roster=SPEAKER_ROSTER, load=_load,
    model=lambda train_x, n_classes: lsm(train_x, n_classes, train_x.shape[1] // STEPS),
    config=lsm_config, targets=LSM_CHIP_TARGETS, distinct_holdout=False,
    data_files=(FSDD_DIR,)))
