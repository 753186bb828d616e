"""What every Monte Carlo run of a robustness sweep shares, built once on the host.

A registered classification task's float flow with its default roles (pretrain,
unlearn, learn: sw/learn/pipeline.py) gives the network and its two adapters;
hardware-aware training (sw/learn/hwa.py) fine-tunes a copy of the pretrained network
with weight noise, a second network. From scratch, that network's accuracy hung on
the seed (seed 0, the worst of 8: 88.9 % noise-free on the chip, 90.8 % in float);
fine-tuned, 96.9 %. Each is compiled once with a reserved, all-zero compensation slot, so
a run only fills that slot's SRAM.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rmlora.sw.compiler import CompiledModel, chip_layer_names, compile_model
from rmlora.sw.compiler.probe import ProbeProgram, probe_program
from rmlora.sw.learn.chip_flow import calibration_rows
from rmlora.sw.learn.compensate import COMPENSATION, add_compensation_slot, layer_moments
from rmlora.sw.learn.loop import deterministic
from rmlora.sw.learn.pipeline import run_flow

__all__ = ["Deployment", "Setup", "HWA_NOISE_US", "prepare", "make_deployment",
           "robustness_tasks"]

# Hardware-aware training noise. Chosen when the network trained from scratch:
# aihwkit-lightning's prediction for the face network (seed 0, 10 runs) was 0.73
# noise-free and 0.70 at 4 uS trained at 4 uS; 0.91, 0.89 at 2 uS and 0.76 at 4 uS
# trained at 2 uS (plain: 0.95, 0.87, 0.62).
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


def robustness_tasks() -> list[str]:
    """Registered tasks a sweep can run: the classification tasks (accuracy by role)
    whose layers the per-layer compensation fits (not the LSM's, ``robustness``)."""
    from rmlora.sw.tasks import TASKS
    from rmlora.sw.tasks.classifier import ClassifierTask
    return [name for name, task in TASKS.items()
            if isinstance(task, ClassifierTask) and task.robustness]


def _task_flow(name: str, seed: int, source=None):
    """(flow data, model factory, flow config without baselines, evaluation x, y) of a
    registered classification task with its default roles; source replaces the
    dataset files (tests: synthetic data)."""
    from rmlora.sw.tasks import TASKS
    if name not in robustness_tasks():
        raise ValueError(f"task {name!r}: robustness sweeps exist for "
                         f"{', '.join(robustness_tasks())}")
    task = TASKS[name]
    roles = task.default_options
    prepared = task.prepare(roles, seed, source)
    config = dataclasses.replace(task.config(seed), run_baselines=False)
    data = prepared[2]
    return (data, task.model_factory(prepared), config, *task.evaluation_inputs(data))


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
    data, make_model, config, x, y = _task_flow(task, seed, source)
    config = dataclasses.replace(config, progress=progress)
    flow = run_flow(data, make_model, config, keep_models=True)
    calib = data.train_x[calibration_rows(len(data.train_x), seed)]
    adapters = (config.forget_adapter.name, config.continual_adapter.name)
    models = flow["models"]
    deployments = {"plain": make_deployment("plain", models["pretrained"],
                                            models["continual_lora"], calib, adapters, rank)}
    if hwa is not None:
        from rmlora.sw.learn.hwa import hwa_pretrain
        with deterministic(seed, config.threads):
            torch.manual_seed(seed)
            hwa_model, _ = hwa_pretrain(copy.deepcopy(models["pretrained"]), data,
                                        config.pretrain, hwa, seed, progress)
        deployments["hwa"] = make_deployment("hwa", hwa_model, hwa_model, calib, (), rank)
    return Setup(task, seed, calib.numpy(), x.numpy(), y.numpy(), data.pretrain_classes,
                 data.retain_classes, data.forget_class, data.new_class, deployments, rank, hwa)
