"""What a task is, as the shared pipeline (pipeline.py) and the command line see it.

A task module (face.py, speaker.py, diffusion.py) declares one ``Task``: its data,
model factory, flow configuration, typed targets, command-line options and the kind
of report that reads its summary; ``register`` makes it a command of `rmlora`, a
part of `make sim` and of `rmlora cost`, and `rmlora report` rebuilds its report.
Classification tasks need only a ``ClassifierTask`` (classifier.py) filled in.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rmlora.sw.compiler.compile import check_reads
from rmlora.sw.learn.restore import Restore

from .targets import Targets

__all__ = ["Task", "Trained", "Run", "Figure", "BETTER", "DRAWS"]

BETTER = ("high", "low", "zero")  # which way a figure is better (zero: smaller |value|)
DRAWS = 100  # draws random_options tries before it gives up finding a non-default one


@dataclass(frozen=True)
class Figure:
    """A number a sweep (sweep.py) reports for every choice: the summary value at
    ``key`` (a dotted path, as targets name them) or, with ``least_of``, the smallest
    entry of the list at that path (e.g. the worst digit's rate); ``better`` says which
    end is the worst: high (the minimum), low (the maximum), zero (the largest |x|)."""

    key: str
    better: str
    least_of: str | None = None

    def __post_init__(self):
        if self.better not in BETTER:
            raise ValueError(f"figure {self.key!r}: better={self.better!r}, choose one of "
                             f"{', '.join(BETTER)}")


@dataclass
class Trained:
    """The float part of a flow: models by stage (the LoRA stages' and the baselines'),
    training activity by stage (StageCost dicts) and the float metrics, if any."""

    models: dict[str, Any]
    costs: dict[str, dict]
    metrics: dict | None = None


@dataclass
class Run:
    """Everything a finished flow hands its task to summarize."""

    options: Any
    seed: int
    config: Any
    prepared: Any
    trained: Trained
    evaluator: Any
    calib: Any
    compiled: Any
    deployed: dict
    cost: dict
    check_backend: str | None
    restore: Any = None  # the restore stage (rmlora.sw.learn.restore.Restore), if run


class Task(ABC):
    """One task: the hooks the pipeline calls, in order, and its command line."""

    name: str
    help: str
    targets: Targets
    # which report (rmlora.sw.report.REPORTS) writes this task's summary
    report: ClassVar[str]
    # the chip stages: pretrained, after unlearning, after continual learning
    stages: ClassVar[tuple[str, str, str]]
    # where the task stands among the registered ones (`make sim` runs them in this
    # order, lowest first; equal orders keep the order they were registered in)
    order: int = 100
    # the `rmlora` command the task runs under (None: its name) and, when several tasks
    # share one, the --model that picks it (they share the command's options: the
    # first registered adds them)
    command: str | None = None
    variant: str = ""
    # whether `make sim` runs it (a variant its command keeps, but which `make sim`
    # leaves out for a better model of the same task, says so here)
    in_sim: bool = True
    # MVM conversions per input bit plane the task's chips make, averaged (compile_model's
    # reads): one number for every layer, or (layer name, reads) pairs with the rest at 1.
    # More reads average the macros' read noise down at that many times the layer's MVM
    # time and conversion energy (README, "Reads per plane").
    mvm_reads: int | tuple[tuple[str, int], ...] = 1
    # what a sweep reports per choice beyond the targets' values (one place per task:
    # a new summary value is one more Figure here)
    sweep_figures: ClassVar[tuple[Figure, ...]] = ()

    # --- command line ---------------------------------------------------------------
    @abstractmethod
    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """The task's own options (the shared ones are added by the CLI)."""

    @abstractmethod
    def options(self, args: argparse.Namespace) -> Any:
        """The task's options from parsed arguments (ValueError on a bad choice)."""

    @property
    @abstractmethod
    def default_options(self) -> Any:
        """What `make sim` and `rmlora cost` run."""

    def describe(self, options) -> str:
        return ", ".join(f"{k} {v}" for k, v in vars(options).items())

    def data_missing(self) -> str | None:
        """Why the task's data is not here (None: it is)."""
        return None

    def draw_options(self, rng: np.random.Generator) -> Any:
        """Any choice of options, drawn with ``rng`` (the default choice included)."""
        raise NotImplementedError(f"task {self.name!r} draws no random options: it "
                                  f"cannot be swept")

    def is_default(self, options) -> bool:
        """Whether ``options`` choose what the default options choose."""
        return options == self.default_options

    def random_options(self, rng: np.random.Generator) -> Any:
        """A random choice of options other than the default (what a sweep runs): draws
        again while the draw is the default choice."""
        for _ in range(DRAWS):
            options = self.draw_options(rng)
            if not self.is_default(options):
                return options
        raise ValueError(f"task {self.name!r}: {DRAWS} draws in a row were its default "
                         f"options; has it any other choice?")

    # --- pipeline -------------------------------------------------------------------
    @abstractmethod
    def flow_config(self, options, seed: int, progress: bool) -> Any:
        """The flow configuration (epochs, adapters...) for these options."""

    @abstractmethod
    def adapters(self, config) -> tuple[str, str]:
        """(unlearning adapter, continual adapter) names."""

    @abstractmethod
    def prepare(self, options, seed: int, source=None) -> Any:
        """Load and split the data; ``source`` replaces the dataset files (tests)."""

    def validation_split(self, options, seed: int, source=None) -> Any:
        """Like ``prepare``, but the training data split again, its held-out part
        standing in for the test inputs: recipes (epochs, learning rates,
        augmentation) are chosen on this, never on the test inputs."""
        raise NotImplementedError(f"the {self.name} task has no validation split")

    @abstractmethod
    def train(self, prepared, config, restore=None) -> Trained:
        """Pretrain, unlearn, learn anew and the baselines, in float. restore (a
        rmlora.sw.learn.restore.Restore, or None): called on the pretrained model, it
        deploys it and returns the twin the adapters are trained on, its compensation
        adapter kept on (the baselines start from the pretrained model itself)."""

    @abstractmethod
    def calibration(self, prepared, config, seed: int):
        """Inputs the int8 scales are calibrated on (a seeded draw)."""

    @abstractmethod
    def evaluator(self, prepared, config, trained: Trained, calib):
        """The Evaluator (rmlora.sw.learn.chip_flow) that measures each chip stage."""

    @abstractmethod
    def summarize(self, run: Run) -> dict:
        """The JSON summary (without chip_check, seconds and targets)."""

    def chip_check_capacity(self, prepared, config) -> int | None:
        """How many inputs the chip check can run; ``prepared`` None: before the data
        is loaded (None: not known then, or unbounded)."""
        return None

    def restore_stage(self, prepared, calib, seed: int, reads):
        """The flow's restore stage (rmlora.sw.learn.restore.Restore: a compensation
        adapter fitted on the deployed chip, the adapters trained on its twin)."""
        return Restore(calib, seed, reads=reads)

    def scale_free(self, config) -> tuple[str, ...]:
        """Adapters whose activations the int8 scales leave out (compile_model's
        scale_free): on the chip they saturate at the ranges the other adapter sets
        need. None by default: the scales cover every adapter set."""
        return ()

    def compile_reads(self) -> int | dict[str, int]:
        """``mvm_reads`` as compile_model takes it, its numbers checked (the pipeline
        asks before it trains)."""
        return check_reads(self.mvm_reads if isinstance(self.mvm_reads, int)
                           else dict(self.mvm_reads))

    def chip_stages(self, config) -> list[tuple[str, list[str]]]:
        unlearn, continual = self.adapters(config)
        pretrained, unlearned, both = self.stages
        return [(pretrained, []), (unlearned, [unlearn]), (both, [unlearn, continual])]
