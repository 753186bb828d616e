"""A classification task, filled in: forget one enrolled class, learn a new one.

    TASK = register(ClassifierTask(name="face", help=..., roster=Roster(...),
                                   load=..., model=..., config=..., targets=...))

The task supplies its roster (default roles and how the command line names
classes), a loader (roles -> classes, class index by name, FlowData), a model
factory and its flow configuration; the float flow (rmlora.sw.learn.pipeline), the
chip stages, the summary and the report are shared by every classification task.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rmlora.sw.learn.chip_flow import ClassifierEvaluator, calibration_rows
from rmlora.sw.learn.config import FlowConfig
from rmlora.sw.learn.pipeline import run_flow
from rmlora.sw.learn.stages import FlowData

from .classifier_summary import classifier_summary
from .targets import ClassifierTargets
from .task import Figure, Run, Task, Trained

__all__ = ["Roster", "Roles", "ClassifierTask", "Loaded"]

# (enrolled classes in order, class index by class name, the flow's tensors and roles)
Loaded = tuple[list, dict, FlowData]


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


@dataclass(frozen=True)
class Roster:
    """A task's classes as users name them, and its default roles (defined once).

    noun: what a class is, plural (people, speakers): the command-line flag
    (``--people``) and the summary's config key. parse: the flag's text -> classes;
    parse_one: a class from its text (``--forget``, ``--learn``). pool: every class
    users can choose from (what a sweep draws from; empty: the task is not swept)."""

    noun: str
    classes: tuple
    forget: Any
    learn: Any
    help: str = ""
    parse: Callable[[str], list] = _names
    parse_one: Callable[[str], Any] = str
    pool: tuple = ()

    def __post_init__(self):
        if not self.noun.isidentifier():
            raise ValueError(f"noun {self.noun!r}: must be a word (it becomes --{self.noun})")
        if self.forget not in self.classes:
            raise ValueError(f"forget={self.forget!r} must be one of classes {self.classes}")
        if self.learn in self.classes:
            raise ValueError(f"learn={self.learn!r} must not be one of classes {self.classes}")
        if not self.pool:
            return
        outside = [c for c in (*self.classes, self.learn) if c not in self.pool]
        if outside:
            raise ValueError(f"pool {self.pool}: the default classes {outside} are not in it")
        if len(set(self.pool)) != len(self.pool):
            raise ValueError(f"pool {self.pool}: a class appears twice")

    def draw(self, rng: np.random.Generator) -> tuple[tuple, Any, Any]:
        """(classes, forget, learn) drawn from the pool: as many classes as the default
        roles enrol, in random order, one of them forgotten, one outside them learned."""
        if not self.pool:
            raise NotImplementedError(f"{self.noun}: no pool of classes to draw from")
        picked = [self.pool[i] for i in rng.permutation(len(self.pool))[:len(self.classes) + 1]]
        classes, learn = tuple(picked[:-1]), picked[-1]
        return classes, classes[rng.integers(len(classes))], learn


@dataclass(frozen=True)
class Roles:
    """A classification task's options: the enrolled classes, the one forgotten, the
    one learned later (checked by the task's loader against its data)."""

    classes: tuple
    forget: Any
    learn: Any


def _default_config(seed: int) -> FlowConfig:
    return FlowConfig(seed=seed)


@dataclass(frozen=True)
class ClassifierTask(Task):
    """A classification task. load(roles, seed, source) -> (classes, class_of, data);
    model(training inputs, outputs) -> a fresh network (one spare output for the class
    learned later); config(seed) -> its FlowConfig. distinct_holdout False: the
    held-out inputs are the test inputs again (robustness evaluates on the test set
    only). data_files: what the loader reads, under $RMLORA_DATA."""

    name: str
    help: str
    roster: Roster
    load: Callable[[Roles, int, Any], Loaded]
    model: Callable[[torch.Tensor, int], nn.Module]
    config: Callable[[int], FlowConfig] = _default_config
    targets: ClassifierTargets = field(default_factory=ClassifierTargets)
    distinct_holdout: bool = True
    data_files: tuple[Path, ...] = ()
    order: int = 100
    command: str | None = None  # Task.command, Task.variant
    variant: str = ""
    mvm_reads: int | tuple[tuple[str, int], ...] = 1  # Task.mvm_reads
    # load's twin for recipe choices: the choice's training data split again, the
    # held-out part as test inputs (None: the task has no validation split)
    load_validation: Callable[[Roles, int, Any], Loaded] | None = None

    report: ClassVar[str] = "classifier"
    # whether `rmlora robustness` can sweep it (its per-layer compensation fit)
    robustness: ClassVar[bool] = True
    stages: ClassVar[tuple[str, str, str]] = ("pretrained", "unlearned_lora", "continual_lora")
    # beside the targets' values: accuracies by role, float and chip, at every stage
    sweep_figures: ClassVar[tuple[Figure, ...]] = (
        Figure("pretrained.float.test_acc", "high"),
        Figure("pretrained.chip.test_acc", "high"),
        Figure("pretrained.float.retain_holdout_acc", "high"),
        Figure("pretrained.chip.retain_holdout_acc", "high"),
        Figure("unlearned.lora.float.forget_acc", "low"),
        Figure("unlearned.lora.forget_acc", "low"),
        Figure("unlearned.lora.float.retain_acc", "high"),
        Figure("unlearned.lora.retain_acc", "high"),
        Figure("continual.lora.float.new_acc", "high"),
        Figure("continual.lora.new_acc", "high"),
        Figure("continual.lora.float.old_acc", "high"),
        Figure("continual.lora.old_acc", "high"),
        # the same chip without the restore stage's compensation
        Figure("pretrained.chip_unrestored.test_acc", "high"),
        Figure("pretrained.chip_unrestored.retain_holdout_acc", "high"),
        Figure("unlearned.lora.unrestored.retain_acc", "high"),
        Figure("continual.lora.unrestored.new_acc", "high"),
        Figure("continual.lora.unrestored.old_acc", "high"),
    )

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"name {self.name!r}: must be a word (it becomes a command)")
        if not isinstance(self.targets, ClassifierTargets):
            raise ValueError(f"targets: a ClassifierTargets, got {type(self.targets).__name__}")

    # --- command line ---------------------------------------------------------------
    def add_options(self, parser: argparse.ArgumentParser) -> None:
        r = self.roster
        parser.add_argument(f"--{r.noun}", dest="classes", type=r.parse, default=r.classes,
                            metavar=r.noun.upper(),
                            help=f"{r.help} (default {','.join(map(str, r.classes))})")
        parser.add_argument("--forget", type=r.parse_one, default=r.forget,
                            help=f"enrolled class to forget (default {r.forget})")
        parser.add_argument("--learn", type=r.parse_one, default=r.learn,
                            help=f"new class to learn (default {r.learn})")

    def options(self, args: argparse.Namespace) -> Roles:
        return Roles(tuple(args.classes), args.forget, args.learn)

    @property
    def default_options(self) -> Roles:
        return Roles(self.roster.classes, self.roster.forget, self.roster.learn)

    def draw_options(self, rng: np.random.Generator) -> Roles:
        return Roles(*self.roster.draw(rng))

    def is_default(self, options: Roles) -> bool:
        """The default roles in any order: the order only numbers the outputs."""
        default = self.default_options
        return (set(options.classes), options.forget, options.learn) == (
            set(default.classes), default.forget, default.learn)

    def describe(self, options: Roles) -> str:
        return (f"{self.roster.noun} {','.join(map(str, options.classes))}, forget "
                f"{options.forget}, learn {options.learn}")

    def data_missing(self) -> str | None:
        from rmlora.sw.data.olivetti import data_dir
        missing = [str(data_dir() / f) for f in self.data_files if not (data_dir() / f).exists()]
        return f"{', '.join(missing)} not found" if missing else None

    # --- pipeline -------------------------------------------------------------------
    def flow_config(self, options, seed: int, progress: bool) -> FlowConfig:
        return dataclasses.replace(self.config(seed), progress=progress)

    def adapters(self, config: FlowConfig) -> tuple[str, str]:
        return config.forget_adapter.name, config.continual_adapter.name

    def prepare(self, options: Roles, seed: int, source=None) -> Loaded:
        return self.load(options, seed, source)

    def validation_split(self, options: Roles, seed: int, source=None) -> Loaded:
        if self.load_validation is None:
            return super().validation_split(options, seed, source)
        return self.load_validation(options, seed, source)

    def model_factory(self, prepared: Loaded) -> Callable[[], nn.Module]:
        classes, _, data = prepared
        return lambda: self.model(data.train_x, len(classes) + 1)

    def train(self, prepared: Loaded, config: FlowConfig, restore=None) -> Trained:
        flow = run_flow(prepared[2], self.model_factory(prepared), config, keep_models=True,
                        restore=restore)
        return Trained(flow["models"], flow["costs"], flow["metrics"])

    def calibration(self, prepared: Loaded, config, seed: int) -> torch.Tensor:
        train_x = prepared[2].train_x
        return train_x[calibration_rows(len(train_x), seed)]

    def evaluator(self, prepared: Loaded, config, trained, calib) -> ClassifierEvaluator:
        return ClassifierEvaluator(prepared[2])

    def chip_check_capacity(self, prepared: Loaded | None, config) -> int | None:
        if prepared is None:
            return None
        return ClassifierEvaluator.check_capacity(prepared[2])

    def summarize(self, run: Run) -> dict:
        return classifier_summary(run, self.name, self.roster.noun)

    def evaluation_inputs(self, data: FlowData) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and labels a robustness run measures accuracy on: the test inputs and
        the held-out ones (the faces: 558 inputs, so one face is not 7 points)."""
        if not self.distinct_holdout:
            return data.test_x, data.test_y
        return torch.cat([data.test_x, data.holdout_x]), torch.cat([data.test_y, data.holdout_y])
