"""The restore stage: right after deployment, a digital LoRA branch cancels what the
analogue weights lost, and every later adapter is trained on what the chip computes.

    restore = Restore(calib, seed)
    twin = restore(pretrained)        # deploy, probe, fit; the chip's float twin
    ... train the unlearning and continual adapters on ``twin`` ...
    model = restore.deployable(twin_with_adapters)  # the crossbar weights back

The published design restores accuracy with digital LoRA after the weights are
written (arXiv 2601.10037; its code calls it restoring accuracy with digital LoRA).
Here: the pretrained network is compiled with an all-zero compensation slot and
programmed into the crossbars of a golden chip once (write-verify); the probe program
reads every layer's effective weights through the chip's MVMs (compensate.py); the
compensation adapter is the weighted reduced-rank fit that cancels the error. It
stays on in every later stage.

The unlearning and continual adapters are trained knowing it is there: on the
*twin*, a float copy whose base weights are the measured effective weights and whose
compensation adapter is on and frozen, i.e. what the deployed chip computes up to
read noise and rounding. ``deployable`` puts the nominal weights back under the
trained adapters, so the network compiles to exactly the crossbar weights already
programmed (``compile_restored`` refuses otherwise) and only SRAM is loaded.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from rmlora.sw.compiler import CompiledModel, compile_model
from rmlora.sw.compiler.compile import chip_layer_names
from rmlora.sw.compiler.probe import probe_program
from rmlora.sw.lora import lora_layers, set_active_adapters
from rmlora.sw.runtime import Chip

from .compensate import (
    COMPENSATION,
    PROBE_REPEATS,
    add_compensation_slot,
    compile_restored,
    fit_compensation,
    layer_moments,
    measure_weights,
)
from .on_chip import deploy

__all__ = ["RESTORE_RANK", "UNRESTORED", "Restore", "compile_restored", "restored_stages",
           "restore_start", "float_network", "restore_summary"]

# The compensation adapter's rank: 8 kept the robustness sweep's compensated
# accuracy within 0.2 points of rank 16 at half the SRAM (README, robustness).
RESTORE_RANK = 8


UNRESTORED = "_unrestored"  # suffix of a stage measured without the compensation


def restored_stages(stages: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The chip stages of a restored flow: each stage without the compensation
    (``<stage>_unrestored``: what it gives), then each with it; the last one carries
    every adapter."""
    return ([(stage + UNRESTORED, list(adapters)) for stage, adapters in stages]
            + [(stage, [COMPENSATION, *adapters]) for stage, adapters in stages])


class Restore:
    """The restore stage of one flow: its chip (deployed once, kept up for the chip
    stages), the compensation fitted on it, and the twin the adapters train on.

    calib: the inputs the int8 scales come from (also what the fit is weighted by);
    seed: the chip's (its devices and noise); rank: the compensation adapter's;
    reads: the MVM reads per bit plane the network is compiled with (compile_model)."""

    def __init__(self, calib: torch.Tensor, seed: int, rank: int = RESTORE_RANK,
                 backend: str = "golden", reads: int | dict[str, int] = 1):
        self.calib, self.seed, self.rank, self.backend = calib, seed, rank, backend
        self.reads = reads
        self.chip: Chip | None = None
        self.compiled: CompiledModel | None = None
        self.report: dict = {}
        self._nominal: dict[str, torch.Tensor] = {}

    def __call__(self, pretrained: nn.Module) -> nn.Module:
        """Deploy ``pretrained``, fit the compensation on the chip; the twin."""
        if self.chip is not None:
            raise RuntimeError("this Restore has deployed a network already")
        layers = chip_layer_names(pretrained)
        # the slot's initial A (overwritten by the fit) must not draw from the global
        # generator: the float stages after this one train as they would without it
        with torch.random.fork_rng():
            slotted = add_compensation_slot(pretrained, layers, self.rank)
        measured = self.deploy_and_probe(compile_model(
            slotted, self.calib.numpy(), scale_free=(COMPENSATION,), reads=self.reads))
        fitted, stats = fit_compensation(slotted, self.compiled, measured,
                                         layer_moments(slotted, layers, self.calib))
        self.report |= {"rank": self.rank, "layers": stats}
        twin = copy.deepcopy(fitted)
        modules = lora_layers(twin)
        with torch.no_grad():
            for layer in self.compiled.layers:
                base = modules[layer.name].base_layer.weight
                self._nominal[layer.name] = base.detach().clone()
                effective = measured[layer.name] * layer.scales["w"]
                base.copy_(torch.from_numpy(effective).to(base.dtype))
        for layer in modules.values():
            for p in layer.parameters():
                p.requires_grad_(False)
        set_active_adapters(twin, [COMPENSATION])
        return twin

    def deploy_and_probe(self, compiled: CompiledModel) -> dict[str, np.ndarray]:
        """Program ``compiled`` into this stage's chip (kept up for the chip stages) and
        read every layer's effective weights back through its MVMs (measure_weights);
        the deploy report and what probing cost go into ``report``."""
        if self.chip is not None:
            raise RuntimeError("this Restore has deployed a network already")
        self.compiled = compiled
        self.chip = Chip(compiled.params, self.backend, compiled.macro_config, self.seed)
        self.report = {"deploy": deploy(self.chip, compiled)}
        before = self.chip.activity()
        measured = measure_weights(self.chip, compiled, probe_program(compiled))
        after = self.chip.activity()
        self.report |= {
            "probe_repeats": PROBE_REPEATS,
            "probe_adc_conversions": int(after["adc_conversions"] - before["adc_conversions"])}
        return measured

    def deployable(self, model: nn.Module) -> nn.Module:
        """A copy of ``model`` (the twin, with adapters trained on it) with the nominal
        crossbar weights back: what compiles to the programmed chip."""
        if not self._nominal:
            raise RuntimeError("deployable() before the restore stage ran")
        model = copy.deepcopy(model)
        modules = lora_layers(model)
        with torch.no_grad():
            for name, weight in self._nominal.items():
                modules[name].base_layer.weight.copy_(weight)
        return model

    def nominal(self, model: nn.Module) -> nn.Module:
        """``deployable(model)`` with the compensation switched off: the float network
        (nominal weights and the trained adapters), what float figures are of."""
        model = self.deployable(model)
        for layer in lora_layers(model).values():
            layer.set_active([n for n in layer.active_adapters if n != COMPENSATION])
        return model

    # --- what the flow asks of a restore stage (lsm_restore.LsmRestore overrides the rest)
    kept: tuple[str, ...] = (COMPENSATION,)  # adapters on in every later stage

    def stages(self, stages: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
        """The chip stages of the flow (``restored_stages``)."""
        return restored_stages(stages)

    def compile(self, model: nn.Module, scale_free: tuple[str, ...] = ()) -> CompiledModel:
        """``model`` (the twin with its adapters) compiled onto the programmed chip;
        scale_free: adapters whose activations the scales leave out (compile_model)."""
        return compile_restored(self.deployable(model), self.calib.numpy(), self.compiled,
                                scale_free)

    def summary(self, compiled: CompiledModel) -> dict:
        return restore_summary(self, compiled)

    def close(self) -> None:
        if self.chip is not None:
            self.chip.close()


def restore_start(restore: Restore | None, pretrained: nn.Module
                  ) -> tuple[nn.Module, tuple[str, ...]]:
    """Where a flow's adapter stages start, and the adapters they keep on: the twin
    and the compensation, or without a restore stage the pretrained model alone."""
    if restore is None:
        return pretrained, ()
    return restore(pretrained), tuple(restore.kept)


def float_network(model: nn.Module, restore: Restore | None) -> nn.Module:
    """A stage's float network: with a restore stage, the twin's adapters on the
    nominal weights, compensation off (``Restore.nominal``); else ``model`` itself."""
    return model if restore is None else restore.nominal(model)


def restore_summary(restore: Restore, compiled: CompiledModel) -> dict:
    """The restore stage in a flow's summary: the compensation's rank, SRAM bytes and
    per-layer fit (weight error RMS in weight units, output error left relative to
    none), and what probing the chip cost."""
    return {"adapter": COMPENSATION, "rank": restore.rank,
            "slot": compiled.adapter_slots[COMPENSATION],
            "sram_bytes": compiled.adapter_bytes(COMPENSATION),
            "probe_repeats": restore.report["probe_repeats"],
            "probe_adc_conversions": restore.report["probe_adc_conversions"],
            "fit": restore.report.get("fit", "fitted"), "layers": restore.report["layers"]}
