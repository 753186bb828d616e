"""What every Monte Carlo run of a robustness sweep shares, built once on the host.

A task's float flow (pretrain, unlearn, learn: sw/learn/pipeline.py) gives the
network and its two adapters; hardware-aware pretraining (sw/learn/hwa.py) gives a
second network trained with weight noise. Each is compiled once with a reserved,
all-zero compensation slot, so a run only fills that slot's SRAM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rmlora.sw.compiler import CompiledModel, chip_layer_names, compile_model
from rmlora.sw.compiler.probe import ProbeProgram, probe_program
from rmlora.sw.learn.chip_flow import CALIBRATION_INPUTS
from rmlora.sw.learn.config import FlowConfig
from rmlora.sw.learn.loop import deterministic
from rmlora.sw.learn.pipeline import run_flow

from .compensate import COMPENSATION, add_compensation_slot, layer_moments

__all__ = ["Deployment", "Setup", "TASKS", "HWA_NOISE_US", "prepare", "make_deployment"]

# Hardware-aware training noise. aihwkit-lightning's prediction for the face network
# (seed 0, 10 runs): trained at 4 uS it reached 0.73 noise-free and 0.70 at 4 uS; at
# 2 uS, 0.91 noise-free, 0.89 at 2 uS and 0.76 at 4 uS (plain: 0.95, 0.87, 0.62).
HWA_NOISE_US = 2.0


@dataclass
class Deployment:
    """One pretrained network as deployed: float model with the compensation slot, its
    compiled form, the probe program, and each layer's input second moment."""

    name: str
    base: nn.Module  # the pretrained network alone (no adapters)
    model: nn.Module
    compiled: CompiledModel
    probe: ProbeProgram
    moments: dict[str, np.ndarray]
    adapters: tuple[str, ...]  # the flow's adapters (forget, continual); () for none


@dataclass
class Setup:
    task: str
    seed: int
    calib: np.ndarray  # the inputs the int8 scales come from (compile_model)
    x: np.ndarray  # evaluation inputs and labels
    y: np.ndarray
    pretrain_classes: list[int]
    retain_classes: list[int]
    forget_class: int
    new_class: int
    deployments: dict[str, Deployment]
    rank: int | None
    hwa: object | None  # the HwaConfig of the hardware-aware network (None: not trained)


def _face(seed: int, source=None):
    from rmlora.sw.learn.face import prepare_face
    from rmlora.sw.models.mixer import FaceMixer, MixerConfig
    _, split, data = prepare_face(seed=seed, faces=source)
    config = MixerConfig(image_size=split.train_x.shape[-1], n_classes=data.new_class + 1)
    # test faces and their held-out views: 558 inputs, so one face is not 7 points
    return (data, lambda: FaceMixer(config), FlowConfig(seed=seed, run_baselines=False),
            torch.cat([data.test_x, data.holdout_x]), torch.cat([data.test_y, data.holdout_y]))


def _speaker(seed: int, source=None):
    import dataclasses

    from rmlora.sw.learn.speaker import prepare_speaker, speaker_config
    from rmlora.sw.models.speaker import speaker_mlp
    speakers, split, data = prepare_speaker(("george", "jackson", "lucas", "nicolas", "theo"),
                                            "jackson", "yweweler", seed, features=source)
    n_features = split.train_x.shape[1]
    config = dataclasses.replace(speaker_config(seed), run_baselines=False)
    # the held-out set of the speaker task is the test set itself
    return (data, lambda: speaker_mlp(n_features, n_classes=len(speakers) + 1), config,
            data.test_x, data.test_y)


# task -> ((seed, source) -> (flow data, model factory, flow config, evaluation x, y)),
# with the tasks' default roles (face: people 0-4, forget 1, learn 5; speaker: as
# `rmlora speaker`); source replaces the dataset files (tests: synthetic data).
TASKS: dict[str, Callable] = {"face": _face, "speaker": _speaker}


def make_deployment(name: str, base: nn.Module, model: nn.Module, calib: torch.Tensor,
                    adapters: tuple[str, ...], rank: int | None) -> Deployment:
    """``model``: ``base`` with the flow's ``adapters`` (or ``base`` itself)."""
    layers = chip_layer_names(model)
    slotted = add_compensation_slot(model, layers, rank)
    compiled = compile_model(slotted, calib.numpy(), scale_free=(COMPENSATION,))
    return Deployment(name, base, slotted, compiled, probe_program(compiled),
                      layer_moments(slotted, layers, calib), adapters)


def prepare(task: str, seed: int = 0, hwa_noise_us: float | None = HWA_NOISE_US,
            rank: int | None = 8, progress: bool = False, source=None) -> Setup:
    """Train the task's flow (and, unless ``hwa_noise_us`` is None, the network trained
    with that programming noise injected), compile each with the compensation slot:
    the shared part of every run. rank: the compensation adapter's (None: the most the
    unit takes, capped by each layer's size)."""
    hwa = None
    if hwa_noise_us is not None:
        from rmlora.sw.learn.hwa import HwaConfig  # aihwkit-lightning, imported when used
        hwa = HwaConfig(noise_std_us=hwa_noise_us)
    if task not in TASKS:
        raise ValueError(f"task {task!r}: robustness sweeps exist for {', '.join(TASKS)}")
    data, make_model, config, x, y = TASKS[task](seed, source)
    config = FlowConfig(**{**config.__dict__, "progress": progress})
    flow = run_flow(data, make_model, config, keep_models=True)
    gen = torch.Generator().manual_seed(seed)
    calib = data.train_x[torch.randperm(len(data.train_x), generator=gen)[:CALIBRATION_INPUTS]]
    adapters = (config.forget_adapter.name, config.continual_adapter.name)
    models = flow["models"]
    deployments = {"plain": make_deployment("plain", models["pretrained"],
                                            models["continual_lora"], calib, adapters, rank)}
    if hwa is not None:
        from rmlora.sw.learn.hwa import hwa_pretrain
        with deterministic(seed, config.threads):
            torch.manual_seed(seed)
            hwa_model, _ = hwa_pretrain(make_model(), data, config.pretrain, hwa, seed,
                                        progress)
        deployments["hwa"] = make_deployment("hwa", hwa_model, hwa_model, calib, (), rank)
    return Setup(task, seed, calib.numpy(), x.numpy(), y.numpy(), data.pretrain_classes,
                 data.retain_classes, data.forget_class, data.new_class, deployments, rank, hwa)
