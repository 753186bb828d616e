"""Every task's on-chip part: one deployment, an adapter set per stage, the baselines.

    compiled, deployed = measure_on_chip(models, stages, calib, evaluator, seed)

The network with both adapters (the last stage's model) is compiled and its
pretrained weights are programmed into the crossbars once; each stage is then an
adapter set on that chip (none, the unlearning adapter, both). The baselines change
the weights themselves, so each one reprograms the pretrained chip's crossbars
(counted: that is their hardware cost). What a stage is measured by (a classifier's
accuracies, a sampler's samples) is the task's ``Evaluator``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from rmlora.sw.compiler import CompiledModel, compile_model
from rmlora.sw.runtime import Chip

from .on_chip import (
    deploy,
    measure_classifier,
    measure_inference,
    programmed_conductances,
    reprogrammed,
)
from .restore import Restore
from .stages import FlowData

__all__ = ["CALIBRATION_INPUTS", "EVAL_BACKEND", "BASELINES", "Evaluator",
           "ClassifierEvaluator", "calibration_rows", "measure_on_chip"]

CALIBRATION_INPUTS = 512  # training inputs (seeded draw) the int8 scales come from
# The evaluation runs thousands of inputs per stage: on the golden chip, which the
# chip check proves bit-exact with the cosimulated RTL on every run.
EVAL_BACKEND = "golden"
BASELINES = ("full_finetune", "retrained")  # float models that reprogram the crossbars


def calibration_rows(n: int, seed: int) -> torch.Tensor:
    """The seeded draw of training rows the int8 scales are calibrated on."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:CALIBRATION_INPUTS]


class Evaluator(ABC):
    """How a task measures one chip configuration (classifier or sampler)."""

    @abstractmethod
    def measure(self, stage: str, chip: Chip, compiled: CompiledModel,
                adapters: list[str]) -> None:
        """Measure ``stage``: ``compiled`` on ``chip`` with ``adapters`` enabled."""

    @abstractmethod
    def inference_inputs(self) -> np.ndarray:
        """Inputs whose per-input chip activity the cost model prices."""

    @abstractmethod
    def check_inputs(self, n: int) -> np.ndarray:
        """``n`` inputs the chip check runs on a cosimulated chip and the golden one."""

    def programmed(self, chip: Chip, compiled: CompiledModel) -> None:
        """Called once the LoRA stages are measured, with the chip still up (a task
        that reads nothing more off the chip keeps this default)."""
        return None


class ClassifierEvaluator(Evaluator):
    """A classifier's stages: the float flow's metrics (accuracies by class role, the
    membership attack) and the test confusion, each on the chip's logits
    (``metrics`` by stage); the programmed conductances of the LoRA deployment."""

    def __init__(self, data: FlowData):
        self.data = data
        self.n_classes = int(data.train_y.max()) + 1  # the spare output is the new class
        self.metrics: dict[str, dict] = {}
        self.conductances: dict[str, np.ndarray] | None = None

    def measure(self, stage, chip, compiled, adapters):
        self.metrics[stage] = measure_classifier(chip, compiled, adapters, self.data,
                                                 self.n_classes)

    def programmed(self, chip, compiled):
        self.conductances = programmed_conductances(chip, compiled)

    def inference_inputs(self) -> np.ndarray:
        return self.data.test_x.numpy()

    @staticmethod
    def check_capacity(data: FlowData) -> int:
        """Inputs check_inputs has: the test inputs, then the held-out ones."""
        return len(data.test_x) + len(data.holdout_x)

    def check_inputs(self, n: int) -> np.ndarray:
        """The test inputs, then held-out ones."""
        extra = max(0, n - len(self.data.test_x))
        inputs = torch.cat([self.data.test_x, self.data.holdout_x[:extra]])[:n]
        if len(inputs) < n:
            raise ValueError(f"check_images={n}: only {len(inputs)} test and held-out inputs")
        return inputs.numpy()


def measure_on_chip(models: dict[str, nn.Module], stages: list[tuple[str, list[str]]],
                    calib: torch.Tensor, evaluator: Evaluator, seed: int,
                    progress: bool = False, restore: Restore | None = None,
                    reads: int | dict[str, int] = 1, scale_free: tuple[str, ...] = ()
                    ) -> tuple[CompiledModel, dict]:
    """Every stage and baseline measured on golden chips seeded by ``seed``.

    stages: (stage, adapters enabled) in order, the last one's model carrying every
    adapter on the pretrained weights; models: the float models by stage, plus any
    of ``BASELINES``. restore: the flow's restore stage, whose chip (programmed
    already, compensation fitted) the stages run on: the network is compiled to the
    same crossbar weights and only its SRAM image is loaded. reads: the MVM reads per
    bit plane every network here is compiled with (compile_model), the baselines'
    too, so they are compared on equal chips. scale_free: adapters whose activations
    the LoRA network's scales leave out (compile_model's). Returns the compiled
    LoRA network and the deployment reports by name (``lora``, then each baseline),
    ``lora`` with the per-input activity with all adapters on and with none
    (``inference``)."""
    final, adapters = stages[-1]
    baselines = [name for name in BASELINES if name in models]
    bar = tqdm(total=len(stages) + len(baselines), desc="chip", disable=not progress,
               leave=False)
    deployed = {}
    if restore is None:
        compiled = compile_model(models[final], calib.numpy(), reads=reads,
                                 scale_free=scale_free)
        chip = Chip(compiled.params, EVAL_BACKEND, compiled.macro_config, seed)
        deployed["lora"] = deploy(chip, compiled)
    else:
        compiled = restore.compile(models[final], scale_free)
        chip = restore.chip
        chip.load(compiled.image, names=compiled.adapter_slots)
        deployed["lora"] = restore.report["deploy"] | {"image_bytes": len(compiled.image)}
    with chip:
        for stage, enabled in stages:
            bar.set_postfix(stage=stage)
            evaluator.measure(stage, chip, compiled, enabled)
            bar.update()
        evaluator.programmed(chip, compiled)
        inputs = evaluator.inference_inputs()
        deployed["lora"]["inference"] = {
            "lora": measure_inference(chip, compiled, inputs, list(adapters)),
            "analog_only": measure_inference(chip, compiled, inputs, []),
        }
    for stage in baselines:
        # the pretrained chip (same seed, same deployment), its crossbars rewritten
        bar.set_postfix(stage=stage)
        with reprogrammed(compiled, models[stage], calib, seed, reads) as (chip, base, report):
            deployed[stage] = report
            evaluator.measure(stage, chip, base, [])
        bar.update()
    bar.close()
    return compiled, deployed
