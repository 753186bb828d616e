"""A sampler's stages on the chip: images drawn through the chip, read by a judge.

The image-generation task's ``Evaluator`` (chip_flow.py): each stage samples every
prompted digit with its adapter set on the chip; the judge (a classifier trained on
real digits only) reads each sample, and a brightness threshold tells the style.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rmlora.sw.compiler import CompiledModel
from rmlora.sw.data.digits import style_property
from rmlora.sw.models.denoiser import sample
from rmlora.sw.runtime import Chip, dequantize_logits, run_network

from .chip_flow import Evaluator
from .diffusion import DiffusionConfig

__all__ = ["SamplerEvaluator", "sample_rates", "sample_grid", "chip_sampler"]

INFERENCE_INPUTS = 64  # calibration inputs whose per-input chip activity is priced
CHECK_DIGITS = 4  # the chip check takes, per denoising step, one sample of each of 4 digits


def chip_sampler(chip: Chip, compiled: CompiledModel, adapters: list[str]):
    """The chip with ``adapters`` as the sampler's clean-image prediction."""
    def predict(inputs: torch.Tensor) -> torch.Tensor:
        chip.enable(adapters)
        y = run_network(compiled, inputs.numpy(), lambda seg, x: chip.run(seg, x)[0])
        return torch.from_numpy(dequantize_logits(compiled, y)).float()
    return predict


def sample_rates(samples: torch.Tensor, prompts: torch.Tensor, judge: nn.Module, erased: int,
                 style_threshold: float) -> dict:
    """How often the judge sees the prompted digit (per digit, the erased one, the
    others) and how many samples are in the style."""
    with torch.no_grad():
        seen = judge(samples).argmax(1)
    # exact fractions (count / samples in float64): a float32 mean made 45 of 50 read
    # 0.8999999762, below a bound of 0.9
    per_digit = [int((seen[prompts == d] == d).sum()) / int((prompts == d).sum())
                 for d in range(10)]
    others = [r for d, r in enumerate(per_digit) if d != erased]
    bright = style_property((samples.numpy() + 1) / 2) > style_threshold
    return {"per_digit": per_digit, "prompt_rate": float(np.mean(per_digit)),
            "worst_digit_rate": min(per_digit),
            "erased_digit_rate": per_digit[erased], "other_prompt_rate": float(np.mean(others)),
            "style_rate": float(bright.mean())}


def sample_grid(samples: torch.Tensor, per_digit: int, columns: int = 8) -> list:
    """The first ``columns`` samples of each digit, as a (10*8, columns*8) image."""
    imgs = ((samples.numpy() + 1) / 2).reshape(10, per_digit, 8, 8)[:, :columns]
    rows = [np.concatenate(list(digit), axis=1) for digit in imgs]  # (8, 8 * columns) each
    return np.concatenate(rows, axis=0).round(3).tolist()


class SamplerEvaluator(Evaluator):
    """Samples of every stage (``samples``), the judge's rates (``results``) and a grid
    of each (``grids``); the network inputs of stage ``record``, step by step, are the
    chip check's inputs."""

    def __init__(self, config: DiffusionConfig, judge: nn.Module, style_threshold: float,
                 calib: torch.Tensor, record: str):
        self.config, self.judge, self.style_threshold = config, judge, style_threshold
        self.calib, self.record_stage = calib, record
        self.prompts = torch.arange(10).repeat_interleave(config.samples_per_digit)
        self.samples: dict[str, torch.Tensor] = {}
        self.results: dict[str, dict] = {}
        self.grids: dict[str, list] = {}
        self.recorded: list[torch.Tensor] = []

    def measure(self, stage, chip, compiled, adapters):
        cfg = self.config
        record = self.recorded if stage == self.record_stage else None
        self.samples[stage] = sample(chip_sampler(chip, compiled, adapters), self.prompts,
                                     cfg.schedule, cfg.seed + 10, record)
        self.results[stage] = sample_rates(self.samples[stage], self.prompts, self.judge,
                                           cfg.erase, self.style_threshold)
        self.grids[stage] = sample_grid(self.samples[stage], cfg.samples_per_digit)

    def inference_inputs(self) -> np.ndarray:
        return self.calib[:INFERENCE_INPUTS].numpy()

    @staticmethod
    def check_capacity(config) -> int:
        """Inputs check_inputs has: one per digit check and denoising step."""
        return CHECK_DIGITS * config.schedule.steps

    def check_inputs(self, n: int) -> np.ndarray:
        """A few denoising steps of the recorded stage: per step one sample of each of
        ``CHECK_DIGITS`` digits."""
        if n > self.check_capacity(self.config):
            raise ValueError(f"check_images={n}: only {self.check_capacity(self.config)} "
                             f"denoising inputs")
        picks = torch.arange(CHECK_DIGITS) * self.config.samples_per_digit * 2 + 1
        return torch.cat([step[picks] for step in self.recorded])[:n].numpy()
