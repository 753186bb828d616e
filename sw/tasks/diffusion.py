"""The image-generation task: train in float, then sample on the chip (shared pipeline).

    run_diffusion(erase=3, style="thick", seed=0) -> summary dict (JSON-ready)

The pretrained denoiser and its two adapters (erase, style) are compiled and
deployed once; each stage samples with its adapter set on that chip (none, erase,
erase + style). The baselines (full fine-tuning with the erasing objective,
retraining without the digit) reprogram the pretrained chip. The judge (trained on
real digits only) reads every sample. A few denoising steps run on a cosimulated
chip next to the golden one and are compared byte for byte.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from rmlora.sw.data.digits import STYLES, apply_style, load_digit_images, style_property
from rmlora.sw.learn.chip_flow import EVAL_BACKEND
from rmlora.sw.learn.diffusion import (
    DiffusionConfig,
    erase,
    frechet_distance,
    judge_features,
    learn_style,
    train_denoiser,
    train_judge,
)
from rmlora.sw.learn.restore import float_network, restore_start
from rmlora.sw.learn.sampling import SamplerEvaluator, sample_rates
from rmlora.sw.lora import set_active_adapters
from rmlora.sw.models.denoiser import denoiser_input, sample

from .pipeline import run_task
from .registry import register
from .targets import Bound, Targets, at_least, at_most, target
from .task import Figure, Run, Task, Trained

__all__ = ["DIFFUSION", "DIFFUSION_DIT", "DIT_TARGETS", "DIFFUSION_TARGETS", "DiffusionTargets",
           "Erasure", "run_diffusion"]

CALIBRATION_INPUTS = 512  # noisy training inputs (seeded draw) the int8 scales come from


@dataclass(frozen=True)
class DiffusionTargets(Targets):
    """Targets of erasing a digit and learning a style, read by the judge on the chip."""

    pretrained_digit_rate: Bound | None = target("pretrained.erased_digit_rate")
    erased_digit_rate: Bound | None = target("erased.erased_digit_rate")
    other_prompt_drop: Bound | None = target("erased.other_prompt_drop")
    style_rate: Bound | None = target("styled.style_rate")
    styled_digit_rate: Bound | None = target("styled.erased_digit_rate")
    worst_digit_rate: Bound | None = target("pretrained.worst_digit_rate")
    plain_style_rate: Bound | None = target("pretrained.style_rate")
    fid_ratio_pretrained: Bound | None = target("fid_ratio.pretrained")
    fid_ratio_erased: Bound | None = target("fid_ratio.erased")
    bit_exact: Bound | None = target("chip_check.bit_exact", Bound("==", True))
    activity_equal: Bound | None = target("chip_check.activity_equal", Bound("==", True))


# Issue 10's targets.
DIFFUSION_TARGETS = DiffusionTargets(
    pretrained_digit_rate=at_least(0.8), erased_digit_rate=at_most(0.1),
    other_prompt_drop=at_most(0.05), style_rate=at_least(0.8), styled_digit_rate=at_most(0.1))

# Issue 26's, for the diffusion transformer: every digit before erasing (not only the
# one erased later), tighter bounds, plain samples not read as styled, and the chip's
# Frechet distance (kept digits against real ones) within 1.5x of the float model's.
DIT_TARGETS = DiffusionTargets(
    erased_digit_rate=at_most(0.05), other_prompt_drop=at_most(0.03),
    style_rate=at_least(0.9), styled_digit_rate=at_most(0.05),
    worst_digit_rate=at_least(0.9), plain_style_rate=at_most(0.1),
    fid_ratio_pretrained=at_most(1.5), fid_ratio_erased=at_most(1.5))


@dataclass(frozen=True)
class Erasure:
    """The diffusion task's options: the digit erased and the style learned."""

    erase: int = 3
    style: str = "thick"


@dataclass
class Digits:
    """The 8x8 digits in [-1, 1], their styled versions, the kept rows, the judge."""

    x: torch.Tensor
    y: torch.Tensor
    styled: torch.Tensor
    kept: torch.Tensor
    judge: nn.Module
    style_threshold: float


class DiffusionTask(Task):
    name = "diffusion"
    help = "the image-generation flow: erase a digit, learn a style, on the simulated chip"
    targets = DIFFUSION_TARGETS
    variant = "mlp"  # also the denoiser it trains: one of learn.diffusion.DENOISERS
    # `make sim` runs the DiT instead (DitDiffusionTask): on the chip its samples are
    # closer to real digits and it meets issue 26's targets, which the MLP does not
    # (README, "The diffusion transformer")
    in_sim = False
    report: ClassVar[str] = "sampler"
    stages: ClassVar[tuple[str, str, str]] = ("pretrained", "erased", "styled")
    order = 2
    # beside the targets' values: the worst digit before erasing, styled plain samples
    # (should be none), the float model's rates and the erased model's FID
    sweep_figures: ClassVar[tuple[Figure, ...]] = (
        Figure("pretrained.worst_digit_rate", "high", least_of="pretrained.per_digit"),
        Figure("pretrained.prompt_rate", "high"),
        Figure("pretrained.style_rate", "low"),
        Figure("float.pretrained.prompt_rate", "high"),
        Figure("float.erased.erased_digit_rate", "low"),
        Figure("float.styled.style_rate", "high"),
        Figure("fid.erased", "low"),
        # the same chip without the restore stage's compensation
        Figure("pretrained_unrestored.worst_digit_rate", "high",
               least_of="pretrained_unrestored.per_digit"),
        Figure("pretrained_unrestored.style_rate", "low"),
    )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--erase", type=int, default=Erasure.erase,
                            help=f"digit to erase (default {Erasure.erase})")
        parser.add_argument("--style", choices=tuple(STYLES), default=Erasure.style)

    def options(self, args: argparse.Namespace) -> Erasure:
        return Erasure(args.erase, args.style)

    @property
    def default_options(self) -> Erasure:
        return Erasure()

    def draw_options(self, rng: np.random.Generator) -> Erasure:
        styles = tuple(STYLES)
        return Erasure(int(rng.integers(10)), styles[rng.integers(len(styles))])

    def flow_config(self, options: Erasure, seed: int, progress: bool) -> DiffusionConfig:
        return DiffusionConfig(seed=seed, erase=options.erase, style=options.style,
                               model=self.variant, progress=progress)

    def adapters(self, config) -> tuple[str, str]:
        return "erase", "style"

    def prepare(self, options: Erasure, seed: int, source=None) -> Digits:
        images, labels = load_digit_images() if source is None else source
        x = torch.from_numpy(images.reshape(-1, 64) * 2 - 1)
        y = torch.from_numpy(labels)
        styled_images = apply_style(images, options.style)
        styled = torch.from_numpy(styled_images.reshape(-1, 64) * 2 - 1)
        judge = train_judge(torch.cat([x, styled]), torch.cat([y, y]), seed)
        threshold = 0.5 * float(style_property(images).mean()
                                + style_property(styled_images).mean())
        return Digits(x, y, styled, y != options.erase, judge, threshold)

    def train(self, d: Digits, config: DiffusionConfig, restore=None) -> Trained:
        seed, kept = config.seed, d.kept
        torch.manual_seed(seed)
        models, costs = {}, {}
        models["pretrained"], costs["pretrain"] = train_denoiser(d.x, d.y, config, seed)
        start, on = restore_start(restore, models["pretrained"])
        models["erased"], costs["unlearn_lora"] = erase(start, d.x[kept], d.y[kept], config,
                                                        seed + 1, keep_active=on)
        models["styled"], costs["continual_lora"] = learn_style(
            models["erased"], d.styled[kept], d.y[kept], config, seed + 2, [*on, "erase"])
        models["full_finetune"], costs["full_finetune"] = erase(
            models["pretrained"], d.x[kept], d.y[kept], config, seed + 1, adapter=None)
        models["retrained"], costs["retrain"] = train_denoiser(d.x[kept], d.y[kept], config,
                                                               seed, stage="retrain")
        return Trained(models, {k: v.as_dict() for k, v in costs.items()})

    def calibration(self, d: Digits, config: DiffusionConfig, seed: int) -> torch.Tensor:
        """Noisy training images at random steps, as the denoiser sees them: plain and
        styled ones, since the styled stage samples styled images on the same chip
        (calibrated on plain ones only, an inverted image's activations clip)."""
        gen = torch.Generator().manual_seed(seed)
        images, labels = torch.cat([d.x, d.styled]), torch.cat([d.y, d.y])
        idx = torch.randperm(len(images), generator=gen)[:CALIBRATION_INPUTS]
        steps = torch.randint(config.schedule.steps, (len(idx),), generator=gen)
        noise = torch.randn(len(idx), 64, generator=gen)
        return denoiser_input(config.schedule.noisy(images[idx], steps, noise), labels[idx],
                              steps, config.schedule.steps)

    def evaluator(self, d: Digits, config, trained, calib) -> SamplerEvaluator:
        return SamplerEvaluator(config, d.judge, d.style_threshold, calib, record="styled")

    def chip_check_capacity(self, prepared, config) -> int:
        return SamplerEvaluator.check_capacity(config)

    def summarize(self, run: Run) -> dict:
        d, config, sampler = run.prepared, run.config, run.evaluator
        float_results, float_samples = {}, {}
        model = float_network(run.trained.models["styled"], run.restore)
        for stage, adapters in self.chip_stages(config):
            set_active_adapters(model, adapters)
            float_samples[stage] = sample(model, sampler.prompts, config.schedule,
                                          config.seed + 10)
            float_results[stage] = sample_rates(float_samples[stage], sampler.prompts,
                                                d.judge, config.erase, d.style_threshold)
        results, samples_of = sampler.results, sampler.samples
        real = judge_features(d.judge, d.x[d.kept])

        def fid(stage, samples=samples_of):
            kept = samples[stage][sampler.prompts != config.erase]
            return frechet_distance(judge_features(d.judge, kept), real)

        fid_chip = {stage: fid(stage) for stage in ("pretrained", "erased", "full_finetune",
                                                    "retrained")}
        fid_float = {stage: fid(stage, float_samples) for stage in ("pretrained", "erased")}

        before = results["pretrained"]["other_prompt_rate"]
        for stage in ("erased", "full_finetune", "retrained"):
            results[stage]["other_prompt_drop"] = before - results[stage]["other_prompt_rate"]
        return {
            "task": self.name,
            "config": {"model": config.model, "erase": config.erase, "anchor": config.anchor_digit,
                       "style": config.style, "seed": config.seed, "backend": EVAL_BACKEND,
                       "check_backend": run.check_backend, "steps": config.schedule.steps,
                       "samples_per_digit": config.samples_per_digit},
            **results,
            "float": float_results,
            "fid": fid_chip,
            "fid_float": fid_float,
            "fid_ratio": {stage: fid_chip[stage] / value for stage, value in fid_float.items()},
            "grids": sampler.grids,
            "deploy": run.deployed,
            "costs": run.trained.costs,
            "cost": run.cost,
        }


DIFFUSION = register(DiffusionTask())


class DitDiffusionTask(DiffusionTask):
    """The same flow on the tiny diffusion transformer (models.dit): the published
    image model's family, its adapters on every block's MLP fc layers."""

    name = "diffusion_dit"
    help = "the image-generation flow on the diffusion transformer (DiT)"
    command = "diffusion"
    variant = "dit"
    targets = DIT_TARGETS
    in_sim = True

    def scale_free(self, config) -> tuple[str, ...]:
        """The style adapter's activations saturate rather than set the scales. It sits
        on the MLP fc layers, whose branch the block's adaLN gate scales down, and on
        8-invert-9127 it drove block 1's fc2 output to 24x the range of the other
        stages (99.99th percentile 650 against 27); covering that left the pretrained
        chip 5 levels there (prompted digit 0.68, the lowest 0.22). Saturated, the
        pretrained stage was 0.993 and the styled one kept its style (1.00)."""
        return (self.adapters(config)[1],)


DIFFUSION_DIT = register(DitDiffusionTask())


def run_diffusion(erase_digit: int = 3, style: str = "thick", seed: int = 0,
                  check_backend: str | None = "verilator", check_inputs: int = 20,
                  config: DiffusionConfig | None = None, progress: bool = False) -> dict:
    """The whole task through the shared pipeline; the summary (the README lists its
    keys)."""
    if config is not None and (config.seed, config.erase, config.style) != (
            seed, erase_digit, style):
        raise ValueError("config disagrees with seed / erase_digit / style")
    return run_task(DIFFUSION, Erasure(erase_digit, style), seed, check_backend, check_inputs,
                    config, progress=progress)

